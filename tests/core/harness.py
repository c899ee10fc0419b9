"""In-process harness: a connected Room over a recorder transport, driven by fake server bodies.

No sockets, no aiortc: server bodies are built from ``core.protocol`` structs, round-tripped
through the wire codec (so they are exactly what the real transport would decode) and fed to
``RoomSignaling.handle_message``; media facts go straight to the signaling seams.

Usage (inside a running loop)::

    bob_state = remote_participant("bob", [("audio", "mic")])
    h = await RoomHarness.connect(tracks=[LocalAudioTrack()], participants=[bob_state])
    log = EventLog()
    h.subscribe_with_media(bob_state.tracks[0].sid)   # subscribed mapping + media arrival
    h.media_started(bob_state.tracks[0].sid)
    assert log.names()[0] == "RemoteAudioTrackPublication.subscribed"
    sid = h.add_participant("carol", [("video", "cam")]); h.remove_participant(sid)
    fut = h.local_participant.publish_track(track); h.ack_publish(track); await fut

Reusable by integration and UI-bridge tests (import ``tests.core.harness``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from core import protocol as p
from core.events import EventEmitter, observe_emits
from core.participant import LocalParticipant, RemoteParticipant
from core.room import Room
from core.signaling import RoomSignaling
from core.track import LocalAudioTrack, LocalDataTrack, LocalVideoTrack

__all__ = [
    "RecorderTransport",
    "FakeVideoMedia",
    "FakeAudioMedia",
    "FakeDataChannel",
    "EventLog",
    "RoomHarness",
    "remote_participant",
    "new_sid",
    "settle",
]


def new_sid(prefix: str) -> str:
    """A Twilio-shaped SID: ``RM``/``PA``/``MT`` + 32 hex."""
    return prefix + uuid.uuid4().hex


async def settle(rounds: int = 3) -> None:
    """Let ``call_soon`` (async) events run."""
    for _ in range(rounds):
        await asyncio.sleep(0)


class RecorderTransport:
    """The transport seam: records bodies sent and whether it was closed."""

    def __init__(self) -> None:
        self.sent: list[p.ClientMessage] = []
        self.closed = False

    def send(self, body: p.ClientMessage) -> None:
        p.encode(body)  # must be wire-encodable
        self.sent.append(body)

    def close(self) -> None:
        self.closed = True

    def of_type(self, cls: type) -> list[Any]:
        return [b for b in self.sent if isinstance(b, cls)]

    @property
    def updates(self) -> list[p.Update]:
        return self.of_type(p.Update)

    @property
    def last_snapshot(self) -> p.LocalParticipantState | None:
        for body in reversed(self.sent):
            participant = getattr(body, "participant", None)
            if participant is not None:
                return participant
        return None


class FakeVideoMedia:
    """Stands in for core.media's frame fan-out: records sinks."""

    def __init__(self) -> None:
        self.sinks: list[Any] = []

    def add_sink(self, sink: Any) -> None:
        self.sinks.append(sink)

    def remove_sink(self, sink: Any) -> None:
        self.sinks.remove(sink)


class FakeAudioMedia:
    kind = "audio"


class FakeDataChannel:
    """An RTCDataChannel stand-in: records sends; ``readyState`` settable."""

    def __init__(self, label: str = "", ready_state: str = "open", ordered: bool = True,
                 max_packet_life_time: int | None = None, max_retransmits: int | None = None) -> None:
        self.label = label
        self.readyState = ready_state
        self.ordered = ordered
        self.maxPacketLifeTime = max_packet_life_time
        self.maxRetransmits = max_retransmits
        self.sent: list[Any] = []

    def send(self, data: Any) -> None:
        self.sent.append(data)


@dataclass
class Entry:
    emitter: EventEmitter
    event: str
    args: tuple[Any, ...]

    @property
    def name(self) -> str:
        return f"{type(self.emitter).__name__}.{self.event}"


