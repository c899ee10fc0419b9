"""Stats value objects returned by ``Room.get_stats()`` (one StatsReport per peer connection).

Plain typed dataclasses with snake_case attributes; ``from_dict`` accepts snake_case or
twilio-video.js camelCase keys, so the media layer can build them from whatever it measures.
Times are milliseconds (``timestamp`` ms since the epoch, ``round_trip_time`` and ``jitter`` ms).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .track import Dimensions

__all__ = [
    "TrackStats",
    "LocalTrackStats",
    "LocalAudioTrackStats",
    "LocalVideoTrackStats",
    "RemoteTrackStats",
    "RemoteAudioTrackStats",
    "RemoteVideoTrackStats",
    "StatsReport",
]

T = TypeVar("T", bound="TrackStats")


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _dimensions(value: Any) -> Dimensions | None:
    if value is None or isinstance(value, Dimensions):
        return value
    if isinstance(value, Mapping):
        return Dimensions(int(value["width"]), int(value["height"]))
    width, height = value
    return Dimensions(int(width), int(height))


@dataclass
class TrackStats:
    """Common to every track's stats."""

    track_id: str
    track_sid: str | None = None
    timestamp: float = 0.0
    ssrc: str | None = None
    packets_lost: int | None = None
    codec: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.track_id, str):
            raise TypeError("track_id must be a string")
        if self.ssrc is not None:
            self.ssrc = str(self.ssrc)
        for f in dataclasses.fields(self):
            if f.name in ("capture_dimensions", "dimensions"):
                setattr(self, f.name, _dimensions(getattr(self, f.name)))

    @classmethod
    def from_dict(cls: type[T], data: Mapping[str, Any]) -> T:
        """Build from a dict; unknown keys are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {}
        for key, value in data.items():
            name = key if key in names else _snake(key)
            if name in names:
                kwargs[name] = value
        return cls(**kwargs)

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        for key in ("capture_dimensions", "dimensions"):
            if out.get(key) is not None:
                out[key] = {"width": out[key]["width"], "height": out[key]["height"]}
        return out


@dataclass
class LocalTrackStats(TrackStats):
    bytes_sent: int | None = None
    packets_sent: int | None = None
    round_trip_time: float | None = None


@dataclass
class LocalAudioTrackStats(LocalTrackStats):
    audio_level: int | None = None
    jitter: float | None = None


@dataclass
class LocalVideoTrackStats(LocalTrackStats):
    capture_dimensions: Dimensions | None = None
    dimensions: Dimensions | None = None
    capture_frame_rate: float | None = None
    frame_rate: float | None = None
    quality_limitation_reason: str | None = None


@dataclass
class RemoteTrackStats(TrackStats):
    bytes_received: int | None = None
    packets_received: int | None = None
    jitter: float | None = None


@dataclass
class RemoteAudioTrackStats(RemoteTrackStats):
    audio_level: int | None = None


@dataclass
class RemoteVideoTrackStats(RemoteTrackStats):
    dimensions: Dimensions | None = None
    frame_rate: float | None = None
    freeze_count: int | None = None


_LISTS: dict[str, type[LocalAudioTrackStats | LocalVideoTrackStats | RemoteAudioTrackStats | RemoteVideoTrackStats]] = {
    "local_audio_track_stats": LocalAudioTrackStats,
    "local_video_track_stats": LocalVideoTrackStats,
    "remote_audio_track_stats": RemoteAudioTrackStats,
    "remote_video_track_stats": RemoteVideoTrackStats,
}


@dataclass
class StatsReport:
    """Stats of one peer connection."""

    peer_connection_id: str
    local_audio_track_stats: list[LocalAudioTrackStats] = field(default_factory=list)
    local_video_track_stats: list[LocalVideoTrackStats] = field(default_factory=list)
    remote_audio_track_stats: list[RemoteAudioTrackStats] = field(default_factory=list)
    remote_video_track_stats: list[RemoteVideoTrackStats] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StatsReport:
        kwargs: dict[str, Any] = {"peer_connection_id": str(_get(data, "peer_connection_id"))}
        for name, klass in _LISTS.items():
            kwargs[name] = [e if isinstance(e, klass) else klass.from_dict(e) for e in _get(data, name) or []]
        return cls(**kwargs)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"peer_connection_id": self.peer_connection_id}
        for name in _LISTS:
            out[name] = [s.to_json() for s in getattr(self, name)]
        return out


def _get(data: Mapping[str, Any], snake: str) -> Any:
    if snake in data:
        return data[snake]
    camel = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), snake)
    return data.get(camel)
