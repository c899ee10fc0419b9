"""Track publications: a track's presence in the room, published (local) or subscribable (remote).

Events (all synchronous):

* ``TrackPublication``: ``trackEnabled()``, ``trackDisabled()`` (no arguments).
* ``LocalTrackPublication``: ``warning(name)`` (``"recording-media-lost"``: the server's recording
  of the track has had no media for a while; only with ``connect(notify_warnings=[...])``) and
  ``warningsCleared()`` when its media reaches the recording again.
* ``RemoteTrackPublication``: ``subscribed(track)``, ``unsubscribed(track)``,
  ``subscriptionFailed(error)``, ``trackSwitchedOff(track)``, ``trackSwitchedOn(track)``,
  ``publishPriorityChanged(priority)``.

Remote publications are driven by a :class:`~core.signaling.RemoteTrackSignaling`; each change
fires bottom-up: track → publication → participant → room.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .events import EventEmitter
from .track import (
    LocalAudioTrack,
    LocalDataTrack,
    LocalVideoTrack,
    RemoteAudioTrack,
    RemoteDataTrack,
    RemoteVideoTrack,
    validate_priority,
)

if TYPE_CHECKING:
    from .participant import LocalParticipant, RemoteParticipant
    from .signaling import LocalTrackSignaling, RemoteTrackSignaling

__all__ = [
    "TrackPublication",
    "LocalTrackPublication",
    "LocalAudioTrackPublication",
    "LocalVideoTrackPublication",
    "LocalDataTrackPublication",
    "RemoteTrackPublication",
    "RemoteAudioTrackPublication",
    "RemoteVideoTrackPublication",
    "RemoteDataTrackPublication",
    "local_publication_class",
    "remote_publication_class",
]

LocalTrack = LocalAudioTrack | LocalVideoTrack | LocalDataTrack
RemoteTrack = RemoteAudioTrack | RemoteVideoTrack | RemoteDataTrack


class TrackPublication(EventEmitter):
    """``track_name`` and ``track_sid`` of a published track."""

    @property
    def track_name(self) -> str:
        raise NotImplementedError

    @property
    def track_sid(self) -> str:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.track_sid} {self.track_name!r}>"


# --- local ---------------------------------------------------------------------------------


class LocalTrackPublication(TrackPublication):
    """A LocalTrack the server acknowledged with a SID."""

    def __init__(self, signaling: LocalTrackSignaling, track: LocalTrack, participant: LocalParticipant) -> None:
        super().__init__()
        self._signaling = signaling
        self._track = track
        self._participant = participant
        self._sid: str = signaling.sid or ""
        signaling.on("warning", self._on_warning)
        signaling.on("warningsCleared", self._on_warnings_cleared)

    def _on_warning(self, name: str) -> None:
        self.emit("warning", name)
        self._participant._track_warning(name, self)

    def _on_warnings_cleared(self) -> None:
        self.emit("warningsCleared")
        self._participant._track_warnings_cleared(self)

    @property
    def track_name(self) -> str:
        return self._track.name

    @property
    def track_sid(self) -> str:
        return self._sid

    @property
    def track(self) -> LocalTrack:
        return self._track

    @property
    def kind(self) -> str:
        return self._track.kind

    @property
    def is_track_enabled(self) -> bool:
        return bool(getattr(self._track, "is_enabled", True))

    @property
    def priority(self) -> str:
        """The publish priority subscribers see."""
        return self._signaling.priority

    def set_priority(self, priority: str) -> LocalTrackPublication:
        """Change the publish priority (TypeError / ValueError when invalid); signaled on change."""
        priority = validate_priority(priority)  # type: ignore[assignment]  # without allow_none, validate_priority returns a str
        self._participant._signaling.set_track_priority(self._signaling.id, priority)
        return self

    def unpublish(self) -> LocalTrackPublication:
        """Same as ``local_participant.unpublish_track(self.track)``."""
        self._participant.unpublish_track(self._track)
        return self


class LocalAudioTrackPublication(LocalTrackPublication):
    """Publication of a LocalAudioTrack."""


class LocalVideoTrackPublication(LocalTrackPublication):
    """Publication of a LocalVideoTrack."""


class LocalDataTrackPublication(LocalTrackPublication):
    """Publication of a LocalDataTrack (``is_track_enabled`` is always True)."""


_LOCAL = {"audio": LocalAudioTrackPublication, "video": LocalVideoTrackPublication, "data": LocalDataTrackPublication}


def local_publication_class(kind: str) -> type[LocalTrackPublication]:
    return _LOCAL[kind]


# --- remote --------------------------------------------------------------------------------


_REMOTE_TRACKS: dict[str, type] = {"audio": RemoteAudioTrack, "video": RemoteVideoTrack, "data": RemoteDataTrack}


class RemoteTrackPublication(TrackPublication):
    """A remote participant's track; ``track`` is set only while subscribed."""

    def __init__(self, signaling: RemoteTrackSignaling, participant: RemoteParticipant) -> None:
        super().__init__()
        self._signaling = signaling
        self._participant = participant
        self._is_track_enabled = signaling.enabled if signaling.kind != "data" else True
        self._publish_priority: str = signaling.priority
        self._track: RemoteTrack | None = None
        if signaling.is_subscribed:  # already complete when first seen: no event
            self._track = self._new_track()
        for event, handler in (
            ("enabledChanged", self._on_enabled_changed),
            ("priorityChanged", self._on_priority_changed),
            ("subscribed", self._on_subscribed),
            ("unsubscribed", self._on_unsubscribed),
            ("subscriptionFailed", self._on_subscription_failed),
            ("started", self._on_started),
            ("dimensionsChanged", self._on_dimensions_changed),
            ("audioLevel", self._on_audio_level),
            ("message", self._on_message),
            ("switchedOff", self._on_switched_off),
        ):
            signaling.on(event, handler)

    @property
    def track_name(self) -> str:
        return self._signaling.name

    @property
    def track_sid(self) -> str:
        return self._signaling.sid

    @property
    def kind(self) -> str:
        return self._signaling.kind

    @property
    def track(self) -> RemoteTrack | None:
        return self._track

    @property
    def is_subscribed(self) -> bool:
        return self._track is not None

    @property
    def is_track_enabled(self) -> bool:
        return self._is_track_enabled

    @property
    def publish_priority(self) -> str:
        return self._publish_priority

    def _new_track(self) -> Any:
        media = self._signaling.media
        cls = _REMOTE_TRACKS[self.kind]
        kwargs: dict[str, Any] = {"is_switched_off": self._signaling.is_switched_off}
        if self.kind != "data":  # a data track's priority is validated but has no effect
            kwargs["enabled"] = self._is_track_enabled
            kwargs["on_priority"] = self._signaling.set_subscriber_priority
        profile = self._signaling.room.bandwidth_profile
        if self.kind == "video" and profile is not None:  # switch_off() & co. as the profile allows
            kwargs.update(render_hint=self._signaling.set_render_hint,
                          switch_off_control=profile.video.client_track_switch_off_control,
                          content_preferences_mode=profile.video.content_preferences_mode)
        return cls(self.track_sid, self.track_name, media.media if media else None, **kwargs)

    # signaling handlers: track -> publication -> participant (-> room)

    def _on_subscribed(self) -> None:
        if self._track is not None:
            return
        track = self._track = self._new_track()
        self.emit("subscribed", track)
        self._participant._track_subscribed(track, self)

    def _on_unsubscribed(self) -> None:
        track, self._track = self._track, None
        if track is None:
            return
        track.emit("unsubscribed", track)
        self.emit("unsubscribed", track)
        self._participant._track_unsubscribed(track, self)

    def _on_subscription_failed(self, error: Exception) -> None:
        self.emit("subscriptionFailed", error)
        self._participant._emit_forward("trackSubscriptionFailed", error, self)

    def _on_enabled_changed(self, enabled: bool) -> None:
        if self.kind == "data" or enabled == self._is_track_enabled:
            return
        self._is_track_enabled = enabled
        track = self._track
        if track is not None:
            track._set_enabled(enabled)  # type: ignore[union-attr]  # data tracks returned above; audio and video ones have _set_enabled
        self.emit("trackEnabled" if enabled else "trackDisabled")
        if track is not None:
            self._participant._emit_forward("trackEnabled" if enabled else "trackDisabled", track)

    def _on_priority_changed(self, priority: str) -> None:
        self._publish_priority = priority
        self.emit("publishPriorityChanged", priority)
        self._participant._emit_forward("trackPublishPriorityChanged", priority, self)

    def _on_started(self) -> None:
        track = self._track
        if track is not None and hasattr(track, "_set_started") and track._set_started():
            self._participant._emit_forward("trackStarted", track)

    def _on_dimensions_changed(self, width: int, height: int) -> None:
        track = self._track
        if isinstance(track, RemoteVideoTrack) and track._set_dimensions(width, height):
            self._participant._emit_forward("trackDimensionsChanged", track)

    def _on_audio_level(self, level: float) -> None:
        if isinstance(self._track, RemoteAudioTrack):
            self._track._set_level(level)

    def _on_message(self, data: str | bytes) -> None:
        track = self._track
        if isinstance(track, RemoteDataTrack):
            track._receive(data)
            self._participant._emit_forward("trackMessage", data, track)

    def _on_switched_off(self, off: bool) -> None:
        track = self._track
        if track is None or not track._set_switched_off(off):
            return
        event = "trackSwitchedOff" if off else "trackSwitchedOn"
        self.emit(event, track)
        self._participant._emit_forward(event, track, self)


class RemoteAudioTrackPublication(RemoteTrackPublication):
    """Publication of a remote audio track."""


class RemoteVideoTrackPublication(RemoteTrackPublication):
    """Publication of a remote video track."""


class RemoteDataTrackPublication(RemoteTrackPublication):
    """Publication of a remote data track."""


_REMOTE = {
    "audio": RemoteAudioTrackPublication,
    "video": RemoteVideoTrackPublication,
    "data": RemoteDataTrackPublication,
}


def remote_publication_class(kind: str) -> type[RemoteTrackPublication]:
    return _REMOTE[kind]