class EventLog:
    """Records every public-object emit, in order (signaling objects and pyee internals excluded)."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self._undo = observe_emits(self._record)

    def _record(self, emitter: EventEmitter, event: str, args: tuple[Any, ...]) -> None:
        if event == "new_listener" or type(emitter).__module__ == "core.signaling":
            return
        self.entries.append(Entry(emitter, event, args))

    def close(self) -> None:
        self._undo()

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def clear(self) -> None:
        self.entries.clear()

    def names(self, *, of: Callable[[Entry], bool] | None = None) -> list[str]:
        return [e.name for e in self.entries if of is None or of(e)]

    def events(self, emitter: EventEmitter) -> list[str]:
        """Event names emitted by one object."""
        return [e.event for e in self.entries if e.emitter is emitter]

    def args(self, emitter: EventEmitter, event: str) -> list[tuple[Any, ...]]:
        return [e.args for e in self.entries if e.emitter is emitter and e.event == event]


def remote_participant(
    identity: str,
    tracks: Iterable[tuple[str, str] | tuple[str, str, bool] | p.RemoteTrackState] = (),
    *,
    sid: str | None = None,
    revision: int = 1,
    state: str = "connected",
) -> p.RemoteParticipantState:
    """A server participant entry; tracks as ``(kind, name[, enabled])`` or RemoteTrackState."""
    track_states = []
    for t in tracks:
        if isinstance(t, p.RemoteTrackState):
            track_states.append(t)
        else:
            kind, name, *rest = t
            track_states.append(p.RemoteTrackState(sid=new_sid("MT"), name=name, kind=kind,  # type: ignore[arg-type]  # kind comes from a test's plain-str tuple, not the protocol's Literal
                                                   enabled=rest[0] if rest else True))
    return p.RemoteParticipantState(sid=sid or new_sid("PA"), identity=identity, revision=revision,
                                    state=state, tracks=track_states)  # type: ignore[arg-type]  # state comes from a test's plain str, not the protocol's Literal


@dataclass
class RoomHarness:
    transport: RecorderTransport
    signaling: RoomSignaling
    local_participant: LocalParticipant
    room: Room
    #: last server state of each remote participant (by sid)
    remote_states: dict[str, p.RemoteParticipantState] = field(default_factory=dict)
    #: publisher track id of each remote track sid (msid track id / data channel label)
    remote_track_ids: dict[str, str] = field(default_factory=dict)
    published: dict[str, p.PublishedTrack] = field(default_factory=dict)
    subscribed: dict[str, p.SubscribedTrack] = field(default_factory=dict)
    media: dict[str, Any] = field(default_factory=dict)
    revisions: dict[str, int] = field(default_factory=lambda: {"published": 1, "subscribed": 1, "recording": 1})

    # -- building ---------------------------------------------------------------------------

    @classmethod
    async def connect(
        cls,
        *,
        tracks: Sequence[LocalAudioTrack | LocalVideoTrack | LocalDataTrack] = (),
        owned_tracks: Sequence[Any] = (),
        participants: Sequence[p.RemoteParticipantState] = (),
        room_name: str = "test-room",
        identity: str = "alice",
        publish_ready: bool = True,
        is_recording: bool = False,
        session_timeout: int = 30,
        media_region: str | None = "gll",
        signaling_region: str | None = "de1",
        **signaling_kwargs: Any,
    ) -> RoomHarness:
        transport = RecorderTransport()
        signaling = RoomSignaling(transport, token="a.b.c", name=room_name, **signaling_kwargs)
        local = LocalParticipant(signaling.local_participant, tracks, owned_tracks=owned_tracks)
        transport.send(signaling.connect_message())
        published = ({t.id: p.PublishedTrack(id=t.id, sid=new_sid("MT"), state="ready") for t in tracks}
                     if publish_ready else {})
        connected = p.Connected(
            session="session-" + uuid.uuid4().hex[:8],
            sid=new_sid("RM"),
            name=room_name,
            participant=p.ParticipantIdentity(sid=new_sid("PA"), identity=identity),
            participants=list(participants),
            published=p.Published(revision=1, tracks=list(published.values())),
            subscribed=p.Subscribed(revision=1, tracks=[]),
            recording=p.Recording(revision=1, is_recording=is_recording),
            options=p.ConnectedOptions(session_timeout=session_timeout, media_region=media_region,
                                       signaling_region=signaling_region, room_type="group"),
        )
        signaling.handle_message(_round_trip(connected))
        await signaling.wait_connected()
        room = Room(signaling, local)
        harness = cls(transport, signaling, local, room, published=published)
        for state in participants:
            harness._remember(state)
        return harness

    def _remember(self, state: p.RemoteParticipantState) -> None:
        self.remote_states[state.sid] = state
        for t in state.tracks:
            self.remote_track_ids.setdefault(t.sid, "id-" + t.sid[2:12])

    # -- server bodies ----------------------------------------------------------------------

    def push(self, message: Any) -> None:
        """Feed one server body (round-tripped through the wire codec)."""
        self.signaling.handle_message(_round_trip(message))

    def participant(self, identity: str) -> RemoteParticipant:
        return next(x for x in self.room.participants.values() if x.identity == identity)

    def add_participant(self, identity: str, tracks: Iterable[Any] = (), **kwargs: Any) -> str:
        state = remote_participant(identity, tracks, **kwargs)
        self._remember(state)
        self.push(p.ServerUpdate(participants=[state]))
        return state.sid

    def update_participant(self, sid: str, *, tracks: Sequence[p.RemoteTrackState] | None = None,
                           state: str | None = None, revision: int | None = None,
                           push: bool = True) -> p.RemoteParticipantState:
        old = self.remote_states[sid]
        new = p.RemoteParticipantState(
            sid=sid, identity=old.identity, revision=old.revision + 1 if revision is None else revision,
            state=state or old.state, tracks=list(old.tracks if tracks is None else tracks))  # type: ignore[arg-type]  # as above: plain-str state from the test
        self._remember(new)
        if push:
            self.push(p.ServerUpdate(participants=[new]))
        return new

    def remove_participant(self, sid: str) -> None:
        self.update_participant(sid, state="disconnected")

    def publish_remote(self, sid: str, kind: str, name: str, enabled: bool = True) -> str:
        track = p.RemoteTrackState(sid=new_sid("MT"), name=name, kind=kind, enabled=enabled)  # type: ignore[arg-type]  # kind is a test's plain str, not the protocol's Literal
        self.update_participant(sid, tracks=[*self.remote_states[sid].tracks, track])
        return track.sid

    def unpublish_remote(self, sid: str, track_sid: str) -> None:
        self.update_participant(sid, tracks=[t for t in self.remote_states[sid].tracks if t.sid != track_sid])

    def set_remote_enabled(self, sid: str, track_sid: str, enabled: bool) -> None:
        self._set_remote_track(sid, track_sid, enabled=enabled)

    def set_remote_priority(self, sid: str, track_sid: str, priority: str) -> None:
        self._set_remote_track(sid, track_sid, priority=priority)

    def _set_remote_track(self, sid: str, track_sid: str, **changes: Any) -> None:
        tracks = []
        for t in self.remote_states[sid].tracks:
            if t.sid == track_sid:
                values: dict[str, Any] = {"sid": t.sid, "name": t.name, "kind": t.kind, "enabled": t.enabled,
                                          "priority": t.priority}
                values.update(changes)
                t = p.RemoteTrackState(**values)
            tracks.append(t)
        self.update_participant(sid, tracks=tracks)

    def _next(self, key: str) -> int:
        self.revisions[key] += 1
        return self.revisions[key]

    def push_subscribed(self) -> None:
        self.push(p.ServerUpdate(subscribed=p.Subscribed(revision=self._next("subscribed"),
                                                         tracks=list(self.subscribed.values()))))

    def subscribe(self, *track_sids: str) -> None:
        for sid in track_sids:
            self.subscribed[sid] = p.SubscribedTrack(sid=sid, id=self.remote_track_ids[sid])
        self.push_subscribed()

    def subscribe_all(self) -> None:
        self.subscribe(*[t.sid for s in self.remote_states.values() if s.state != "disconnected" for t in s.tracks])

    def unsubscribe(self, *track_sids: str) -> None:
        for sid in track_sids:
            self.subscribed.pop(sid, None)
        self.push_subscribed()

    def fail_subscription(self, track_sid: str, code: int, message: str = "") -> None:
        self.subscribed[track_sid] = p.SubscribedTrack(sid=track_sid, error=p.ErrorBody(code=code, message=message))
        self.push_subscribed()

    def ack_publish(self, track: Any, sid: str | None = None) -> str:
        sid = sid or new_sid("MT")
        self.published[track.id] = p.PublishedTrack(id=track.id, sid=sid, state="ready")
        published = p.Published(revision=self._next("published"), tracks=list(self.published.values()))
        self.push(p.ServerUpdate(published=published))
        return sid

    def fail_publish(self, track: Any, code: int, message: str = "") -> None:
        entries = [*self.published.values(), p.PublishedTrack(id=track.id, state="failed",
                                                             error=p.ErrorBody(code=code, message=message))]
        self.push(p.ServerUpdate(published=p.Published(revision=self._next("published"), tracks=entries)))

    def recording(self, is_recording: bool) -> None:
        self.push(p.ServerUpdate(recording=p.Recording(revision=self._next("recording"), is_recording=is_recording)))

    def synced(self, participants: Sequence[p.RemoteParticipantState] | None = None) -> None:
        states = list(self.remote_states.values()) if participants is None else list(participants)
        self.push(p.Synced(
            session=self.signaling.session or "",
            participants=[s for s in states if s.state != "disconnected"],
            published=p.Published(revision=self._next("published"), tracks=list(self.published.values())),
            subscribed=p.Subscribed(revision=self._next("subscribed"), tracks=list(self.subscribed.values())),
        ))

    def server_error(self, code: int, message: str = "") -> None:
        self.push(p.Error(code=code, message=message))

    def server_disconnected(self, completed: bool = False) -> None:
        self.push(p.Disconnected(status="completed" if completed else None))

    # -- media facts ------------------------------------------------------------------------

    def media_arrives(self, track_sid: str, media: Any = None) -> Any:
        kind = self._kind(track_sid)
        if media is None:
            media = {"video": FakeVideoMedia, "audio": FakeAudioMedia}.get(kind, FakeDataChannel)()
        self.media[track_sid] = media
        self.signaling.media_track_added(self.remote_track_ids[track_sid], kind, media)
        return media

    def media_gone(self, track_sid: str) -> None:
        self.signaling.media_track_removed(self.remote_track_ids[track_sid])

    def subscribe_with_media(self, *track_sids: str) -> None:
        self.subscribe(*track_sids)
        for sid in track_sids:
            self.media_arrives(sid)

    def media_started(self, track_sid: str) -> None:
        self.signaling.media_started(self.remote_track_ids[track_sid])

    def media_dimensions(self, track_sid: str, width: int, height: int) -> None:
        self.signaling.media_dimensions(self.remote_track_ids[track_sid], width, height)

    def data(self, track_sid: str, data: str | bytes) -> None:
        self.signaling.data_message(self.remote_track_ids[track_sid], data)

    def _kind(self, track_sid: str) -> str:
        for state in self.remote_states.values():
            for t in state.tracks:
                if t.sid == track_sid:
                    return t.kind
        raise KeyError(track_sid)


def _round_trip(message: Any) -> Any:
    return p.decode_server_body(p.encode(message))
