"""Participants: the local one (publishes) and remote ones (publications we may subscribe to).

State machine (§2.2): ``connecting → connected``, ``connected → reconnecting | disconnected``,
``reconnecting → connected | disconnected``. Each transition emits an event named after the
new state with the participant (``connected(p)``, ``reconnecting(p)``, ``disconnected(p)``),
synchronously; ``reconnected()`` follows ``reconnecting → connected`` asynchronously.

Event payloads follow the seed: ``trackSubscribed(track)``, ``trackUnsubscribed(track)``,
``trackEnabled(track)``/``trackDisabled(track)`` (remote: only while subscribed — the
publication's ``trackEnabled()`` fires regardless), ``trackPublished(publication)``,
``trackUnpublished(publication)``, ``trackSubscriptionFailed(error, publication)``,
``trackStarted(track)``, ``trackDimensionsChanged(track)``, ``trackMessage(data, track)``,
``networkQualityLevelChanged(level)``; deprecated ``trackAdded(track)`` / ``trackRemoved(track)``
fire right after ``trackSubscribed`` / ``trackUnsubscribed`` (local: after ``trackPublished`` /
on unpublish). LocalParticipant ``trackPublished`` and ``trackPublicationFailed`` are async.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from .events import EventEmitter
from .network_quality import NetworkQualityConfiguration, NetworkQualityLevel, NetworkQualityStats
from .publication import (
    LocalTrackPublication,
    RemoteTrackPublication,
    TrackPublication,
    local_publication_class,
    remote_publication_class,
)
from .signaling import EncodingParameters, LocalTrackSignaling
from .track import LocalAudioTrack, LocalDataTrack, LocalVideoTrack, Track, validate_priority

if TYPE_CHECKING:
    from .signaling import (
        LocalParticipantSignaling,
        ParticipantSignaling,
        RemoteParticipantSignaling,
        RemoteTrackSignaling,
    )

__all__ = ["Participant", "LocalParticipant", "RemoteParticipant"]

log = logging.getLogger("confab.participant")

LocalTrack = LocalAudioTrack | LocalVideoTrack | LocalDataTrack
_UNSET: Any = object()
_DEPRECATED = {
    "trackAdded": "use 'trackSubscribed' (remote) or 'trackPublished' (local)",
    "trackRemoved": "use 'trackUnsubscribed' (remote) or unpublish_track's result (local)",
}
Forwarder = Callable[[str, tuple[Any, ...], "RemoteParticipant"], None]


class Participant(EventEmitter):
    """What local and remote participants share; properties read the signaling object."""

    _deprecated_events: ClassVar[dict[str, str]] = _DEPRECATED

    def __init__(self, signaling: ParticipantSignaling) -> None:
        super().__init__()
        self._signaling = signaling
        self._publications: dict[str, TrackPublication] = {}
        signaling.on("stateChanged", self._on_state_changed)
        signaling.on("networkQualityLevelChanged", self._on_network_quality_level_changed)

    @property
    def sid(self) -> str | None:
        return self._signaling.sid

    @property
    def identity(self) -> str | None:
        return self._signaling.identity

    @property
    def state(self) -> str:
        return self._signaling.state

    @property
    def tracks(self) -> dict[str, TrackPublication]:
        """Track SID → publication (a copy)."""
        return dict(self._publications)

    @property
    def audio_tracks(self) -> dict[str, TrackPublication]:
        return self._of_kind("audio")

    @property
    def video_tracks(self) -> dict[str, TrackPublication]:
        return self._of_kind("video")

    @property
    def data_tracks(self) -> dict[str, TrackPublication]:
        return self._of_kind("data")

    @property
    def network_quality_level(self) -> NetworkQualityLevel | None:
        return self._signaling.network_quality_level

    @property
    def network_quality_stats(self) -> NetworkQualityStats | None:
        return self._signaling.network_quality_stats

    def _of_kind(self, kind: str) -> dict[str, Any]:
        return {sid: pub for sid, pub in self._publications.items() if pub.kind == kind}  # type: ignore[attr-defined]  # every publication here has a kind; the TrackPublication base declares none

    def _emit_forward(self, event: str, *args: Any) -> None:
        self.emit(event, *args)

    def _emit_soon(self, event: str, *args: Any) -> None:
        self._signaling.room.loop.call_soon(self._emit_forward, event, *args)

    def _on_state_changed(self, state: str, previous: str) -> None:
        self._emit_forward(state, self)
        if previous == "reconnecting" and state == "connected":
            self._emit_soon("reconnected")

    def _on_network_quality_level_changed(self, level: NetworkQualityLevel) -> None:
        self.emit("networkQualityLevelChanged", level)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.sid} {self.identity!r} {self.state}>"


# --- remote --------------------------------------------------------------------------------


class RemoteParticipant(Participant):
    """Another participant; ``tracks`` holds RemoteTrackPublications (subscribed or not)."""

    _signaling: RemoteParticipantSignaling

    def __init__(self, signaling: RemoteParticipantSignaling) -> None:
        super().__init__(signaling)
        self._forward: Forwarder | None = None
        for tsig in signaling.tracks.values():
            self._add_publication(tsig)
        signaling.on("trackPublished", self._on_track_published)
        signaling.on("trackUnpublished", self._on_track_unpublished)

    def _emit_forward(self, event: str, *args: Any) -> None:
        self.emit(event, *args)
        if self._forward is not None:
            self._forward(event, args, self)

    def _add_publication(self, tsig: RemoteTrackSignaling) -> RemoteTrackPublication:
        pub = remote_publication_class(tsig.kind)(tsig, self)
        self._publications[tsig.sid] = pub
        return pub

    def _on_track_published(self, tsig: RemoteTrackSignaling) -> None:
        self._emit_forward("trackPublished", self._add_publication(tsig))

    def _on_track_unpublished(self, tsig: RemoteTrackSignaling) -> None:
        pub = self._publications.pop(tsig.sid, None)
        if pub is not None:
            tsig.remove_all_listeners()
            self._emit_forward("trackUnpublished", pub)

    # called by publications
    def _track_subscribed(self, track: Track, pub: RemoteTrackPublication) -> None:
        self._emit_forward("trackSubscribed", track)
        self._emit_forward("trackAdded", track)

    def _track_unsubscribed(self, track: Track, pub: RemoteTrackPublication) -> None:
        self._emit_forward("trackUnsubscribed", track)
        self._emit_forward("trackRemoved", track)


# --- local ---------------------------------------------------------------------------------


def _consume(future: asyncio.Future[Any]) -> None:
    """Mark a publish future's exception as retrieved (it is also reported by events/logs)."""
    if not future.cancelled():
        future.exception()


