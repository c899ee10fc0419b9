"""Confab's SDK: Twilio Video's object model on asyncio and aiortc (never Qt).

Every public name is importable from ``core`` (``from core import connect, Room,
AccessTokenInvalidError``). Modules load on first use, so the server can import
``core.errors`` or ``core.token`` without pulling in the media stack.
"""

from __future__ import annotations

import importlib
from typing import Any

from . import errors as _errors

_MODULES = (
    "errors", "token", "events", "track", "publication", "participant", "room", "stats",
    "network_quality", "local_tracks", "join",
)
_EXTRA = {"RoomSignaling": "signaling", "EncodingParameters": "signaling", "Logger": "logger",
          "BandwidthProfile": "connect_options", "VideoBandwidthProfile": "connect_options",
          "run_preflight": "preflight", "PreflightTest": "preflight", "PreflightTestReport": "preflight",
          "is_supported": "support", "version": "release"}
def _names() -> dict[str, str]:
    names: dict[str, str] = {}
    for module in _MODULES:
        for name in importlib.import_module(f".{module}", __name__).__all__:
            names.setdefault(name, module)
    names.update(_EXTRA)
    return names


_INDEX: dict[str, str] | None = None


def __getattr__(name: str) -> Any:
    global _INDEX
    if name.startswith("__"):
        raise AttributeError(name)
    try:  # a submodule (``from core import media``) loads alone
        return importlib.import_module(f".{name}", __name__)
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{name}":
            raise
    if _INDEX is None:
        _INDEX = _names()
    module = _INDEX.get(name)
    if module is None:
        raise AttributeError(f"module 'core' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    global _INDEX
    if _INDEX is None:
        _INDEX = _names()
    return sorted(set(_INDEX) | set(globals()))


__all__ = [  # the public API; kept in step with the modules by tests/core/test_core_seed.py
    "connect", "create_local_tracks", "create_local_audio_track", "create_local_video_track",
    "AccessToken", "verify_access_token",
    "Room", "Participant", "LocalParticipant", "RemoteParticipant",
    "Track", "AudioTrack", "VideoTrack", "Dimensions",
    "LocalAudioTrack", "LocalVideoTrack", "LocalDataTrack",
    "RemoteAudioTrack", "RemoteVideoTrack", "RemoteDataTrack",
    "TrackPublication", "LocalTrackPublication", "LocalAudioTrackPublication",
    "LocalVideoTrackPublication", "LocalDataTrackPublication", "RemoteTrackPublication",
    "RemoteAudioTrackPublication", "RemoteVideoTrackPublication", "RemoteDataTrackPublication",
    "StatsReport", "TrackStats", "LocalTrackStats", "LocalAudioTrackStats", "LocalVideoTrackStats",
    "RemoteTrackStats", "RemoteAudioTrackStats", "RemoteVideoTrackStats",
    "NetworkQualityLevel", "NetworkQualityVerbosity", "NetworkQualityConfiguration",
    "NetworkQualityStats", "NetworkQualityMediaStats", "NetworkQualityAudioStats",
    "NetworkQualityVideoStats", "NetworkQualitySendOrRecvStats", "NetworkQualitySendStats",
    "NetworkQualityRecvStats", "NetworkQualityBandwidthStats", "NetworkQualityLatencyStats",
    "NetworkQualityFractionLostStats",
    "TwilioError", "error_from_code", "Logger", "BandwidthProfile", "VideoBandwidthProfile",
    "run_preflight", "PreflightTest", "PreflightTestReport", "is_supported", "version",
    *(name for name in _errors.__all__ if name not in ("ERRORS_BY_CODE", "TwilioError", "error_from_code")),
]
