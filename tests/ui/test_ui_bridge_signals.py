"""RoomBridge's plumbing over the in-process Room harness (no sockets, no aiortc).

Server bodies and MSP messages (dominant speaker, network quality — computed by the server
in a later issue) are fed to the Room's signaling layer; the bridge must turn them into its
Qt signals with plain arguments. StatsTracker is checked on hand-made StatsReports.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))

from core.stats import (
    LocalVideoTrackStats,
    RemoteAudioTrackStats,
    RemoteVideoTrackStats,
    StatsReport,
)
from core.track import Dimensions, LocalAudioTrack, LocalDataTrack

# tests/core's harness (on sys.path above; make lint's MYPYPATH for this folder is tests/call).
from harness import FakeDataChannel, FakeVideoMedia, RoomHarness, remote_participant, settle
from ui.bridge import RoomBridge, tile_key
from ui.stats_tracker import StatsTracker

pytestmark = pytest.mark.ui

SIGNALS = (
    "participant_connected", "participant_disconnected", "participant_reconnecting",
    "participant_reconnected", "track_subscribed", "track_unsubscribed", "track_enabled",
    "track_disabled", "track_dimensions_changed", "video_frame", "dominant_speaker_changed",
    "network_quality_changed", "chat_message", "mic_muted_changed", "camera_paused_changed",
    "screen_share_changed", "reconnecting", "reconnected", "disconnected", "error",
)


class Recorder:
    def __init__(self, bridge: RoomBridge) -> None:
        self.log: list[tuple[str, tuple[Any, ...]]] = []
        for name in SIGNALS:
            getattr(bridge, name).connect(lambda *args, n=name: self.log.append((n, args)))

    def of(self, name: str) -> list[tuple[Any, ...]]:
        return [args for n, args in self.log if n == name]

    def clear(self) -> None:
        self.log.clear()


async def _bridge(qapp: Any, **kwargs: Any) -> tuple[RoomHarness, RoomBridge, Recorder, LocalAudioTrack]:
    mic = LocalAudioTrack(name="microphone")
    chat = LocalDataTrack("chat")
    h = await RoomHarness.connect(tracks=[mic, chat], **kwargs)
    bridge = RoomBridge(h.room, audio_track=mic, chat_track=chat, owned_tracks=[mic])
    return h, bridge, Recorder(bridge), mic


def _track_sid(state: Any, name: str) -> str:
    return next(t.sid for t in state.tracks if t.name == name)


async def test_start_replays_the_room_then_follows_it(qapp: Any) -> None:
    bob = remote_participant("bob", [("audio", "microphone", False), ("video", "camera"), ("data", "chat")])
    h, bridge, rec, _ = await _bridge(qapp, participants=[bob])
    h.subscribe_with_media(*(t.sid for t in bob.tracks))  # subscribed before the bridge looks
    bridge.start()
    assert rec.of("participant_connected") == [(bob.sid, "bob")]
    subscribed = {args[3]: args for args in rec.of("track_subscribed")}
    assert subscribed["microphone"] == (bob.sid, _track_sid(bob, "microphone"), "audio", "microphone", False)
    assert subscribed["camera"][2:] == ("video", "camera", True)
    assert rec.of("mic_muted_changed") == [(False,)] and rec.of("camera_paused_changed") == [(True,)]

    # Frames: the bridge's sink on the track's media re-emits them for bob's tile.
    media: FakeVideoMedia = h.media[_track_sid(bob, "camera")]
    assert len(media.sinks) == 1
    frame = object()
    media.sinks[0](frame)
    assert rec.of("video_frame") == [(bob.sid, frame)]
    h.media_dimensions(_track_sid(bob, "camera"), 320, 240)
    assert rec.of("track_dimensions_changed") == [(bob.sid, _track_sid(bob, "camera"), 320, 240)]

    rec.clear()
    carol = h.add_participant("carol", [("video", "camera")])
    assert rec.of("participant_connected") == [(carol, "carol")]
    h.unsubscribe(_track_sid(bob, "camera"))
    assert rec.of("track_unsubscribed") == [(bob.sid, _track_sid(bob, "camera"), "video", "camera")]
    assert media.sinks == []
    h.remove_participant(carol)
    assert rec.of("participant_disconnected") == [(carol, "carol")]
    bridge.leave()


async def test_enabled_disabled_and_screen_tiles(qapp: Any) -> None:
    h, bridge, rec, _ = await _bridge(qapp)
    bridge.start()
    bob = h.add_participant("bob", [("audio", "microphone")])
    mic = _track_sid(h.remote_states[bob], "microphone")
    screen = h.publish_remote(bob, "video", "screen")
    h.subscribe_with_media(mic, screen)
    h.set_remote_enabled(bob, mic, False)
    assert rec.of("track_disabled") == [(bob, mic, "audio", "microphone")]
    h.set_remote_enabled(bob, mic, True)
    assert rec.of("track_enabled") == [(bob, mic, "audio", "microphone")]
    frame = object()
    h.media[screen].sinks[0](frame)
    assert rec.of("video_frame") == [(f"{bob}:screen", frame)] and tile_key(bob, "screen") == f"{bob}:screen"
    bridge.leave()


async def test_chat_messages_from_the_chat_track_only(qapp: Any) -> None:
    h, bridge, rec, _ = await _bridge(qapp)
    bridge.start()
    bob = h.add_participant("bob", [("data", "chat"), ("data", "telemetry")])
    chat, telemetry = (_track_sid(h.remote_states[bob], n) for n in ("chat", "telemetry"))
    h.subscribe_with_media(chat, telemetry)
    h.data(chat, "hello")
    h.data(chat, "caf\u00e9".encode())
    h.data(telemetry, "{}")
    assert rec.of("chat_message") == [(bob, "bob", "hello"), (bob, "bob", "café")]

    # Sending goes over our own "chat" data track's open channels.
    channel = FakeDataChannel()
    bridge._chat._attach_channel(channel)  # type: ignore[union-attr]  # the media layer's seam
    assert bridge.send_chat("hi bob") and channel.sent == ["hi bob"]
    bridge.leave()
    assert not bridge.send_chat("too late") and channel.sent == ["hi bob"]


async def test_dominant_speaker_and_network_quality(qapp: Any) -> None:
    bob = remote_participant("bob", [("audio", "microphone")])
    h, bridge, rec, _ = await _bridge(qapp, participants=[bob], network_quality=None)
    bridge.start()
    h.signaling.handle_msp({"type": "active_speaker", "participant": bob.sid})
    h.signaling.handle_msp({"type": "active_speaker", "participant": None})
    assert rec.of("dominant_speaker_changed") == [(bob.sid,), ("",)]
    h.signaling.handle_msp({"type": "network_quality", "local": 4, "remotes": [{"sid": bob.sid, "level": 2}]})
    h.signaling.handle_msp({"type": "network_quality", "local": 4, "remotes": [{"sid": bob.sid, "level": 1}]})
    assert rec.of("network_quality_changed") == [(bridge.local_sid, 4), (bob.sid, 2), (bob.sid, 1)]
    # A participant who joins later is followed too.
    carol = h.add_participant("carol")
    h.signaling.handle_msp({"type": "network_quality", "remotes": [{"sid": carol, "level": 5}]})
    assert rec.of("network_quality_changed")[-1] == (carol, 5)
    bridge.leave()


async def test_reconnecting_reconnected_and_disconnected_with_code(qapp: Any) -> None:
    bob = remote_participant("bob")
    h, bridge, rec, mic = await _bridge(qapp, participants=[bob])
    bridge.start()
    h.signaling.transport_state("syncing")
    await settle()
    (code, message), = rec.of("reconnecting")
    assert code == 53001 and message
    h.synced()
    await settle()
    assert rec.of("reconnected") == [()]
    h.server_disconnected(completed=True)
    assert rec.of("disconnected") == [(53118, "Room completed")]
    assert mic.is_stopped  # the bridge owned it
    assert not bridge.connected


async def test_user_actions_and_leave(qapp: Any) -> None:
    h, bridge, rec, mic = await _bridge(qapp)
    bridge.start()
    rec.clear()
    bridge.set_mic_muted(True)
    assert not mic.is_enabled and rec.of("mic_muted_changed") == [(True,)] and bridge.mic_muted
    bridge.set_mic_muted(False)
    assert mic.is_enabled and rec.of("mic_muted_changed")[-1] == (False,)
    bridge.set_camera_paused(False)  # no camera: the state is re-announced, nothing breaks
    assert rec.of("camera_paused_changed") == [(True,)]
    bridge.leave()
    assert rec.of("disconnected") == [(0, "")] and mic.is_stopped and h.room.state == "disconnected"
    bridge.leave()  # idempotent
    assert len(rec.of("disconnected")) == 1


def test_stats_tracker_bitrate_loss_and_mesh_aggregation() -> None:
    labels = {"MTcam": ("You", "camera", "send"), "MTbob": ("bob", "camera", "recv"),
              "MTbobmic": ("bob", "microphone", "recv")}

    def reports(t: float, sent: int, lost_sent: int, received: int, lost: int) -> list[StatsReport]:
        # Our camera goes to two peers (one report each), bob's camera comes on a third.
        send = [StatsReport(f"pc{i}", local_video_track_stats=[LocalVideoTrackStats(
            track_id="cam", track_sid="MTcam", timestamp=t, bytes_sent=sent, packets_sent=100 + sent // 100,
            packets_lost=lost_sent, round_trip_time=rtt, dimensions=Dimensions(640, 480), frame_rate=24.0)])
            for i, rtt in enumerate((10.0, 30.0))]
        recv = StatsReport("pc9", remote_video_track_stats=[RemoteVideoTrackStats(
            track_id="b", track_sid="MTbob", timestamp=t, bytes_received=received, packets_received=received // 100,
            packets_lost=lost, dimensions=Dimensions(320, 240), frame_rate=15.0)],
            remote_audio_track_stats=[RemoteAudioTrackStats(track_id="m", track_sid="MTbobmic", timestamp=t,
                                                            bytes_received=0, packets_received=0)])
        return [*send, recv]

    tracker = StatsTracker()
    first = tracker.rows(reports(1000.0, 10_000, 0, 20_000, 0), labels)
    assert [(r.participant, r.track, r.direction) for r in first] == [
        ("You", "camera", "send"), ("bob", "microphone", "recv"), ("bob", "camera", "recv")]
    assert first[0].bitrate_bps is None and first[0].rtt_ms == 20.0 and first[0].loss_percent == 0.0
    assert (first[0].width, first[0].height, first[0].fps) == (640, 480, 24.0)
    assert first[1].loss_percent is None  # nothing received yet: unknown, not 0
    second = tracker.rows(reports(2000.0, 35_000, 1, 45_000, 25), labels)
    you, _, bob = second
    assert you.bitrate_bps == pytest.approx(2 * 25_000 * 8)  # two peer connections, 1 s apart
    assert bob.bitrate_bps == pytest.approx(25_000 * 8) and (bob.width, bob.height) == (320, 240)
    assert bob.loss_percent == pytest.approx(100 * 25 / (250 + 25))
    assert you.loss_percent == pytest.approx(100 * 2 / 500)
