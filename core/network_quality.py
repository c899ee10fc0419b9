"""Network quality: levels 0..5, verbosity configuration and the per-participant stats objects.

The stats objects are built from the server's ``network_quality`` MSP message
(``{type, local, remotes:[{sid, level, audio, video}]}``): ``local`` is a number or an object
``{level?, audio?: {send, recv, sendStats?, recvStats?}, video?: ...}``. Keys are accepted in
Twilio's camelCase (``sendStats``, ``fractionLost``) or snake_case.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Self, cast

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = [
    "NetworkQualityLevel",
    "NetworkQualityVerbosity",
    "NetworkQualityConfiguration",
    "NetworkQualityStats",
    "NetworkQualityMediaStats",
    "NetworkQualityAudioStats",
    "NetworkQualityVideoStats",
    "NetworkQualitySendOrRecvStats",
    "NetworkQualitySendStats",
    "NetworkQualityRecvStats",
    "NetworkQualityBandwidthStats",
    "NetworkQualityLatencyStats",
    "NetworkQualityFractionLostStats",
    "parse_network_quality",
]


class NetworkQualityLevel(IntEnum):
    """0 (broken or reconnecting) .. 5 (excellent), relative to what the participant sends/receives."""

    BROKEN = 0
    BAD = 1
    BELOW_AVERAGE = 2
    AVERAGE = 3
    GOOD = 4
    EXCELLENT = 5


class NetworkQualityVerbosity(IntEnum):
    """How much the server reports: level only (minimal), + audio/video levels, + stats."""

    NONE = 0
    MINIMAL = 1
    MODERATE = 2
    DETAILED = 3


_LOCAL_RANGE = (NetworkQualityVerbosity.MINIMAL, NetworkQualityVerbosity.DETAILED)
_REMOTE_RANGE = (NetworkQualityVerbosity.NONE, NetworkQualityVerbosity.DETAILED)


def _check_number(label: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise TypeError(f"network quality {label} must be a number, not {value!r}")
    return value


def _in_range(value: float, bounds: tuple[int, int], fallback: int) -> NetworkQualityVerbosity:
    lo, hi = bounds
    if value == int(value) and lo <= value <= hi:
        return NetworkQualityVerbosity(int(value))
    return NetworkQualityVerbosity(fallback)


@dataclass(frozen=True)
class NetworkQualityConfiguration:
    """Verbosity for the local (1..3, default 1) and remote (0..3, default 0) participants.

    Non-numbers (or NaN) raise TypeError; out-of-range values fall back to the default.
    """

    local: NetworkQualityVerbosity = NetworkQualityVerbosity.MINIMAL
    remote: NetworkQualityVerbosity = NetworkQualityVerbosity.NONE

    def __post_init__(self) -> None:
        local = _check_number("local", self.local)
        remote = _check_number("remote", self.remote)
        object.__setattr__(self, "local", _in_range(local, _LOCAL_RANGE, NetworkQualityVerbosity.MINIMAL))
        object.__setattr__(self, "remote", _in_range(remote, _REMOTE_RANGE, NetworkQualityVerbosity.NONE))

    @classmethod
    def from_option(
        cls, option: bool | Mapping[str, Any] | NetworkQualityConfiguration | None
    ) -> NetworkQualityConfiguration | None:
        """The ``network_quality`` connect option: False/None → None, True → defaults, mapping → values."""
        if option is None or option is False:
            return None
        if option is True:
            return cls()
        return cls().updated(option)

    def updated(self, changes: Mapping[str, Any] | NetworkQualityConfiguration) -> NetworkQualityConfiguration:
        """A copy with the given fields changed; missing or out-of-range fields keep the current value."""
        if isinstance(changes, NetworkQualityConfiguration):
            changes = {"local": changes.local, "remote": changes.remote}
        if not isinstance(changes, Mapping):
            raise TypeError("network quality configuration must be a mapping")
        local, remote = self.local, self.remote
        if changes.get("local") is not None:
            local = _in_range(_check_number("local", changes["local"]), _LOCAL_RANGE, local)
        if changes.get("remote") is not None:
            remote = _in_range(_check_number("remote", changes["remote"]), _REMOTE_RANGE, remote)
        return NetworkQualityConfiguration(local, remote)

    def to_json(self) -> dict[str, int]:
        return {"local": int(self.local), "remote": int(self.remote)}


def _get(data: Mapping[str, Any], snake: str, camel: str | None = None) -> Any:
    if snake in data:
        return data[snake]
    return data.get(camel) if camel else None


def _level(value: Any) -> NetworkQualityLevel | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return NetworkQualityLevel(max(0, min(5, int(value))))


class _Value:
    def to_json(self) -> dict[str, Any]:
        return asdict(cast("DataclassInstance", self))  # every subclass is a @dataclass


@dataclass(frozen=True)
class NetworkQualityBandwidthStats(_Value):
    """Bandwidth in bps: ``actual`` used, ``available`` estimated, and its level."""

    actual: float | None = None
    available: float | None = None
    level: NetworkQualityLevel | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NetworkQualityBandwidthStats:
        return cls(_get(data, "actual"), _get(data, "available"), _level(_get(data, "level")))


@dataclass(frozen=True)
class NetworkQualityLatencyStats(_Value):
    """Latency in seconds: ``jitter``, ``rtt``, and its level."""

    jitter: float | None = None
    rtt: float | None = None
    level: NetworkQualityLevel | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NetworkQualityLatencyStats:
        return cls(_get(data, "jitter"), _get(data, "rtt"), _level(_get(data, "level")))


@dataclass(frozen=True)
class NetworkQualityFractionLostStats(_Value):
    """Fraction of packets lost (0..1) and its level."""

    fraction_lost: float | None = None
    level: NetworkQualityLevel | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NetworkQualityFractionLostStats:
        return cls(_get(data, "fraction_lost", "fractionLost"), _level(_get(data, "level")))


@dataclass(frozen=True)
class NetworkQualitySendOrRecvStats(_Value):
    """Bandwidth, latency and loss of one direction."""

    bandwidth: NetworkQualityBandwidthStats | None = None
    latency: NetworkQualityLatencyStats | None = None
    fraction_lost: NetworkQualityFractionLostStats | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        bandwidth = _get(data, "bandwidth")
        latency = _get(data, "latency")
        fraction_lost = _get(data, "fraction_lost", "fractionLost")
        return cls(
            NetworkQualityBandwidthStats.from_dict(bandwidth) if isinstance(bandwidth, Mapping) else None,
            NetworkQualityLatencyStats.from_dict(latency) if isinstance(latency, Mapping) else None,
            NetworkQualityFractionLostStats.from_dict(fraction_lost) if isinstance(fraction_lost, Mapping) else None,
        )


class NetworkQualitySendStats(NetworkQualitySendOrRecvStats):
    """Stats of the sending direction."""


class NetworkQualityRecvStats(NetworkQualitySendOrRecvStats):
    """Stats of the receiving direction."""


@dataclass(frozen=True)
class NetworkQualityMediaStats(_Value):
    """Send and receive levels of one media kind (+ detailed stats at verbosity 3)."""

    send: NetworkQualityLevel | None = None
    recv: NetworkQualityLevel | None = None
    send_stats: NetworkQualitySendStats | None = None
    recv_stats: NetworkQualityRecvStats | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        send_stats = _get(data, "send_stats", "sendStats")
        recv_stats = _get(data, "recv_stats", "recvStats")
        return cls(
            _level(_get(data, "send")),
            _level(_get(data, "recv")),
            NetworkQualitySendStats.from_dict(send_stats) if isinstance(send_stats, Mapping) else None,
            NetworkQualityRecvStats.from_dict(recv_stats) if isinstance(recv_stats, Mapping) else None,
        )


class NetworkQualityAudioStats(NetworkQualityMediaStats):
    """Audio levels/stats."""


class NetworkQualityVideoStats(NetworkQualityMediaStats):
    """Video levels/stats."""


@dataclass(frozen=True)
class NetworkQualityStats(_Value):
    """A participant's level with audio/video detail (verbosity >= 2)."""

    level: NetworkQualityLevel | None = None
    audio: NetworkQualityAudioStats | None = None
    video: NetworkQualityVideoStats | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NetworkQualityStats:
        level, stats = parse_network_quality(data)
        return stats if stats is not None else cls(level)


def parse_network_quality(value: Any) -> tuple[NetworkQualityLevel | None, NetworkQualityStats | None]:
    """``(level, stats)`` of one ``local`` / ``remotes[i]`` entry.

    A missing ``level`` is the minimum of the audio/video send/recv levels; ``stats`` is None
    unless audio or video detail is present.
    """
    if not isinstance(value, Mapping):
        return _level(value), None
    audio = _get(value, "audio")
    video = _get(value, "video")
    audio_stats = NetworkQualityAudioStats.from_dict(audio) if isinstance(audio, Mapping) else None
    video_stats = NetworkQualityVideoStats.from_dict(video) if isinstance(video, Mapping) else None
    level = _level(_get(value, "level"))
    if level is None:
        subs = [
            lvl
            for media in (audio_stats, video_stats)
            if media is not None
            for lvl in (media.send, media.recv)
            if lvl is not None
        ]
        level = min(subs) if subs else None
    if audio_stats is None and video_stats is None:
        return level, None
    return level, NetworkQualityStats(level, audio_stats, video_stats)
