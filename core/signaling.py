"""The signaling-state layer: the one state machine the public objects listen to.

``RoomSignaling`` is fed from two sides and holds the room's state:

* **RSP server bodies** (``protocol.Connected`` / ``ServerUpdate`` / ``Synced`` /
  ``Disconnected`` / ``Error``) through :meth:`RoomSignaling.handle_message`. They are revisioned,
  idempotent snapshots: stale revisions are ignored, a disconnected participant is revived only
  by a strictly higher revision, participants absent from ``synced`` are disconnected, tracks
  dropped from ``subscribed`` are unsubscribed.
* **Media facts** from the media layer: :meth:`media_track_added`, :meth:`media_track_removed`,
  :meth:`media_started`, :meth:`media_dimensions`, :meth:`media_audio_level`,
  :meth:`data_message`, :meth:`ice_state`, :meth:`peer_connection_state`, plus the transport's
  :meth:`transport_state` and incoming MSP messages (:meth:`handle_msp`). Remote media is keyed
  by the *publisher's* track id (msid track id / data channel label); a remote publication is
  subscribed once both the server's ``subscribed`` entry ``{sid, id}`` and the media for ``id``
  exist, in either order.

Outgoing: RSP bodies go to ``transport.send(body)`` (a :class:`RspTransport`); the local
participant's snapshot gets ``revision += 1`` on every local change (publish, unpublish,
enable/disable, priority) and is sent as ``protocol.Update``. Things for the media layer are
emitted as events on the RoomSignaling: ``peerConnections(messages, full)``,
``mediaSignaling(channels)``, ``mspOutgoing(message)``, ``encodingParametersChanged(params)``,
``networkQualityConfigurationChanged(config)``, ``stateChanged(state, error)``.

Event names on signaling objects are internal (not the public API).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, cast

from . import protocol
from .connect_options import BandwidthProfile
from .errors import (
    MediaConnectionError,
    MediaDTLSTransportFailedError,
    RoomCompletedError,
    SignalingConnectionDisconnectedError,
    SignalingConnectionError,
    TrackInvalidError,
    TwilioError,
    error_from_code,
)
from .events import EventEmitter
from .network_quality import (
    NetworkQualityConfiguration,
    NetworkQualityLevel,
    NetworkQualityStats,
    parse_network_quality,
)
from .stats import StatsReport
from .track import validate_priority

__all__ = [
    "RspTransport",
    "EncodingParameters",
    "RemoteMedia",
    "ParticipantSignaling",
    "LocalTrackSignaling",
    "LocalParticipantSignaling",
    "RemoteTrackSignaling",
    "RemoteParticipantSignaling",
    "RoomSignaling",
]

log = logging.getLogger("confab.signaling")

#: twilio-video.js's ``TwilioWarning.recordingMediaLost``.
RECORDING_MEDIA_LOST = "recording-media-lost"

RoomState = Literal["connecting", "connected", "reconnecting", "disconnected"]
ParticipantState = Literal["connecting", "connected", "reconnecting", "disconnected"]
TransportState = Literal["connecting", "connected", "syncing", "disconnected"]

_PARTICIPANT_TRANSITIONS: dict[str, frozenset[str]] = {
    "connecting": frozenset({"connected", "reconnecting", "disconnected"}),
    "connected": frozenset({"reconnecting", "disconnected"}),
    "reconnecting": frozenset({"connected", "disconnected"}),
    "disconnected": frozenset(),
}
#: ICE states ranked best-last; several peer connections (mesh) aggregate to the best one.
_ICE_RANK = {"closed": 0, "failed": 1, "disconnected": 2, "new": 3, "checking": 4, "connected": 5, "completed": 6}
_CONNECTION_RANK = {"closed": 0, "failed": 1, "disconnected": 2, "new": 3, "connecting": 4, "connected": 5}
#: Data messages kept per channel while its subscription is incomplete.
PENDING_MESSAGES = 100


class RspTransport(Protocol):
    """What the layer needs from the WebSocket transport (``core.signaling_transport``).

    On a local disconnect the layer sends ``protocol.Disconnect`` and then calls ``close()``;
    on any other end (server error, ``disconnected``, session expiry) it only calls ``close()``.
    """

    def send(self, body: protocol.ClientMessage) -> None:
        """Queue one RSP body for the server (wrapped in a TCMP ``msg``)."""

    def close(self) -> None:
        """Stop for good (after ``protocol.Disconnect`` on a local disconnect): bye + close."""


@dataclass(frozen=True)
class EncodingParameters:
    """Send bitrate limits in bps (None = no limit)."""

    max_audio_bitrate: int | None = None
    max_video_bitrate: int | None = None


@dataclass(eq=False)
class RemoteMedia:
    """What the media layer reported about one incoming track or data channel."""

    track_id: str
    kind: str
    media: Any
    #: The participant SID whose connection carried it (None: the server's own connection).
    publisher: str | None = None
    started: bool = False
    dimensions: tuple[int, int] | None = None
    level: float | None = None
    pending_messages: deque[str | bytes] = field(default_factory=lambda: deque(maxlen=PENDING_MESSAGES))


# --- participants ----------------------------------------------------------------------------


class ParticipantSignaling(EventEmitter):
    """Identity, state and network quality of one participant.

    Events: ``stateChanged(state, previous)``, ``networkQualityLevelChanged(level)``.
    """

    def __init__(self, room: RoomSignaling, sid: str | None, identity: str | None) -> None:
        super().__init__()
        self.room = room
        self.sid = sid
        self.identity = identity
        self.state: ParticipantState = "connecting"
        self.network_quality_level: NetworkQualityLevel | None = None
        self.network_quality_stats: NetworkQualityStats | None = None

    def _set_state(self, state: ParticipantState) -> bool:
        if state not in _PARTICIPANT_TRANSITIONS[self.state]:
            return False
        previous, self.state = self.state, state
        self.emit("stateChanged", state, previous)
        return True

    def _set_network_quality(self, level: NetworkQualityLevel | None, stats: NetworkQualityStats | None) -> None:
        self.network_quality_stats = stats
        if level is not None and level != self.network_quality_level:
            self.network_quality_level = level
            self.emit("networkQualityLevelChanged", level)


class LocalTrackSignaling(EventEmitter):
    """One local track in the participant snapshot, until the server acks it with a SID.

    ``state``: ``pending`` → ``published`` (sid set) | ``failed`` | ``unpublished``.
    Events: ``published()``, ``failed(error)``, and from RSP ``warning`` (the track's
    ``recordings`` media state changed): ``warning(name)`` (``NO_MEDIA`` →
    ``"recording-media-lost"``), ``warningsCleared()`` (``OK``).
    """

    def __init__(self, track_id: str, kind: str, name: str, enabled: bool, priority: str) -> None:
        super().__init__()
        self.id = track_id
        self.kind = kind
        self.name = name
        self.enabled = enabled
        self.priority = priority
        self.sid: str | None = None
        self.error: TwilioError | None = None
        self.state: Literal["pending", "published", "failed", "unpublished"] = "pending"
        self.recordings: str | None = None  # the server's media state of its recording

    def update_media_states(self, states: Mapping[str, Any]) -> None:
        """One track's entry of RSP ``warning.states.tracks`` (as twilio-video.js reads it)."""
        value = states.get("recordings")
        if not isinstance(value, str) or value == self.recordings:
            return
        self.recordings = value
        if value == "NO_MEDIA":
            self.emit("warning", RECORDING_MEDIA_LOST)
        elif value == "OK":
            self.emit("warningsCleared")
        else:
            log.warning("unknown media state of track %s: %s", self.sid, value)

    def to_wire(self) -> protocol.LocalTrackState:
        return protocol.LocalTrackState(
            id=self.id, kind=cast(protocol.TrackKind, self.kind), name=self.name, enabled=self.enabled,
            priority=cast(protocol.Priority, self.priority),
        )


