"""StatsTracker: successive ``Room.get_stats()`` reports turned into the stats overlay's rows."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.stats import (
    LocalTrackStats,
    LocalVideoTrackStats,
    RemoteTrackStats,
    RemoteVideoTrackStats,
    StatsReport,
)
from ui.stats_overlay import StatsRow

__all__ = ["StatsTracker"]


@dataclass
class _Sample:
    timestamp: float  # ms
    bytes: int
    packets: int
    lost: int


class StatsTracker:
    """Turns successive ``get_stats()`` results into StatsOverlay rows.

    A track sent to several peers (a mesh) has one entry per peer connection: bytes and
    packets are summed, RTT averaged. Bitrate and loss are computed from the change since the
    previous call (loss is cumulative on the first call; bitrate is unknown until the second).
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._previous: dict[tuple[str, str], _Sample] = {}
        self._clock = clock

    def rows(self, reports: Sequence[StatsReport],
             labels: Mapping[str, tuple[str, str, str]]) -> list[StatsRow]:
        merged: dict[tuple[str, str], dict[str, Any]] = {}
        for report in reports:
            for kind, direction, entries in (
                ("audio", "send", report.local_audio_track_stats),
                ("video", "send", report.local_video_track_stats),
                ("audio", "recv", report.remote_audio_track_stats),
                ("video", "recv", report.remote_video_track_stats),
            ):
                for s in entries:
                    sid = s.track_sid or s.track_id
                    entry = merged.setdefault((direction, sid), {
                        "kind": kind, "timestamp": 0.0, "bytes": 0, "packets": 0, "lost": 0,
                        "rtt": [], "dimensions": None, "fps": None,
                    })
                    entry["timestamp"] = max(entry["timestamp"], s.timestamp or 0.0)
                    if isinstance(s, LocalTrackStats):
                        entry["bytes"] += s.bytes_sent or 0
                        entry["packets"] += s.packets_sent or 0
                        if s.round_trip_time is not None:
                            entry["rtt"].append(s.round_trip_time)
                    elif isinstance(s, RemoteTrackStats):
                        entry["bytes"] += s.bytes_received or 0
                        entry["packets"] += s.packets_received or 0
                    entry["lost"] += max(0, s.packets_lost or 0)
                    if isinstance(s, LocalVideoTrackStats | RemoteVideoTrackStats):
                        entry["dimensions"] = entry["dimensions"] or s.dimensions
                        if s.frame_rate is not None:
                            entry["fps"] = max(entry["fps"] or 0.0, s.frame_rate)
        rows: list[StatsRow] = []
        current: dict[tuple[str, str], _Sample] = {}
        for (direction, sid), e in merged.items():
            participant, name, _ = labels.get(sid, ("You" if direction == "send" else "?", "", direction))
            now = e["timestamp"] or self._clock() * 1000.0
            sample = _Sample(now, e["bytes"], e["packets"], e["lost"])
            current[(direction, sid)] = sample
            prev = self._previous.get((direction, sid))
            bitrate = loss = None
            if prev is not None and sample.timestamp > prev.timestamp and sample.bytes >= prev.bytes:
                bitrate = (sample.bytes - prev.bytes) * 8 * 1000.0 / (sample.timestamp - prev.timestamp)
                d_packets, d_lost = sample.packets - prev.packets, sample.lost - prev.lost
                loss = _loss(direction, d_packets, d_lost)
            if loss is None:
                loss = _loss(direction, sample.packets, sample.lost)
            dims = e["dimensions"]
            rows.append(StatsRow(
                participant=participant, track=name, kind=e["kind"], direction=direction,
                width=dims.width if dims else None, height=dims.height if dims else None,
                fps=e["fps"], bitrate_bps=bitrate, loss_percent=loss,
                rtt_ms=sum(e["rtt"]) / len(e["rtt"]) if e["rtt"] else None,
            ))
        self._previous = current
        rows.sort(key=lambda r: (r.direction != "send", r.participant, r.kind, r.track))
        return rows


def _loss(direction: str, packets: int, lost: int) -> float | None:
    """Percent lost: of packets sent (send), of packets expected = received + lost (recv)."""
    if packets < 0 or lost < 0:
        return None
    total = packets if direction == "send" else packets + lost
    if total <= 0:
        return None
    return min(100.0, 100.0 * lost / total)
