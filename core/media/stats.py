"""StatsReports from aiortc's per-sender/receiver stats plus what we measure ourselves.

aiortc gives packets, bytes sent, loss, jitter (RTP clock units) and round-trip time; frame
size and rate come from our fan-outs, audio level from numpy on decoded frames, bytes
received from the receiver hook (``rtp_hooks``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import Any

from ..pins import require
from ..stats import (
    LocalAudioTrackStats,
    LocalVideoTrackStats,
    RemoteAudioTrackStats,
    RemoteVideoTrackStats,
    StatsReport,
)
from ..track import Dimensions
from .peers import LocalFeed
from .rtp_hooks import counters_of
from .sinks import AudioFanout, VideoFanout

__all__ = ["collect_stats"]


def _of_type(report: Mapping[str, Any], kind: str) -> Any:
    return next((s for s in report.values() if getattr(s, "type", None) == kind), None)


def _jitter_ms(value: Any, clock_rate: int | None) -> float | None:
    if value is None or not clock_rate:
        return None
    return float(value) * 1000.0 / clock_rate


def _codec(transceiver: Any) -> tuple[str | None, int | None]:
    """The negotiated codec: aiortc keeps it in the transceiver's private ``_codecs`` (no getStats
    field has it); an AttributeError says at once if a release renames it."""
    codecs = transceiver._codecs
    if not codecs:
        return None, None
    return codecs[0].mimeType.split("/", 1)[-1], codecs[0].clockRate


def _limitation(feed: Any, captured: float | None, sent: float | None) -> str:
    """webrtc-stats' qualityLimitationReason as far as aiortc allows (it never scales the
    picture): "cpu" when frames are dropped before the encoder (it cannot keep up), "bandwidth"
    when the encoder's target is held below its codec's starting bitrate (the receiver's
    estimate or a max_video_bitrate cap), else "none"."""
    if captured and sent is not None and sent < 0.75 * captured:
        return "cpu"
    encoder = feed.encoder() if isinstance(feed, LocalFeed) else None
    default = getattr(sys.modules.get(type(encoder).__module__), "DEFAULT_BITRATE", None) if encoder else None
    if encoder is not None and default and encoder.target_bitrate < default:
        return "bandwidth"
    return "none"


def _dimensions(size: tuple[int, int] | None) -> Dimensions | None:
    return Dimensions(*size) if size else None


async def collect_stats(mesh: Any, fanouts: Mapping[tuple[str | None, str], VideoFanout | AudioFanout],
                        local_participant: Any) -> list[StatsReport]:
    """One StatsReport per peer connection of ``mesh`` (track SIDs are stamped by the caller).

    ``fanouts`` are keyed (peer, track id); a remote track's id is its m-line's msid, which
    the fan-out on the same aiortc track knows (aiortc's own ``track.id`` may be invented).
    """
    require("aiortc", "core.media.stats (reads RTCRtpTransceiver._codecs)")
    now_ms = time.time() * 1000.0
    # a fan-out reads a relay (``relay.RelayTrack``) over the receiver's own track
    by_track = {id(getattr(f.track, "source", f.track)): (key[1], f) for key, f in fanouts.items()}
    local_tracks = getattr(local_participant, "_local_tracks", {}) if local_participant else {}
    reports: list[StatsReport] = []
    for pc_id, session in mesh.sessions().items():
        report = StatsReport(peer_connection_id=pc_id)
        by_transceiver = {id(t): track_id for track_id, t in session.transceivers.items()}
        for transceiver in session.pc.getTransceivers():
            codec, clock = _codec(transceiver)
            if session.role == "send":
                track_id = by_transceiver.get(id(transceiver))
                if track_id is None or transceiver.direction == "inactive":
                    continue
                stats = await transceiver.sender.getStats()
                out = _of_type(stats, "outbound-rtp")
                rr = _of_type(stats, "remote-inbound-rtp")
                rtt = getattr(rr, "roundTripTime", None)
                common = dict(
                    track_id=track_id, timestamp=now_ms, ssrc=str(out.ssrc) if out else None,
                    packets_lost=getattr(rr, "packetsLost", None), codec=codec,
                    bytes_sent=getattr(out, "bytesSent", None), packets_sent=getattr(out, "packetsSent", None),
                    round_trip_time=rtt * 1000.0 if rtt is not None else None,
                )
                track = local_tracks.get(track_id)
                source = getattr(track, "_local_source", None)
                if transceiver.kind == "audio":
                    report.local_audio_track_stats.append(LocalAudioTrackStats(
                        **common, audio_level=getattr(track, "level", None),
                        jitter=_jitter_ms(getattr(rr, "jitter", None), clock)))
                else:
                    fps = source.preview.fps if source is not None else None
                    enabled = bool(getattr(track, "is_enabled", True))
                    size = getattr(track, "dimensions", None)
                    feed = transceiver.sender.track
                    sent_fps = feed.sent.rate() if isinstance(feed, LocalFeed) else fps
                    report.local_video_track_stats.append(LocalVideoTrackStats(
                        **common, capture_dimensions=size, dimensions=size if enabled else None,
                        capture_frame_rate=fps, frame_rate=sent_fps if enabled else 0.0,
                        quality_limitation_reason=_limitation(feed, fps, sent_fps) if enabled else "none"))
            else:
                track = transceiver.receiver.track
                if track is None or id(track) not in by_track:
                    continue
                remote_id, fanout = by_track[id(track)]
                stats = await transceiver.receiver.getStats()
                inbound = _of_type(stats, "inbound-rtp")
                counters = counters_of(transceiver.receiver)
                common = dict(
                    track_id=remote_id, timestamp=now_ms, ssrc=str(inbound.ssrc) if inbound else None,
                    packets_lost=getattr(inbound, "packetsLost", None), codec=codec,
                    bytes_received=counters.bytes_received,
                    packets_received=getattr(inbound, "packetsReceived", None),
                    jitter=_jitter_ms(getattr(inbound, "jitter", None), clock),
                )
                if transceiver.kind == "audio":
                    level = fanout.level.level if isinstance(fanout, AudioFanout) else None
                    report.remote_audio_track_stats.append(RemoteAudioTrackStats(**common, audio_level=level))
                else:
                    video = fanout if isinstance(fanout, VideoFanout) else None
                    report.remote_video_track_stats.append(RemoteVideoTrackStats(
                        **common, dimensions=_dimensions(video.dimensions if video else None),
                        frame_rate=video.fps if video else None,
                        freeze_count=video.freezes.count if video else None))
        reports.append(report)
    return reports