class LocalParticipant(Participant):
    """You. Publishes LocalTracks; ``tracks`` holds publications the server acknowledged.

    ``tracks`` given here are the connect-time tracks (they go in the ``connect`` message; no
    ``trackPublished`` is emitted for them). ``owned_tracks`` (a subset the SDK acquired) are
    stopped when the room disconnects. ``trackWarning(name, publication)`` and
    ``trackWarningsCleared(publication)`` relay a publication's ``warning`` / ``warningsCleared``.
    """

    _signaling: LocalParticipantSignaling

    def __init__(
        self,
        signaling: LocalParticipantSignaling,
        tracks: Iterable[LocalTrack] = (),
        *,
        owned_tracks: Iterable[LocalTrack] = (),
    ) -> None:
        super().__init__(signaling)
        self._local_tracks: dict[str, LocalTrack] = {}
        self._by_id: dict[str, LocalTrackPublication] = {}
        self._pending: dict[str, asyncio.Future[LocalTrackPublication]] = {}
        self._track_listeners: dict[str, list[tuple[str, Callable[..., object]]]] = {}
        self._owned = {t.id for t in owned_tracks}
        signaling.on("trackPublished", self._on_track_published)
        signaling.on("trackPublicationFailed", self._on_track_publication_failed)
        for track in tracks:
            self._add_track(self._as_local_track(track), "standard")

    @property
    def signaling_region(self) -> str | None:
        return self._signaling.signaling_region

    # -- publish / unpublish ---------------------------------------------------------------

    def publish_track(
        self, track: Any, priority: str = "standard", name: str | None = None
    ) -> asyncio.Future[LocalTrackPublication]:
        """Publish a LocalTrack (or wrap an aiortc MediaStreamTrack, named ``name``).

        Returns a future: resolves with the publication when the server acks it with a SID;
        fails with the server's TwilioError (then ``trackPublicationFailed``) or with a plain
        Exception if unpublished or disconnected first. Already published → that publication.
        Invalid track → TypeError, invalid priority → ValueError (raised here).
        """
        track = self._as_local_track(track, name)
        validate_priority(priority)
        loop = self._signaling.room.loop
        pending = self._pending.get(track.id)
        if pending is not None:
            return pending
        future: asyncio.Future[LocalTrackPublication] = loop.create_future()
        future.add_done_callback(_consume)
        if track.id in self._by_id:
            future.set_result(self._by_id[track.id])
        elif self.state == "disconnected":
            future.set_exception(Exception(f"{track!r} cannot be published: LocalParticipant is disconnected"))
        else:
            self._pending[track.id] = future
            self._add_track(track, priority)
        return future

    def publish_tracks(self, tracks: Sequence[Any]) -> asyncio.Future[list[LocalTrackPublication]]:
        """Publish several tracks; the future resolves with all publications."""
        if not isinstance(tracks, (list, tuple)):
            raise TypeError("tracks must be a list or tuple")
        futures = [self.publish_track(t) for t in tracks]
        return asyncio.ensure_future(_gather(futures))

    def unpublish_track(self, track: Any) -> LocalTrackPublication | None:
        """Stop publishing ``track`` (never stops it); the publication, or None if not published."""
        track = self._find_track(track)
        if track is None:
            return None
        pub = self._by_id.pop(track.id, None)
        if pub is not None:
            self._publications.pop(pub.track_sid, None)
        self._forget_track(track)
        self._signaling.remove_track(track.id)
        future = self._pending.pop(track.id, None)
        if future is not None and not future.done():
            future.set_exception(Exception(f"{track!r} was unpublished"))
        if pub is not None:
            self.emit("trackRemoved", track)
        return pub

    def unpublish_tracks(self, tracks: Sequence[Any]) -> list[LocalTrackPublication]:
        if not isinstance(tracks, (list, tuple)):
            raise TypeError("tracks must be a list or tuple")
        return [pub for pub in (self.unpublish_track(t) for t in tracks) if pub is not None]

    # -- parameters ------------------------------------------------------------------------

    def set_parameters(self, encoding_parameters: Mapping[str, Any] | None = _UNSET) -> LocalParticipant:
        """Bitrate limits: no argument keeps them, None clears both, a mapping with
        ``max_audio_bitrate`` / ``max_video_bitrate`` (int | None) updates those given."""
        room = self._signaling.room
        current = room.encoding_parameters
        if encoding_parameters is _UNSET:
            return self
        if encoding_parameters is None:
            room.set_encoding_parameters(EncodingParameters())
            return self
        if not isinstance(encoding_parameters, Mapping):
            raise TypeError("encoding_parameters must be a mapping or None")
        values = {"max_audio_bitrate": current.max_audio_bitrate, "max_video_bitrate": current.max_video_bitrate}
        for key, camel in (("max_audio_bitrate", "maxAudioBitrate"), ("max_video_bitrate", "maxVideoBitrate")):
            for k in (key, camel):
                if k in encoding_parameters:
                    value = encoding_parameters[k]
                    if value is not None and (
                        isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value)
                    ):
                        raise TypeError(f"{key} must be a number or None")
                    values[key] = None if value is None or value == 0 else int(value)
        room.set_encoding_parameters(EncodingParameters(**values))
        return self

    def set_network_quality_configuration(
        self, configuration: Mapping[str, Any] | NetworkQualityConfiguration
    ) -> LocalParticipant:
        """Change verbosities; missing fields keep their value, non-numbers raise TypeError."""
        if not isinstance(configuration, (Mapping, NetworkQualityConfiguration)):
            raise TypeError("configuration must be a mapping or NetworkQualityConfiguration")
        room = self._signaling.room
        current = room.network_quality_configuration or NetworkQualityConfiguration()
        room.set_network_quality_configuration(current.updated(configuration))
        return self

    def set_bandwidth_profile(self, *args: Any, **kwargs: Any) -> None:
        """Not supported after connect (as in twilio-video.js): logs a warning."""
        log.warning("set_bandwidth_profile is not implemented; set the bandwidth profile at connect")

    # -- internals -------------------------------------------------------------------------

    def _as_local_track(self, track: Any, name: str | None = None) -> LocalTrack:
        if isinstance(track, (LocalAudioTrack, LocalVideoTrack, LocalDataTrack)):
            return track
        kind = getattr(track, "kind", None)
        if isinstance(track, Track) or kind not in ("audio", "video"):
            raise TypeError("expected a LocalAudioTrack, LocalVideoTrack, LocalDataTrack or MediaStreamTrack,"
                            f" not {track!r}")
        for existing in self._local_tracks.values():
            if getattr(existing, "media_stream_track", None) is track:
                return existing
        return LocalAudioTrack(track, name) if kind == "audio" else LocalVideoTrack(track, name)

    def _find_track(self, track: Any) -> LocalTrack | None:
        if isinstance(track, (LocalAudioTrack, LocalVideoTrack, LocalDataTrack)):
            found = self._local_tracks.get(track.id)
            return found if found is track else None
        if isinstance(track, Track) or getattr(track, "kind", None) not in ("audio", "video"):
            raise TypeError(f"expected a LocalTrack or MediaStreamTrack, not {track!r}")
        for existing in self._local_tracks.values():
            if getattr(existing, "media_stream_track", None) is track:
                return existing
        return None

    def _add_track(self, track: LocalTrack, priority: str) -> LocalTrackSignaling:
        self._local_tracks[track.id] = track
        listeners: list[tuple[str, Callable[..., object]]] = []
        if not isinstance(track, LocalDataTrack):
            listeners = [
                ("enabled", lambda t: self._on_track_enabled(t, True)),
                ("disabled", lambda t: self._on_track_enabled(t, False)),
                ("started", lambda t: self.emit("trackStarted", t)),
                ("stopped", lambda t: self.emit("trackStopped", t)),
                ("dimensionsChanged", lambda t: self.emit("trackDimensionsChanged", t)),
            ]
        for event, fn in listeners:
            track.on(event, fn)
        self._track_listeners[track.id] = listeners
        return self._signaling.add_track(
            track.id, track.kind, track.name, bool(getattr(track, "is_enabled", True)), priority
        )

    def _forget_track(self, track: LocalTrack) -> None:
        self._local_tracks.pop(track.id, None)
        for event, fn in self._track_listeners.pop(track.id, []):
            track.remove_listener(event, fn)

    def _on_track_enabled(self, track: LocalTrack, enabled: bool) -> None:
        self._signaling.set_track_enabled(track.id, enabled)
        pub = self._by_id.get(track.id)
        if pub is not None:
            pub.emit("trackEnabled" if enabled else "trackDisabled")
        self.emit("trackEnabled" if enabled else "trackDisabled", track)

    def _on_track_published(self, tsig: LocalTrackSignaling) -> None:
        track = self._local_tracks.get(tsig.id)
        if track is None:
            return
        pub = local_publication_class(track.kind)(tsig, track, self)
        self._by_id[track.id] = pub
        self._publications[pub.track_sid] = pub
        future = self._pending.pop(track.id, None)
        if future is not None and not future.done():
            future.set_result(pub)
        if self.state == "connected":
            self._signaling.room.loop.call_soon(self._announce_published, pub)

    # called by publications: ``trackWarning(name, publication)``, ``trackWarningsCleared(publication)``
    def _track_warning(self, name: str, pub: LocalTrackPublication) -> None:
        if self._by_id.get(pub.track.id) is pub:
            self.emit("trackWarning", name, pub)

    def _track_warnings_cleared(self, pub: LocalTrackPublication) -> None:
        if self._by_id.get(pub.track.id) is pub:
            self.emit("trackWarningsCleared", pub)

    def _announce_published(self, pub: LocalTrackPublication) -> None:
        if self._by_id.get(pub.track.id) is pub:
            self.emit("trackPublished", pub)
            self.emit("trackAdded", pub.track)

    def _on_track_publication_failed(self, tsig: LocalTrackSignaling, error: Exception) -> None:
        track = self._local_tracks.get(tsig.id)
        if track is None:
            return
        self._forget_track(track)
        future = self._pending.pop(track.id, None)
        if future is not None and not future.done():
            future.set_exception(error)
        self._emit_soon("trackPublicationFailed", error, track)

    def _on_state_changed(self, state: str, previous: str) -> None:
        super()._on_state_changed(state, previous)
        if state != "disconnected":
            return
        for track in list(self._local_tracks.values()):
            if track.id in self._owned and hasattr(track, "stop"):
                track.stop()
        for track_id, future in list(self._pending.items()):
            if not future.done():
                future.set_exception(Exception(f"LocalTrack {track_id} was not published: the Room disconnected"))
        self._pending.clear()

    def _unpublish_all(self) -> None:
        """After Room ``disconnected``: drop every publication without events."""
        for track in list(self._local_tracks.values()):
            self._forget_track(track)
        self._by_id.clear()
        self._publications.clear()


async def _gather(futures: list[asyncio.Future[Any]]) -> list[Any]:
    return list(await asyncio.gather(*futures))
