"""``Forwarder``: the media backend of group rooms — one pair of peer connections per participant.

Each participant of a ``group``/``group-small`` room has two aiortc peer connections with
the server, each offered by the side whose media it carries (as in the mesh, so offers
never collide):

* **publish** (client → server): the server sends ``create-offer`` in ``connected``; the
  client offers its tracks send-only and its data channels; the server answers
  receive-only with pass-through receivers (``passthrough.py``: encoded frames in, no
  decoder). An offer in ``connect`` (twilio-video.js style) is taken as this connection.
* **subscribe** (server → client): the server offers one send-only transceiver per
  forwarded track (its msid track id is the publisher's track id), one data channel per
  forwarded data track (same label, same reliability) and the MSP data channels the client
  asked for in ``connect.media_signaling`` (``active_speaker``, ``network_quality``; named
  in ``connected.media_signaling``). The client answers it as an unknown id, receive-only.
  Subscription changes (publish, unpublish, join, leave, subscribe rules) re-offer it with
  a higher revision; a dropped track's transceiver is stopped (RTCP BYE) and left
  ``inactive``, a new one gets a new transceiver.

Media is forwarded as encoded frames: the publisher's receiver hands ``av.Packet``\\ s to
every subscriber's :class:`~passthrough.ForwardTrack`, whose pass-through sender
re-packetizes them. A subscriber's PLI/FIR, and every new video subscription, becomes a PLI
to the publisher, at most one per ``PLI_THROTTLE_S`` per track.

Dominant speaker (``core.dominant_speaker``) is fed by the audio receivers' ssrc-audio-level
values (``core.media.rtp_hooks``) and decided every ``decision_interval``; network quality
(``core.network_quality_score``) is scored every ``quality_interval`` from the receivers'
RTCP statistics and the receiver reports the senders get.

Rebuilt connections (aiortc has no ICE restart; the client's media watchdog,
``core.media.watchdog``, rebuilds a connection whose media stopped): a publish offer with
new ICE credentials is answered by a new server-side connection under the same id, and the
publisher's tracks on it are re-bound to the same forwardings (subscribers keep their
transceivers and see no change but a keyframe); a client's ``close`` on its subscribe
connection asks for a new one, offered under the same id with the revisions going on.

The backend pushes late entries (answers, offers) with the ``send(sid, entries)`` callback
it is built with; its ``MediaBackend`` methods stay synchronous. ``close()`` (the room
ended) closes every connection; ``tasks()`` lists what is still running.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiortc import RTCConfiguration, RTCDataChannel, RTCPeerConnection, RTCRtpSender
from aiortc.mediastreams import MediaStreamTrack

from core import protocol as p
from core.dominant_speaker import DominantSpeakerDetector
from core.errors import (
    MediaNoSupportedCodecError,
    MediaServerLocalDescFailedError,
    MediaServerRemoteDescFailedError,
    TwilioError,
)
from core.media import loopback, rtp_hooks
from core.media.negotiation import (
    DescriptionError,
    Negotiation,
    RemoteMediaLine,
    codecs_allowed,
    max_bundle,
    new_ice_credentials,
    restrict_video_codecs,
    send_json,
)
from core.media.peers import start_pending_media
from core.media.watchdog import min_rtt
from core.network_quality_score import (
    NEEDED_BPS,
    DirectionQuality,
    LoopLag,
    StreamMeter,
    direction_quality,
    participant_quality,
)
from core.tasks import TaskSet

from ..mesh import MAX_CLOSE_REPLIES, MAX_PC_ID, MediaBackend, Outbox
from .passthrough import ForwardTrack, is_keyframe, media_ssrc, pass_through_receiver, pass_through_sender

log = logging.getLogger(__name__)

rtp_hooks.install()

#: At most one PLI per publisher track this often, however many subscribers ask.
PLI_THROTTLE_S = 0.3
#: MSP channels the forwarder serves (track_priority: the subscriber's priority per track, kept
#: for the bandwidth allocation to come — issue 11).
MSP_CHANNELS = ("active_speaker", "network_quality", "track_priority")
_PRIORITIES = ("low", "standard", "high")
#: A publisher's media that has not arrived this long after its track did is "down".
MEDIA_GRACE_S = 5.0

Send = Callable[[str, list[p.PeerConnectionMessage]], None]
#: ``tap(kind, mime, clock_rate, packet, keyframe)``: a copy of one published track's media as
#: it is forwarded (``packet`` is the ``av.Packet`` every subscriber gets; recording reads it).
Tap = Callable[[str, str, int, Any, bool], None]


class RoomView(Protocol):
    """What the forwarder may know about the room (``rooms.Room`` implements it)."""

    def published_media(self, sid: str) -> dict[str, tuple[str, bool]]:
        """Track id → (kind, enabled) of what ``sid`` publishes now."""

    def subscriptions_of(self, sid: str) -> list[tuple[str, str, str]]:
        """(publisher sid, track id, kind) of every track ``sid`` is subscribed to."""

    def video_codecs(self) -> list[str]:
        """The room's allowed video codecs (``VideoCodecs``), e.g. ``["VP8", "H264"]``."""


