"""Local and remote tracks on their own: ids, names, enable/disable/stop, data, priority, sinks."""

from __future__ import annotations

import pytest

from core.track import (
    Dimensions,
    LocalAudioTrack,
    LocalDataTrack,
    LocalVideoTrack,
    RemoteAudioTrack,
    RemoteDataTrack,
    RemoteVideoTrack,
    validate_priority,
)
from harness import EventLog, FakeDataChannel, FakeVideoMedia


class FakeMediaStreamTrack:
    def __init__(self, kind: str, track_id: str = "abc-123") -> None:
        self.kind = kind
        self.id = track_id
        self.stopped = 0

    def stop(self) -> None:
        self.stopped += 1


def test_local_track_id_and_name_defaults():
    mst = FakeMediaStreamTrack("audio", "mic-id")
    track = LocalAudioTrack(mst)
    assert (track.id, track.name, track.kind) == ("mic-id", "mic-id", "audio")
    assert track.media_stream_track is mst
    named = LocalVideoTrack(FakeMediaStreamTrack("video", "cam-id"), name=42)
    assert named.name == "42"  # always a string
    bare = LocalVideoTrack()
    assert len(bare.id) == 36 and bare.name == bare.id
    assert bare.is_enabled and not bare.is_started and not bare.is_stopped and bare.dimensions is None


def test_local_track_kind_mismatch():
    with pytest.raises(TypeError):
        LocalAudioTrack(FakeMediaStreamTrack("video"))


def test_enable_disable_only_on_change():
    track = LocalAudioTrack()
    with EventLog() as log:
        assert track.disable() is track
        track.disable()
        track.enable(False)
        track.enable()
        track.enable(True)
    assert log.events(track) == ["disabled", "enabled"]
    assert log.args(track, "disabled") == [(track,)]
    with pytest.raises(TypeError):
        track.enable("yes")


def test_stop_once_keeps_enabled_and_stops_media():
    mst = FakeMediaStreamTrack("video")
    track = LocalVideoTrack(mst)
    track.disable()
    with EventLog() as log:
        track.stop()
        track.stop()
        track._media_ended()
    assert log.events(track) == ["stopped"]
    assert track.is_stopped and not track.is_enabled and mst.stopped == 1


def test_started_and_dimensions_seams():
    track = LocalVideoTrack()
    with EventLog() as log:
        track._media_started()
        track._media_started()
        track._media_dimensions(640, 480)
        track._media_dimensions(640, 480)
        track._media_dimensions(1280, 720)
    assert log.events(track) == ["started", "dimensionsChanged", "dimensionsChanged"]
    assert track.is_started and track.dimensions == Dimensions(1280, 720)
    assert track.to_json()["dimensions"] == {"width": 1280, "height": 720}


def test_source_end_stops_track():
    track = LocalAudioTrack()
    with EventLog() as log:
        track._media_ended()
        track._media_started()  # too late
    assert log.events(track) == ["stopped"] and not track.is_started


def test_local_data_track_options():
    track = LocalDataTrack()
    assert track.kind == "data" and track.name == track.id and track.ordered and track.reliable
    lossy = LocalDataTrack(name="cursor", ordered=False, max_retransmits=0)
    assert (lossy.name, lossy.ordered, lossy.max_retransmits, lossy.max_packet_life_time, lossy.reliable) == (
        "cursor", False, 0, None, False)
    assert not LocalDataTrack(max_packet_life_time=500).reliable
    with pytest.raises(ValueError):
        LocalDataTrack(max_packet_life_time=100, max_retransmits=3)
    with pytest.raises(TypeError):
        LocalDataTrack(max_retransmits=-1)


def test_local_data_track_send_fans_out_to_open_channels():
    track = LocalDataTrack()
    track.send("dropped: no channel")
    open_a, open_b, closed = FakeDataChannel(), FakeDataChannel(), FakeDataChannel(ready_state="connecting")
    for channel in (open_a, open_b, closed, open_a):
        track._attach_channel(channel)
    track.send("hi")
    track.send(b"\x00\x01")
    track.send(bytearray(b"ab"))
    assert open_a.sent == ["hi", b"\x00\x01", b"ab"] == open_b.sent
    assert closed.sent == []
    track._detach_channel(open_b)
    track.send("only a")
    assert open_b.sent[-1] == b"ab" and open_a.sent[-1] == "only a"
    with pytest.raises(TypeError):
        track.send(123)


def test_send_failure_is_swallowed():
    class Broken(FakeDataChannel):
        def send(self, data):
            raise ConnectionError("closing")

    track = LocalDataTrack()
    good = FakeDataChannel()
    track._attach_channel(Broken())
    track._attach_channel(good)
    track.send("x")
    assert good.sent == ["x"]


@pytest.mark.parametrize("value", ["low", "standard", "high"])
def test_validate_priority_ok(value):
    assert validate_priority(value) == value


def test_validate_priority_errors():
    with pytest.raises(ValueError, match="low, standard, high"):
        validate_priority("urgent")
    with pytest.raises(TypeError):
        validate_priority(3)
    with pytest.raises(TypeError):
        validate_priority(None)
    assert validate_priority(None, allow_none=True) is None


def test_remote_track_set_priority_signals_on_change_only():
    sent = []
    track = RemoteVideoTrack("MT1", "cam", FakeVideoMedia(), on_priority=sent.append)
    assert track.priority is None
    assert track.set_priority("high") is track
    track.set_priority("high")
    track.set_priority(None)
    assert sent == ["high", None]
    with pytest.raises(ValueError):
        track.set_priority("max")
    with pytest.raises(TypeError):
        track.set_priority(1)
    assert track.priority is None


def test_remote_video_sinks_delegate_to_media():
    media = FakeVideoMedia()
    track = RemoteVideoTrack("MT1", "cam", media)
    sink = object()
    track.add_sink(sink)
    assert media.sinks == [sink]
    track.remove_sink(sink)
    assert media.sinks == []
    assert track.media_stream_track is media and track.sid == "MT1" and track.kind == "video"


def test_remote_audio_level_and_switch_off():
    track = RemoteAudioTrack("MT2", "mic", object(), enabled=False)
    assert track.level is None and not track.is_enabled
    track._set_level(0.25)
    assert track.level == 0.25
    with EventLog() as log:
        track._set_switched_off(True)
        track._set_switched_off(True)
        track._set_switched_off(False)
    assert log.events(track) == ["switchedOff", "switchedOn"]


def test_remote_data_track_properties_from_channel():
    channel = FakeDataChannel(ordered=False, max_packet_life_time=300)
    track = RemoteDataTrack("MT3", "chat", channel)
    assert (track.kind, track.is_enabled, track.ordered, track.max_packet_life_time, track.reliable) == (
        "data", True, False, 300, False)
    with EventLog() as log:
        track._receive("hey")
    assert log.args(track, "message") == [("hey", track)]


def test_track_to_json_has_only_public_properties():
    for track in (LocalAudioTrack(FakeMediaStreamTrack("audio")), LocalVideoTrack(), LocalDataTrack(),
                  RemoteAudioTrack("MT", "a", None), RemoteVideoTrack("MT", "v", FakeVideoMedia()),
                  RemoteDataTrack("MT", "d", FakeDataChannel())):
        data = track.to_json()
        assert data and all(not k.startswith("_") and hasattr(track, k) for k in data)
        assert "media_stream_track" not in data
        assert data["kind"] == track.kind
