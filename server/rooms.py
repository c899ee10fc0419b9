"""Live rooms and participants, and the rules of joining, publishing, leaving and resuming.

Everything here runs on the event loop and never awaits: each operation is atomic with
respect to every other. Side effects leave through three non-blocking doors: a
participant's ``Sink`` (its signaling connection's send queue), the ``Store`` (queued
SQLite writes) and ``StatusCallbacks`` (queued HTTP requests). Room media wiring is the
room's ``MediaBackend``: ``mesh.MeshRelay`` for ``go``/``peer-to-peer`` rooms, the
forwarder (``server/forwarder/``) for ``group``/``group-small`` ones (``group_media``).

Revisions (docs/protocol.md §3): each participant has a server-side ``revision`` that
others see, bumped on every change of its state or tracks; each participant's
``published`` and ``subscribed`` snapshots carry their own revision, bumped when their
content changes.

A restart keeps rooms (docs/protocol.md §5): :meth:`RoomRegistry.suspend_all` (graceful stop)
leaves every room ``in-progress`` and its participants ``reconnecting``; at the next start
:meth:`RoomRegistry.restore` holds the rooms the store found unfinished, each former
participant as a *placeholder* (``reconnecting``, no connection, no media) for the session
timeout. A ``connect`` with a placeholder's identity takes it over — same participant SID,
same track SIDs for the same track names — so the others see ``reconnecting`` →
``reconnected``; a placeholder nobody takes over leaves at the timeout (its end time: when the
previous run was last alive), and a room nobody came back to is completed then.
"""


from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import msgspec

from core import protocol as p
from core.errors import (
    AccessTokenGrantsInvalidError,
    ParticipantDuplicateIdentityError,
    ParticipantIdentityCharsInvalidError,
    ParticipantIdentityInvalidError,
    ParticipantIdentityTooLongError,
    ParticipantMaxTracksExceededError,
    RoomCompletedError,
    RoomCreateFailedError,
    RoomMaxParticipantsExceededError,
    RoomNameCharsInvalidError,
    RoomNameInvalidError,
    RoomNameTooLongError,
    RoomNotFoundError,
    RoomRoomExistsError,
    RoomSubscriptionOperationNotSupportedError,
    RoomTrackKindNotSupportedError,
    SignalingConnectionTimeoutError,
    SignalingOutgoingMessageInvalidError,
    TrackInvalidError,
    TrackNameCharsInvalidError,
    TrackNameInvalidError,
    TrackNameIsDuplicatedError,
    TrackNameTooLongError,
    TrackServerTrackCapacityReachedError,
    TwilioError,
)
from core.media.loopback import is_loopback_host
from core.token import identity_of, room_of

from . import sids
from .callbacks import StatusCallbacks, iso_timestamp
from .config import ServerConfig
from .mesh import MediaBackend, MeshRelay, Outbox
from .store import Previous, Record, Store, UnfinishedParticipant

log = logging.getLogger(__name__)

# --- limits (docs/protocol.md §6) -----------------------------------------------------------

ROOM_NAME_MAX = 128
IDENTITY_MAX = 128
TRACK_NAME_MAX = 128
TRACK_ID_MAX = 128

#: The largest MaxParticipants per room type; a group room above LARGE_ROOM_THRESHOLD is a
#: *large room* (Twilio's 100-participant rooms: presenters and viewers): a participant is
#: announced to the others only while it publishes something (participantConnected at its
#: first track, a participantDisconnected when its last one goes), and the room holds at most
#: LARGE_ROOM_MAX_TRACKS published tracks at a time (53203 beyond).
MAX_PARTICIPANTS = {"go": 2, "peer-to-peer": 10, "group-small": 4, "group": 100}
DEFAULT_MAX_PARTICIPANTS = {"go": 2, "peer-to-peer": 10, "group-small": 4, "group": 50}
LARGE_ROOM_THRESHOLD = 50
LARGE_ROOM_MAX_TRACKS = 16
PEER_TO_PEER_TYPES = frozenset({"go", "peer-to-peer"})
MEDIA_REGIONS = ("gll", "us1", "us2", "ie1", "de1", "au1", "br1", "jp1", "sg1", "in1")
DEFAULT_MEDIA_REGION = "us1"
#: Completed room SIDs remembered so that ``connect`` to one says 53118 rather than 53106.
REMEMBERED_COMPLETED = 10000

#: Unicode categories refused in names: control, surrogate, unassigned/non-characters.
_BAD_CATEGORIES = frozenset({"Cc", "Cs", "Cn"})


def check_text(value: object, limit: int, invalid: Callable[[], TwilioError], too_long: Callable[[], TwilioError],
               bad_chars: Callable[[], TwilioError]) -> str:
    """A name/identity: a string, not blank, at most ``limit`` code points, no bad characters."""
    if not isinstance(value, str) or not value.strip():
        raise invalid()
    if len(value) > limit:
        raise too_long()
    if any(unicodedata.category(ch) in _BAD_CATEGORIES for ch in value):
        raise bad_chars()
    return value


def check_room_name(name: object) -> str:
    return check_text(name, ROOM_NAME_MAX, RoomNameInvalidError, RoomNameTooLongError,
                      RoomNameCharsInvalidError)


