"""Bandwidth profile, priority and track switch-off through the forwarder (issue 11), end to end.

A subscriber with a bandwidth profile whose downlink budget is cut gets ``trackSwitchedOff``
for the video that does not fit — the lowest priority — and stops receiving its frames; when
the budget returns, ``trackSwitchedOn`` and frames again (from a keyframe). The cut is an
injected fault (``Forwarder.limit_downlink``, as if the receiver reports said so) or the
profile's own ``maxSubscriptionBitrate``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from callutil import EventLog, FrameLog, JoinFn, until
from core import LocalAudioTrack
from core.media import faults
from core.media.sources import SyntheticAudioSource
from groupkit import camera, forwarder_of, remote_of, subscribed
from server.app import RunningServer

pytestmark = pytest.mark.media


def _publication(room: Any, kind: str) -> Any:
    return next(p for p in room.local_participant.tracks.values() if p.kind == kind)


async def _two_cameras_and_a_viewer(join: Any, server: Any, **profile: Any) -> tuple[Any, ...]:
    """alice publishes low priority, carol high; bob views both with a bandwidth profile."""
    alice = await join("alice", tracks=[camera("alice")])
    carol = await join("carol", tracks=[camera("carol")])
    _publication(alice, "video").set_priority("low")
    _publication(carol, "video").set_priority("high")
    bob = await join("bob", bandwidth_profile={"video": {"mode": "presentation", **profile}})
    seen = EventLog(bob, "trackSwitchedOff", "trackSwitchedOn")
    logs = {}
    for name in ("alice", "carol"):
        video = await until(lambda: subscribed(bob, name, "video"))
        logs[name] = FrameLog()
        video.add_sink(logs[name])
    await until(lambda: all(len(log.counters) > 5 for log in logs.values()), timeout=10)
    return bob, seen, logs


def _bitrates(server: Any) -> dict[str, float]:
    """Publisher identity → the bitrate the forwarder measured for its video."""
    forwarder = forwarder_of(server, "group")
    room = server.registry.find_room("group")
    rates = {}
    for sid, peer in forwarder.stats()["peers"].items():
        for inbound in peer["inbound"].values():
            if inbound["kind"] == "video" and inbound["bitrate"]:
                rates[room.participants[sid].identity] = inbound["bitrate"]
    return rates


async def _measured(server: Any) -> dict[str, float]:
    await until(lambda: len(_bitrates(server)) == 2, timeout=5)
    return _bitrates(server)


async def _flowing(log: FrameLog, more: int = 5, timeout: float = 8) -> None:
    count = len(log.counters)
    await until(lambda: len(log.counters) >= count + more, timeout=timeout)


async def _stopped(log: FrameLog, quiet: float = 1.0) -> None:
    await asyncio.sleep(0.3)  # what was in flight
    count = len(log.counters)
    await asyncio.sleep(quiet)
    assert len(log.counters) <= count + 1, "frames kept arriving from a switched-off track"


async def test_a_cut_budget_switches_off_the_lowest_priority_video_and_back_on(
        join: JoinFn, server: RunningServer) -> None:
    bob, seen, logs = await _two_cameras_and_a_viewer(join, server)
    forwarder = forwarder_of(server, "group")
    rates = await _measured(server)
    alice_video, carol_video = subscribed(bob, "alice", "video"), subscribed(bob, "carol", "video")

    forwarder.limit_downlink(bob.local_participant.sid, max(rates.values()) * 1.4)  # room for one of the two
    await until(lambda: seen.of("trackSwitchedOff"), timeout=5)
    track, publication, participant = seen.of("trackSwitchedOff")[0]
    assert track is alice_video and participant is remote_of(bob, "alice")  # low priority goes first
    assert publication.track is alice_video and alice_video.is_switched_off and not carol_video.is_switched_off
    await _stopped(logs["alice"])
    await _flowing(logs["carol"])

    forwarder.limit_downlink(bob.local_participant.sid, None)
    await until(lambda: seen.of("trackSwitchedOn"), timeout=5)
    assert seen.of("trackSwitchedOn")[0][0] is alice_video
    assert not alice_video.is_switched_off, forwarder.stats()["peers"][bob.local_participant.sid]
    await _flowing(logs["alice"])  # from a keyframe: decodable at once
    assert len(seen.of("trackSwitchedOff")) == 1


async def test_the_subscribers_priority_decides_which_video_goes(join: JoinFn, server: RunningServer) -> None:
    bob, seen, logs = await _two_cameras_and_a_viewer(join, server)
    rates = await _measured(server)
    alice_video, carol_video = subscribed(bob, "alice", "video"), subscribed(bob, "carol", "video")
    alice_video.set_priority("high")  # the subscriber's priority overrides the publishers'
    carol_video.set_priority("low")
    sid = bob.local_participant.sid
    await until(lambda: len(forwarder_of(server, "group").stats()["peers"][sid]["subscribe_priority"]) == 2)

    forwarder_of(server, "group").limit_downlink(sid, max(rates.values()) * 1.4)
    await until(lambda: seen.of("trackSwitchedOff"), timeout=5)
    assert [args[0] for args in seen.of("trackSwitchedOff")] == [carol_video]
    assert not alice_video.is_switched_off
    await _stopped(logs["carol"])
    await _flowing(logs["alice"])


class _Policer(faults.OutgoingLoss):
    """A downlink of ``bps``: RTP beyond it (a 200 ms bucket) never leaves; RTCP always does."""

    def __init__(self, bps: float) -> None:
        super().__init__()
        self.bps = bps
        self._tokens = bps / 8 * 0.2
        self._at = time.monotonic()

    def drop(self, data: bytes) -> bool:
        if self.bps <= 0 or (len(data) >= 2 and 192 <= data[1] <= 223):
            return False
        now = time.monotonic()
        self._tokens = min(self.bps / 8 * 0.2, self._tokens + (now - self._at) * self.bps / 8)
        self._at = now
        if self._tokens < len(data):
            self.dropped += 1
            return True
        self._tokens -= len(data)
        return False


async def test_a_congested_downlink_is_seen_in_receiver_reports_and_switches_off(
        join: JoinFn, server: RunningServer) -> None:
    """No injected estimate: a real bottleneck on the server's sending side, which the
    subscriber's receiver reports show as loss (server.forwarder.downlink)."""
    bob, seen, logs = await _two_cameras_and_a_viewer(join, server)
    rates = await _measured(server)
    peer = forwarder_of(server, "group").peers[bob.local_participant.sid]
    policer = _Policer(max(rates.values()) * 1.4)
    faults.install()
    policer.attach(peer.sub.pc)
    await until(lambda: seen.of("trackSwitchedOff"), timeout=8)
    assert [args[0] for args in seen.of("trackSwitchedOff")] == [subscribed(bob, "alice", "video")]
    assert policer.dropped > 0 and peer.downlink.bps is not None
    policer.bps = 0  # the bottleneck goes: no loss, the estimate is lifted after a clean spell
    await until(lambda: seen.of("trackSwitchedOn"), timeout=12)
    await _flowing(logs["alice"])


