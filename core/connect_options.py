"""The ``connect()`` options beyond media and subscription: checked as twilio-video.js checks them.

* ``bandwidth_profile`` — ``{"video": {...}}`` with twilio-video.js's keys in either spelling
  (``max_subscription_bitrate`` or ``maxSubscriptionBitrate``). A wrong type raises
  ``TypeError``, a value outside its set ``ValueError`` (the SDK's RangeError); giving both a
  deprecated key and its replacement is a ``TypeError``. Sent in the RSP ``connect`` under the
  wire names twilio-video.js uses, and its presence asks for the ``track_switch_off`` and
  ``render_hints`` MSP channels (``track_priority`` is asked for always, as twilio-video.js does).
* ``region`` — a Twilio signaling region name, else 53000 as in twilio-video.js. A self-hosted
  Confab server is reached at ``url`` whatever the region; ``environment`` is accepted alike.
* ``notify_warnings`` — warning names (``"recording-media-lost"``) for which
  ``trackWarning``/``trackWarningsCleared`` fire.
* ``insights`` and ``network_monitor`` are accepted booleans: Confab publishes no telemetry, and
  a lost network shows up as a dropped WebSocket, which resumes by itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCConfiguration, RTCIceServer

from .errors import SignalingConnectionError

__all__ = ["BANDWIDTH_CHANNELS", "REGIONS", "WARNINGS", "BandwidthProfile", "ProfilePayload", "VideoBandwidthProfile",
           "bandwidth_profile", "check_flag", "check_region", "ice_settings", "notify_warnings"]

REGIONS = ("gll", "au1", "br1", "de1", "ie1", "in1", "jp1", "sg1", "us1", "us2")
WARNINGS = ("recording-media-lost",)
PRIORITIES = ("low", "standard", "high")
#: The MSP channels a bandwidth profile asks the server for (as twilio-video.js does).
BANDWIDTH_CHANNELS = ("track_switch_off", "render_hints")

# (python name, twilio-video.js name, wire name or None, allowed values or a type)
_VIDEO_OPTIONS: tuple[tuple[str, str, str | None, tuple[str, ...] | type], ...] = (
    ("mode", "mode", "mode", ("grid", "collaboration", "presentation")),
    ("max_subscription_bitrate", "maxSubscriptionBitrate", "max_subscription_bandwidth", float),
    ("dominant_speaker_priority", "dominantSpeakerPriority", "active_speaker_priority", PRIORITIES),
    ("track_switch_off_mode", "trackSwitchOffMode", "track_switch_off", ("predicted", "detected", "disabled")),
    ("client_track_switch_off_control", "clientTrackSwitchOffControl", None, ("auto", "manual")),
    ("content_preferences_mode", "contentPreferencesMode", None, ("auto", "manual")),
    ("max_tracks", "maxTracks", "max_tracks", float),  # deprecated
    ("render_dimensions", "renderDimensions", "render_dimensions", dict),  # deprecated
)
_DEPRECATED_BY = {"max_tracks": "client_track_switch_off_control", "render_dimensions": "content_preferences_mode"}


@dataclass(frozen=True)
class VideoBandwidthProfile:
    mode: str = "grid"
    max_subscription_bitrate: float | None = None
    dominant_speaker_priority: str = "standard"
    track_switch_off_mode: str = "predicted"
    #: ``"disabled"`` when the deprecated ``max_tracks`` was given (as twilio-video.js does).
    client_track_switch_off_control: str = "auto"
    #: ``"disabled"`` when the deprecated ``render_dimensions`` was given.
    content_preferences_mode: str = "auto"
    max_tracks: float | None = None
    render_dimensions: Mapping[str, Any] | None = None
    given: frozenset[str] = field(default=frozenset(), repr=False)

    def payload(self) -> dict[str, Any]:
        """The RSP ``bandwidth_profile.video`` body: only what the application gave."""
        out: dict[str, Any] = {}
        for name, _js, wire, _allowed in _VIDEO_OPTIONS:
            if wire is not None and name in self.given:
                out[wire] = getattr(self, name)
        return out


class ProfilePayload(dict[str, Any]):
    """The RSP ``bandwidth_profile`` body, holding on to the parsed profile (``.profile``): the
    client-side options the wire leaves out (``client_track_switch_off_control``,
    ``content_preferences_mode``) travel with it to the room's signaling."""

    profile: BandwidthProfile


