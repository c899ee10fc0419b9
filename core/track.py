"""The Track family: local and remote audio, video and data tracks.

Events (all synchronous, each only on an actual change, payload the track):
``started``, ``enabled``, ``disabled``, (video) ``dimensionsChanged``, (local media)
``stopped``, (data) ``message(data, track)``, (remote) ``switchedOff`` / ``switchedOn`` and the
deprecated ``unsubscribed``.

Seams for the media layer (it owns aiortc; these objects never touch it except ``stop()``):

* ``LocalAudioTrack`` / ``LocalVideoTrack``: call ``_media_started()`` when the source produced
  its first frame, ``_media_dimensions(width, height)`` for each (changed) captured frame size,
  ``_media_ended()`` when the source ended on its own. Listen to ``enabled`` / ``disabled`` /
  ``stopped`` to pause, resume and release the sender.
* ``LocalDataTrack``: ``_attach_channel(channel)`` / ``_detach_channel(channel)`` for each
  RTCDataChannel carrying it; ``send()`` writes to every attached channel whose
  ``readyState == 'open'``.
* Remote tracks are created by their publication from the media object the media layer handed
  to ``RoomSignaling.media_track_added``; ``RemoteVideoTrack.add_sink`` delegates to it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from .events import EventEmitter

__all__ = [
    "Dimensions",
    "Track",
    "AudioTrack",
    "VideoTrack",
    "LocalAudioTrack",
    "LocalVideoTrack",
    "LocalDataTrack",
    "RemoteAudioTrack",
    "RemoteVideoTrack",
    "RemoteDataTrack",
    "PRIORITIES",
    "validate_priority",
]

log = logging.getLogger("confab.track")

TrackKind = Literal["audio", "video", "data"]
#: Track priorities, lowest first.
PRIORITIES: tuple[str, ...] = ("low", "standard", "high")


def validate_priority(priority: object, *, allow_none: bool = False) -> str | None:
    """``priority`` if valid; TypeError if not a string (or None when allowed), ValueError if unknown.

    ValueError is the Python stand-in for twilio-video.js's RangeError.
    """
    if priority is None and allow_none:
        return None
    if not isinstance(priority, str):
        raise TypeError(f"priority must be a string{' or None' if allow_none else ''}, not {type(priority).__name__}")
    if priority not in PRIORITIES:
        raise ValueError(f"priority must be one of {', '.join(PRIORITIES)}: {priority!r}")
    return priority


@dataclass(frozen=True, slots=True)
class Dimensions:
    """A video frame size in pixels."""

    width: int
    height: int

    def to_json(self) -> dict[str, int]:
        return {"width": self.width, "height": self.height}


class Track(EventEmitter):
    """Base of every track: ``kind`` and ``name`` (always a string)."""

    def __init__(self, kind: TrackKind, name: object) -> None:
        super().__init__()
        self._kind: TrackKind = kind
        self._name = str(name)

    @property
    def kind(self) -> TrackKind:
        return self._kind

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        ident = getattr(self, "sid", None) or getattr(self, "id", None)
        return f"<{type(self).__name__} {ident} {self._name!r}>"


class _MediaTrack(Track):
    """Audio or video: ``is_started``, ``is_enabled``, ``media_stream_track``."""

    _json_exclude: ClassVar[frozenset[str]] = frozenset({"media_stream_track"})

    def __init__(self, kind: TrackKind, name: object, media_stream_track: Any, enabled: bool = True) -> None:
        super().__init__(kind, name)
        self._media_stream_track = media_stream_track
        self._is_enabled = bool(enabled)
        self._is_started = False

    @property
    def is_started(self) -> bool:
        return self._is_started

    @property
    def is_enabled(self) -> bool:
        return self._is_enabled

    @property
    def media_stream_track(self) -> Any:
        """The aiortc ``MediaStreamTrack`` (or the media layer's object) behind this track."""
        return self._media_stream_track

    def _set_started(self) -> bool:
        if self._is_started:
            return False
        self._is_started = True
        self.emit("started", self)
        return True

    def _set_enabled(self, enabled: bool) -> bool:
        enabled = bool(enabled)
        if enabled == self._is_enabled:
            return False
        self._is_enabled = enabled
        self.emit("enabled" if enabled else "disabled", self)
        return True


class AudioTrack(_MediaTrack):
    """An audio track (local or remote)."""


class VideoTrack(_MediaTrack):
    """A video track: ``dimensions`` (None until the first frame) and ``dimensionsChanged``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._dimensions: Dimensions | None = None
        self._processor: Any = None

    @property
    def dimensions(self) -> Dimensions | None:
        return self._dimensions

    @property
    def processor(self) -> Any:
        """The VideoProcessor added with ``add_processor`` (None without one)."""
        return self._processor

    def add_processor(self, processor: Any, options: Mapping[str, Any] | None = None) -> VideoTrack:
        """Pass every frame through ``processor.process_frame(input_rgb, output_rgb)``
        (core/media/processing.py): a local track's preview and what it sends, a remote track's
        sinks. One processor at a time, as in twilio-video.js; ``options`` is accepted and unused."""
        from .media.processing import check_processor

        check_processor(processor, "addProcessor")
        if self._processor is not None:
            raise RuntimeError("A VideoProcessor has already been added.")
        self._processor = processor
        self._processor_changed()
        return self

    def remove_processor(self, processor: Any) -> VideoTrack:
        if processor is None:
            raise TypeError("Received an invalid VideoProcessor from removeProcessor.")
        if self._processor is None:
            raise RuntimeError("No existing VideoProcessor detected.")
        if processor is not self._processor:
            raise RuntimeError("The provided VideoProcessor is different than the existing one.")
        self._processor = None
        self._processor_changed()
        return self

    def _processor_changed(self) -> None:
        """Hand the processor to the media layer (a local track's feed reads it every frame)."""

    def _set_dimensions(self, width: int, height: int) -> bool:
        dimensions = Dimensions(int(width), int(height))
        if dimensions == self._dimensions:
            return False
        self._dimensions = dimensions
        self.emit("dimensionsChanged", self)
        return True


# --- local ---------------------------------------------------------------------------------


class _LocalMediaTrack:
    """Mixin of LocalAudioTrack / LocalVideoTrack: ``id``, enable/disable, stop."""

    _kind_of_class: ClassVar[TrackKind]
    _is_enabled: bool
    emit: Callable[..., bool]
    _set_enabled: Callable[[bool], bool]
    _set_started: Callable[[], bool]

    def __init__(self, media_track: Any = None, name: object = None) -> None:
        kind = self._kind_of_class
        media_kind = getattr(media_track, "kind", kind)
        if media_kind != kind:
            raise TypeError(f"{type(self).__name__} needs a {kind} MediaStreamTrack, got {media_kind!r}")
        track_id = str(getattr(media_track, "id", None) or uuid.uuid4())
        super().__init__(kind, track_id if name is None else name, media_track)  # type: ignore[call-arg]  # a mixin: the media track class after it in the MRO takes these
        self._id = track_id
        self._is_stopped = False
        self._is_muted = False

    @property
    def id(self) -> str:
        """The local track id (the aiortc track's id): msid track id on the wire."""
        return self._id

    @property
    def is_stopped(self) -> bool:
        return self._is_stopped

    @property
    def is_muted(self) -> bool:
        """The source stopped delivering without ending (e.g. a device another program took)."""
        return self._is_muted

    def enable(self, enabled: bool = True) -> _LocalMediaTrack:
        """Enable (or, with False, disable) sending; emits ``enabled``/``disabled`` on change. Sync."""
        if not isinstance(enabled, bool):
            raise TypeError("enabled must be a bool")
        self._set_enabled(enabled)
        return self

    def disable(self) -> _LocalMediaTrack:
        """Same as ``enable(False)``."""
        return self.enable(False)

    def stop(self) -> _LocalMediaTrack:
        """Stop the source for good; ``stopped`` fires exactly once; ``is_enabled`` is unchanged."""
        if not self._is_stopped:
            media = getattr(self, "_media_stream_track", None)
            stop = getattr(media, "stop", None)
            if callable(stop):
                try:
                    stop()
                except Exception:
                    log.debug("stopping %r failed", media, exc_info=True)
            self._mark_stopped()
        return self

    async def restart(self, constraints: Mapping[str, Any] | None = None) -> None:
        """Stop and re-acquire the source, e.g. ``restart({"device": id})`` to change camera or
        microphone; keeps id, name, enabled state and the publication (senders switch to the
        new source without renegotiating). Emits ``stopped`` then ``started``. Only for tracks
        made by ``create_local_tracks`` and friends or ``connect`` (TypeError otherwise)."""
        from .local_tracks import restart_track

        await restart_track(self, constraints or {})  # type: ignore[arg-type]  # self is a LocalAudioTrack or LocalVideoTrack

    def _mark_stopped(self) -> None:
        if not self._is_stopped:
            self._is_stopped = True
            self.emit("stopped", self)

    @property
    def level(self) -> int | None:
        """Latest level of the source, 0..32767 (audio; None until measured)."""
        return getattr(self, "_level", None)

    def add_sink(self, sink: Any) -> None:
        """Deliver the source's frames to ``sink`` (self-view, meters), latest frame wins."""
        from .local_tracks import local_source

        local_source(self).preview.add_sink(sink)  # type: ignore[arg-type]  # a mixin: self is a LocalAudioTrack or LocalVideoTrack

    def remove_sink(self, sink: Any) -> None:
        source = getattr(self, "_local_source", None)
        if source is not None:
            source.preview.remove_sink(sink)

    # media-layer seams
    def _media_started(self) -> None:
        """The source delivered its first frame: emits ``started`` once."""
        if not self._is_stopped:
            self._set_started()

    def _media_ended(self) -> None:
        """The source ended by itself (device gone): emits ``stopped`` once."""
        self._mark_stopped()

    def _media_muted(self, muted: bool) -> None:
        """The source stalled (``muted``) or delivers again (``unmuted``); each on change."""
        if muted != self._is_muted and not (muted and self._is_stopped):
            self._is_muted = muted
            self.emit("muted" if muted else "unmuted", self)


class LocalAudioTrack(_LocalMediaTrack, AudioTrack):
    """A local microphone/synthetic audio track wrapping an aiortc ``MediaStreamTrack``."""

    _kind_of_class: ClassVar[TrackKind] = "audio"


class LocalVideoTrack(_LocalMediaTrack, VideoTrack):
    """A local camera/screen/synthetic video track wrapping an aiortc ``MediaStreamTrack``."""

    _kind_of_class: ClassVar[TrackKind] = "video"

    def _media_dimensions(self, width: int, height: int) -> None:
        """A captured frame of this size: emits ``dimensionsChanged`` when it changed."""
        self._set_dimensions(width, height)


class LocalDataTrack(Track):
    """A data track the app creates and publishes; ``send`` is fire-and-forget."""

    def __init__(
        self,
        name: object = None,
        ordered: bool = True,
        max_packet_life_time: int | None = None,
        max_retransmits: int | None = None,
    ) -> None:
        if max_packet_life_time is not None and max_retransmits is not None:
            raise ValueError("set at most one of max_packet_life_time and max_retransmits")
        for label, value in (("max_packet_life_time", max_packet_life_time), ("max_retransmits", max_retransmits)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                raise TypeError(f"{label} must be a non-negative int or None")
        self._id = str(uuid.uuid4())
        super().__init__("data", self._id if name is None else name)
        self._ordered = bool(ordered)
        self._max_packet_life_time = max_packet_life_time
        self._max_retransmits = max_retransmits
        self._channels: list[Any] = []

    @property
    def id(self) -> str:
        """Local id, also the data channel label on the wire."""
        return self._id

    @property
    def ordered(self) -> bool:
        return self._ordered

    @property
    def max_packet_life_time(self) -> int | None:
        return self._max_packet_life_time

    @property
    def max_retransmits(self) -> int | None:
        return self._max_retransmits

    @property
    def reliable(self) -> bool:
        return self._max_packet_life_time is None and self._max_retransmits is None

    def send(self, data: str | bytes | bytearray | memoryview) -> None:
        """Send to every open channel; silently dropped where none is open."""
        if isinstance(data, (bytearray, memoryview)):
            data = bytes(data)
        if not isinstance(data, (str, bytes)):
            raise TypeError(f"data must be str or bytes, not {type(data).__name__}")
        for channel in list(self._channels):
            if getattr(channel, "readyState", "open") != "open":
                continue
            try:
                channel.send(data)
            except Exception:
                log.debug("send on %r failed", channel, exc_info=True)

    def _attach_channel(self, channel: Any) -> None:
        if channel not in self._channels:
            self._channels.append(channel)

    def _detach_channel(self, channel: Any) -> None:
        if channel in self._channels:
            self._channels.remove(channel)


# --- remote --------------------------------------------------------------------------------


class _RemoteTrack:
    """Mixin of remote tracks: ``sid``, ``priority`` / ``set_priority``, ``is_switched_off``."""

    _deprecated_events: ClassVar[Mapping[str, str]] = {
        "unsubscribed": "listen to the RemoteTrackPublication's 'unsubscribed' instead",
    }
    emit: Callable[..., bool]

    def __init__(
        self,
        sid: str,
        *args: Any,
        on_priority: Callable[[str | None], None] | None = None,
        is_switched_off: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)  # a mixin: the track class after it in the MRO takes the rest
        self._sid = sid
        self._priority: str | None = None
        self._on_priority = on_priority
        self._is_switched_off = bool(is_switched_off)

    @property
    def sid(self) -> str:
        return self._sid

    @property
    def priority(self) -> str | None:
        """Subscriber-side priority; None = use the publisher's."""
        return self._priority

    @property
    def is_switched_off(self) -> bool:
        return self._is_switched_off

    def set_priority(self, priority: str | None) -> _RemoteTrack:
        """Set the subscriber priority (TypeError / ValueError when invalid); signaled on change."""
        priority = validate_priority(priority, allow_none=True)
        if priority != self._priority:
            self._priority = priority
            if self._on_priority is not None:
                self._on_priority(priority)
        return self

    def _set_switched_off(self, off: bool) -> bool:
        off = bool(off)
        if off == self._is_switched_off:
            return False
        self._is_switched_off = off
        self.emit("switchedOff" if off else "switchedOn", self)
        return True


class RemoteAudioTrack(_RemoteTrack, AudioTrack):
    """A subscribed remote audio track; ``level`` is the latest level the media layer reported."""

    def __init__(self, sid: str, name: object, media: Any, enabled: bool = True, **kwargs: Any) -> None:
        super().__init__(sid, "audio", name, media, enabled, **kwargs)
        self._level: float | None = None

    @property
    def level(self) -> float | None:
        """Latest audio level, 0..32767 (twilio-video.js's ``audioLevel`` scale), None until known."""
        return self._level

    def attach(self, device: Any = None) -> RemoteAudioTrack:
        """Play the track on an output device (an entry of ``core.media.devices.list_audio_outputs()``
        or its id; None: the default, which discards). Replaces an earlier output."""
        from .media.devices import open_audio_output

        output = open_audio_output(device)
        self.detach()
        self._output = output
        set_output = getattr(self.media_stream_track, "set_output", None)
        if callable(set_output):
            set_output(output)
        return self

    def detach(self) -> RemoteAudioTrack:
        """Stop playing the track (its level keeps being measured)."""
        output, self._output = getattr(self, "_output", None), None
        set_output = getattr(self.media_stream_track, "set_output", None)
        if callable(set_output):
            set_output(None)
        if output is not None:
            output.close()
        return self

    def _set_level(self, level: float) -> None:
        self._level = level


class RemoteVideoTrack(_RemoteTrack, VideoTrack):
    """A subscribed remote video track; decoded frames reach sinks added with ``add_sink``.

    ``is_frozen`` (a Confab extension): the track is enabled but no media has arrived for a
    couple of seconds (``core.media.watchdog``); ``frozen(track)`` / ``unfrozen(track)`` on change.
    """

    def __init__(self, sid: str, name: object, media: Any, enabled: bool = True, *,
                 render_hint: Callable[..., None] | None = None, switch_off_control: str | None = None,
                 content_preferences_mode: str | None = None, **kwargs: Any) -> None:
        super().__init__(sid, "video", name, media, enabled, **kwargs)
        self._is_frozen = False
        self._render_hint = render_hint
        #: The bandwidth profile's ``client_track_switch_off_control`` / ``content_preferences_mode``
        #: (None: connected without one).
        self._switch_off_control = switch_off_control
        self._content_preferences_mode = content_preferences_mode
        self._sinks: set[Any] = set()

    def switch_off(self) -> RemoteVideoTrack:
        """Ask the server to stop forwarding this track (``client_track_switch_off_control="manual"``
        only, else RuntimeError as twilio-video.js throws); ``switchedOff`` follows from the server."""
        self._manual("switch_off", self._switch_off_control, "client_track_switch_off_control")
        self._hint(enabled=False)
        return self

    def switch_on(self) -> RemoteVideoTrack:
        """Ask the server to forward this track again (``client_track_switch_off_control="manual"``)."""
        self._manual("switch_on", self._switch_off_control, "client_track_switch_off_control")
        self._hint(enabled=True)
        return self

    def set_content_preferences(self, preferences: Mapping[str, Any]) -> RemoteVideoTrack:
        """``{"render_dimensions": {"width": w, "height": h}}`` (``content_preferences_mode="manual"``
        only). Sent as a render hint; a Confab server forwards one layer per track, so the size
        changes nothing in the stream — it orders the ``collaboration`` mode's switch-off."""
        self._manual("set_content_preferences", self._content_preferences_mode, "content_preferences_mode")
        if not isinstance(preferences, Mapping):
            raise TypeError("content preferences must be a mapping")
        dims = preferences.get("render_dimensions", preferences.get("renderDimensions"))
        if dims is not None:
            if not isinstance(dims, Mapping) or not all(
                    isinstance(dims.get(k), (int, float)) and not isinstance(dims.get(k), bool)
                    for k in ("width", "height")):
                raise TypeError("render_dimensions must be {'width': number, 'height': number}")
            self._hint(render_dimensions={"height": dims["height"], "width": dims["width"]})
        return self

    def add_sink(self, sink: Any) -> Any:
        """Deliver decoded frames to ``sink`` (latest frame wins; the media object's); with
        ``client_track_switch_off_control="auto"`` the
        first sink tells the server the track is rendered (as attaching does in twilio-video.js)."""
        result = self._media_stream_track.add_sink(sink)
        self._sinks.add(sink)
        if self._switch_off_control == "auto" and len(self._sinks) == 1:
            self._hint(enabled=True)
        return result

    def remove_sink(self, sink: Any) -> Any:
        """…and removing the last one that it is not (the server switches it off)."""
        result = self._media_stream_track.remove_sink(sink)
        if sink in self._sinks:
            self._sinks.discard(sink)
            if self._switch_off_control == "auto" and not self._sinks:
                self._hint(enabled=False)
        return result

    def _manual(self, method: str, mode: str | None, option: str) -> None:
        if mode != "manual":
            raise RuntimeError(f"Invalid state. You can call {method} only when bandwidth_profile.video.{option}"
                               " is set to 'manual'")

    def _hint(self, **hint: Any) -> None:
        if self._render_hint is not None:
            self._render_hint(**hint)

    @property
    def is_frozen(self) -> bool:
        return self._is_frozen

    def _set_frozen(self, frozen: bool) -> None:
        if frozen != self._is_frozen:
            self._is_frozen = frozen
            self.emit("frozen" if frozen else "unfrozen", self)

    def _processor_changed(self) -> None:
        if hasattr(self._media_stream_track, "processor"):  # the fan-out applies it before its sinks
            self._media_stream_track.processor = self._processor

class RemoteDataTrack(_RemoteTrack, Track):
    """A subscribed remote data track: ``message(data, track)`` per received message."""

    def __init__(self, sid: str, name: object, media: Any = None, **kwargs: Any) -> None:
        super().__init__(sid, "data", name, **kwargs)
        self._channel = media

    @property
    def is_enabled(self) -> bool:
        return True

    @property
    def ordered(self) -> bool:
        return bool(getattr(self._channel, "ordered", True))

    @property
    def max_packet_life_time(self) -> int | None:
        return getattr(self._channel, "maxPacketLifeTime", None)

    @property
    def max_retransmits(self) -> int | None:
        return getattr(self._channel, "maxRetransmits", None)

    @property
    def reliable(self) -> bool:
        return self.max_packet_life_time is None and self.max_retransmits is None

    def _receive(self, data: str | bytes) -> None:
        self.emit("message", data, self)