class LocalParticipantSignaling(ParticipantSignaling):
    """The local participant's revisioned snapshot ``{revision, tracks}``.

    Events (besides the base ones): ``trackPublished(track_signaling)``,
    ``trackPublicationFailed(track_signaling, error)``, and for the media layer
    ``localTrackAdded(track_signaling)`` / ``localTrackRemoved(track_signaling)`` (unpublished or failed).
    """

    def __init__(self, room: RoomSignaling) -> None:
        super().__init__(room, None, None)
        self.revision = 1
        self.tracks: dict[str, LocalTrackSignaling] = {}
        self.signaling_region: str | None = None
        self._warnings_revision = 0  # of the last RSP warning applied

    def snapshot(self) -> protocol.LocalParticipantState:
        tracks = [t.to_wire() for t in self.tracks.values()]
        warnings = ["recordings"] if RECORDING_MEDIA_LOST in self.room.notify_warnings else None
        return protocol.LocalParticipantState(revision=self.revision, tracks=tracks, media_warnings=warnings)

    def _handle_media_states(self, states: Mapping[str, Any] | None) -> None:
        """RSP ``warning {states: {revision, tracks: {<track SID>: {recordings}}}}`` (a newer revision)."""
        tracks = states.get("tracks") if isinstance(states, Mapping) else None
        revision = states.get("revision") if isinstance(states, Mapping) else None
        if not isinstance(tracks, Mapping) or not isinstance(revision, int) or revision <= self._warnings_revision:
            return
        self._warnings_revision = revision
        for tsig in list(self.tracks.values()):
            entry = tracks.get(tsig.sid) if tsig.sid is not None else None
            if isinstance(entry, Mapping):
                tsig.update_media_states(entry)

    def add_track(self, track_id: str, kind: str, name: str, enabled: bool = True,
                  priority: str = "standard") -> LocalTrackSignaling:
        """Add a track to the snapshot (revision += 1, update sent)."""
        if track_id in self.tracks:
            return self.tracks[track_id]
        tsig = LocalTrackSignaling(track_id, kind, name, enabled, cast(str, validate_priority(priority)))
        self.tracks[track_id] = tsig
        self.emit("localTrackAdded", tsig)
        self._changed()
        return tsig

    def remove_track(self, track_id: str) -> LocalTrackSignaling | None:
        tsig = self.tracks.pop(track_id, None)
        if tsig is not None:
            tsig.state = "unpublished"
            self.emit("localTrackRemoved", tsig)
            self._changed()
        return tsig

    def set_track_enabled(self, track_id: str, enabled: bool) -> None:
        tsig = self.tracks.get(track_id)
        if tsig is not None and tsig.enabled != enabled:
            tsig.enabled = enabled
            self._changed()

    def set_track_priority(self, track_id: str, priority: str) -> None:
        tsig = self.tracks.get(track_id)
        if tsig is not None and tsig.priority != priority:
            tsig.priority = priority
            self._changed()

    def _changed(self) -> None:
        if self.state == "disconnected":
            return
        if self.room._sent_revision == 0:
            return  # nothing sent yet: the first snapshot (``connect``) is revision 1
        self.revision += 1
        self.room._send_participant_update()

    def _handle_published(self, published: protocol.Published) -> None:
        for entry in published.tracks:
            tsig = self.tracks.get(entry.id)
            if tsig is None or tsig.state != "pending":
                continue
            if entry.state == "ready" and entry.sid:
                tsig.sid, tsig.state = entry.sid, "published"
                self.emit("trackPublished", tsig)
            elif entry.state == "failed":
                error = (
                    error_from_code(entry.error.code, entry.error.message or None)
                    if entry.error is not None
                    else TrackInvalidError()
                )
                tsig.error, tsig.state = error, "failed"
                del self.tracks[entry.id]
                self.emit("localTrackRemoved", tsig)
                self._changed()
                self.emit("trackPublicationFailed", tsig, error)