def check_identity(identity: object) -> str:
    return check_text(identity, IDENTITY_MAX, ParticipantIdentityInvalidError,
                      ParticipantIdentityTooLongError, ParticipantIdentityCharsInvalidError)


def check_track_name(name: object) -> str:
    return check_text(name, TRACK_NAME_MAX, TrackNameInvalidError, TrackNameTooLongError,
                      TrackNameCharsInvalidError)


# --- subscribe rules --------------------------------------------------------------------------

RuleDict = Mapping[str, Any]


def rule_matches(rule: RuleDict, track: Track) -> bool:
    """One rule's filters (all given ones must hold): all, kind, publisher, track, priority."""
    if rule.get("all") is True:
        return True
    checks = 0
    if rule.get("kind") is not None:
        checks += 1
        if rule["kind"] != track.kind:
            return False
    if rule.get("publisher") is not None:
        checks += 1
        if rule["publisher"] not in (track.participant.identity, track.participant.sid):
            return False
    if rule.get("track") is not None:
        checks += 1
        if rule["track"] not in (track.name, track.sid):
            return False
    if rule.get("priority") is not None:
        checks += 1
        if rule["priority"] != track.priority:
            return False
    return checks > 0


def rules_allow(rules: list[RuleDict] | None, track: Track) -> bool:
    """No rules: everything. Else: matched by an include rule and by no exclude rule."""
    if rules is None:
        return True
    included = any(r.get("type") == "include" and rule_matches(r, track) for r in rules)
    excluded = any(r.get("type") == "exclude" and rule_matches(r, track) for r in rules)
    return included and not excluded


# --- live objects -----------------------------------------------------------------------------


class Sink(Protocol):
    """A participant's live signaling connection (``signaling.Connection``)."""

    def send(self, body: msgspec.Struct) -> None: ...

    def close(self) -> None: ...


@dataclass
class RoomOptions:
    """What REST ``POST /v1/Rooms`` (or an ad-hoc connect) fixes about a room."""

    type: str = "group"
    unique_name: str | None = None
    max_participants: int | None = None
    status_callback: str | None = None
    status_callback_method: str = "POST"
    empty_room_timeout: int = 5
    unused_room_timeout: int = 5
    media_region: str = DEFAULT_MEDIA_REGION
    record_participants_on_connect: bool = False
    audio_only: bool = False
    video_codecs: list[str] = field(default_factory=lambda: ["VP8", "H264"])
    max_participant_duration: int = 14400


@dataclass(eq=False)
class Track:
    sid: str
    id: str
    name: str
    kind: str
    enabled: bool
    priority: str
    participant: Participant
    date_created: float
    date_updated: float

    def state(self) -> p.RemoteTrackState:
        return p.RemoteTrackState(sid=self.sid, name=self.name, kind=cast(p.TrackKind, self.kind),
                                  enabled=self.enabled, priority=cast(p.Priority, self.priority))

    def record(self, status: str) -> Record:
        return {"sid": self.sid, "room_sid": self.participant.room.sid,
                "participant_sid": self.participant.sid, "name": self.name, "kind": self.kind,
                "enabled": self.enabled, "status": status, "date_created": self.date_created,
                "date_updated": self.date_updated}


class Participant:
    def __init__(self, room: Room, identity: str, now: float, sid: str | None = None) -> None:
        self.sid = sid or sids.new_sid(sids.PARTICIPANT)
        self.session = sids.new_sid("")  # 32 hex digits
        self.room = room
        self.identity = identity
        self.state: str = "connected"
        self.revision = 1
        self.tracks: dict[str, Track] = {}
        self.failed: dict[str, p.ErrorBody] = {}
        self.client_revision: int | None = None
        self.client_rules: list[RuleDict] | None = None
        self.client_rules_revision: int | None = None
        self.rest_rules: list[RuleDict] | None = None
        self.published_revision = 0
        self._last_published: list[p.PublishedTrack] | None = None
        self.subscribed_revision = 0
        self._last_subscribed: list[p.SubscribedTrack] | None = None
        self.sink: Sink | None = None
        self.date_created = now
        self.date_updated = now
        self.start_time = now
        self.end_time: float | None = None
        self.reconnect_timer: asyncio.TimerHandle | None = None
        #: A placeholder from before a restart (no connection, no media) and when it was last seen.
        self.restored = False
        #: Whether the others were told of it (large rooms announce publishers only).
        self.announced = False
        self.last_seen: float | None = None
        #: Track SIDs to give back to tracks of these names (a participant taking over a placeholder).
        self.track_sids: dict[str, str] = {}
        #: The media warnings the client asked for (``participant.media_warnings``: ``"recordings"``).
        self.media_warnings: tuple[str, ...] = ()
        #: The ``bandwidth_profile`` of its ``connect`` (RSP wire names), for the forwarder.
        self.bandwidth_profile: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"<Participant {self.sid} {self.identity!r} {self.state}>"

    @property
    def active(self) -> bool:
        return self.state != "disconnected"

    def remote_state(self) -> p.RemoteParticipantState:
        return p.RemoteParticipantState(sid=self.sid, identity=self.identity, revision=self.revision,
                                        state=cast(p.ParticipantStateName, self.state),
                                        tracks=[t.state() for t in self.tracks.values()])

    def record(self) -> Record:
        status = "reconnecting" if self.state == "reconnecting" else self.state
        duration = None if self.end_time is None else int(max(0.0, self.end_time - self.start_time))
        return {"sid": self.sid, "room_sid": self.room.sid, "account_sid": self.room.account_sid,
                "identity": self.identity, "status": status, "date_created": self.date_created,
                "date_updated": self.date_updated, "start_time": self.start_time,
                "end_time": self.end_time, "duration": duration}

    def published(self, *, force: bool = False) -> p.Published | None:
        """The ``published`` snapshot if it changed since last sent (or ``force``)."""
        tracks = [p.PublishedTrack(id=t.id, state="ready", sid=t.sid) for t in self.tracks.values()]
        tracks += [p.PublishedTrack(id=tid, state="failed", error=err) for tid, err in self.failed.items()]
        if not force and tracks == self._last_published:
            return None
        self._last_published = tracks
        self.published_revision += 1
        return p.Published(revision=self.published_revision, tracks=tracks)

    def rules(self) -> list[RuleDict] | None:
        if self.rest_rules is not None and self.room.type not in PEER_TO_PEER_TYPES:
            return self.rest_rules
        return self.client_rules

    def subscribed_tracks(self) -> list[Track]:
        """Every remote track the rules allow (what ``subscribed`` lists)."""
        rules = self.rules()
        return [t for other in self.room.participants.values() if other is not self
                for t in other.tracks.values() if rules_allow(rules, t)]

    def subscribed(self, *, force: bool = False) -> p.Subscribed | None:
        """The ``subscribed`` snapshot (every remote track the rules allow) if it changed."""
        tracks = [p.SubscribedTrack(sid=t.sid, id=t.id) for t in self.subscribed_tracks()]
        if not force and tracks == self._last_subscribed:
            return None
        self._last_subscribed = tracks
        self.subscribed_revision += 1
        return p.Subscribed(revision=self.subscribed_revision, tracks=tracks)

    def send(self, body: msgspec.Struct) -> None:
        if self.sink is not None:
            self.sink.send(body)


