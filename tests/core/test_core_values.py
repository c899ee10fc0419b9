"""Stats and network-quality value objects built from sample dicts."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, strategies as st

from core.network_quality import (
    NetworkQualityAudioStats,
    NetworkQualityBandwidthStats,
    NetworkQualityConfiguration,
    NetworkQualityFractionLostStats,
    NetworkQualityLatencyStats,
    NetworkQualityLevel,
    NetworkQualityMediaStats,
    NetworkQualityRecvStats,
    NetworkQualitySendOrRecvStats,
    NetworkQualitySendStats,
    NetworkQualityStats,
    NetworkQualityVerbosity,
    NetworkQualityVideoStats,
    parse_network_quality,
)
from core.stats import (
    LocalAudioTrackStats,
    LocalTrackStats,
    LocalVideoTrackStats,
    RemoteAudioTrackStats,
    RemoteTrackStats,
    RemoteVideoTrackStats,
    StatsReport,
    TrackStats,
)
from core.track import Dimensions

DETAILED = {
    "level": 4,
    "audio": {
        "send": 5, "recv": 4,
        "sendStats": {
            "bandwidth": {"actual": 32000, "available": 100000, "level": 5},
            "latency": {"jitter": 0.004, "rtt": 0.05, "level": 5},
            "fractionLost": {"fractionLost": 0.01, "level": 4},
        },
        "recvStats": {"bandwidth": {"actual": 30000, "available": None, "level": 4}},
    },
    "video": {"send": 3, "recv": 5, "send_stats": None, "recv_stats": None},
}


def test_levels_and_verbosity():
    assert [int(level) for level in NetworkQualityLevel] == [0, 1, 2, 3, 4, 5]
    assert NetworkQualityLevel.EXCELLENT == 5 and NetworkQualityLevel(0) is NetworkQualityLevel.BROKEN
    assert [int(v) for v in NetworkQualityVerbosity] == [0, 1, 2, 3]


def test_configuration_defaults_and_ranges():
    assert NetworkQualityConfiguration() == NetworkQualityConfiguration(1, 0)
    assert NetworkQualityConfiguration(local=3, remote=2).to_json() == {"local": 3, "remote": 2}
    assert NetworkQualityConfiguration(local=0, remote=4) == NetworkQualityConfiguration(1, 0)  # out of range
    assert NetworkQualityConfiguration(local=2.5) == NetworkQualityConfiguration(1, 0)
    assert NetworkQualityConfiguration(local=2.0).local == NetworkQualityVerbosity.MODERATE
    for bad in ("1", None, float("nan"), True):
        with pytest.raises(TypeError):
            NetworkQualityConfiguration(local=bad)


def test_configuration_from_option_and_update():
    assert NetworkQualityConfiguration.from_option(False) is None
    assert NetworkQualityConfiguration.from_option(None) is None
    assert NetworkQualityConfiguration.from_option(True) == NetworkQualityConfiguration()
    assert NetworkQualityConfiguration.from_option({"remote": 1}) == NetworkQualityConfiguration(1, 1)
    current = NetworkQualityConfiguration(2, 1)
    assert current.updated({}) == current
    assert current.updated({"local": 3}) == NetworkQualityConfiguration(3, 1)
    assert current.updated({"remote": 7}) == current
    assert current.updated(NetworkQualityConfiguration(1, 3)) == NetworkQualityConfiguration(1, 3)
    with pytest.raises(TypeError):
        current.updated([1, 2])


@given(st.integers(-5, 10), st.integers(-5, 10))
def test_configuration_always_in_range(local, remote):
    config = NetworkQualityConfiguration(local, remote)
    assert 1 <= config.local <= 3 and 0 <= config.remote <= 3


def test_detailed_stats_from_msp_dict():
    stats = NetworkQualityStats.from_dict(DETAILED)
    assert stats.level == 4
    assert isinstance(stats.audio, NetworkQualityAudioStats) and isinstance(stats.video, NetworkQualityVideoStats)
    assert isinstance(stats.audio, NetworkQualityMediaStats)
    assert (stats.audio.send, stats.audio.recv, stats.video.send, stats.video.recv) == (5, 4, 3, 5)
    send = stats.audio.send_stats
    assert isinstance(send, NetworkQualitySendStats) and isinstance(send, NetworkQualitySendOrRecvStats)
    assert send.bandwidth == NetworkQualityBandwidthStats(32000, 100000, NetworkQualityLevel.EXCELLENT)
    assert send.latency == NetworkQualityLatencyStats(0.004, 0.05, 5)
    assert send.fraction_lost == NetworkQualityFractionLostStats(0.01, 4)
    recv = stats.audio.recv_stats
    assert isinstance(recv, NetworkQualityRecvStats) and recv.latency is None and recv.bandwidth.available is None
    assert stats.video.send_stats is None
    json.dumps(stats.to_json())
    assert stats.to_json()["audio"]["send_stats"]["fraction_lost"] == {"fraction_lost": 0.01, "level": 4}


def test_level_from_sub_levels_and_plain_numbers():
    assert parse_network_quality(3) == (3, None)
    assert parse_network_quality(None) == (None, None)
    assert parse_network_quality(9) == (5, None)  # clamped
    level, stats = parse_network_quality({"audio": {"send": 4, "recv": 2}, "video": {"send": 5, "recv": 3}})
    assert level == 2 and stats.level == 2
    assert parse_network_quality({"level": 1}) == (1, None)
    assert NetworkQualityStats.from_dict({"level": 3}) == NetworkQualityStats(3)


def test_snake_case_keys_accepted():
    stats = NetworkQualityMediaStats.from_dict({"send": 1, "recv": 1, "send_stats": {
        "fraction_lost": {"fraction_lost": 0.5, "level": 1}}})
    assert stats.send_stats.fraction_lost.fraction_lost == 0.5


def test_track_stats_hierarchy_and_fields():
    stats = LocalVideoTrackStats("cam", track_sid="MT1", timestamp=1.5e12, ssrc=1234, packets_lost=0, codec="VP8",
                                 bytes_sent=10, packets_sent=2, round_trip_time=12.0,
                                 capture_dimensions=(1280, 720), dimensions={"width": 640, "height": 360},
                                 capture_frame_rate=30.0, frame_rate=29.5, quality_limitation_reason="cpu")
    assert isinstance(stats, LocalTrackStats) and isinstance(stats, TrackStats)
    assert stats.ssrc == "1234" and stats.capture_dimensions == Dimensions(1280, 720)
    assert stats.dimensions == Dimensions(640, 360)
    assert stats.to_json()["capture_dimensions"] == {"width": 1280, "height": 720}
    audio = LocalAudioTrackStats("mic", audio_level=32767, jitter=3.0)
    assert (audio.audio_level, audio.jitter, audio.bytes_sent, audio.packets_lost) == (32767, 3.0, None, None)
    remote = RemoteVideoTrackStats("id", bytes_received=5, packets_received=1, jitter=1.0, dimensions=None,
                                   frame_rate=24.0, freeze_count=2)
    assert isinstance(remote, RemoteTrackStats) and remote.freeze_count == 2
    assert isinstance(RemoteAudioTrackStats("a", audio_level=100), RemoteTrackStats)
    with pytest.raises(TypeError):
        TrackStats(12)


def test_stats_report_from_camel_case_dict():
    report = StatsReport.from_dict({
        "peerConnectionId": "pc-1",
        "localAudioTrackStats": [{"trackId": "mic", "trackSid": "MT1", "bytesSent": 100, "audioLevel": 10}],
        "localVideoTrackStats": [{"trackId": "cam", "captureDimensions": {"width": 2, "height": 4},
                                  "qualityLimitationReason": "none", "unknownField": 1}],
        "remoteAudioTrackStats": [],
        "remoteVideoTrackStats": [{"track_id": "x", "packets_received": 7, "freeze_count": 0}],
    })
    assert report.peer_connection_id == "pc-1"
    assert report.local_audio_track_stats == [
        LocalAudioTrackStats("mic", track_sid="MT1", bytes_sent=100, audio_level=10)]
    assert report.local_video_track_stats[0].capture_dimensions == Dimensions(2, 4)
    assert report.remote_video_track_stats[0].packets_received == 7
    data = report.to_json()
    assert set(data) == {"peer_connection_id", "local_audio_track_stats", "local_video_track_stats",
                         "remote_audio_track_stats", "remote_video_track_stats"}
    json.dumps(data)
    assert StatsReport("pc").remote_audio_track_stats == []