class RemoteTrackSignaling(EventEmitter):
    """A remote participant's published track, and whether we receive it.

    Events: ``enabledChanged(enabled)``, ``priorityChanged(priority)``, ``subscribed()``,
    ``unsubscribed()``, ``subscriptionFailed(error)``, ``started()``,
    ``dimensionsChanged(width, height)``, ``audioLevel(level)``, ``message(data)``,
    ``switchedOff(off)``.
    """

    def __init__(self, room: RoomSignaling, state: protocol.RemoteTrackState, participant_sid: str) -> None:
        super().__init__()
        self.room = room
        self.participant_sid = participant_sid
        self.sid = state.sid
        self.name = state.name
        self.kind = state.kind
        self.enabled = state.enabled
        self.priority = state.priority
        self.media: RemoteMedia | None = None
        self.error: TwilioError | None = None
        self.is_switched_off = state.sid in room._switched_off
        self.subscriber_priority: str | None = None

    @property
    def is_subscribed(self) -> bool:
        return self.media is not None

    def set_subscriber_priority(self, priority: str | None) -> None:
        """The subscriber's priority for this track (sent as a ``track_priority`` MSP message)."""
        self.subscriber_priority = priority
        self.room._send_msp({"type": "track_priority", "track": self.sid, "subscribe": priority})

    def set_render_hint(self, enabled: bool | None = None, render_dimensions: Mapping[str, Any] | None = None) -> None:
        """Whether we render this track, and at what size (``render_hints`` MSP)."""
        self.room._set_render_hint(self.sid, enabled, render_dimensions)

    def _update(self, state: protocol.RemoteTrackState) -> None:
        self.name = state.name
        if state.enabled != self.enabled:
            self.enabled = state.enabled
            self.emit("enabledChanged", state.enabled)
        if state.priority != self.priority:
            self.priority = state.priority
            self.emit("priorityChanged", state.priority)

    def _subscribe(self, media: RemoteMedia) -> None:
        self.media, self.error = media, None
        self.emit("subscribed")
        # media facts that arrived before the subscription completed, in their natural order
        if media.started:
            self.emit("started")
        if media.dimensions is not None:
            self.emit("dimensionsChanged", *media.dimensions)
        if media.level is not None:
            self.emit("audioLevel", media.level)
        while media.pending_messages and self.media is media:
            self.emit("message", media.pending_messages.popleft())

    def _unsubscribe(self) -> None:
        if self.media is not None:
            self.media = None
            self.emit("unsubscribed")

    def _fail(self, error: TwilioError) -> None:
        if self.error is not None and self.error.code == error.code:
            return
        self.error = error
        self.emit("subscriptionFailed", error)

    def _set_switched_off(self, off: bool) -> None:
        if off != self.is_switched_off:
            self.is_switched_off = off
            self.emit("switchedOff", off)


class RemoteParticipantSignaling(ParticipantSignaling):
    """A remote participant's revisioned state.

    Events (besides the base ones): ``trackPublished(track_signaling)``,
    ``trackUnpublished(track_signaling)``.
    """

    sid: str  # always known: the server sends it

    def __init__(self, room: RoomSignaling, state: protocol.RemoteParticipantState) -> None:
        super().__init__(room, state.sid, state.identity)
        self.revision = state.revision
        self.tracks: dict[str, RemoteTrackSignaling] = {
            t.sid: RemoteTrackSignaling(room, t, state.sid) for t in state.tracks}
        self._set_state(state.state)

    def _update(self, state: protocol.RemoteParticipantState) -> None:
        self.revision = state.revision
        if state.state == "disconnected":
            self.room._disconnect_participant(self)
            return
        listed = {t.sid: t for t in state.tracks}
        for sid in [sid for sid in self.tracks if sid not in listed]:
            tsig = self.tracks[sid]
            tsig._unsubscribe()
            del self.tracks[sid]
            self.emit("trackUnpublished", tsig)
        for sid, track_state in listed.items():
            known = self.tracks.get(sid)
            if known is None:
                tsig = self.tracks[sid] = RemoteTrackSignaling(self.room, track_state, state.sid)
                self.emit("trackPublished", tsig)
                self.room._reconcile(tsig)
            else:
                known._update(track_state)
        self._set_state(state.state)


# --- the room --------------------------------------------------------------------------------