class Room:
    def __init__(self, account_sid: str, options: RoomOptions, *, ad_hoc: bool, now: float,
                 max_tracks: int, backend: MediaBackend | None = None, sid: str | None = None) -> None:
        self.sid = sid or sids.new_sid(sids.ROOM)
        self.account_sid = account_sid
        self.unique_name = options.unique_name or self.sid
        self.type = options.type
        self.options = options
        self.max_participants = options.max_participants or DEFAULT_MAX_PARTICIPANTS[options.type]
        self.large = self.type == "group" and self.max_participants > LARGE_ROOM_THRESHOLD
        self.max_concurrent_published_tracks = min(max_tracks or LARGE_ROOM_MAX_TRACKS, LARGE_ROOM_MAX_TRACKS) \
            if self.large else max_tracks
        self.ad_hoc = ad_hoc
        self.status = "in-progress"
        self.date_created = now
        self.date_updated = now
        self.end_time: float | None = None
        self.participants: dict[str, Participant] = {}  # active ones, in join order
        self.media: MediaBackend = backend or MeshRelay()
        self.timer: asyncio.TimerHandle | None = None
        self.sequence = 0
        #: RSP ``recording`` (server/recording/: revision 0 until the recorder first sets it).
        self.recording = p.Recording(revision=0)

    def __repr__(self) -> str:
        return f"<Room {self.sid} {self.unique_name!r} {self.status}>"

    @property
    def track_count(self) -> int:
        return sum(len(q.tracks) for q in self.participants.values())

    def visible(self, participant: Participant) -> bool:
        """Whether the others are told of ``participant`` (in a large room: only while it publishes)."""
        return not self.large or (participant.active and bool(participant.tracks))

    def announce_to_others(self, participant: Participant) -> list[p.RemoteParticipantState]:
        """The RSP participant entries the rest of the room gets about ``participant`` now, and
        whether it now counts as announced to them (``participant.announced``).

        In a large room a participant that stops publishing (or leaves) after it was announced
        gets a synthetic ``disconnected`` entry; one never announced gets none."""
        if self.visible(participant):
            participant.announced = True
            return [participant.remote_state()]
        if participant.announced:
            participant.announced = False
            return [msgspec.structs.replace(participant.remote_state(), state="disconnected", tracks=[])]
        return []

    # What a media backend may know (``server.forwarder.RoomView``).
    def published_media(self, sid: str) -> dict[str, tuple[str, bool]]:
        q = self.participants.get(sid)
        return {t.id: (t.kind, t.enabled) for t in q.tracks.values()} if q is not None else {}

    def video_codecs(self) -> list[str]:
        """The room's ``VideoCodecs`` (REST), e.g. ``["VP8", "H264"]``."""
        return list(self.options.video_codecs)

    def track_state(self, sid: str, track_id: str) -> tuple[str, str] | None:
        q = self.participants.get(sid)
        track = q.tracks.get(track_id) if q is not None else None
        return (track.sid, track.priority) if track is not None else None

    def bandwidth_profile(self, sid: str) -> dict[str, Any] | None:
        q = self.participants.get(sid)
        return q.bandwidth_profile if q is not None else None

    def subscriptions_of(self, sid: str) -> list[tuple[str, str, str]]:
        q = self.participants.get(sid)
        if q is None or q.state == "disconnected":
            return []
        return [(t.participant.sid, t.id, t.kind) for t in q.subscribed_tracks()]

    def by_identity(self, identity: str) -> Participant | None:
        for q in self.participants.values():
            if q.identity == identity:
                return q
        return None

    def record(self) -> Record:
        o = self.options
        duration = None if self.end_time is None else int(max(0.0, self.end_time - self.date_created))
        return {"sid": self.sid, "account_sid": self.account_sid, "unique_name": self.unique_name,
                "status": self.status, "type": self.type, "max_participants": self.max_participants,
                "max_participant_duration": o.max_participant_duration,
                "max_concurrent_published_tracks": self.max_concurrent_published_tracks,
                "status_callback": o.status_callback, "status_callback_method": o.status_callback_method,
                "empty_room_timeout": o.empty_room_timeout, "unused_room_timeout": o.unused_room_timeout,
                "media_region": o.media_region,
                "record_participants_on_connect": o.record_participants_on_connect,
                "audio_only": o.audio_only, "video_codecs": list(o.video_codecs),
                "date_created": self.date_created, "date_updated": self.date_updated,
                "end_time": self.end_time, "duration": duration}


