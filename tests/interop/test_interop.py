"""The unmodified twilio-video.js 2.36.0 in headless Chromium against confab-server and
confab-bot (issue 9's interop cases). Media is asserted both ways where it flows: the page
counts ``requestVideoFrameCallback`` per remote video track, confab-bot counts the frames at its
sink (its ``videoStats`` lines).

Run just these: ``.venv/bin/python -m pytest tests/interop -s`` (``-s`` shows each case's
numbers, the ``INTEROP`` lines); skip them: ``-m "not interop"``.

Two kinds of checks: ``require`` (raises ``Regression``) for what already worked before issue 9
(joining, Confab -> browser media, data to the browser, resume), plain ``assert`` for what issue 9
fixed (browser -> Confab media, each track once, republish). Should a case have to be marked
``xfail`` again, use ``raises=AssertionError``: then only the plain asserts can xfail, and a broken
harness or a missing browser in CI still fails.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from interoplab import Bot, Lab, Page, Regression, require, wait_for

pytestmark = pytest.mark.interop

MEDIA_S = 7.0          # seconds of media per case
MIN_FRAMES = 40        # decoded frames a receiver must count in MEDIA_S (bot sends 15 fps, Chromium 20 fps)
SUBSCRIBE_WAIT_S = 6.0  # how long to wait for confab-bot to subscribe a browser's tracks
BROWSER, BOT = "browser", "bot"


# -- helpers -----------------------------------------------------------------------------------


def page_fps(rec: dict[str, Any]) -> float:
    if not rec.get("firstFrameMs") or rec["frames"] < 2 or rec["lastFrameMs"] <= rec["firstFrameMs"]:
        return 0.0
    frames, span_ms = int(rec["frames"]), float(rec["lastFrameMs"] - rec["firstFrameMs"])
    return round((frames - 1) / (span_ms / 1000), 1)


def bot_fps(rec: dict[str, Any]) -> float:
    samples = [f for f in rec["fps"] if f > 0]
    return round(sum(samples[1:]) / len(samples[1:]), 1) if len(samples) > 1 else (samples[0] if samples else 0.0)


def page_videos_from(final: dict[str, Any], identity: str) -> dict[str, dict[str, Any]]:
    return {sid: rec for sid, rec in final["videos"].items() if rec["participant"] == identity}


def published_sid(connected: dict[str, Any], kind: str) -> str:
    return str(next(p["trackSid"] for p in connected["publications"] if p["kind"] == kind))


def rtp_streams(final: dict[str, Any], direction: str) -> dict[str, list[int]]:
    """Per kind, the packet counts of the page's inbound (or outbound) RTP streams that carried packets."""
    key, count = ("inbound", "packetsReceived") if direction == "in" else ("outbound", "packetsSent")
    out: dict[str, list[int]] = {"audio": [], "video": []}
    for pc in final["stats"]:
        for s in pc[key]:
            if s.get(count):
                out.setdefault(s["kind"], []).append(s[count])
    return out


def report(name: str, summary: dict[str, Any]) -> None:
    print(f"\nINTEROP {name} {json.dumps(summary, sort_keys=True)}")


def bot_connect_s(bot: Bot) -> float | None:
    """Seconds from starting confab-bot (Python start-up included) to its ``connected`` line."""
    connected = bot.events("connected")
    return round(connected[0]["wall"] - bot.started, 2) if connected else None