async def test_the_dominant_speakers_video_is_raised_to_dominant_speaker_priority(
        join: JoinFn, server: RunningServer) -> None:
    talking = SyntheticAudioSource("tone", label="alice")
    alice = await join("alice", tracks=[camera("alice"), LocalAudioTrack(talking, name="microphone")])
    carol = await join("carol", tracks=[camera("carol")])
    _publication(alice, "video").set_priority("low")  # low, but she talks: high while dominant
    _publication(carol, "video").set_priority("standard")
    bob = await join("bob", dominant_speaker=True,
                     bandwidth_profile={"video": {"mode": "presentation", "dominantSpeakerPriority": "high"}})
    seen = EventLog(bob, "trackSwitchedOff", "trackSwitchedOn")
    await until(lambda: bob.dominant_speaker is not None and bob.dominant_speaker.identity == "alice", timeout=10)
    await until(lambda: subscribed(bob, "carol", "video") and subscribed(bob, "alice", "video"))
    rates = await _measured(server)
    forwarder = forwarder_of(server, "group")
    audio = next(i["bitrate"] for i in forwarder.stats()["peers"][alice.local_participant.sid]["inbound"].values()
                 if i["kind"] == "audio")
    forwarder.limit_downlink(bob.local_participant.sid, max(rates.values()) * 1.4 + audio)  # bob's audio comes first
    await until(lambda: seen.of("trackSwitchedOff"), timeout=5)
    assert [args[0] for args in seen.of("trackSwitchedOff")] == [subscribed(bob, "carol", "video")]