# --- the registry -----------------------------------------------------------------------------


class RoomRegistry:
    """All in-progress rooms of this server and the operations on them."""

    def __init__(self, config: ServerConfig, account_sid: str, store: Store, callbacks: StatusCallbacks,
                 backend_factory: Callable[[Room], MediaBackend] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.account_sid = account_sid
        self.store = store
        self.callbacks = callbacks
        self._backend_factory = backend_factory or self._default_backend
        self._clock = clock
        self.rooms: dict[str, Room] = {}
        self._by_name: dict[str, Room] = {}
        self.sessions: dict[str, Participant] = {}
        self.track_count = 0
        self._completed: OrderedDict[str, None] = OrderedDict()
        #: ``listener(event, room, participant, track)`` for every status-callback event, with or
        #: without a StatusCallback URL (the recorder: server/recording/).
        self.listeners: list[Callable[[str, Room, Participant | None, Track | None], None]] = []

    def _default_backend(self, room: Room) -> MediaBackend:
        """Mesh for peer-to-peer rooms; the forwarder for group rooms (unless ``group_media='mesh'``)."""
        if room.type in PEER_TO_PEER_TYPES or self.config.group_media == "mesh":
            return MeshRelay()
        from .forwarder import Forwarder

        return Forwarder(room, lambda sid, entries: self._deliver(room, {sid: entries}),
                         fail=lambda sid, error: self._media_failed(room, sid, error),
                         loopback_only=is_loopback_host(self.config.host))

    def _media_failed(self, room: Room, sid: str, error: TwilioError) -> None:
        """The server cannot do media with ``sid`` (534xx): it is disconnected with that error."""
        participant = room.participants.get(sid)
        if participant is not None:
            log.info("%s leaves room %s: %s", sid, room.sid, error)
            self._remove(participant, self._clock(), notify=p.Error(code=error.code, message=error.message))

    # --- lookup -------------------------------------------------------------------------

    def find_room(self, sid_or_name: str) -> Room | None:
        """An in-progress room by SID or unique name."""
        return self.rooms.get(sid_or_name) or self._by_name.get(sid_or_name)

    @property
    def session_timeout(self) -> int:
        """Whole seconds, at least 1 (RSP ``options.session_timeout`` is an integer)."""
        return max(1, math.ceil(self.config.session_timeout_s))

    # --- rooms --------------------------------------------------------------------------

    def create_room(self, options: RoomOptions, *, ad_hoc: bool = False) -> Room:
        """A new in-progress room (53113 if its unique name is taken by one)."""
        if options.unique_name is not None and options.unique_name in self._by_name:
            raise RoomRoomExistsError()
        if len(self.rooms) >= self.config.max_rooms:
            raise RoomCreateFailedError(f"This server holds at most {self.config.max_rooms} rooms at once")
        now = self._clock()
        room = Room(self.account_sid, options, ad_hoc=ad_hoc, now=now,
                    max_tracks=self.config.max_tracks_per_room)
        room.media = self._backend_factory(room)
        self.rooms[room.sid] = room
        self._by_name[room.unique_name] = room
        self.store.save_room(room.record())
        self._callback(room, "room-created")
        if not ad_hoc:
            self._schedule_end(room, options.unused_room_timeout, "unused")
        log.info("room %s %r created (%s%s)", room.sid, room.unique_name, room.type,
                 ", ad hoc" if ad_hoc else "")
        return room

    def complete_room(self, room: Room, *, reason: str = "completed", notify: bool = True) -> None:
        """End ``room``: every participant gets ``disconnected {status: completed}`` (53118)."""
        if room.status != "in-progress":
            return
        self._cancel_timer(room)
        now = self._clock()
        for participant in list(room.participants.values()):
            self._remove(participant, now, broadcast=False,
                         notify=p.Disconnected(status="completed") if notify else None)
        room.status = "completed"
        room.end_time = now
        room.date_updated = now
        room.media.close()
        self.rooms.pop(room.sid, None)
        if self._by_name.get(room.unique_name) is room:
            del self._by_name[room.unique_name]
        self._completed[room.sid] = None
        while len(self._completed) > REMEMBERED_COMPLETED:
            self._completed.popitem(last=False)
        self.store.save_room(room.record())
        self._callback(room, "room-ended", RoomDuration=room.record()["duration"])
        log.info("room %s %r ended (%s)", room.sid, room.unique_name, reason)

    def _schedule_end(self, room: Room, minutes: int, reason: str) -> None:
        self._cancel_timer(room)
        delay = minutes * self.config.timeout_unit_seconds
        if delay <= 0:
            self.complete_room(room, reason=reason)
            return
        room.timer = asyncio.get_running_loop().call_later(
            delay, lambda: self.complete_room(room, reason=f"{reason} room timeout"))

    @staticmethod
    def _cancel_timer(room: Room) -> None:
        if room.timer is not None:
            room.timer.cancel()
            room.timer = None

    # --- restarts -----------------------------------------------------------------------

    def suspend_all(self) -> None:
        """Graceful stop: every room stays ``in-progress``, every participant ``reconnecting``.

        Connections close without a message (clients resume or join again at the next start).
        """
        now = self._clock()
        for room in list(self.rooms.values()):
            self._cancel_timer(room)
            for participant in room.participants.values():
                if participant.reconnect_timer is not None:
                    participant.reconnect_timer.cancel()
                    participant.reconnect_timer = None
                sink, participant.sink = participant.sink, None
                if sink is not None:
                    sink.close()
                if not participant.restored:
                    participant.state = "reconnecting"
                    participant.date_updated = now
                    self.store.save_participant(participant.record())
            room.media.close()
        self.store.save_alive(now)

    def restore(self, previous: Previous) -> None:
        """Hold the rooms the previous run left in progress for the session timeout."""
        now = self._clock()
        last_seen = previous.alive or now
        for unfinished in previous.unfinished:
            rec = unfinished.room
            options = RoomOptions(
                type=rec["type"], unique_name=rec["unique_name"], max_participants=rec["max_participants"],
                status_callback=rec["status_callback"], status_callback_method=rec["status_callback_method"],
                empty_room_timeout=rec["empty_room_timeout"], unused_room_timeout=rec["unused_room_timeout"],
                media_region=rec["media_region"], record_participants_on_connect=rec["record_participants_on_connect"],
                audio_only=rec["audio_only"], video_codecs=list(rec["video_codecs"]),
                max_participant_duration=rec["max_participant_duration"])
            ad_hoc = rec["empty_room_timeout"] == 0 and rec["unused_room_timeout"] == 0
            room = Room(self.account_sid, options, ad_hoc=ad_hoc, now=rec["date_created"],
                        max_tracks=rec["max_concurrent_published_tracks"], sid=rec["sid"])
            room.date_updated = now
            room.media = self._backend_factory(room)
            self.rooms[room.sid] = room
            self._by_name[room.unique_name] = room
            for person in unfinished.participants:
                self._placeholder(room, person, max(last_seen, person.record["date_updated"]))
            room.timer = asyncio.get_running_loop().call_later(
                self.config.session_timeout_s, functools.partial(self._end_if_abandoned, room))
            log.info("room %s %r held after a restart (%d to come back)", room.sid, room.unique_name,
                     len(room.participants))

    def _placeholder(self, room: Room, person: UnfinishedParticipant, last_seen: float) -> None:
        rec = person.record
        placeholder = Participant(room, rec["identity"], rec["date_created"], sid=rec["sid"])
        placeholder.state = "reconnecting"
        placeholder.restored = True
        placeholder.start_time = rec["start_time"]
        placeholder.date_updated = rec["date_updated"]
        placeholder.last_seen = last_seen
        placeholder.track_sids = dict(person.track_sids)
        room.participants[placeholder.sid] = placeholder

    def _end_if_abandoned(self, room: Room) -> None:
        """The session timeout after a restart: placeholders leave; nobody back → completed."""
        room.timer = None
        for placeholder in [q for q in room.participants.values() if q.restored]:
            log.info("%s %r did not come back to room %s", placeholder.sid, placeholder.identity, room.sid)
            self._remove(placeholder, self._clock(), end_if_empty=False, ended=placeholder.last_seen)
        if not room.participants:
            self.complete_room(room, reason="nobody came back after a restart")

    # --- joining ------------------------------------------------------------------------

    def _target_room(self, name: str | None, claims: Mapping[str, Any]) -> tuple[Room | None, str | None]:
        """The in-progress room ``connect`` names (or None to create ``name`` ad hoc)."""
        granted = room_of(claims)
        if not name:
            name = granted
        if name is None:
            return None, None
        if sids.is_sid(name, sids.ROOM):
            room = self.rooms.get(name)
            if room is None:
                raise RoomCompletedError() if name in self._completed else RoomNotFoundError()
        else:
            check_room_name(name)
            room = self._by_name.get(name)
        if granted is not None and granted != name and (room is None or granted not in (room.sid, room.unique_name)):
            raise AccessTokenGrantsInvalidError()
        if room is None and not self.config.ad_hoc_rooms:
            raise RoomNotFoundError()
        return room, name

    def connect(self, claims: Mapping[str, Any], body: p.Connect, sink: Sink) -> Participant:
        """Join (creating an ad-hoc room if needed) and send ``connected``; raises TwilioError."""
        identity = check_identity(identity_of(claims))
        room, name = self._target_room(body.name, claims)
        created = False
        if room is None:
            room = self.create_room(RoomOptions(type=self.config.default_room_type, unique_name=name,
                                                empty_room_timeout=0, unused_room_timeout=0),
                                    ad_hoc=True)
            created = True
        try:
            return self._join(room, identity, body, sink)
        except BaseException:
            if created and not room.participants:
                self.complete_room(room, reason="failed connect")
            raise

    def _join(self, room: Room, identity: str, body: p.Connect, sink: Sink) -> Participant:
        previous = room.by_identity(identity)
        others = [q for q in room.participants.values() if q is not previous]
        if len(others) >= room.max_participants:
            raise RoomMaxParticipantsExceededError()
        now = self._clock()
        if previous is not None and previous.restored:
            participant = self._take_over(previous, now)
        else:
            if previous is not None:
                log.info("%s replaces %s in room %s (duplicate identity)", identity, previous.sid, room.sid)
                self._remove(previous, now, end_if_empty=False, notify=p.Error(
                    code=53205, message=ParticipantDuplicateIdentityError.default_message))
            participant = Participant(room, identity, now)
        if not any(q.restored for q in room.participants.values()):  # else: still waiting for them
            self._cancel_timer(room)
        participant.sink = sink
        participant.bandwidth_profile = body.bandwidth_profile if isinstance(body.bandwidth_profile, dict) else None
        if body.subscribe is not None:
            participant.client_rules = _client_rules(body.subscribe)
            participant.client_rules_revision = body.subscribe.revision
        room.participants[participant.sid] = participant
        self.sessions[participant.session] = participant
        self.store.save_participant(participant.record())
        self._callback(room, "participant-connected", participant)
        added: list[Track] = []
        if body.participant is not None:
            participant.client_revision = body.participant.revision
            added, _, _ = self._apply_tracks(participant, body.participant, now)
        outbox = room.media.join(participant.sid, [q.sid for q in others if not q.restored], body.peer_connections)
        media_signaling = room.media.media_signaling(participant.sid, body.media_signaling or {})
        participant.send(p.Connected(
            session=participant.session, sid=room.sid, name=room.unique_name,
            participant=p.ParticipantIdentity(sid=participant.sid, identity=identity),
            participants=[q.remote_state() for q in others if room.visible(q)],
            peer_connections=outbox.pop(participant.sid, []),
            published=participant.published(force=True),
            subscribed=participant.subscribed(force=True),
            recording=room.recording if room.recording.revision else None,
            media_signaling=media_signaling,
            options=p.ConnectedOptions(session_timeout=self.session_timeout,
                                       media_region=room.options.media_region, room_type=room.type)))
        self._broadcast(participant, outbox)
        for track in added:
            self._callback(room, "track-added", participant, track)
        log.info("%s %r joined room %s (%d participants)", participant.sid, identity, room.sid,
                 len(room.participants))
        return participant

    # --- updates ------------------------------------------------------------------------

    def update(self, participant: Participant, body: p.Update) -> None:
        """A client ``update``: new local state, subscribe rules and/or peer-connection messages."""
        if body.session != participant.session:
            raise SignalingOutgoingMessageInvalidError("update for another session")
        if not participant.active:
            return
        room = participant.room
        now = self._clock()
        changed = False
        added: list[Track] = []
        if body.participant is not None and (participant.client_revision is None
                                             or body.participant.revision > participant.client_revision):
            participant.client_revision = body.participant.revision
            added, _, changed = self._apply_tracks(participant, body.participant, now)
        own_subscribed = None
        if body.subscribe is not None and (participant.client_rules_revision is None
                                           or body.subscribe.revision > participant.client_rules_revision):
            participant.client_rules_revision = body.subscribe.revision
            participant.client_rules = _client_rules(body.subscribe)
            own_subscribed = participant.subscribed()
        outbox = room.media.peer_connections(participant.sid, body.peer_connections) \
            if body.peer_connections else {}
        published = participant.published()
        own_pcs = outbox.pop(participant.sid, [])
        if published is not None or own_subscribed is not None or own_pcs:
            participant.send(p.ServerUpdate(published=published, subscribed=own_subscribed,
                                            peer_connections=own_pcs))
        if changed:
            participant.revision += 1
            participant.date_updated = now
            self._broadcast(participant, outbox)
        else:
            self._deliver(room, outbox)
            if own_subscribed is not None:
                room.media.room_changed()
        for track in added:
            self._callback(room, "track-added", participant, track)

    def _take_over(self, placeholder: Participant, now: float) -> Participant:
        """A participant back after a restart: the placeholder's SIDs, a newer revision."""
        room = placeholder.room
        del room.participants[placeholder.sid]
        participant = Participant(room, placeholder.identity, now, sid=placeholder.sid)
        participant.revision = placeholder.revision + 1
        participant.date_created = placeholder.date_created
        participant.start_time = placeholder.start_time
        participant.track_sids = placeholder.track_sids
        log.info("%s %r is back in room %s after a restart", participant.sid, participant.identity, room.sid)
        return participant

    def _apply_tracks(self, participant: Participant, state: p.LocalParticipantState,
                      now: float) -> tuple[list[Track], list[Track], bool]:
        """Diff the client's track list against the published one. Returns (added, removed, changed)."""
        room = participant.room
        if state.media_warnings is not None:  # twilio-video.js sends them in connect only
            participant.media_warnings = tuple(state.media_warnings)
        wanted: dict[str, p.LocalTrackState] = {}
        for t in state.tracks:
            wanted.setdefault(t.id, t)
        changed = False
        removed = [t for tid, t in participant.tracks.items() if tid not in wanted]
        for track in removed:
            del participant.tracks[track.id]
            self.track_count -= 1
            track.date_updated = now
            self.store.save_track(track.record("unpublished"))
            self._callback(room, "track-removed", participant, track)
            changed = True
        for tid in [tid for tid in participant.failed if tid not in wanted]:
            del participant.failed[tid]
        added: list[Track] = []
        for tid, t in wanted.items():
            known = participant.tracks.get(tid)
            if known is not None:
                track = known
                if track.enabled != t.enabled:
                    track.enabled = t.enabled
                    track.date_updated = now
                    self.store.save_track(track.record("published"))
                    self._callback(room, "track-enabled" if t.enabled else "track-disabled",
                                   participant, track)
                    changed = True
                if track.priority != t.priority:
                    track.priority = t.priority
                    changed = True
                continue
            try:
                self._check_new_track(participant, t)
            except TwilioError as err:
                participant.failed[tid] = p.ErrorBody(code=err.code, message=err.message)
                continue
            participant.failed.pop(tid, None)
            track = Track(participant.track_sids.pop(t.name, "") or sids.new_sid(sids.TRACK), tid, t.name,
                          t.kind, t.enabled, t.priority, participant, now, now)
            participant.tracks[tid] = track
            self.track_count += 1
            self.store.save_track(track.record("published"))
            added.append(track)
            changed = True
        return added, removed, changed

    def _check_new_track(self, participant: Participant, t: p.LocalTrackState) -> None:
        room = participant.room
        if not t.id or len(t.id) > TRACK_ID_MAX:
            raise TrackInvalidError(f"Track id must be 1 to {TRACK_ID_MAX} characters")
        if t.id in p.MSP_LABELS:
            raise TrackInvalidError(f"Track id {t.id!r} is reserved for media signaling")
        if any(t.id in q.tracks for q in room.participants.values() if q is not participant):
            raise TrackInvalidError("Track id is already in use in this room")
        check_track_name(t.name)
        if any(track.name == t.name for track in participant.tracks.values()):
            raise TrackNameIsDuplicatedError()
        if room.options.audio_only and t.kind == "video":
            raise RoomTrackKindNotSupportedError()
        if len(participant.tracks) >= self.config.max_tracks_per_participant:
            raise ParticipantMaxTracksExceededError(
                f"A participant may publish at most {self.config.max_tracks_per_participant} tracks")
        if room.max_concurrent_published_tracks and room.track_count >= room.max_concurrent_published_tracks:
            raise ParticipantMaxTracksExceededError()
        if self.track_count >= self.config.max_server_tracks:
            raise TrackServerTrackCapacityReachedError()

    # --- leaving ------------------------------------------------------------------------

    def disconnect(self, participant: Participant, *, notify: msgspec.Struct | None = None,
                   reason: str = "left") -> None:
        """``participant`` leaves for good (RSP ``disconnect``, REST kick, session expiry)."""
        if not participant.active:
            return
        log.info("%s %r left room %s (%s)", participant.sid, participant.identity,
                 participant.room.sid, reason)
        self._remove(participant, self._clock(), notify=notify)

    def _remove(self, participant: Participant, now: float, *, notify: msgspec.Struct | None = None,
                broadcast: bool = True, end_if_empty: bool = True, ended: float | None = None) -> None:
        room = participant.room
        if participant.reconnect_timer is not None:
            participant.reconnect_timer.cancel()
            participant.reconnect_timer = None
        room.participants.pop(participant.sid, None)
        self.sessions.pop(participant.session, None)
        participant.state = "disconnected"
        participant.revision += 1
        participant.end_time = now if ended is None else ended
        participant.date_updated = now
        for track in list(participant.tracks.values()):
            track.date_updated = now
            self.store.save_track(track.record("unpublished"))
            self._callback(room, "track-removed", participant, track)
        self.track_count -= len(participant.tracks)
        participant.tracks.clear()
        participant.failed.clear()
        outbox = room.media.leave(participant.sid)
        if broadcast:
            self._broadcast(participant, outbox)
        self.store.save_participant(participant.record())
        self._callback(room, "participant-disconnected", participant,
                       ParticipantDuration=participant.record()["duration"])
        sink, participant.sink = participant.sink, None
        if sink is not None:
            if notify is not None:
                sink.send(notify)
            sink.close()
        if end_if_empty and broadcast and not room.participants and room.status == "in-progress":
            self._schedule_end(room, room.options.empty_room_timeout, "empty")

    def dropped(self, participant: Participant, sink: Sink) -> None:
        """Its WebSocket closed without ``disconnect``: ``reconnecting`` for the session timeout."""
        if participant.sink is not sink or not participant.active:
            return
        participant.sink = None
        participant.state = "reconnecting"
        participant.revision += 1
        participant.date_updated = self._clock()
        self.store.save_participant(participant.record())
        self._broadcast(participant, {})
        participant.reconnect_timer = asyncio.get_running_loop().call_later(
            self.config.session_timeout_s,
            lambda: self.disconnect(participant, reason="session timed out"))
        log.info("%s %r reconnecting in room %s", participant.sid, participant.identity,
                 participant.room.sid)

    # --- resuming -----------------------------------------------------------------------

    def sync(self, claims: Mapping[str, Any], body: p.Sync, sink: Sink) -> Participant:
        """Resume a session on a new connection and send ``synced``; raises TwilioError."""
        participant = self.sessions.get(body.session)
        if participant is None or not participant.active:
            raise SignalingConnectionTimeoutError("Session expired or unknown")
        identity = identity_of(claims)
        granted = room_of(claims)
        room = participant.room
        if identity != participant.identity or (granted is not None and granted not in (room.sid, room.unique_name)):
            raise AccessTokenGrantsInvalidError()
        old = participant.sink
        participant.sink = None
        if old is not None:
            old.close()
        if participant.reconnect_timer is not None:
            participant.reconnect_timer.cancel()
            participant.reconnect_timer = None
        now = self._clock()
        participant.sink = sink
        participant.state = "connected"
        participant.revision += 1
        participant.date_updated = now
        added: list[Track] = []
        if body.participant is not None and (participant.client_revision is None
                                             or body.participant.revision > participant.client_revision):
            participant.client_revision = body.participant.revision
            added, _, _ = self._apply_tracks(participant, body.participant, now)
        pcs, outbox = room.media.resume(participant.sid, body.peer_connections)
        others = [q for q in room.participants.values() if q is not participant]
        participant.send(p.Synced(session=participant.session,
                                  participants=[q.remote_state() for q in others if room.visible(q)],
                                  peer_connections=pcs,
                                  published=participant.published(force=True),
                                  subscribed=participant.subscribed(force=True),
                                  recording=room.recording if room.recording.revision else None))
        self.store.save_participant(participant.record())
        self._broadcast(participant, outbox)
        for track in added:
            self._callback(room, "track-added", participant, track)
        log.info("%s %r resumed in room %s", participant.sid, participant.identity, room.sid)
        return participant

    def resume_refused(self, session: str) -> None:
        """A ``sync`` for ``session`` was refused (its token expired, ...): the participant leaves now."""
        participant = self.sessions.get(session)
        if participant is not None and participant.active:
            self.disconnect(participant, reason="resume refused")

    # --- recording state -----------------------------------------------------------------

    def set_recording(self, room: Room, is_recording: bool) -> None:
        """The room is (not) being recorded: every participant gets RSP ``recording`` if it changed."""
        if room.recording.revision and room.recording.is_recording == is_recording:
            return
        room.recording = p.Recording(revision=room.recording.revision + 1, is_recording=is_recording)
        for q in list(room.participants.values()):
            q.send(p.ServerUpdate(recording=room.recording))

    # --- REST subscribe rules -------------------------------------------------------------

    def set_rest_rules(self, participant: Participant, rules: list[RuleDict]) -> None:
        if participant.room.type in PEER_TO_PEER_TYPES:
            raise RoomSubscriptionOperationNotSupportedError()
        participant.rest_rules = rules
        subscribed = participant.subscribed()
        if subscribed is not None:
            participant.send(p.ServerUpdate(subscribed=subscribed))
            participant.room.media.room_changed()

    # --- delivery -----------------------------------------------------------------------

    def _broadcast(self, participant: Participant, outbox: Outbox) -> None:
        """Tell everyone else in the room ``participant``'s state (+ their subscribed, + pcs)."""
        room = participant.room
        states = room.announce_to_others(participant)
        for q in list(room.participants.values()):
            if q is participant:
                continue
            q.send(p.ServerUpdate(participants=states, subscribed=q.subscribed(),
                                  peer_connections=outbox.pop(q.sid, [])))
        self._deliver(room, outbox)
        room.media.room_changed()

    @staticmethod
    def _deliver(room: Room, outbox: Outbox) -> None:
        for sid, entries in outbox.items():
            q = room.participants.get(sid)
            if q is not None and entries:
                q.send(p.ServerUpdate(peer_connections=entries))

    # --- status callbacks -----------------------------------------------------------------

    def _callback(self, room: Room, event: str, participant: Participant | None = None,
                  track: Track | None = None, **extra: Any) -> None:
        for listener in list(self.listeners):
            listener(event, room, participant, track)
        url = room.options.status_callback
        if not url:
            return
        params: dict[str, Any] = {
            "AccountSid": room.account_sid, "RoomSid": room.sid, "RoomName": room.unique_name,
            "RoomStatus": room.status, "RoomType": room.type,
            "Timestamp": iso_timestamp(self._clock()), "SequenceNumber": room.sequence,
        }
        room.sequence += 1
        if participant is not None:
            params.update(ParticipantSid=participant.sid, ParticipantIdentity=participant.identity,
                          ParticipantStatus=participant.state)
        if track is not None:
            params.update(TrackSid=track.sid, TrackKind=track.kind, TrackName=track.name)
        params.update(extra)
        self.callbacks.fire(url, room.options.status_callback_method, event, params)


def _client_rules(subscribe: p.Subscribe) -> list[RuleDict]:
    return [{k: v for k, v in msgspec.to_builtins(rule).items()} for rule in subscribe.rules]