def media_summary(page: Page, final: dict[str, Any], bot: Bot, connected: dict[str, Any], peer: str = BOT,
                  source: str = BROWSER) -> dict[str, Any]:
    to_page = page_videos_from(final, peer)
    to_bot = bot.video_from(source)
    return {
        "page_connect_ms": final["connectMs"],
        "bot_start_to_connected_s": bot_connect_s(bot),
        "confab_to_browser": {sid: {"frames": r["frames"], "fps": page_fps(r), "size": f"{r['width']}x{r['height']}",
                                    "first_frame_ms_after_subscribe": (r["firstFrameMs"] - r["subscribedMs"])
                                    if r["firstFrameMs"] is not None else None} for sid, r in to_page.items()},
        "browser_to_confab": {sid: {"frames": r["frames"], "fps": bot_fps(r), "size": r["size"]}
                              for sid, r in to_bot.items()},
        "bot_subscribed": sorted(e["kind"] for e in bot.events("trackSubscribed", participant=source)),
        "bot_subscription_failed": [e.get("code") for e in bot.events("trackSubscriptionFailed")],
        "browser_published": {p["kind"]: p["trackSid"] for p in connected["publications"]},
        "page_inbound_packets": rtp_streams(final, "in"),
        "page_outbound_packets": rtp_streams(final, "out"),
        "page_pcs": final["pcs"],
        "page_errors": final["errors"],
    }


def assert_confab_to_browser(final: dict[str, Any], peer: str = BOT) -> None:
    videos = page_videos_from(final, peer)
    require(len(videos) == 1, f"the page should show exactly one video track of {peer}: {videos}")
    rec = next(iter(videos.values()))
    require(rec["frames"] >= MIN_FRAMES, f"page decoded only {rec['frames']} frames of {peer}'s video")
    require(rtp_streams(final, "in")["audio"], f"no inbound audio packets at the page: {final['stats']}")


def assert_browser_to_confab(bot: Bot, connected: dict[str, Any], source: str = BROWSER) -> None:
    video_sid = published_sid(connected, "video")
    kinds = sorted(e["kind"] for e in bot.events("trackSubscribed", participant=source))
    assert {"audio", "video"} <= set(kinds), f"confab-bot subscribed only {kinds} of the browser's tracks"
    stats = bot.video_from(source)
    assert video_sid in stats, f"confab-bot reports no frames of the browser's video {video_sid}: {stats}"
    assert stats[video_sid]["frames"] >= MIN_FRAMES, (
        f"confab-bot decoded only {stats[video_sid]['frames']} frames of the browser's video")


def join(lab: Lab, room_type: str, *, bot_first: bool, bot_duration: float,
         bot_script: list[dict[str, Any]] | None = None, **page_params: Any) -> tuple[Page, dict[str, Any], Bot]:
    room = lab.room(room_type)
    if bot_first:
        bot = lab.bot(BOT, room, bot_duration, bot_script)
        require(bot.wait_event("connected", 20), f"confab-bot did not connect: {bot.stderr()[-2000:]}")
        page = lab.page(BROWSER, room, **page_params)
        connected = page.wait_connected()
    else:
        page = lab.page(BROWSER, room, **page_params)
        connected = page.wait_connected()
        bot = lab.bot(BOT, room, bot_duration, bot_script)
        require(bot.wait_event("connected", 20), f"confab-bot did not connect: {bot.stderr()[-2000:]}")
    return page, connected, bot


def wait_bot_subscribed(bot: Bot, kinds: set[str], timeout: float = SUBSCRIBE_WAIT_S) -> bool:
    return bool(wait_for(lambda: kinds <= {e["kind"] for e in bot.events("trackSubscribed", participant=BROWSER)},
                         timeout))


def finish(page: Page, bot: Bot | None = None) -> dict[str, Any]:
    """The page's final report (taken while the bot is still in the room), then the bot's exit:
    it leaves by itself at ``--duration``, or is stopped after 3 s (the room is this case's only)."""
    final = page.finish()
    if bot is not None and bot.wait_exit(3) is None:
        bot.close()
    return final


# -- the cases -----------------------------------------------------------------------------------


def test_p2p_bot_and_browser(case: Lab) -> None:
    """(1) Peer-to-peer room: confab-bot (there first) and a browser, video both ways."""
    page, connected, bot = join(case, "peer-to-peer", bot_first=True, bot_duration=MEDIA_S + 6)
    time.sleep(MEDIA_S)
    final = finish(page, bot)
    report("p2p_bot_and_browser", media_summary(page, final, bot, connected))
    assert_confab_to_browser(final)
    assert_browser_to_confab(bot, connected)


