"""A connection rebuilt by Confab's media watchdog, with the unmodified twilio-video.js at the
other end (issue 14: "also with a browser at the other end").

confab-bot's outgoing RTP is dropped for a while (its own fault injection, the ``loss`` script
step; signaling stays up). Its watchdog sees its media unacknowledged for 3 s, goes
``reconnecting`` (53405) and rebuilds the connection it sends on: in a peer-to-peer room that
is a new RTCPeerConnection (new ICE credentials, new DTLS certificate) re-offered *to the
browser* under the same id; in a group room it is the bot's publish connection to the server,
and the browser keeps its own subscribe connection. When the path works again the browser's
same video track must play again within a few seconds.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from interoplab import Lab, Regression, require
from test_interop import BOT, BROWSER, finish, page_videos_from, report, wait_bot_subscribed

# Under `-m long` (the default run keeps the suite short; test_interop_outage.py covers a
# browser beside Confab's rebuilt connections in both room types): `pytest -m long tests/interop`.
pytestmark = [pytest.mark.interop, pytest.mark.long]

LOSS_AT, LOSS_S = 8.0, 8.0  # bot seconds: when its RTP stops, for how long


def _stall_and_heal(lab: Lab, room_type: str) -> dict[str, Any]:
    script = [{"at": LOSS_AT, "do": "loss", "fraction": 1.0},
              {"at": LOSS_AT + LOSS_S, "do": "loss", "fraction": 0.0}]
    room = lab.room(room_type)
    bot = lab.bot(BOT, room, LOSS_AT + LOSS_S + 14, script, "--log-level", "INFO")  # INFO: its rebuilds
    require(bot.wait_event("connected", 20), f"confab-bot did not connect: {bot.stderr()[-2000:]}")
    page = lab.page(BROWSER, room)
    page.wait_connected()
    wait_bot_subscribed(bot, {"video"})
    healed = bot.wait_event("script", LOSS_AT + LOSS_S + 10, fraction=0.0)
    if healed is None:
        raise Regression("confab-bot never ran its loss script")
    back = healed["wall"]
    time.sleep(8.0)
    watched_until = time.time()
    final = finish(page, bot)
    videos = page_videos_from(final, BOT)
    require(len(videos) == 1, f"the page should show exactly one video track of the bot: {videos}")
    sid = next(iter(videos))
    before = page.frames_at(back).get(sid, 0)
    frames_after = videos[sid]["frames"] - before
    first_after = next((t["wall"] for t in page.reports("tick")  # the page ticks a few times a second
                        if t["wall"] > back and t["frames"].get(sid, 0) > before), None)
    summary = {
        "bot_reconnecting": [e.get("code") for e in bot.events("reconnecting")],
        "bot_reconnected": len(bot.events("reconnected")),
        "bot_rebuilds": bot.stderr().count("rebuilding peer connection"),
        "page_frames_after_heal": frames_after,
        "page_state": final["state"],
        # what the browser's app saw from the outage until the page was told to finish
        "page_events": [e.get("event") for e in page.events() if e.get("event") in
                        ("reconnecting", "reconnected", "trackUnsubscribed", "disconnected")
                        and back - LOSS_S <= e.get("wall", 0) <= watched_until],
        "first_frame_after_heal_s": round(first_after - back, 2) if first_after else None,
    }
    report(f"{room_type}_rebuild", summary)
    return summary


@pytest.mark.parametrize("room_type", ["peer-to-peer", "group"])
def test_a_rebuild_with_a_browser_in_the_room(case: Lab, room_type: str) -> None:
    """P2P: the rebuilt connection is re-offered to the browser; group: the bot's publish
    connection is rebuilt under the browser's subscription."""
    summary = _stall_and_heal(case, room_type)
    assert summary["bot_reconnecting"] and set(summary["bot_reconnecting"]) == {53405}, summary
    assert summary["bot_reconnected"] >= 1 and summary["bot_rebuilds"] >= 1, summary
    assert summary["page_state"] == "connected" and not summary["page_events"], summary
    assert summary["page_frames_after_heal"] >= 40, summary
