"""Connectivity lost and back, with the unmodified twilio-video.js in the room (issue 14).

All UDP inside the lab's network namespace is dropped for ``OUTAGE_S`` (``iptables -A INPUT
-p udp -j DROP``: senders see nothing wrong, nothing arrives — media, RTCP and ICE consent
alike; the signaling WebSockets are TCP and stay up). The browser's SDK notices its ICE
connection going away and restarts ICE (an offer with a new ufrag, twilio-video.js's
``iceRestart``); Confab answers it — in a peer-to-peer room confab-bot as the answerer, in a
group room the server on its publish connection — and Confab's own watchdog
rebuilds the connections it offers. When UDP is let through again, video must flow both ways
again on the same tracks.

The browser's ICE restart is answered in place (``core/media/ice_restart.py``: new ICE
credentials under the same DTLS and SCTP associations), so its data channels survive: the
data messages it sends once UDP is back reach confab-bot. In a group room the server relays
them to the bot's subscribe connection, which the server rebuilds during the outage (the bot
asks for it); what arrives before the new one's data channel is open waits for it
(``Peer.data_waiting``: the first one or two messages after UDP returns). The bot asks the
server for a new subscribe connection twice during the outage, and the first never completes
ICE: its receiver tracks never end, which once kept the bot's relay waiting on one for good
(``core.media.relay``; ``tests/media/test_relay_switch.py``).
"""

from __future__ import annotations

import os
import shutil
import time
from typing import Any

import pytest

from interoplab import Lab, require, run
from test_interop import BOT, BROWSER, finish, page_videos_from, published_sid, report, wait_bot_subscribed

pytestmark = pytest.mark.interop

OUTAGE_S = 8.0
AFTER_S = 6.0  # how long media is watched after UDP is back
DATA_EVERY_S = 0.5  # the browser sends a data message this often after UDP is back …
DATA_SETTLE_S = 1.5  # … until this long before the end


def _udp(lab: Lab, drop: bool) -> None:
    rule = ["INPUT", "-p", "udp", "-j", "DROP"]
    run(*lab.ns.exec_prefix(), "iptables", "-A" if drop else "-D", *rule)


def _outage(lab: Lab, room_type: str) -> dict[str, Any]:
    if shutil.which("iptables") is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("iptables is missing: .ci/run installs it", pytrace=False)
        pytest.skip("iptables is not installed: apt-get install iptables")
    room = lab.room(room_type)
    bot = lab.bot(BOT, room, OUTAGE_S + AFTER_S + 20, None, "--log-level", "INFO")  # INFO: its rebuilds
    require(bot.wait_event("connected", 20), f"confab-bot did not connect: {bot.stderr()[-2000:]}")
    page = lab.page(BROWSER, room)
    connected = page.wait_connected()
    require(wait_bot_subscribed(bot, {"video"}), "confab-bot never subscribed the browser's video")
    time.sleep(3.0)
    _udp(lab, True)
    try:
        time.sleep(OUTAGE_S)
    finally:
        _udp(lab, False)
    back = time.time()
    sent: list[str] = []  # the browser's data messages after UDP is back, one every DATA_EVERY_S
    while time.time() < back + AFTER_S - DATA_SETTLE_S:
        sent.append(f"after-outage-{len(sent)}")
        page.cmd("send", text=sent[-1])
        time.sleep(DATA_EVERY_S)
    time.sleep(max(0.0, back + AFTER_S - time.time()))
    final = finish(page, bot)
    videos = page_videos_from(final, BOT)
    require(len(videos) == 1, f"the page should show exactly one video track of the bot: {videos}")
    sid = next(iter(videos))
    page_before = page.frames_at(back).get(sid, 0)
    page_first = next((t["wall"] for t in page.reports("tick") if t["wall"] > back
                       and t["frames"].get(sid, 0) > page_before), None)
    lines = bot.video_from(BROWSER).get(published_sid(connected, "video"), {}).get("lines", [])
    bot_after, bot_first, previous = 0, None, max([f for w, f in lines if w <= back] or [0])
    for wall, frames in ((w, f) for w, f in lines if w > back):  # a new RemoteVideoTrack counts from 0
        gained = frames - previous if frames >= previous else frames
        bot_after += gained
        bot_first = bot_first or (wall if gained > 0 else None)
        previous = frames
    data = [e for e in bot.events("trackMessage", participant=BROWSER) if e.get("data") in sent]
    summary = {
        "data_sent_after": sent,
        "data_received_after": [e["data"] for e in data],
        "bot_data_back_s": round(data[0]["wall"] - back, 2) if data else None,
        "page_events": [(e.get("event"), e.get("code")) for e in page.events()
                        if e.get("event") in ("reconnecting", "reconnected", "trackUnsubscribed", "disconnected")
                        and back - OUTAGE_S <= e.get("wall", 0) <= back + AFTER_S],
        "bot_events": [(e.get("event"), e.get("code") or e.get("kind")) for e in bot.events()
                       if e.get("event") in ("reconnecting", "reconnected", "trackUnsubscribed", "trackSubscribed",
                                             "disconnected") and back - OUTAGE_S <= e.get("wall", 0) <= back + AFTER_S],
        "page_frames_after": videos[sid]["frames"] - page_before,
        "bot_frames_after": bot_after,
        "page_video_back_s": round(page_first - back, 2) if page_first else None,
        "bot_video_back_s": round(bot_first - back, 2) if bot_first else None,
        "page_state": final["state"],
    }
    report(f"{room_type}_outage", summary)
    if summary["bot_frames_after"] < 40:
        print("\n".join(line for line in bot.stderr().splitlines() if "aioice" not in line)[-4000:])
    return summary


@pytest.mark.parametrize("room_type", ["peer-to-peer", "group"])
def test_media_comes_back_both_ways_after_an_outage(case: Lab, room_type: str) -> None:
    summary = _outage(case, room_type)
    assert summary["page_state"] == "connected", summary
    assert not [e for e in summary["page_events"] if e[0] in ("trackUnsubscribed", "disconnected")], summary
    assert summary["page_frames_after"] >= 40, summary  # the bot's video at the browser (15 fps)
    assert summary["bot_frames_after"] >= 40, summary   # the browser's video at the bot (20 fps)
    # The browser's data channels survive its ICE restart (answered in place: ice_restart.py).
    sent, received = summary["data_sent_after"], summary["data_received_after"]
    assert received == sent, summary