@dataclass(frozen=True)
class BandwidthProfile:
    video: VideoBandwidthProfile = field(default_factory=VideoBandwidthProfile)

    def payload(self) -> ProfilePayload:
        body = ProfilePayload(video=self.video.payload())
        body.profile = self
        return body


def _video_profile(video: Any) -> VideoBandwidthProfile:
    if not isinstance(video, Mapping):
        raise TypeError("bandwidth_profile.video must be a mapping")
    by_name = {js: name for name, js, _w, _a in _VIDEO_OPTIONS} | {name: name for name, *_ in _VIDEO_OPTIONS}
    values: dict[str, Any] = {}
    for key, value in video.items():
        name = by_name.get(key)
        if name is None:
            raise TypeError(f"bandwidth_profile.video has no option {key!r}")
        values[name] = value
    for name, js, _wire, allowed in _VIDEO_OPTIONS:
        if name not in values:
            continue
        value = values[name]
        if allowed is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
                raise TypeError(f"bandwidth_profile.video.{js} must be a number")
        elif isinstance(allowed, type):
            if not isinstance(value, Mapping):
                raise TypeError(f"bandwidth_profile.video.{js} must be a mapping")
        elif value not in allowed:
            raise ValueError(f"bandwidth_profile.video.{js} must be one of {list(allowed)}")
    for old, new in _DEPRECATED_BY.items():
        if old in values and new in values:
            raise TypeError(f"bandwidth_profile.video.{old} is deprecated: use {new} instead")
    if "max_tracks" in values:
        values["client_track_switch_off_control"] = "disabled"
    if "render_dimensions" in values:
        values["content_preferences_mode"] = "disabled"
        _check_render_dimensions(values["render_dimensions"])
    return VideoBandwidthProfile(**values, given=frozenset(values))


def _check_render_dimensions(dimensions: Mapping[str, Any]) -> None:
    for priority, size in dimensions.items():
        if priority not in PRIORITIES or not isinstance(size, Mapping) or not all(
                isinstance(size.get(k), (int, float)) and not isinstance(size.get(k), bool)
                for k in ("width", "height")):
            raise TypeError("bandwidth_profile.video.renderDimensions maps low/standard/high to"
                            " {'width': number, 'height': number}")


def bandwidth_profile(value: Any) -> BandwidthProfile | None:
    """The checked ``bandwidth_profile`` option (``None``: none given)."""
    if value is None:
        return None
    if isinstance(value, BandwidthProfile):
        return value
    if not isinstance(value, Mapping):
        raise TypeError("bandwidth_profile must be a mapping")
    unknown = set(value) - {"video"}
    if unknown:
        raise TypeError(f"bandwidth_profile has no option {sorted(unknown)[0]!r}")
    return BandwidthProfile(_video_profile(value["video"]) if "video" in value else VideoBandwidthProfile())


def check_region(region: Any) -> str:
    region = "gll" if region is None else region
    if region not in REGIONS:
        raise SignalingConnectionError(f"Unknown signaling region {region!r}: one of {', '.join(REGIONS)}")
    return str(region)


def notify_warnings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError("notify_warnings must be a list of warning names")
    for name in value:
        if name not in WARNINGS:
            raise ValueError(f"notify_warnings: each must be one of {list(WARNINGS)}, not {name!r}")
    return tuple(value)


def check_flag(value: Any, option: str, default: bool = True) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise TypeError(f"{option} must be a boolean")
    return value


def ice_settings(configuration: RTCConfiguration | Mapping[str, Any]) -> tuple[list[Any], str]:
    """``rtc_configuration``'s ICE servers and transport policy (it wins over the separate options)."""
    if isinstance(configuration, RTCConfiguration):
        return list(configuration.iceServers or []), configuration.iceTransportPolicy.value
    if not isinstance(configuration, Mapping):
        raise TypeError("rtc_configuration must be an RTCConfiguration or a mapping")
    servers: list[Any] = []
    for server in configuration.get("iceServers") or []:
        if isinstance(server, (RTCIceServer, str)):
            servers.append(server)
        elif isinstance(server, Mapping) and server.get("urls"):
            servers.append(RTCIceServer(urls=server["urls"], username=server.get("username"),
                                        credential=server.get("credential")))
        else:
            raise TypeError(f"rtc_configuration.iceServers: not an ICE server: {server!r}")
    return servers, str(configuration.get("iceTransportPolicy", "all"))