async def test_max_subscription_bitrate_switches_off_what_does_not_fit(join: JoinFn, server: RunningServer) -> None:
    alice = await join("alice", tracks=[camera("alice")])
    bob = await join("bob", bandwidth_profile={"video": {"maxSubscriptionBitrate": 1000}})
    seen = EventLog(bob, "trackSwitchedOff", "trackSwitchedOn")
    video = await until(lambda: subscribed(bob, "alice", "video"))
    await until(lambda: video.is_switched_off, timeout=8)
    assert seen.of("trackSwitchedOff")[0][0] is video and not seen.of("trackSwitchedOn")
    log = FrameLog()
    video.add_sink(log)
    await _stopped(log)
    assert _publication(alice, "video").track.is_started  # the publisher still sends: only bob is cut


async def test_track_switch_off_mode_disabled_never_switches_off_for_bandwidth(
        join: JoinFn, server: RunningServer) -> None:
    await join("alice", tracks=[camera("alice")])
    bob = await join("bob", bandwidth_profile={"video": {"maxSubscriptionBitrate": 1000,
                                                         "trackSwitchOffMode": "disabled"}})
    video = await until(lambda: subscribed(bob, "alice", "video"))
    log = FrameLog()
    video.add_sink(log)
    await _flowing(log, more=30)  # 2 s at 15 fps, the allocation ran four times
    assert not video.is_switched_off


async def _one_camera(join: Any, **video: Any) -> tuple[Any, Any, EventLog, FrameLog]:
    await join("alice", tracks=[camera("alice")])
    bob = await join("bob", bandwidth_profile={"video": video})
    seen = EventLog(bob, "trackSwitchedOff", "trackSwitchedOn")
    track = await until(lambda: subscribed(bob, "alice", "video"))
    log = FrameLog()
    track.add_sink(log)
    await _flowing(log)
    return bob, track, seen, log


def _reasons(server: Any, room: Any) -> dict[str, str]:
    return dict(forwarder_of(server, "group").stats()["peers"][room.local_participant.sid]["switched_off"])


async def test_manual_switch_off_and_on(join: JoinFn, server: RunningServer) -> None:
    bob, video, seen, log = await _one_camera(join, clientTrackSwitchOffControl="manual")
    assert video.switch_off() is video
    await until(lambda: video.is_switched_off, timeout=5)
    assert _reasons(server, bob) == {video.sid: "disabled-by-subscriber"}
    await _stopped(log)
    video.switch_on()
    await until(lambda: not video.is_switched_off, timeout=5)
    await _flowing(log)
    assert seen.names() == ["trackSwitchedOff", "trackSwitchedOn"]


async def test_auto_control_switches_off_what_is_not_rendered(join: JoinFn, server: RunningServer) -> None:
    bob, video, seen, log = await _one_camera(join)  # clientTrackSwitchOffControl defaults to "auto"
    with pytest.raises(RuntimeError):
        video.switch_off()  # only in manual control, as twilio-video.js
    video.remove_sink(log)  # nothing renders it any more
    await until(lambda: video.is_switched_off, timeout=5)
    assert _reasons(server, bob) == {video.sid: "disabled-by-subscriber"}
    count = len(log.counters)
    video.add_sink(log)
    await until(lambda: not video.is_switched_off, timeout=5)
    await until(lambda: len(log.counters) > count + 5, timeout=8)
    assert seen.names() == ["trackSwitchedOff", "trackSwitchedOn"]


async def test_content_preferences_reach_the_server_and_change_no_stream(join: JoinFn, server: RunningServer) -> None:
    bob, video, seen, log = await _one_camera(join, contentPreferencesMode="manual")
    with pytest.raises(TypeError):
        video.set_content_preferences({"render_dimensions": {"width": "wide", "height": 90}})
    video.set_content_preferences({"renderDimensions": {"width": 160, "height": 90}})
    sid = bob.local_participant.sid
    await until(lambda: forwarder_of(server, "group").stats()["peers"][sid]["render_hints"]
                .get(video.sid, {}).get("area") == 160 * 90, timeout=5)
    await _flowing(log)  # one layer per track: the size asks for nothing the stream can give
    assert not video.is_switched_off and not seen.names()