class RoomSignaling(EventEmitter):
    """Session, revisions and the room/participant state machines.

    Construct it, let ``LocalParticipant(signaling.local_participant, tracks)`` add the local
    tracks, send :meth:`connect_message`, feed every server body to :meth:`handle_message`, and
    build ``Room(signaling, local_participant)`` once :meth:`wait_connected` returned.
    """

    def __init__(
        self,
        transport: RspTransport,
        *,
        token: str = "",
        name: str | None = None,
        network_quality: NetworkQualityConfiguration | None = None,
        encoding_parameters: EncodingParameters | None = None,
        stats_provider: Callable[[], Awaitable[Sequence[StatsReport]]] | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        notify_warnings: Sequence[str] = (),
    ) -> None:
        super().__init__()
        self.transport = transport
        #: ``connect(notify_warnings=...)``: ``"recording-media-lost"`` asks for the server's warnings.
        self.notify_warnings = tuple(notify_warnings)
        self.token = token
        self.name = name
        self.loop = loop or asyncio.get_running_loop()
        self.stats_provider = stats_provider
        self.network_quality_configuration = network_quality
        self.encoding_parameters = encoding_parameters or EncodingParameters()

        self.state: RoomState = "connecting"
        self.error: TwilioError | None = None
        self.sid: str | None = None
        self.session: str | None = None
        self.session_timeout: float = protocol.DEFAULT_SESSION_TIMEOUT_S
        self.media_region: str | None = None
        self.room_type: str | None = None
        self.is_recording = False
        self.dominant_speaker_sid: str | None = None
        self.media_signaling: dict[str, protocol.MediaSignalingChannel] = {}
        self.local_participant = LocalParticipantSignaling(self)
        self.participants: dict[str, RemoteParticipantSignaling] = {}

        self._transport_state: TransportState = "connecting"
        self._ice_states: dict[str | None, str] = {}
        self._connection_states: dict[str | None, str] = {}
        self._reconnecting_error: TwilioError | None = None
        self._session_timer: asyncio.TimerHandle | None = None
        self._tombstones: dict[str, int] = {}
        self._published_revision = 0
        self._subscribed_revision = 0
        self._recording_revision = 0
        self._subscriptions: dict[str, protocol.SubscribedTrack] = {}
        self._media: dict[tuple[str | None, str], RemoteMedia] = {}  # (publisher, track id)
        self._switched_off: set[str] = set()
        #: The ``bandwidth_profile`` connect() was given (None: none): its switch-off control and
        #: content-preferences mode decide what RemoteVideoTrack.switch_off() & co. may do.
        self.bandwidth_profile: BandwidthProfile | None = None
        self._render_hints: dict[str, dict[str, Any]] = {}
        self._render_hints_id = 0
        self._sent_revision = 0
        self._pending_peer_connections: list[protocol.PeerConnectionMessage] = []
        self._connected_waiter: asyncio.Future[None] | None = None
        #: Updates that arrived before ``connected`` (the server may send its subscribe offer first).
        self._early: list[protocol.ServerUpdate | protocol.Synced] = []
        #: What ``connect_message`` was given, for the ``connect`` of a rejoin.
        self._connect_options: dict[str, Any] = {}
        self._rejoining = False

    # -- outgoing bodies -------------------------------------------------------------------

    def connect_message(
        self,
        *,
        peer_connections: Sequence[protocol.PeerConnectionMessage] = (),
        automatic_subscription: bool = True,
        dominant_speaker: bool = False,
        media_signaling: Mapping[str, Any] | None = None,
        ice_servers: Literal["acquire", "overrode"] | None = None,
        bandwidth_profile: Mapping[str, Any] | None = None,
        publisher: protocol.Publisher | None = None,
    ) -> protocol.Connect:
        """The RSP ``connect`` body carrying the current local snapshot (for the TCMP hello)."""
        self._connect_options = dict(
            automatic_subscription=automatic_subscription, dominant_speaker=dominant_speaker,
            media_signaling=media_signaling, ice_servers=ice_servers, bandwidth_profile=bandwidth_profile,
            publisher=publisher)
        self.bandwidth_profile = getattr(bandwidth_profile, "profile", None)
        snapshot = self.local_participant.snapshot()
        self._sent_revision = snapshot.revision
        channels: dict[str, Any] = dict(media_signaling or {})
        transports = {"transports": [{"type": "data-channel"}]}
        if dominant_speaker:
            channels.setdefault("active_speaker", transports)
        if self.network_quality_configuration is not None:
            channels.setdefault("network_quality", transports)
        rule: Literal["include", "exclude"] = "include" if automatic_subscription else "exclude"
        return protocol.Connect(
            token=self.token,
            name=self.name,
            format="unified",
            ice_servers=ice_servers,
            publisher=publisher,
            participant=snapshot,
            peer_connections=list(peer_connections),
            subscribe=protocol.Subscribe(revision=1, rules=[protocol.SubscribeRule(type=rule, all=True)]),
            media_signaling=channels or None,
            bandwidth_profile=dict(bandwidth_profile) if bandwidth_profile else None,
        )

    def rejoin_message(self) -> protocol.Connect:
        """The ``connect`` that joins this very room (by SID) again as a new session.

        The transport sends it when the server no longer knows our session (it restarted);
        its ``connected`` is then handled as a rejoin (:meth:`_handle_rejoined`).
        """
        self._rejoining = True
        body = self.connect_message(**self._connect_options)
        body.name = self.sid or self.name
        return body

    def sync_message(self, peer_connections: Sequence[protocol.PeerConnectionMessage] = ()) -> protocol.Sync:
        """The RSP ``sync`` body the transport sends on each signaling-reconnect attempt."""
        snapshot = self.local_participant.snapshot()
        self._sent_revision = snapshot.revision
        return protocol.Sync(
            session=self.session or "", token=self.token, name=self.name, participant=snapshot,
            peer_connections=list(peer_connections),
        )

    def send_peer_connections(self, messages: Sequence[protocol.PeerConnectionMessage]) -> None:
        """Send offers/answers/ICE as an ``update`` (queued while connecting or syncing)."""
        self._pending_peer_connections.extend(messages)
        self._flush()

    def _can_send(self) -> bool:
        return self.state in ("connected", "reconnecting") and self._transport_state == "connected"

    def _send(self, body: protocol.ClientMessage) -> None:
        try:
            self.transport.send(body)
        except Exception:
            log.exception("transport.send failed")

    def _send_participant_update(self) -> None:
        self._flush()

    def _flush(self) -> None:
        if not self._can_send() or self.session is None:
            return
        snapshot = None
        if self.local_participant.revision > self._sent_revision:
            snapshot = self.local_participant.snapshot()
            self._sent_revision = snapshot.revision
        pcs, self._pending_peer_connections = self._pending_peer_connections, []
        if snapshot is not None or pcs:
            self._send(protocol.Update(session=self.session, participant=snapshot, peer_connections=pcs))

    def _send_msp(self, message: dict[str, Any]) -> None:
        if self.state != "disconnected":
            self.emit("mspOutgoing", message)

    def _set_render_hint(self, sid: str, enabled: bool | None, render_dimensions: Mapping[str, Any] | None) -> None:
        """A render hint for remote track ``sid`` (``render_hints`` MSP, as twilio-video.js sends
        it); every track's hint goes in each message, so the latest one is the whole state."""
        hint = self._render_hints.setdefault(sid, {"track": sid})
        before = dict(hint)
        if enabled is not None:
            hint["enabled"] = enabled
        if render_dimensions is not None:
            hint["render_dimensions"] = dict(render_dimensions)
        if hint != before:
            self._render_hints_id += 1
            self._send_msp({"type": "render_hints", "subscriber": {
                "id": self._render_hints_id, "hints": [dict(h) for h in self._render_hints.values()]}})

    def set_encoding_parameters(self, parameters: EncodingParameters) -> None:
        if parameters != self.encoding_parameters:
            self.encoding_parameters = parameters
            self.emit("encodingParametersChanged", parameters)

    def set_network_quality_configuration(self, configuration: NetworkQualityConfiguration) -> None:
        if configuration != self.network_quality_configuration:
            self.network_quality_configuration = configuration
            self.emit("networkQualityConfigurationChanged", configuration)

    async def wait_connected(self) -> None:
        """Return once ``connected`` was handled; raise the TwilioError if connecting failed."""
        if self.state != "connecting":
            if self.sid is None:
                raise self.error or SignalingConnectionError()
            return
        if self._connected_waiter is None:
            self._connected_waiter = self.loop.create_future()
        await asyncio.shield(self._connected_waiter)

    async def get_stats(self) -> list[StatsReport]:
        """The media layer's reports, stamped with track SIDs, limited to published/subscribed tracks."""
        if self.stats_provider is None or self.state == "disconnected":
            return []
        reports = list(await self.stats_provider())
        local = {t.id: t.sid for t in self.local_participant.tracks.values() if t.sid}
        remote = {m.id: sid for sid, m in self._subscriptions.items() if m.id and self._remote_track(sid)}
        for report in reports:
            for attr, sids in (("local_audio_track_stats", local), ("local_video_track_stats", local),
                               ("remote_audio_track_stats", remote), ("remote_video_track_stats", remote)):
                kept = [s for s in getattr(report, attr) if s.track_id in sids]
                for s in kept:
                    s.track_sid = sids[s.track_id]
                setattr(report, attr, kept)
        return reports

    # -- local disconnect -------------------------------------------------------------------

    def disconnect(self) -> bool:
        """Local disconnect: send ``disconnect``, close, tear down. False if already disconnected."""
        return self._close(None, local=True)

    # -- RSP input --------------------------------------------------------------------------

    def handle_message(self, message: protocol.ServerMessage) -> None:
        """Apply one decoded RSP server body."""
        if self.state == "disconnected":
            return
        if isinstance(message, protocol.Connected) and self._rejoining and self.state != "connecting":
            self._handle_rejoined(message)
        elif isinstance(message, protocol.Connected):
            self._handle_connected(message)
        elif isinstance(message, (protocol.ServerUpdate, protocol.Synced)) and self.state == "connecting":
            self._early.append(message)  # handled right after ``connected``, in order
        elif isinstance(message, protocol.ServerUpdate):
            self._apply(message, full=False)
        elif isinstance(message, protocol.Synced):
            self._handle_synced(message)
        elif isinstance(message, protocol.Disconnected):
            self._close(RoomCompletedError() if message.status == "completed" else None)
        elif isinstance(message, protocol.Error):
            self._close(error_from_code(message.code, message.message or None))
        elif isinstance(message, protocol.Warning):
            self.local_participant._handle_media_states(message.states)
        else:
            log.debug("ignored %s", type(message).__name__)

    def _handle_connected(self, message: protocol.Connected) -> None:
        if self.state != "connecting":
            log.warning("duplicate connected message ignored")
            return
        self.session = message.session
        self.sid = message.sid
        self.name = message.name
        options = message.options
        self.session_timeout = options.session_timeout
        self.media_region = options.media_region
        self.room_type = options.room_type
        self.local_participant.sid = message.participant.sid
        self.local_participant.identity = message.participant.identity
        self.local_participant.signaling_region = options.signaling_region
        self._apply(message, full=True)
        self._transport_state = "connected"
        self.state = "connected"
        self.local_participant._set_state("connected")
        self.emit("stateChanged", "connected", None)
        self._update_state()
        self._flush()
        if self._connected_waiter is not None and not self._connected_waiter.done():
            self._connected_waiter.set_result(None)
        early, self._early = self._early, []
        for queued in early:
            self.handle_message(queued)

    def _handle_rejoined(self, message: protocol.Connected) -> None:
        """Back in the room as a new session after a server restart.

        The media is rebuilt from scratch (``rejoined`` event: the media layer drops every old
        peer connection and republishes the local tracks on new ones); the server's revision
        counters started again, so the snapshot in ``connected`` is taken whole: who is listed
        is updated (or connected), who is not is disconnected, subscriptions follow the media.
        """
        self._rejoining = False
        if message.sid != self.sid:
            log.warning("rejoined room %s, expected %s", message.sid, self.sid)
        self.session = message.session
        self.session_timeout = message.options.session_timeout
        if message.participant.sid != self.local_participant.sid:
            log.warning("rejoined as %s (was %s)", message.participant.sid, self.local_participant.sid)
            self.local_participant.sid = message.participant.sid
        self._pending_peer_connections.clear()
        self._ice_states.clear()
        self._connection_states.clear()
        self.emit("rejoined")
        for publisher, track_id in list(self._media):
            self.media_track_removed(track_id, publisher)
        self._published_revision = self._subscribed_revision = self._recording_revision = 0
        self.local_participant._warnings_revision = 0  # the new server counts its warnings afresh
        self._tombstones.clear()
        for psig in self.participants.values():
            psig.revision = 0
        for tsig in self.local_participant.tracks.values():
            entry = next((e for e in (message.published.tracks if message.published else []) if e.id == tsig.id), None)
            if entry is not None and tsig.sid is not None and entry.sid != tsig.sid:
                log.warning("track %s has a new SID after the rejoin: %s (was %s)", tsig.id, entry.sid, tsig.sid)
        self._apply(message, full=True)
        self._set_transport_connected()

    def _handle_synced(self, message: protocol.Synced) -> None:
        self.session = message.session or self.session
        self._apply(message, full=True)
        self._set_transport_connected()

    def _apply(self, message: protocol.Connected | protocol.ServerUpdate | protocol.Synced, *, full: bool) -> None:
        if message.media_signaling is not None and message.media_signaling != self.media_signaling:
            self.media_signaling = dict(message.media_signaling)
            self.emit("mediaSignaling", self.media_signaling)
        if message.participants is not None:
            self._apply_participants(message.participants, full=full)
        if message.subscribed is not None:
            self._apply_subscribed(message.subscribed)
        if message.published is not None and message.published.revision > self._published_revision:
            self._published_revision = message.published.revision
            self.local_participant._handle_published(message.published)
        if message.recording is not None and message.recording.revision > self._recording_revision:
            self._recording_revision = message.recording.revision
            if message.recording.is_recording != self.is_recording:
                self.is_recording = message.recording.is_recording
                self.emit("recordingChanged", self.is_recording)
        if message.peer_connections or full:
            self.emit("peerConnections", list(message.peer_connections), full)

    def _apply_participants(self, states: Sequence[protocol.RemoteParticipantState], *, full: bool) -> None:
        listed: set[str] = set()
        for state in states:
            if state.sid == self.local_participant.sid:
                continue
            listed.add(state.sid)
            psig = self.participants.get(state.sid)
            if psig is not None:
                if state.revision > psig.revision:
                    psig._update(state)
                continue
            tombstone = self._tombstones.get(state.sid)
            if tombstone is not None and state.revision <= tombstone:
                continue
            if state.state == "disconnected":
                self._tombstones[state.sid] = state.revision
                continue
            self._tombstones.pop(state.sid, None)
            psig = RemoteParticipantSignaling(self, state)
            self.participants[state.sid] = psig
            self.emit("participantConnected", psig)
            for tsig in list(psig.tracks.values()):
                self._reconcile(tsig)
        if full:
            for psig in [p for sid, p in self.participants.items() if sid not in listed]:
                self._disconnect_participant(psig)

    def _disconnect_participant(self, psig: RemoteParticipantSignaling) -> None:
        """Order: participant ``disconnected``, its unsubscriptions, removal, dominant speaker reset."""
        if self.participants.get(psig.sid) is not psig:
            return
        psig._set_state("disconnected")
        for tsig in list(psig.tracks.values()):
            tsig._unsubscribe()
        del self.participants[psig.sid]
        self._tombstones[psig.sid] = psig.revision
        self.emit("participantDisconnected", psig)
        if self.dominant_speaker_sid is not None and self.dominant_speaker_sid == psig.sid:
            self._set_dominant_speaker(None)

    def _apply_subscribed(self, subscribed: protocol.Subscribed) -> None:
        if subscribed.revision <= self._subscribed_revision:
            return
        self._subscribed_revision = subscribed.revision
        before = self._subscriptions
        self._subscriptions = {entry.sid: entry for entry in subscribed.tracks}
        for sid in set(before) | set(self._subscriptions):
            if before.get(sid) != self._subscriptions.get(sid):
                tsig = self._remote_track(sid)
                if tsig is not None:
                    self._reconcile(tsig)

    def _remote_track(self, sid: str) -> RemoteTrackSignaling | None:
        for psig in self.participants.values():
            tsig = psig.tracks.get(sid)
            if tsig is not None:
                return tsig
        return None

    def _reconcile(self, tsig: RemoteTrackSignaling) -> None:
        """Subscribe/unsubscribe ``tsig`` to match the ``subscribed`` mapping and the media.

        Media for a publication is only ever taken from its publisher's own connection (mesh)
        or from the server's (group): another participant who labels its media with the
        same track id is never mistaken for the publisher.
        """
        entry = self._subscriptions.get(tsig.sid)
        if entry is not None and entry.error is not None:
            tsig._unsubscribe()
            tsig._fail(error_from_code(entry.error.code, entry.error.message or None))
            return
        media = None
        if entry is not None and entry.id:
            media = self._media.get((tsig.participant_sid, entry.id)) or self._media.get((None, entry.id))
        if media is not None and media.kind != tsig.kind:
            log.warning("media %s is %s, track %s is %s", media.track_id, media.kind, tsig.sid, tsig.kind)
            media = None
        if tsig.media is not None and tsig.media is not media:
            tsig._unsubscribe()
        if media is not None and tsig.media is None and self.state != "disconnected":
            tsig._subscribe(media)

    def _tracks_on_media(self, track_id: str) -> list[RemoteTrackSignaling]:
        sids = [sid for sid, entry in self._subscriptions.items() if entry.id == track_id]
        return [t for t in (self._remote_track(sid) for sid in sids) if t is not None]

    def _subscribed_on(self, media: RemoteMedia | None) -> RemoteTrackSignaling | None:
        if media is None:
            return None
        return next((t for t in self._tracks_on_media(media.track_id) if t.media is media), None)

    # -- media facts -----------------------------------------------------------------------
    # ``publisher``: the participant SID whose own connection carried the media (mesh), or
    # None for the server's connection (group rooms).

    def media_track_added(self, track_id: str, kind: str, media: Any, publisher: str | None = None) -> None:
        """A remote media track (its m-line's msid track id) or data channel (label) arrived."""
        if self.state == "disconnected":
            return
        self._media[(publisher, track_id)] = RemoteMedia(track_id, kind, media, publisher)
        for tsig in self._tracks_on_media(track_id):
            self._reconcile(tsig)

    def media_replaced(self, track_id: str, publisher: str | None, media: Any) -> bool:
        """A data channel of a label already known from ``publisher`` (its connection was
        rebuilt): ``media`` takes over under the same subscription; False if none is known."""
        known = self._media.get((publisher, track_id))
        if known is None or known.kind != "data" or self.state == "disconnected":
            return False
        known.media = media
        return True

    def media_track_removed(self, track_id: str, publisher: str | None = None, media: Any = None) -> None:
        """The remote media track ended / the data channel closed (if given: this ``media`` only)."""
        known = self._media.get((publisher, track_id))
        if known is None or (media is not None and known.media is not media):
            return
        del self._media[(publisher, track_id)]
        if self.state == "disconnected":
            return
        for tsig in self._tracks_on_media(track_id):
            self._reconcile(tsig)

    def media_started(self, track_id: str, publisher: str | None = None) -> None:
        """Enough media arrived on ``track_id`` to play it (first decoded frame)."""
        media = self._media.get((publisher, track_id))
        if media is None or media.started:
            return
        media.started = True
        tsig = self._subscribed_on(media)
        if tsig is not None:
            tsig.emit("started")

    def media_dimensions(self, track_id: str, width: int, height: int, publisher: str | None = None) -> None:
        """A decoded frame of this size arrived on ``track_id`` (call on change, or every frame)."""
        media = self._media.get((publisher, track_id))
        if media is None or media.dimensions == (width, height):
            return
        media.dimensions = (int(width), int(height))
        tsig = self._subscribed_on(media)
        if tsig is not None:
            tsig.emit("dimensionsChanged", int(width), int(height))

    def media_audio_level(self, track_id: str, level: float, publisher: str | None = None) -> None:
        """Latest audio level measured on ``track_id``."""
        media = self._media.get((publisher, track_id))
        if media is None:
            return
        media.level = level
        tsig = self._subscribed_on(media)
        if tsig is not None:
            tsig.emit("audioLevel", level)

    def data_message(self, track_id: str, data: str | bytes, publisher: str | None = None) -> None:
        """A message on the data channel labelled ``track_id`` (kept briefly if not yet subscribed)."""
        if self.state == "disconnected":
            return
        media = self._media.get((publisher, track_id))
        tsig = self._subscribed_on(media)
        if tsig is not None:
            tsig.emit("message", data)
        elif media is not None:
            media.pending_messages.append(data)

    def media_failed(self, participant_sid: str, error: TwilioError) -> None:
        """Media from ``participant_sid`` cannot be set up: its unsubscribed tracks fail with ``error``."""
        psig = self.participants.get(participant_sid)
        if psig is None or self.state == "disconnected":
            return
        for tsig in list(psig.tracks.values()):
            if tsig.media is None:
                tsig._fail(error)

    def ice_state(self, state: str, peer_connection_id: str | None = None) -> None:
        """ICE connection state of a peer connection (mesh: several; the best one counts)."""
        if state == "closed" and peer_connection_id is not None:
            self._ice_states.pop(peer_connection_id, None)
        else:
            self._ice_states[peer_connection_id] = state
        if self._ice_state() == "failed":
            for psig in [self.local_participant, *self.participants.values()]:
                if psig.network_quality_level is not None:
                    psig._set_network_quality(NetworkQualityLevel.BROKEN, psig.network_quality_stats)
        self._update_state()

    def peer_connection_state(self, state: str, peer_connection_id: str | None = None) -> None:
        """``connectionState`` of a peer connection; DTLS failure (ICE fine) disconnects (53407)."""
        if state == "closed" and peer_connection_id is not None:
            self._connection_states.pop(peer_connection_id, None)
        else:
            self._connection_states[peer_connection_id] = state
        if not self._connection_states:
            return
        best = max(self._connection_states.values(), key=lambda s: _CONNECTION_RANK.get(s, 3))
        if best == "failed" and self._ice_state() != "failed":
            self._close(MediaDTLSTransportFailedError())

    def _ice_state(self) -> str | None:
        if not self._ice_states:
            return None
        return max(self._ice_states.values(), key=lambda s: _ICE_RANK.get(s, 3))

    def transport_state(self, state: TransportState, error: TwilioError | None = None) -> None:
        """The signaling transport's state.

        ``syncing``: the WebSocket dropped and is being re-established (send :meth:`sync_message`);
        ``connected`` is normally implied by ``connected``/``synced`` messages;
        ``disconnected``: gave up — the room disconnects with ``error`` (default 53000).
        """
        if self.state == "disconnected":
            return
        if state == "syncing":
            if self.state == "connecting":
                return
            self._transport_state = "syncing"
            self.local_participant._set_state("reconnecting")
            self._update_state()
        elif state == "connected":
            if self.state != "connecting":
                self._set_transport_connected()
        elif state == "disconnected":
            self._close(error or SignalingConnectionError())

    def _set_transport_connected(self) -> None:
        self._transport_state = "connected"
        self.local_participant._set_state("connected")
        self._update_state()
        self._flush()

    def _update_state(self) -> None:
        """Room state from transport + ICE: signaling loss first, then ICE failure."""
        if self.state in ("connecting", "disconnected"):
            return
        ice = self._ice_state()
        error: TwilioError | None = None
        if self._transport_state == "syncing":
            error = SignalingConnectionDisconnectedError()
        elif ice == "failed":
            error = MediaConnectionError()
        elif ice in ("new", "checking") and self.state == "reconnecting":
            return  # an ICE restart in progress: keep reconnecting
        if error is not None:
            if self.state == "reconnecting":
                if isinstance(error, SignalingConnectionDisconnectedError):
                    self._reconnecting_error = error  # signaling takes precedence
                return
            self._reconnecting_error = error
            self.state = "reconnecting"
            self._session_timer = self.loop.call_later(self.session_timeout, self._session_expired)
            self.emit("stateChanged", "reconnecting", error)
        elif self.state == "reconnecting":
            self._cancel_session_timer()
            self._reconnecting_error = None
            self.state = "connected"
            self.emit("stateChanged", "connected", None)

    def _session_expired(self) -> None:
        self._session_timer = None
        if self.state == "reconnecting":
            self._close(self._reconnecting_error or SignalingConnectionDisconnectedError())

    def _cancel_session_timer(self) -> None:
        if self._session_timer is not None:
            self._session_timer.cancel()
            self._session_timer = None

    # -- MSP input -------------------------------------------------------------------------

    def handle_msp(self, message: Mapping[str, Any]) -> None:
        """A JSON message from a media-signaling data channel (active_speaker, network_quality, ...)."""
        if self.state == "disconnected":
            return
        kind = message.get("type")
        if kind == "active_speaker":
            self._set_dominant_speaker(message.get("participant"))
        elif kind == "network_quality":
            self.network_quality(message.get("local"), message.get("remotes") or [])
        elif kind == "track_switch_off":
            self.track_switch_off(message.get("off") or [], message.get("on") or [])
        elif kind == "render_hints":
            log.debug("render hints answered: %r", message.get("subscriber"))
        else:
            log.debug("unhandled MSP message %r", kind)

    def _set_dominant_speaker(self, sid: str | None) -> None:
        if sid != self.dominant_speaker_sid:
            self.dominant_speaker_sid = sid
            self.emit("dominantSpeakerChanged", sid)

    def network_quality(self, local: Any, remotes: Sequence[Mapping[str, Any]] = ()) -> None:
        """Levels from the server (``local`` number or object; ``remotes [{sid, level, ...}]``)."""
        if local is not None:
            self.local_participant._set_network_quality(*parse_network_quality(local))
        for remote in remotes:
            psig = self.participants.get(remote.get("sid", ""))
            if psig is not None:
                psig._set_network_quality(*parse_network_quality(remote))

    def track_switch_off(self, off: Sequence[str], on: Sequence[str]) -> None:
        """The server switched these remote track SIDs off / on (unknown ones are remembered)."""
        for sid, is_off in [(s, True) for s in off] + [(s, False) for s in on]:
            (self._switched_off.add if is_off else self._switched_off.discard)(sid)
            tsig = self._remote_track(sid)
            if tsig is not None:
                tsig._set_switched_off(is_off)

    # -- teardown --------------------------------------------------------------------------

    def _close(self, error: TwilioError | None, *, local: bool = False) -> bool:
        """Order of api-reference §4 "Local disconnect" (also used for server-side ends)."""
        if self.state == "disconnected":
            return False
        was_connecting = self.state == "connecting"
        self.state = "disconnected"
        self.error = error
        self._cancel_session_timer()
        if local and self.session is not None:
            self._send(protocol.Disconnect(session=self.session))
        try:
            self.transport.close()
        except Exception:
            log.exception("transport.close failed")
        self.local_participant._set_state("disconnected")
        for psig in list(self.participants.values()):
            for tsig in list(psig.tracks.values()):
                tsig._unsubscribe()
        self.emit("stateChanged", "disconnected", error)
        waiter = self._connected_waiter
        if waiter is not None and not waiter.done():
            if was_connecting:
                waiter.set_exception(error or SignalingConnectionError())
            else:
                waiter.set_result(None)
        return True