# --- per-participant state ----------------------------------------------------------------


class _Inbound:
    """One published audio/video track as the server receives it."""

    def __init__(self, forwarder: Forwarder, sid: str, track_id: str, kind: str, receiver: Any,
                 mime: str, clock_rate: int, parameters: dict[str, Any] | None = None) -> None:
        self.forwarder = forwarder
        self.parameters = dict(parameters or {})
        self.sid = sid
        self.track_id = track_id
        self.kind = kind
        self.receiver = receiver
        self.mime = mime
        self.clock_rate = clock_rate
        self.subscribers: set[ForwardTrack] = set()
        self.created = time.monotonic()
        self.frames = 0
        self.keyframes = 0
        self.plis_sent = 0
        self.plis_throttled = 0
        self._last_pli = -1e9

    def deliver(self, codec: Any, packet: Any) -> None:
        self.frames += 1
        if self.kind == "video":
            mime = codec.mimeType
            data = memoryview(packet)
            keyframe = is_keyframe(mime, bytes(data[:1]) if mime.lower() == "video/vp8" else bytes(data))
            if keyframe:
                self.keyframes += 1
        else:
            keyframe = True
        for track in list(self.subscribers):
            track.push(packet, keyframe)
        for tap in list(self.forwarder._taps.get((self.sid, self.track_id), ())):
            try:
                tap(self.kind, self.mime, self.clock_rate, packet, keyframe)
            except Exception:  # a failing tap (a full disk) must not stop the forwarding
                log.exception("%s/%s: media tap failed", self.sid, self.track_id)

    def request_keyframe(self) -> None:
        if self.kind != "video":
            return
        now = time.monotonic()
        if now - self._last_pli < PLI_THROTTLE_S:
            self.plis_throttled += 1
            return
        ssrc = media_ssrc(self.receiver)
        if ssrc is None:
            return  # nothing received yet: the first frame will be a keyframe anyway
        self._last_pli = now
        self.plis_sent += 1
        self.forwarder._spawn(self.receiver._send_rtcp_pli(ssrc))


@dataclass
class _Outbound:
    inbound: _Inbound
    track: ForwardTrack
    transceiver: Any


@dataclass(eq=False)
class _Session:
    """One of a participant's two connections; ``negotiation`` exists while its pc does."""

    id: str
    negotiation: Negotiation | None = None
    #: Held while the forwarding changes the connection's transceivers, and while it offers.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: Whether the last offer carried an m=application section (data channels need no re-offer then).
    offered_sctp: bool = False
    #: The last revision of a connection closed under this id (a rebuilt one goes on from it).
    revision: int = 0

    @property
    def pc(self) -> RTCPeerConnection | None:
        return self.negotiation.pc if self.negotiation is not None else None

    @property
    def last(self) -> p.Description | None:
        return self.negotiation.last if self.negotiation is not None else None


@dataclass(eq=False)
class _Peer:
    sid: str
    pub: _Session
    sub: _Session
    msp_requested: tuple[str, ...] = ()
    inbound: dict[str, _Inbound] = field(default_factory=dict)
    by_receiver: dict[Any, _Inbound] = field(default_factory=dict)  # the publish pc's receivers
    data_in: dict[str, RTCDataChannel] = field(default_factory=dict)
    outbound: dict[tuple[str, str], _Outbound] = field(default_factory=dict)
    data_out: dict[tuple[str, str], RTCDataChannel] = field(default_factory=dict)
    msp: dict[str, RTCDataChannel] = field(default_factory=dict)
    #: Track SID → the priority this subscriber asked for (track_priority MSP; none: the publisher's).
    subscribe_priority: dict[str, str] = field(default_factory=dict)
    sync_pending: bool = False
    nq_local: int = 1
    nq_remote: int = 0
    last_nq: Any = None
    meters: dict[tuple[str, str], StreamMeter] = field(default_factory=dict)
    quality: dict[str, dict[str, DirectionQuality]] = field(default_factory=dict)
    closed: bool = False


# --- the backend ---------------------------------------------------------------------------