def test_group_bot_and_browser(case: Lab) -> None:
    """(2) Group room: a browser, then confab-bot, video both ways through the forwarder;
    dominant speaker and network quality on."""
    page, connected, bot = join(case, "group", bot_first=False, bot_duration=MEDIA_S + 3,
                                dominantSpeaker=True, networkQuality=True)
    time.sleep(MEDIA_S)
    final = finish(page, bot)
    summary = media_summary(page, final, bot, connected)
    summary["page_network_quality_events"] = len(page.events("networkQualityLevelChanged"))
    summary["page_dominant_speaker_events"] = len(page.events("dominantSpeakerChanged"))
    report("group_bot_and_browser", summary)
    assert_confab_to_browser(final)
    require(summary["page_network_quality_events"] >= 1, "no networkQualityLevelChanged at the page")
    require(summary["page_dominant_speaker_events"] >= 1, "no dominantSpeakerChanged at the page")
    assert_browser_to_confab(bot, connected)


def two_browsers(lab: Lab, room_type: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
    room = lab.room(room_type)
    a = lab.page("alice", room)
    b = lab.page("bob", room)
    ca, cb = a.wait_connected(), b.wait_connected()
    time.sleep(MEDIA_S)
    stats_a, stats_b = a.snapshot(), b.snapshot()  # before either leaves and closes the other's connections
    fa, fb = a.finish(), b.finish()
    fa["stats"], fb["stats"] = stats_a, stats_b
    return ca, fa, cb, fb


def two_browser_summary(ca: dict[str, Any], fa: dict[str, Any], cb: dict[str, Any],
                        fb: dict[str, Any]) -> dict[str, Any]:
    def side(final: dict[str, Any], peer: str) -> dict[str, Any]:
        return {"connect_ms": final["connectMs"],
                "video_from_peer": {sid: {"frames": r["frames"], "fps": page_fps(r)}
                                    for sid, r in page_videos_from(final, peer).items()},
                "inbound_packets": rtp_streams(final, "in"), "outbound_packets": rtp_streams(final, "out"),
                "pcs": final["pcs"], "errors": final["errors"]}
    return {"alice": side(fa, "bob"), "bob": side(fb, "alice")}


def frames_between(fa: dict[str, Any], fb: dict[str, Any]) -> list[str]:
    """What is missing of each browser's video at the other (empty: all there)."""
    missing = []
    for name, final, peer in (("alice", fa, "bob"), ("bob", fb, "alice")):
        videos = page_videos_from(final, peer)
        frames = next(iter(videos.values()))["frames"] if videos else 0
        if len(videos) != 1 or frames < MIN_FRAMES:
            missing.append(f"{name} shows {len(videos)} video tracks of {peer}, {frames} frames")
    return missing


def test_group_two_browsers(case: Lab) -> None:
    """(3) Two browsers in a group room see each other's video."""
    ca, fa, cb, fb = two_browsers(case, "group")
    report("group_two_browsers", two_browser_summary(ca, fa, cb, fb))
    missing = frames_between(fa, fb)
    assert not missing, missing


def test_p2p_two_browsers_each_track_once(case: Lab) -> None:
    """(4) Two browsers in a peer-to-peer room: video both ways, each track sent and received once."""
    ca, fa, cb, fb = two_browsers(case, "peer-to-peer")
    report("p2p_two_browsers", two_browser_summary(ca, fa, cb, fb))
    missing = frames_between(fa, fb)
    require(not missing, f"browser <-> browser video in a peer-to-peer room: {missing}")
    for name, final in (("alice", fa), ("bob", fb)):
        inbound, outbound = rtp_streams(final, "in"), rtp_streams(final, "out")
        assert len(inbound["audio"]) == 1 and len(inbound["video"]) == 1, (
            f"{name} should receive one audio and one video RTP stream from its one peer: {inbound}")
        assert len(outbound["audio"]) == 1 and len(outbound["video"]) == 1, (
            f"{name} should send each of its tracks once: {outbound}")


def test_mute_unmute_seen_by_bot(case: Lab) -> None:
    """(5) The browser disables then enables its audio and video; confab-bot sees
    trackDisabled and trackEnabled for both, and video flows again afterwards."""
    page, connected, bot = join(case, "group", bot_first=True, bot_duration=MEDIA_S + 12)
    subscribed = wait_bot_subscribed(bot, {"audio", "video"})
    time.sleep(1.0)
    page.cmd("mute-audio")
    page.cmd("mute-video")
    time.sleep(1.5)
    page.cmd("unmute-audio")
    page.cmd("unmute-video")
    unmuted = time.time()
    time.sleep(3.5)
    final = finish(page, bot)
    summary = media_summary(page, final, bot, connected)
    summary["bot_subscribed_in_time"] = subscribed
    summary["bot_saw"] = [(e["event"], e["kind"]) for e in bot.events()
                          if e["event"] in ("trackDisabled", "trackEnabled") and e.get("participant") == BROWSER]
    video_sid = published_sid(connected, "video")
    lines = bot.video_from(BROWSER).get(video_sid, {}).get("lines", [])
    before = max([f for w, f in lines if w <= unmuted] or [0])
    summary["bot_frames_after_unmute"] = (lines[-1][1] - before) if lines else 0
    report("mute_unmute", summary)
    assert_confab_to_browser(final)
    for kind in ("audio", "video"):
        disabled = bot.events("trackDisabled", participant=BROWSER, kind=kind)
        enabled = bot.events("trackEnabled", participant=BROWSER, kind=kind)
        assert len(disabled) == 1, f"confab-bot saw {len(disabled)} trackDisabled for the browser's {kind}"
        assert len(enabled) == 1, f"confab-bot saw {len(enabled)} trackEnabled for the browser's {kind}"
        assert disabled[0]["t"] < enabled[0]["t"]
    assert_browser_to_confab(bot, connected)
    assert summary["bot_frames_after_unmute"] >= 30, "the browser's video did not flow after enable()"


SAID = ["confab-to-browser-1", "confab-to-browser-2", "confab-to-browser-3"]
SENT = ["browser-to-confab-1", "browser-to-confab-2", "browser-to-confab-3"]


def test_data_both_ways_once(case: Lab) -> None:
    """(6) Peer-to-peer room: data messages both ways (the page's LocalDataTrack, the bot's
    ``say``), each received exactly once, in order."""
    script = [{"at": 4.0 + 0.5 * i, "do": "say", "text": text} for i, text in enumerate(SAID)]
    page, connected, bot = join(case, "peer-to-peer", bot_first=False, bot_duration=MEDIA_S + 3,
                                bot_script=script)
    data_subscribed = bool(wait_for(lambda: bot.events("trackSubscribed", participant=BROWSER, kind="data"),
                                    SUBSCRIBE_WAIT_S))
    time.sleep(1.0)
    for text in SENT:
        page.cmd("send", text=text)
        time.sleep(0.3)
    time.sleep(max(0.0, MEDIA_S - 2.0))
    final = finish(page, bot)
    summary = media_summary(page, final, bot, connected)
    got_bot = [e["data"] for e in bot.events("trackMessage", participant=BROWSER)]
    got_page = [m["data"] for m in final["messages"] if m["participant"] == BOT]
    summary.update(bot_data_subscribed=data_subscribed, bot_received=got_bot, page_received=got_page,
                   bot_data_subscriptions=len(bot.events("trackSubscribed", participant=BROWSER, kind="data")),
                   bot_data_unsubscriptions=len(bot.events("trackUnsubscribed", participant=BROWSER, kind="data")))
    report("data_both_ways", summary)
    require(got_page == SAID, f"the page received {got_page} from confab-bot")
    assert_confab_to_browser(final)
    assert got_bot == SENT, f"confab-bot received {got_bot} from the page"
    assert_browser_to_confab(bot, connected)


def test_unpublish_republish_video(case: Lab) -> None:
    """(7) Peer-to-peer room: the browser unpublishes its video and publishes a new
    LocalVideoTrack; confab-bot subscribes the new track and decodes its frames."""
    page, connected, bot = join(case, "peer-to-peer", bot_first=True, bot_duration=MEDIA_S + 25)
    old_sid = published_sid(connected, "video")
    subscribed = wait_bot_subscribed(bot, {"video"})
    time.sleep(2.0)
    page.cmd("unpublish-video")
    require(page.wait_event("unpublished", 10), "the page did not unpublish its video")
    time.sleep(1.0)
    page.cmd("republish-video")
    republished = page.wait_event("republished", 15)
    if republished is None:
        raise Regression(f"the page did not republish: {page.events('actionError')}")
    new_sid = republished["trackSid"]
    wait_for(lambda: bot.events("trackSubscribed", participant=BROWSER, track_sid=new_sid), SUBSCRIBE_WAIT_S)
    time.sleep(4.0)
    final = finish(page, bot)
    stats = bot.video_from(BROWSER)
    summary = media_summary(page, final, bot, connected)
    summary.update(old_sid=old_sid, new_sid=new_sid, bot_subscribed_old_in_time=subscribed,
                   bot_unsubscribed_old=bool(bot.events("trackUnsubscribed", participant=BROWSER,
                                                        track_sid=old_sid)),
                   bot_subscribed_new=bool(bot.events("trackSubscribed", participant=BROWSER, track_sid=new_sid)),
                   bot_frames_new=stats.get(new_sid, {}).get("frames", 0))
    report("unpublish_republish", summary)
    assert_confab_to_browser(final)
    assert old_sid in stats and stats[old_sid]["frames"] >= MIN_FRAMES / 2, (
        f"confab-bot decoded no frames of the first video track: {stats}")
    require(new_sid != old_sid, "the republished track kept its sid")
    assert bot.events("trackUnsubscribed", participant=BROWSER, track_sid=old_sid), \
        "confab-bot never unsubscribed the unpublished track"
    assert bot.events("trackSubscribed", participant=BROWSER, track_sid=new_sid), \
        "confab-bot never subscribed the republished track"
    assert summary["bot_frames_new"] >= MIN_FRAMES, f"confab-bot decoded {summary['bot_frames_new']} frames of " \
        "the republished track"


def test_dropped_websocket_resumes(case: Lab) -> None:
    """(8) Group room: the browser's signaling WebSocket is cut (both legs aborted at the
    harness's proxy, no close frame: the SDK sees 1006); the SDK resumes on a new WebSocket
    and media keeps flowing both ways afterwards."""
    page, connected, bot = join(case, "group", bot_first=True, bot_duration=MEDIA_S + 15)
    wait_bot_subscribed(bot, {"video"})
    time.sleep(3.0)
    cut = case.ctl("/ctl/cut", {"page": page.page})
    require(cut["cut"] == 1, f"the harness had no WebSocket of the page to cut: {cut}")
    reconnected = page.wait_event("reconnected", 15)
    reconnecting = page.events("reconnecting")
    resumed_at = reconnected["wall"] if reconnected else time.time()
    time.sleep(4.5)
    final = finish(page, bot)
    summary = media_summary(page, final, bot, connected)
    page_after = {sid: final["videos"][sid]["frames"] - n for sid, n in page.frames_at(resumed_at).items()}
    video_sid = published_sid(connected, "video")
    lines = bot.video_from(BROWSER).get(video_sid, {}).get("lines", [])
    before = max([f for w, f in lines if w <= resumed_at] or [0])
    summary.update(reconnecting=[(e.get("code"), e.get("message")) for e in reconnecting],
                   reconnect_ms=round((reconnected["wall"] - cut["wall"]) * 1000) if reconnected else None,
                   page_frames_after_resume=page_after,
                   bot_frames_after_resume=(lines[-1][1] - before) if lines else 0,
                   final_state=final["state"])
    report("dropped_websocket", summary)
    require(reconnecting, "the SDK never reported reconnecting after the WebSocket was cut")
    require(reconnected, "the SDK never reconnected after the WebSocket was cut")
    require(final["state"] == "connected", f"the room ended {final['state']} after the resume")
    require(page_after and max(page_after.values()) >= 30, f"bot video at the page after the resume: {page_after}")
    assert_browser_to_confab(bot, connected)
    assert summary["bot_frames_after_resume"] >= 30, "the browser's video stopped at confab-bot after the resume"


def frames_of(page: Page, sid: str, wall: float) -> int:
    return int(page.frames_at(wall).get(sid, 0))


def test_group_browser_switched_off_and_on(case: Lab) -> None:
    """(9) Group room, twilio-video.js with a bandwidth profile: the server's allocation switches
    the bot's video off when the browser's downlink budget is cut (an injected cap,
    ``server.forwarder.faults``) and on again when it returns; then the page's own
    ``switchOff()``/``switchOn()`` (manual control, render hints) do the same. The browser's
    ``trackSwitchedOff``/``trackSwitchedOn`` events are asserted, and its frames stopping and
    flowing again."""
    profile = json.dumps({"video": {"mode": "grid", "clientTrackSwitchOffControl": "manual"}})
    page, connected, bot = join(case, "group", bot_first=True, bot_duration=MEDIA_S + 40, bandwidthProfile=profile)
    subscribed = page.wait_event("trackSubscribed", 10, participant=BOT, kind="video")
    if subscribed is None:
        raise Regression("the page never subscribed to confab-bot's video")
    sid = subscribed["trackSid"]
    require(wait_for(lambda: frames_of(page, sid, time.time()) > 20, 10), "no bot video at the page")
    summary: dict[str, Any] = {}
    for how, off, on in (("budget", lambda: case.cap_downlink(connected["sid"], 20_000),
                          lambda: case.cap_downlink(connected["sid"], None)),
                         ("manual", lambda: page.cmd("switch-off"), lambda: page.cmd("switch-on"))):
        before_off = len(page.events("trackSwitchedOff"))
        before_on = len(page.events("trackSwitchedOn"))
        started = time.time()
        off()
        switched_off = wait_for(lambda: page.events("trackSwitchedOff")[before_off:], 10)
        assert switched_off, f"{how}: the browser never got trackSwitchedOff"
        off_at = switched_off[0]["wall"]
        time.sleep(3.5)
        quiet = frames_of(page, sid, time.time()) - frames_of(page, sid, off_at + 1.2)
        started_on = time.time()
        on()
        switched_on = wait_for(lambda: page.events("trackSwitchedOn")[before_on:], 10)
        assert switched_on, f"{how}: the browser never got trackSwitchedOn"
        on_at = switched_on[0]["wall"]
        time.sleep(3.5)
        again = frames_of(page, sid, time.time()) - frames_of(page, sid, on_at)
        summary[how] = {"off_after_ms": round((off_at - started) * 1000), "frames_while_off": quiet,
                        "on_after_ms": round((on_at - started_on) * 1000), "frames_in_3s_after_on": again,
                        "event": {k: switched_off[0].get(k) for k in ("trackSid", "participant", "isSwitchedOff")}}
        assert switched_off[0]["trackSid"] == sid and switched_off[0]["isSwitchedOff"] is True, switched_off[0]
        assert quiet <= 2, f"{how}: {quiet} frames of a switched-off track arrived"
        assert again >= 20, f"{how}: only {again} frames in 3 s after trackSwitchedOn"
    final = finish(page, bot)
    summary["page_errors"] = final["errors"]
    report("group_switch_off", summary)
    assert not final["errors"], final["errors"]
