"""The Room: what ``connect()`` returns.

Built from a connected :class:`~core.signaling.RoomSignaling` (``room.participants`` is
pre-populated; no ``participantConnected`` / ``trackPublished`` for who and what was already
there). Re-emits RemoteParticipant events with the participant appended
(``trackSubscribed(track, participant)``, ``trackPublished(publication, participant)``, ...;
``reconnecting``/``reconnected`` become ``participantReconnecting(p)`` /
``participantReconnected(p)``) until the participant is removed.

Sync: ``participantConnected(p)``, ``participantDisconnected(p)``, ``disconnected(room, error)``
(``error`` None for a voluntary or clean disconnect), ``dominantSpeakerChanged(p | None)``,
``recordingStarted()``, ``recordingStopped()``, ``trackWarning(name, publication, local_participant)``,
``trackWarningsCleared(publication, local_participant)`` (the local participant's, as in
twilio-video.js). Async (next loop iteration):
``reconnecting(error)``, ``reconnected()``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, ClassVar

from .events import EventEmitter
from .participant import LocalParticipant, RemoteParticipant
from .stats import StatsReport
from .track import LocalAudioTrack, LocalVideoTrack

if TYPE_CHECKING:
    from .errors import TwilioError
    from .publication import LocalTrackPublication
    from .signaling import RemoteParticipantSignaling, RoomSignaling

__all__ = ["Room"]

log = logging.getLogger("confab.room")

#: RemoteParticipant events the Room re-emits (with the participant appended).
FORWARDED_EVENTS = frozenset({
    "trackAdded", "trackDimensionsChanged", "trackDisabled", "trackEnabled", "trackMessage",
    "trackPublished", "trackPublishPriorityChanged", "trackRemoved", "trackStarted",
    "trackSubscribed", "trackSubscriptionFailed", "trackSwitchedOff", "trackSwitchedOn",
    "trackUnpublished", "trackUnsubscribed",
})
_RENAMED = {"reconnecting": "participantReconnecting", "reconnected": "participantReconnected"}


class Room(EventEmitter):
    """A connected room: local participant, remote participants, state."""

    _deprecated_events: ClassVar[dict[str, str]] = {
        "trackAdded": "use 'trackSubscribed'",
        "trackRemoved": "use 'trackUnsubscribed'",
    }

    def __init__(self, signaling: RoomSignaling, local_participant: LocalParticipant) -> None:
        super().__init__()
        self._signaling = signaling
        self._local_participant = local_participant
        self._participants: dict[str, RemoteParticipant] = {}
        self._last_state: str = signaling.state
        for psig in signaling.participants.values():
            self._add_participant(psig)
        signaling.on("participantConnected", self._on_participant_connected)
        signaling.on("participantDisconnected", self._on_participant_disconnected)
        signaling.on("stateChanged", self._on_state_changed)
        signaling.on("dominantSpeakerChanged", self._on_dominant_speaker_changed)
        signaling.on("recordingChanged", self._on_recording_changed)
        local_participant.on("trackWarning", self._on_track_warning)
        local_participant.on("trackWarningsCleared", self._on_track_warnings_cleared)

    @property
    def sid(self) -> str | None:
        return self._signaling.sid

    @property
    def name(self) -> str | None:
        """The room name (its SID when created without one)."""
        return self._signaling.name

    @property
    def state(self) -> str:
        """``connected``, ``reconnecting`` or ``disconnected``."""
        return self._signaling.state

    @property
    def local_participant(self) -> LocalParticipant:
        return self._local_participant

    @property
    def participants(self) -> dict[str, RemoteParticipant]:
        """Participant SID → RemoteParticipant (a copy)."""
        return dict(self._participants)

    @property
    def dominant_speaker(self) -> RemoteParticipant | None:
        sid = self._signaling.dominant_speaker_sid
        return self._participants.get(sid) if sid is not None else None

    @property
    def is_recording(self) -> bool:
        return self._signaling.is_recording

    @property
    def media_region(self) -> str | None:
        return self._signaling.media_region

    def disconnect(self) -> Room:
        """Leave the room (sync, idempotent; see api-reference §4 for the event order)."""
        self._signaling.disconnect()
        return self

    async def get_stats(self) -> list[StatsReport]:
        """One StatsReport per peer connection (empty when disconnected or without media)."""
        return await self._signaling.get_stats()

    async def refresh_inactive_media(self) -> None:
        """Restart the local audio and video tracks whose source went quiet (``is_muted``), as
        twilio-video.js does for tracks the OS interrupted; only tracks ``restart()`` can reopen
        (made by ``create_local_tracks`` or ``connect``). A device that fails to reopen is left
        muted (its ``DeviceError`` is logged)."""
        for publication in list(self.local_participant.tracks.values()):
            track = getattr(publication, "track", None)
            if isinstance(track, (LocalAudioTrack, LocalVideoTrack)) and track.is_muted \
                    and getattr(track, "_constraints", None) is not None:
                try:
                    await track.restart()
                except Exception:  # logged: one device's failure must not stop the others
                    log.warning("could not restart %s track %s", track.kind, track.id, exc_info=True)

    def __repr__(self) -> str:
        return f"<Room {self.sid} {self.name!r} {self.state}>"

    # -- signaling handlers ----------------------------------------------------------------

    def _add_participant(self, psig: RemoteParticipantSignaling) -> RemoteParticipant:
        participant = RemoteParticipant(psig)
        participant._forward = self._forward
        self._participants[participant.sid] = participant  # type: ignore[index]  # a remote participant always has its SID (the server sends it)
        return participant

    def _forward(self, event: str, args: tuple[Any, ...], participant: RemoteParticipant) -> None:
        if event in FORWARDED_EVENTS:
            self.emit(event, *args, participant)
        elif event in _RENAMED:
            self.emit(_RENAMED[event], participant)

    def _on_participant_connected(self, psig: RemoteParticipantSignaling) -> None:
        self.emit("participantConnected", self._add_participant(psig))

    def _on_participant_disconnected(self, psig: RemoteParticipantSignaling) -> None:
        participant = self._participants.pop(psig.sid, None)
        if participant is not None:
            participant._forward = None
            self.emit("participantDisconnected", participant)

    def _on_state_changed(self, state: str, error: TwilioError | None) -> None:
        previous, self._last_state = self._last_state, state
        loop = self._signaling.loop
        if state == "reconnecting":
            loop.call_soon(self._emit_unless_disconnected, "reconnecting", error)
        elif state == "connected" and previous == "reconnecting":
            loop.call_soon(self._emit_unless_disconnected, "reconnected")
        elif state == "disconnected":
            self.emit("disconnected", self, error)
            self._local_participant._unpublish_all()

    def _emit_unless_disconnected(self, event: str, *args: Any) -> None:
        if self.state != "disconnected":
            self.emit(event, *args)

    def _on_dominant_speaker_changed(self, sid: str | None) -> None:
        self.emit("dominantSpeakerChanged", self.dominant_speaker)

    def _on_recording_changed(self, is_recording: bool) -> None:
        self.emit("recordingStarted" if is_recording else "recordingStopped")

    def _on_track_warning(self, name: str, publication: LocalTrackPublication) -> None:
        self.emit("trackWarning", name, publication, self._local_participant)

    def _on_track_warnings_cleared(self, publication: LocalTrackPublication) -> None:
        self.emit("trackWarningsCleared", publication, self._local_participant)