class Forwarder(MediaBackend):
    """Forwards every published track to every subscriber without transcoding."""

    def __init__(self, view: RoomView, send: Send, *,
                 configuration: Callable[[], Any] | None = None,
                 fail: Callable[[str, TwilioError], None] = lambda sid, error: None,
                 decision_interval: float = 0.1, quality_interval: float = 1.0,
                 loopback_only: bool = False) -> None:
        self._view = view
        self._loopback_only = loopback_only  # gather the server's candidates on 127.0.0.1 only
        self._send_entries = send
        self._fail = fail  # ends a participant's session with a 534xx error
        self._configuration = configuration or _server_configuration
        self.decision_interval = decision_interval
        self.quality_interval = quality_interval
        self._peers: dict[str, _Peer] = {}
        self._tasks = TaskSet("forwarder", log, expected=(ConnectionError,))
        self._refresh_handle: asyncio.Handle | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._closed = False
        self.detector = DominantSpeakerDetector()
        self.dominant_speaker: str | None = None
        self._lag = LoopLag()  # what the server's own busy loop adds to the jitter it measures
        self._taps: dict[tuple[str, str], list[Tap]] = {}

    def add_tap(self, sid: str, track_id: str, tap: Tap) -> Callable[[], None]:
        """Hand a copy of (publisher ``sid``, ``track_id``)'s media to ``tap`` from now on.

        Keyed by publisher and track id, so it holds across a rebuilt publish connection and
        before the media arrives; a keyframe is asked for, so video taps start on one.
        Returns the function that removes the tap."""
        taps = self._taps.setdefault((sid, track_id), [])
        taps.append(tap)
        peer = self._peers.get(sid)
        inbound = peer.inbound.get(track_id) if peer is not None else None
        if inbound is not None:
            inbound.request_keyframe()

        def remove() -> None:
            if tap in taps:
                taps.remove(tap)
            if not taps and self._taps.get((sid, track_id)) is taps:
                del self._taps[(sid, track_id)]
        return remove

    # --- MediaBackend -----------------------------------------------------------------

    def join(self, sid: str, others: list[str], offers: list[p.PeerConnectionMessage]) -> Outbox:
        out: Outbox = {}
        usable = [m for m in offers if m.description is not None and m.description.type == "offer"
                  and 0 < len(m.id) <= MAX_PC_ID]
        pub_id = usable[0].id if usable else f"pub-{uuid.uuid4()}"
        peer = _Peer(sid, _Session(pub_id), _Session(f"sub-{uuid.uuid4()}"))
        self._peers[sid] = peer
        if usable:
            self._spawn(self._answer_publish(peer, usable[0].description))  # type: ignore[arg-type]
        else:
            out[sid] = [p.PeerConnectionMessage(id=pub_id, description=p.Description(type="create-offer", revision=1))]
        for m in offers:  # any further offer: one publish connection per participant
            if m.id != pub_id and 0 < len(m.id) <= MAX_PC_ID:
                rev = m.description.revision if m.description is not None else 1
                out.setdefault(sid, []).append(_close(m.id, rev))
        self._start_ticker()
        self.room_changed()
        return out

    def media_signaling(self, sid: str, requested: dict[str, Any]) -> dict[str, p.MediaSignalingChannel]:
        peer = self._peers.get(sid)
        if peer is None:
            return {}
        peer.msp_requested = tuple(name for name in MSP_CHANNELS if name in (requested or {}))
        return {name: p.MediaSignalingChannel(transport=p.MediaSignalingTransport(type="data-channel", label=name))
                for name in peer.msp_requested}

    def peer_connections(self, sid: str, entries: list[p.PeerConnectionMessage]) -> Outbox:
        out: Outbox = {}
        peer = self._peers.get(sid)
        replies = 0
        for entry in entries:
            desc = entry.description
            if peer is not None and entry.id == peer.pub.id:
                if desc is not None and desc.type == "offer":
                    self._spawn(self._answer_publish(peer, desc))
                elif desc is not None and desc.type == "close":
                    self._spawn(self._close_publish(peer))
            elif peer is not None and entry.id == peer.sub.id:
                if desc is not None and desc.type == "answer":
                    self._spawn(self._apply_answer(peer, desc))
                elif desc is not None and desc.type == "close":
                    self._spawn(self._close_subscribe(peer))
            elif 0 < len(entry.id) <= MAX_PC_ID and replies < MAX_CLOSE_REPLIES and desc is not None \
                    and desc.type != "close":
                out.setdefault(sid, []).append(_close(entry.id, desc.revision))
                replies += 1
            # Trickled ICE: aiortc puts its candidates in the SDP; nothing to do.
        return out

    def leave(self, sid: str) -> Outbox:
        peer = self._peers.pop(sid, None)
        if peer is None:
            return {}
        peer.closed = True
        for inbound in peer.inbound.values():
            for track in list(inbound.subscribers):
                track.stop()
            inbound.subscribers.clear()
        if self.detector.remove(sid) or self.dominant_speaker == sid:
            self._announce_speaker(None)
        self._spawn(self._close_peer(peer))
        self.room_changed()
        return {}

    def resume(self, sid: str, entries: list[p.PeerConnectionMessage]) -> tuple[list[p.PeerConnectionMessage], Outbox]:
        relayed = self.peer_connections(sid, entries)
        relayed.pop(sid, None)
        peer = self._peers.get(sid)
        state: list[p.PeerConnectionMessage] = []
        if peer is not None:
            pub = peer.pub.last or p.Description(type="create-offer", revision=1)
            state.append(p.PeerConnectionMessage(id=peer.pub.id, description=pub))
            if peer.sub.last is not None:
                state.append(p.PeerConnectionMessage(id=peer.sub.id, description=peer.sub.last))
        return state, relayed

    def room_changed(self) -> None:
        """Tracks, rules or participants changed: re-derive the forwarding (coalesced)."""
        if self._closed or self._refresh_handle is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._refresh_handle = loop.call_soon(self._refresh)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._refresh_handle is not None:
            self._refresh_handle.cancel()
            self._refresh_handle = None
        if self._ticker is not None:
            self._ticker.cancel()
        for sid in list(self._peers):
            self.leave(sid)

    # --- introspection (tests, /dev/media) --------------------------------------------

    def tasks(self) -> list[asyncio.Task[Any]]:
        running = self._tasks.running()
        if self._ticker is not None and not self._ticker.done():
            running.append(self._ticker)
        return running

    def stats(self) -> dict[str, Any]:
        peers = {}
        for sid, peer in self._peers.items():
            peers[sid] = {
                "inbound": {tid: {"kind": i.kind, "mime": i.mime, "frames": i.frames, "keyframes": i.keyframes,
                                  "subscribers": len(i.subscribers), "plis_sent": i.plis_sent,
                                  "plis_throttled": i.plis_throttled}
                            for tid, i in peer.inbound.items()},
                "outbound": {f"{k[0]}/{k[1]}": {"packets": o.track.packets, "skipped": o.track.skipped}
                             for k, o in peer.outbound.items()},
                "data_in": sorted(peer.data_in), "data_out": sorted(f"{a}/{b}" for a, b in peer.data_out),
                "msp": sorted(peer.msp),
                "subscribe_priority": dict(peer.subscribe_priority),
                "quality": {kind: {d: q.level for d, q in by.items()} for kind, by in peer.quality.items()},
            }
        return {"peers": peers, "dominant_speaker": self.dominant_speaker, "tasks": len(self.tasks())}

    # --- plumbing -----------------------------------------------------------------------

    def _send(self, sid: str, entries: list[p.PeerConnectionMessage]) -> None:
        if sid in self._peers and entries:
            self._send_entries(sid, entries)

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        return self._tasks.spawn(coro)

    def _new_pc(self) -> RTCPeerConnection:
        pc = RTCPeerConnection(self._configuration())

        @pc.on("connectionstatechange")
        def _on_state() -> None:
            if pc.connectionState == "connected":
                start_pending_media(pc)  # transceivers negotiated while connecting (aiortc gap)

        return pc

    # --- publish connection (client → server) -----------------------------------------

    async def _answer_publish(self, peer: _Peer, offer: p.Description) -> None:
        session = peer.pub
        if peer.closed:
            return
        old = session.negotiation
        if old is not None and new_ice_credentials(old.pc, offer.sdp):
            # The publisher rebuilt its connection: a new one here too; its tracks are
            # re-bound to their forwardings as the new receivers appear (_inbound_media).
            log.info("%s: publish connection %s rebuilt", peer.sid, session.id)
            session.negotiation = None
            for inbound in peer.inbound.values():
                peer.by_receiver.pop(inbound.receiver, None)
            self._spawn(old.pc.close())
        if session.negotiation is None:
            pc = self._new_pc()
            session.negotiation = Negotiation(session.id, pc, offerer=False,
                                              on_media=lambda line, t: self._inbound_media(peer, line, t),
                                              loopback_only=self._loopback_only)
            self._wire_publish(peer, pc)
        negotiation = session.negotiation
        allowed = self._view.video_codecs()

        def rewrite(offer_sdp: Any) -> str:
            if not codecs_allowed(offer_sdp, allowed):
                raise MediaNoSupportedCodecError()
            return str(offer_sdp) if restrict_video_codecs(offer_sdp, allowed) else offer.sdp or ""

        error: TwilioError | None = None
        try:
            answer = await negotiation.answer(offer, rewrite=rewrite)
        except TwilioError as exc:
            error = exc
        except DescriptionError as exc:
            log.info("%s: %s", peer.sid, exc)
            error = MediaServerLocalDescFailedError() if exc.local else MediaServerRemoteDescFailedError()
        if error is not None:
            self._send(peer.sid, [_close(session.id, offer.revision + 1)])
            session.negotiation = None
            await negotiation.pc.close()
            self._fail(peer.sid, error)
            return
        if answer is not None:
            start_pending_media(negotiation.pc)
            self._send(peer.sid, [p.PeerConnectionMessage(id=session.id, description=answer)])

    def _inbound_media(self, peer: _Peer, line: RemoteMediaLine, transceiver: Any) -> None:
        """The publisher sends ``line.track_id`` on this m-line (new, or a recycled transceiver).

        Kept under the publisher's own SID: only a subscription to (this publisher, this track
        id) ever forwards it, so media labelled with another participant's id goes nowhere."""
        if peer.closed or not line.track_id:
            return
        codec = transceiver._codecs[0] if transceiver._codecs else None
        if codec is None:
            return
        current = peer.inbound.get(line.track_id)
        pc = peer.pub.pc
        if current is not None and current.kind == line.kind and current.mime == codec.mimeType \
                and pc is not None and current.receiver not in {t.receiver for t in pc.getTransceivers()}:
            current.receiver = transceiver.receiver  # the same track on a rebuilt connection
            peer.by_receiver[transceiver.receiver] = current
            self._listen_levels(peer, line.kind, transceiver.receiver)
            return
        for track_id, old in list(peer.inbound.items()):
            if old.receiver is transceiver.receiver or track_id == line.track_id:
                del peer.inbound[track_id]
                peer.by_receiver.pop(old.receiver, None)
                for ft in list(old.subscribers):
                    ft.stop()
        inbound = _Inbound(self, peer.sid, line.track_id, line.kind, transceiver.receiver, codec.mimeType,
                           codec.clockRate, codec.parameters)
        peer.by_receiver[transceiver.receiver] = inbound
        self._listen_levels(peer, line.kind, transceiver.receiver)
        peer.inbound[line.track_id] = inbound
        self.room_changed()

    def _listen_levels(self, peer: _Peer, kind: str, receiver: Any) -> None:
        if kind == "audio":
            sid, detector = peer.sid, self.detector
            rtp_hooks.set_level_callback(receiver, lambda dbov: detector.add(sid, dbov, time.monotonic()))

    def _wire_publish(self, peer: _Peer, pc: RTCPeerConnection) -> None:
        @pc.on("track")
        def _on_track(track: MediaStreamTrack) -> None:
            # Pass-through must be in place before aiortc starts the receiver (right after
            # setRemoteDescription); which published track it carries is known once the
            # description is applied (``_inbound_media``), until then frames are dropped.
            transceiver = next((t for t in pc.getTransceivers() if t.receiver.track is track), None)
            if transceiver is not None:
                receiver = transceiver.receiver
                pass_through_receiver(receiver, lambda codec, packet: self._deliver(peer, receiver, codec, packet))

        @pc.on("datachannel")
        def _on_datachannel(channel: RTCDataChannel) -> None:
            label = channel.label
            if label in p.MSP_LABELS:
                log.warning("%s: a data channel named like a media-signaling channel (%s) ignored", peer.sid, label)
                return
            peer.data_in[label] = channel

            @channel.on("message")
            def _on_message(message: Any) -> None:
                for sub in list(self._peers.values()):
                    out = sub.data_out.get((peer.sid, label))
                    if out is not None and out.readyState == "open":
                        out.send(message)

            @channel.on("close")
            def _on_close() -> None:
                if peer.data_in.get(label) is channel and peer.pub.pc is pc:  # not a rebuilt one's old channel
                    del peer.data_in[label]
                    self.room_changed()

            self.room_changed()

    @staticmethod
    def _deliver(peer: _Peer, receiver: Any, codec: Any, packet: Any) -> None:
        inbound = peer.by_receiver.get(receiver)
        if inbound is not None:
            inbound.deliver(codec, packet)

    async def _close_publish(self, peer: _Peer) -> None:
        pc, peer.pub.negotiation = peer.pub.pc, None
        for inbound in peer.inbound.values():
            for track in list(inbound.subscribers):
                track.stop()
        peer.inbound.clear()
        peer.by_receiver.clear()
        peer.data_in.clear()
        self.room_changed()
        if pc is not None:
            await pc.close()

    # --- subscribe connection (server → client) ---------------------------------------

    def _ensure_subscribe(self, peer: _Peer) -> RTCPeerConnection:
        if peer.sub.negotiation is None:
            peer.sub.negotiation = Negotiation(peer.sub.id, self._new_pc(), offerer=True,
                                               loopback_only=self._loopback_only)
            peer.sub.negotiation.revision = peer.sub.revision
        return peer.sub.negotiation.pc

    def _open_msp(self, peer: _Peer, pc: RTCPeerConnection) -> None:
        """The MSP channels, created *after* the first transceivers.

        aiortc gap: with max-bundle, an SCTP transport created before the first transceiver
        owns the shared transport, the transceiver's m-line comes first in the offer, and
        applying the answer then "unbundles" the SCTP transport by stopping the very
        transport everything uses (the connection never leaves ``new``).
        """
        for name in peer.msp_requested:
            if name not in peer.msp:
                channel = pc.createDataChannel(name)
                peer.msp[name] = channel
                self._wire_msp(peer, name, channel)

    def _wire_msp(self, peer: _Peer, name: str, channel: RTCDataChannel) -> None:
        @channel.on("open")
        def _on_open() -> None:
            if name == "active_speaker" and self.dominant_speaker is not None:
                send_json(channel, {"type": "active_speaker", "participant": self.dominant_speaker})
            elif name == "network_quality":
                peer.last_nq = None

        @channel.on("message")
        def _on_message(message: Any) -> None:
            try:
                body = json.loads(message)
            except (TypeError, ValueError):
                return
            if isinstance(body, dict) and body.get("type") == "track_priority":
                track, priority = body.get("track"), body.get("subscribe")
                if isinstance(track, str) and priority in (*_PRIORITIES, None):
                    if priority is None:
                        peer.subscribe_priority.pop(track, None)
                    else:
                        peer.subscribe_priority[track] = priority
            elif isinstance(body, dict) and body.get("type") == "network_quality":
                for key, attr, lo in (("reportLevel", "nq_local", 1), ("remoteReportLevel", "nq_remote", 0)):
                    value = body.get(key)
                    if isinstance(value, int) and not isinstance(value, bool) and lo <= value <= 3:
                        setattr(peer, attr, value)
                peer.last_nq = None

    def _renegotiate(self, peer: _Peer) -> None:
        if peer.sub.negotiation is not None:
            peer.sub.negotiation.needs_offer = True
            self._spawn(self._offer_subscribe(peer))

    async def _offer_subscribe(self, peer: _Peer) -> None:
        session = peer.sub
        async with session.lock:  # transceivers never change while an offer is made
            negotiation = session.negotiation
            if peer.closed or negotiation is None:
                return
            try:
                offer = await negotiation.offer()
            except DescriptionError as exc:
                log.warning("%s: %s", peer.sid, exc)
                return
            if offer is None:
                return
            session.offered_sctp = "m=application" in (offer.sdp or "")
        self._send(peer.sid, [p.PeerConnectionMessage(id=session.id, description=offer)])

    async def _apply_answer(self, peer: _Peer, answer: p.Description) -> None:
        session = peer.sub
        async with session.lock:
            negotiation = session.negotiation
            if negotiation is None:
                return
            try:
                if not await negotiation.accept_answer(answer):
                    return
            except DescriptionError as exc:
                log.info("%s: %s", peer.sid, exc)
                return
            start_pending_media(negotiation.pc)
        if negotiation.needs_offer:
            self._spawn(self._offer_subscribe(peer))

    async def _close_subscribe(self, peer: _Peer) -> None:
        """The client closed its subscribe connection: a new one (same id) is offered once the
        forwarding is derived again — what the client's watchdog asks for when nothing arrives."""
        if peer.sub.negotiation is not None:
            peer.sub.revision = peer.sub.negotiation.revision
        pc, peer.sub.negotiation = peer.sub.pc, None
        peer.sub.offered_sctp = False
        self.room_changed()
        for out in peer.outbound.values():
            out.inbound.subscribers.discard(out.track)
            out.track.stop()
        peer.outbound.clear()
        peer.data_out.clear()
        peer.msp.clear()
        if pc is not None:
            await pc.close()

    # --- forwarding ---------------------------------------------------------------------

    def _refresh(self) -> None:
        self._refresh_handle = None
        if self._closed:
            return
        for peer in list(self._peers.values()):
            if not peer.closed:
                self._refresh_peer(peer)

    def _refresh_peer(self, peer: _Peer) -> None:
        if not peer.sync_pending:
            peer.sync_pending = True
            self._spawn(self._sync_peer(peer))

    async def _sync_peer(self, peer: _Peer) -> None:
        """Bring ``peer``'s subscribe connection in line with its subscriptions.

        Transceivers and channels change only under the session lock, never while an offer is
        being made or an answer applied (a transceiver added then would be offered without
        ICE candidates).
        """
        async with peer.sub.lock:
            peer.sync_pending = False
            if peer.closed or self._closed:
                return
            changed = self._apply_subscriptions(peer)
        if changed:
            self._renegotiate(peer)

    def _apply_subscriptions(self, peer: _Peer) -> bool:
        wanted: dict[tuple[str, str], _Inbound | RTCDataChannel] = {}
        for publisher, track_id, kind in self._view.subscriptions_of(peer.sid):
            src = self._peers.get(publisher)
            if src is None or src is peer:
                continue
            if kind == "data":
                channel = src.data_in.get(track_id)
                if channel is not None:
                    wanted[(publisher, track_id)] = channel
            else:
                inbound = src.inbound.get(track_id)
                if inbound is not None:
                    wanted[(publisher, track_id)] = inbound
        if not wanted and peer.sub.pc is None and not peer.msp_requested:
            return False
        pc = self._ensure_subscribe(peer)
        changed = False
        for key in list(peer.outbound):
            out = peer.outbound[key]
            if wanted.get(key) is not out.inbound or out.track.readyState != "live":
                self._drop_outbound(peer, key)
                changed = True
        for key in list(peer.data_out):
            if key not in wanted:
                peer.data_out.pop(key).close()
        for key, wanted_src in wanted.items():
            if isinstance(wanted_src, _Inbound):
                if key not in peer.outbound:
                    self._add_outbound(peer, pc, key, wanted_src)
                    changed = True
            elif key not in peer.data_out:
                peer.data_out[key] = pc.createDataChannel(
                    wanted_src.label, ordered=wanted_src.ordered, maxPacketLifeTime=wanted_src.maxPacketLifeTime,
                    maxRetransmits=wanted_src.maxRetransmits)
                if not peer.sub.offered_sctp:
                    changed = True
        if len(peer.msp) < len(peer.msp_requested):
            self._open_msp(peer, pc)
            changed = changed or not peer.sub.offered_sctp
        return changed

    def _add_outbound(self, peer: _Peer, pc: RTCPeerConnection, key: tuple[str, str], inbound: _Inbound) -> None:
        track = ForwardTrack(inbound.kind, inbound.track_id, inbound.mime, request_keyframe=inbound.request_keyframe)
        transceiver = pc.addTransceiver(track, direction="sendonly")
        transceiver.setCodecPreferences(_codec_preferences(inbound))
        pass_through_sender(transceiver.sender, inbound.mime, inbound.clock_rate, inbound.request_keyframe)
        inbound.subscribers.add(track)
        peer.outbound[key] = _Outbound(inbound, track, transceiver)

    def _drop_outbound(self, peer: _Peer, key: tuple[str, str]) -> None:
        out = peer.outbound.pop(key)
        out.inbound.subscribers.discard(out.track)
        out.track.stop()
        out.transceiver.direction = "inactive"
        self._spawn(out.transceiver.stop())

    async def _close_peer(self, peer: _Peer) -> None:
        for out in peer.outbound.values():
            out.inbound.subscribers.discard(out.track)
            out.track.stop()
        peer.outbound.clear()
        for session in (peer.pub, peer.sub):
            pc, session.negotiation = session.pc, None
            if pc is not None:
                await pc.close()

    # --- dominant speaker and network quality -----------------------------------------

    def _start_ticker(self) -> None:
        if self._ticker is None and not self._closed:
            self._ticker = asyncio.get_running_loop().create_task(self._tick())

    async def _tick(self) -> None:
        next_quality = time.monotonic() + self.quality_interval
        while not self._closed:
            before = time.monotonic()
            await asyncio.sleep(self.decision_interval)
            now = time.monotonic()
            self._lag.tick(now, now - before, self.decision_interval)
            try:
                if self.detector.decide(now):
                    self._announce_speaker(self.detector.dominant)
                if now >= next_quality:
                    next_quality = now + self.quality_interval
                    await self._score_quality(now)
            except asyncio.CancelledError:
                raise
            except Exception:  # never let one bad sample stop the room's features
                log.exception("forwarder tick failed")

    def _announce_speaker(self, sid: str | None) -> None:
        if sid == self.dominant_speaker:
            return
        self.dominant_speaker = sid
        message = {"type": "active_speaker", "participant": sid}
        for peer in self._peers.values():
            channel = peer.msp.get("active_speaker")
            if channel is not None:
                send_json(channel, message)

    async def _score_quality(self, now: float) -> None:
        watchers = [q for q in self._peers.values() if "network_quality" in q.msp]
        if not watchers:
            return
        for peer in list(self._peers.values()):
            peer.quality = await self._directions(peer, now)
        for q in watchers:
            channel = q.msp["network_quality"]
            if channel.readyState != "open":
                continue
            remotes = []
            if q.nq_remote > 0:
                for other in self._peers.values():
                    if other is q:
                        continue
                    value = participant_quality(other.quality, q.nq_remote)
                    remotes.append({"sid": other.sid, **(value if isinstance(value, dict) else {"level": value})})
            message = {"type": "network_quality", "local": participant_quality(q.quality, q.nq_local),
                       "remotes": remotes}
            if message != q.last_nq:
                q.last_nq = message
                send_json(channel, message)

    async def _directions(self, peer: _Peer, now: float) -> dict[str, dict[str, DirectionQuality]]:
        published = self._view.published_media(peer.sid)
        rtt = None
        recv: dict[str, list[tuple[int, int, int, float | None, float | None]]] = {}
        for out in list(peer.outbound.values()):
            stats = await out.transceiver.sender.getStats()
            rr = next((s for s in stats.values() if getattr(s, "type", None) == "remote-inbound-rtp"), None)
            sent = next((s for s in stats.values() if getattr(s, "type", None) == "outbound-rtp"), None)
            sample = min_rtt(out.transceiver.sender, now)  # the floor, not aiortc's moving average
            if sample is not None:
                rtt = sample if rtt is None else max(rtt, sample)
            if rr is None:
                continue
            jitter = rr.jitter / out.inbound.clock_rate if rr.jitter is not None else None
            recv.setdefault(out.inbound.kind, []).append(
                (rr.packetsReceived or 0, rr.packetsLost or 0, getattr(sent, "bytesSent", 0) or 0, jitter, None))
        result: dict[str, dict[str, DirectionQuality]] = {}
        for kind in ("audio", "video"):
            by_dir: dict[str, DirectionQuality] = {}
            # send: what the server receives from this participant
            enabled = [tid for tid, (k, on) in published.items() if k == kind and on]
            inbounds = [i for tid, i in peer.inbound.items() if i.kind == kind and tid in published]
            packets = lost = bytes_ = 0
            jitter_s: float | None = None
            waiting = False
            for inbound in inbounds:
                counters = rtp_hooks.counters_of(inbound.receiver)
                if counters.packets == 0 and now - inbound.created < MEDIA_GRACE_S:
                    waiting = True
                for stream in rtp_hooks.stream_counters(inbound.receiver):
                    packets += stream.packets_received
                    lost += stream.packets_lost
                    j = stream.jitter / stream.clock_rate
                    jitter_s = j if jitter_s is None else max(jitter_s, j)
                bytes_ += counters.bytes_received
            if inbounds and not waiting:
                meter = peer.meters.setdefault(("send", kind), StreamMeter())
                meter.sample(now, packets=packets, lost=lost, bytes_=bytes_, jitter=jitter_s)
                needed = NEEDED_BPS[kind] * len(enabled)
                by_dir["send"] = direction_quality(
                    fraction_lost=meter.fraction_lost, rtt=rtt, jitter=meter.jitter,
                    actual=meter.bitrate if enabled else None, needed=needed or None,
                    flowing=meter.flowing(now) or not enabled, local_delay=self._lag.typical)
            # recv: what this participant receives from the server (its receiver reports)
            if kind in recv:
                rows = recv[kind]
                meter = peer.meters.setdefault(("recv", kind), StreamMeter())
                jitters = [r[3] for r in rows if r[3] is not None]
                meter.sample(now, packets=sum(r[0] for r in rows), lost=sum(r[1] for r in rows),
                             bytes_=sum(r[2] for r in rows), jitter=max(jitters) if jitters else None)
                by_dir["recv"] = direction_quality(fraction_lost=meter.fraction_lost, rtt=rtt, jitter=meter.jitter)
            if by_dir:
                result[kind] = by_dir
        return result


def _server_configuration() -> RTCConfiguration:
    """No ICE servers (never the public STUN default) and max-bundle (``negotiation.max_bundle``)."""
    return max_bundle(loopback.rtc_configuration())


def _close(pc_id: str, revision: int) -> p.PeerConnectionMessage:
    return p.PeerConnectionMessage(id=pc_id, description=p.Description(type="close", revision=revision))


def _codec_preferences(inbound: _Inbound) -> list[Any]:
    """Only the publisher's codec (and RTX for video): the subscriber must take it as it is."""
    caps = RTCRtpSender.getCapabilities(inbound.kind).codecs
    mime = inbound.mime.lower()
    chosen = [c for c in caps if c.mimeType.lower() == mime]
    if len(chosen) > 1:
        exact = [c for c in chosen if c.parameters == inbound.parameters]
        chosen = exact or chosen[:1]
    rtx = [c for c in caps if c.mimeType.lower() == "video/rtx"]
    return chosen + (rtx if inbound.kind == "video" else [])
