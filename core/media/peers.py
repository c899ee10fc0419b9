r"""Client media for mesh rooms: one aiortc ``RTCPeerConnection`` per direction of each pair.

The server names each connection and tells its *sender* to offer (``create-offer``); the
receiving side answers whatever arrives for an id it does not know. So every connection has
one offerer, renegotiation never collides, and publishing or unpublishing a track only ever
re-offers our own sending connections (``docs/protocol.md`` §3). Offers, answers, the glare
policy and remote media identity (by mid and ``a=msid``) are ``negotiation.Negotiation``'s.

aiortc gaps handled here (architecture §8): there is no ``removeTrack`` (an unpublished track's
transceiver is emptied and set ``inactive``, a republish gets a new transceiver with
``addTransceiver``), and there are no mute events (a disabled track's feed simply stops
delivering frames, so the sender sends nothing; the signaling layer tells subscribers), and
there is no ICE restart: :meth:`MeshMedia.rebuild` replaces a connection we offer with a new
``RTCPeerConnection`` under the same id (new ICE credentials and DTLS certificate), and an
offer that arrives with new ICE credentials for a connection we answer is answered by a new
one too. Remote tracks reach the rest of the client as ``relay.RelayTrack``\ s, which move to
the new receivers, so a rebuild is no unsubscribe. ``links()`` describes every connection to
the media watchdog (``watchdog.py``), which decides when to rebuild.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCConfiguration, RTCDataChannel, RTCPeerConnection, RTCRtpSender
from aiortc.contrib.media import RelayStreamTrack
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from .. import protocol as p
from ..errors import MediaClientLocalDescFailedError, MediaClientRemoteDescFailedError, TwilioError
from ..pins import require
from ..tasks import TaskSet
from .local import LocalSource
from .negotiation import DescriptionError, Negotiation, RemoteMediaLine, rebuilt_by_offerer
from .relay import RelayTrack
from .rtp_hooks import install as _install_rtp_hooks
from .sinks import FpsMeter
from .watchdog import Link

_install_rtp_hooks()

log = logging.getLogger(__name__)


class LocalFeed(MediaStreamTrack):
    """One sender's view of a local source: same id as the published track, gated by enable.

    While disabled it keeps draining the source (so frames don't go stale) and returns
    nothing, so the RTP sender sends nothing.

    aiortc's ``MediaRelay`` registers a proxy only on its first ``recv()`` and then waits for
    the *next* captured frame, so a sender starting after DTLS waited up to a frame interval
    (67 ms at 15 fps; bench/latency.py's P2P phases showed ~50 ms from DTLS to the first RTP
    against 7 ms for a bare aiortc pair). The feed registers its proxy when it is made
    (``RelayStreamTrack._relay._start``, aiortc 1.16), so the latest frame is ready then.
    """

    def __init__(self, track_id: str, kind: str, source: MediaStreamTrack) -> None:
        require("aiortc", "core.media.peers.LocalFeed (caps the sender's private encoder)")
        super().__init__()
        self.kind = kind
        self._id = track_id
        self._source = source
        if isinstance(source, RelayStreamTrack):
            relay = getattr(source, "_relay", None)
            if relay is None or not callable(getattr(relay, "_start", None)):
                raise RuntimeError("aiortc's RelayStreamTrack has no _relay._start: core.media.peers cannot prime it")
            relay._start(source)  # registered now: it holds the latest frame from here on
        self._enabled = asyncio.Event()
        self._enabled.set()
        #: Cap on the encoder's target bitrate (bps), applied before each frame (None: aiortc's own).
        self.max_bitrate: int | None = None
        self.sender: RTCRtpSender | None = None
        #: Frames handed to the encoder per second (what is sent, not what is captured).
        self.sent = FpsMeter(1.0)

    def set_enabled(self, enabled: bool) -> None:
        if enabled:
            self._enabled.set()
        else:
            self._enabled.clear()

    async def recv(self) -> Any:
        while True:
            frame = await self._source.recv()
            if self._enabled.is_set():
                self._cap_bitrate()
                self.sent.tick(time.monotonic())
                return frame

    def encoder(self) -> Any:
        """The sender's video encoder (private to aiortc's sender; None before the first frame or
        for aiortc's Opus encoder, whose bitrate is fixed)."""
        if self.sender is None:
            return None
        if not hasattr(self.sender, "_RTCRtpSender__encoder"):
            raise RuntimeError("aiortc's RTCRtpSender has no __encoder: core.media.peers cannot cap bitrate")
        encoder = self.sender._RTCRtpSender__encoder
        return encoder if encoder is not None and hasattr(encoder, "target_bitrate") else None

    def _cap_bitrate(self) -> None:
        """aiortc has no ``setParameters``: clamp its encoder's target (REMB may raise it again,
        so every frame); when the cap is lifted, give the encoder back its codec's default
        target and let REMB take over. The encoder is private to the sender; this is the hook."""
        encoder = self.encoder()
        if encoder is None:
            return
        if self.max_bitrate:
            if encoder.target_bitrate > self.max_bitrate:
                encoder.target_bitrate = self.max_bitrate
                self._capped = True
        elif getattr(self, "_capped", False):
            self._capped = False
            default = getattr(sys.modules[type(encoder).__module__], "DEFAULT_BITRATE", None)
            if default:
                encoder.target_bitrate = max(encoder.target_bitrate, default)

    def stop(self) -> None:
        super().stop()
        self._source.stop()


@dataclass
class _LocalMedia:
    track_id: str
    kind: str
    source: LocalSource
    enabled: bool = True
    feeds: list[LocalFeed] = field(default_factory=list)

    def new_feed(self) -> LocalFeed:
        feed = LocalFeed(self.track_id, self.kind, self.source.subscribe())
        feed.set_enabled(self.enabled)
        self.feeds.append(feed)
        return feed


@dataclass
class _LocalData:
    track_id: str
    ordered: bool
    max_packet_life_time: int | None
    max_retransmits: int | None
    channels: list[RTCDataChannel] = field(default_factory=list)


@dataclass
class MediaOptions:
    """Connect options that shape the media (api-reference §1)."""

    preferred_audio_codecs: list[str] = field(default_factory=list)
    preferred_video_codecs: list[str] = field(default_factory=list)
    max_audio_bitrate: int | None = None
    max_video_bitrate: int | None = None
    #: Gather ICE candidates on 127.0.0.1 only (a loopback server), for these connections alone.
    loopback_only: bool = False


class _Session:
    """One peer connection: its negotiation (fixed offerer), the remote peer, our senders on it."""

    def __init__(self, pc_id: str, role: str, pc: RTCPeerConnection,
                 on_media: Callable[[RemoteMediaLine, Any], None] | None = None,
                 loopback_only: bool = False) -> None:
        self.id = pc_id
        self.role = role  # "send" (we offer) or "receive" (they offer, we answer)
        self.pc = pc
        self.negotiation = Negotiation(pc_id, pc, offerer=role == "send", on_media=on_media,
                                       loopback_only=loopback_only)
        self.transceivers: dict[str, Any] = {}
        self.channels: dict[str, RTCDataChannel] = {}
        self.peer: str | None = None  # the remote participant's SID, when the server says
        #: Remote media on this connection: track id → (kind, receiver).
        self.remote: dict[str, tuple[str, Any]] = {}


class MeshMedia:
    """Every peer connection of one participant in a mesh room."""

    def __init__(
        self,
        *,
        send: Callable[[p.PeerConnectionMessage], None],
        on_remote_track: Callable[[str, str, MediaStreamTrack, str | None], None],
        on_remote_data: Callable[[str, RTCDataChannel, str | None], None],
        on_local_channel: Callable[[str, RTCDataChannel, bool], None] = lambda track_id, ch, attached: None,
        on_connection_state: Callable[[str, str], None] = lambda pc_id, state: None,
        on_ice_state: Callable[[str, str], None] = lambda pc_id, state: None,
        on_error: Callable[[TwilioError, str | None, str], None] = lambda error, peer, role: None,
        configuration: Callable[[], RTCConfiguration],
        options: MediaOptions | None = None,
        faults: Any = None,
    ) -> None:
        self._send = send
        self._faults = faults  # core.media.faults.OutgoingLoss, attached after each negotiation
        self._on_remote_track = on_remote_track
        self._on_remote_data = on_remote_data
        self._on_local_channel = on_local_channel
        self._on_connection_state = on_connection_state
        self._on_ice_state = on_ice_state
        self._on_error = on_error
        self._configuration = configuration
        self.options = options or MediaOptions()
        self._media: dict[str, _LocalMedia] = {}
        self._data: dict[str, _LocalData] = {}
        self._sessions: dict[str, _Session] = {}
        self._relays: dict[tuple[str | None, str], RelayTrack] = {}
        self._tasks = TaskSet("media", log, expected=(MediaStreamError,))
        self._closed = False
        #: Peers (None: the room server) whose connection to us is being rebuilt and not yet connected.
        self._rebuilding: set[str | None] = set()

    # --- local tracks --------------------------------------------------------------------

    def add_media(self, track_id: str, source: LocalSource, *, enabled: bool = True) -> None:
        """Publish an audio or video source on every sending connection."""
        if track_id in self._media:
            return
        self._media[track_id] = _LocalMedia(track_id, source.kind, source, enabled)
        for session in self._sending():
            self._attach_media(session, self._media[track_id])
            self._renegotiate(session)

    def add_data(self, track_id: str, *, ordered: bool = True, max_packet_life_time: int | None = None,
                 max_retransmits: int | None = None) -> None:
        if track_id in self._data:
            return
        self._data[track_id] = _LocalData(track_id, ordered, max_packet_life_time, max_retransmits)
        for session in self._sending():
            self._attach_data(session, self._data[track_id])
            self._renegotiate(session)

    def remove(self, track_id: str) -> None:
        """Unpublish: stop sending the track on every connection and re-offer."""
        media = self._media.pop(track_id, None)
        data = self._data.pop(track_id, None)
        for session in self._sending():
            transceiver = session.transceivers.pop(track_id, None)
            if transceiver is not None:
                transceiver.sender.replaceTrack(None)
                transceiver.direction = "inactive"
            channel = session.channels.pop(track_id, None)
            if channel is not None:
                self._on_local_channel(track_id, channel, False)
                channel.close()
            if transceiver is not None or channel is not None:
                self._renegotiate(session)
        if media is not None:
            for feed in media.feeds:
                feed.stop()
        if data is not None:
            data.channels.clear()

    def set_max_bitrates(self, audio: int | None, video: int | None) -> None:
        """Encoder caps in bps (None or 0: no cap), applied to every sender from its next frame."""
        self.options.max_audio_bitrate, self.options.max_video_bitrate = audio or None, video or None
        for media in self._media.values():
            for feed in media.feeds:
                feed.max_bitrate = self._max_bitrate(media.kind)

    def _max_bitrate(self, kind: str) -> int | None:
        return self.options.max_audio_bitrate if kind == "audio" else self.options.max_video_bitrate

    def set_enabled(self, track_id: str, enabled: bool) -> None:
        media = self._media.get(track_id)
        if media is None:
            return
        media.enabled = enabled
        for feed in media.feeds:
            feed.set_enabled(enabled)

    # --- signaling ---------------------------------------------------------------------

    def handle(self, message: p.PeerConnectionMessage) -> asyncio.Task[Any] | None:
        """Apply one ``peer_connections`` entry from the server (in order, per connection)."""
        if self._closed:
            return None
        return self._spawn(self._handle(message))

    async def _handle(self, message: p.PeerConnectionMessage) -> None:
        description = message.description
        if description is None:
            return  # trickled ICE: aiortc puts its candidates in the SDP; nothing to add
        session = self._sessions.get(message.id)
        if session is not None and message.participant:
            session.peer = message.participant
        kind = description.type
        if kind == "close":
            if session is not None:
                await self._close_session(session)
            return
        if kind == "create-offer":
            if session is None:
                session = self._new_session(message.id, "send", message.participant)
                for media in self._media.values():
                    self._attach_media(session, media)
                for data in self._data.values():
                    self._attach_data(session, data)
            session.negotiation.needs_offer = True
            await self._offer(session)
            return
        if kind == "offer":
            if session is None:
                session = self._new_session(message.id, "receive", message.participant)
            elif session.role == "receive" and rebuilt_by_offerer(session.pc, description.sdp):
                session = await self._replace(session)  # the offerer rebuilt its side
            await self._answer(session, description)
            self._release_relays(session)
            return
        if kind == "answer" and session is not None:
            try:
                applied = await session.negotiation.accept_answer(description)
            except DescriptionError as exc:
                log.warning("%s", exc)
                self._on_error(MediaClientRemoteDescFailedError(), session.peer, session.role)
                return
            if applied:
                self._attach_faults(session)
                if session.negotiation.needs_offer:
                    self._renegotiate(session)

    def _new_session(self, pc_id: str, role: str, peer: str | None) -> _Session:
        pc = RTCPeerConnection(self._configuration())

        def on_media(line: RemoteMediaLine, transceiver: Any) -> None:
            track_id, source = line.track_id or "", transceiver.receiver.track
            session.remote[track_id] = (line.kind, transceiver.receiver)
            relay = self._relays.get((session.peer, track_id))
            if relay is not None and relay.held:
                relay.switch(source)  # the same remote track on a rebuilt connection
                return
            relay = self._relays[(session.peer, track_id)] = RelayTrack(source, track_id)
            self._on_remote_track(track_id, line.kind, relay, session.peer)

        # Only the connections the peer offers carry its media (glare policy: negotiation.py).
        session = _Session(pc_id, role, pc, on_media if role == "receive" else None, self.options.loopback_only)
        session.peer = peer
        self._sessions[pc_id] = session

        @pc.on("datachannel")
        def _on_datachannel(channel: RTCDataChannel) -> None:
            # Data from a peer rides on the connection it offers; a channel it opens on one
            # we own (twilio-video.js opens every data track on every connection) is ignored.
            if session.role == "receive":
                self._on_remote_data(channel.label, channel, session.peer)

        @pc.on("connectionstatechange")
        def _on_state() -> None:
            if pc.connectionState == "connected":
                start_pending_media(pc)
                if session.role == "receive":
                    self._rebuilding.discard(session.peer)
            if self._sessions.get(pc_id) is session:  # not a replaced connection closing
                self._on_connection_state(pc_id, pc.connectionState)

        @pc.on("iceconnectionstatechange")
        def _on_ice() -> None:
            if self._sessions.get(pc_id) is session:
                self._on_ice_state(pc_id, pc.iceConnectionState)

        return session

    def _attach_media(self, session: _Session, media: _LocalMedia) -> None:
        feed = media.new_feed()
        transceiver = session.pc.addTransceiver(feed, direction="sendonly")
        feed.sender = transceiver.sender
        feed.max_bitrate = self._max_bitrate(media.kind)
        preferred = (self.options.preferred_audio_codecs if media.kind == "audio"
                     else self.options.preferred_video_codecs)
        if preferred:
            transceiver.setCodecPreferences(codec_preferences(media.kind, preferred))
        session.transceivers[media.track_id] = transceiver

    def _attach_data(self, session: _Session, data: _LocalData) -> None:
        channel = session.pc.createDataChannel(
            data.track_id, ordered=data.ordered, maxPacketLifeTime=data.max_packet_life_time,
            maxRetransmits=data.max_retransmits)
        data.channels.append(channel)
        session.channels[data.track_id] = channel
        self._on_local_channel(data.track_id, channel, True)

    def _renegotiate(self, session: _Session) -> None:
        session.negotiation.needs_offer = True
        self._spawn(self._offer(session))

    async def _offer(self, session: _Session) -> None:
        try:
            offer = await session.negotiation.offer()
        except DescriptionError as exc:
            log.warning("%s", exc)
            self._on_error(MediaClientLocalDescFailedError(), session.peer, session.role)
            return
        if offer is not None:
            if self._faults is not None:  # before the answer: aiortc may start sending while applying it
                self._faults.attach(session.pc)
            self._send(p.PeerConnectionMessage(id=session.id, description=offer))

    async def _answer(self, session: _Session, offer: p.Description) -> None:
        try:
            answer = await session.negotiation.answer(offer)
        except DescriptionError as exc:
            log.warning("%s", exc)
            error = MediaClientLocalDescFailedError() if exc.local else MediaClientRemoteDescFailedError()
            self._on_error(error, session.peer, session.role)
            self._refuse(session, offer.revision)
            return
        if answer is None:
            return
        self._attach_faults(session)
        self._send(p.PeerConnectionMessage(id=session.id, description=answer))

    def _attach_faults(self, session: _Session) -> None:
        """After each negotiation: fault injection on its transports, and no transceiver left unstarted."""
        if self._faults is not None:
            self._faults.attach(session.pc)
        start_pending_media(session.pc)

    def _refuse(self, session: _Session, revision: int) -> None:
        """Give up an offer we cannot use: close the connection on both sides."""
        self._send(p.PeerConnectionMessage(
            id=session.id, description=p.Description(type="close", revision=revision + 1)))
        self._spawn(self._close_session(session))

    # --- lifecycle ---------------------------------------------------------------------

    def _sending(self) -> list[_Session]:
        return [s for s in self._sessions.values() if s.role == "send"]

    # --- rebuilding (aiortc has no ICE restart) ---------------------------------------

    def links(self, expects: Callable[[str | None, str], bool]) -> list[Link]:
        """Every connection for the watchdog: its senders, and the remote tracks on it that
        ``expects(peer, track_id)`` (published enabled, subscribed)."""
        return [Link(s.id, s.pc, s.role == "send", [t.sender for t in s.transceivers.values()],
                     [(s.peer, tid, kind, receiver) for tid, (kind, receiver) in s.remote.items()
                      if expects(s.peer, tid)], may_ask=s.role == "receive" and s.peer is None)
                for s in self._sessions.values()]

    def rebuild(self, pc_id: str) -> None:
        """Replace a connection we offer with a new one (new ICE credentials) and re-offer it;
        one the room server offers (group rooms) is closed, which asks the server for a new one
        under the same id (``docs/protocol.md`` §3.2). A peer's is its to rebuild."""
        session = self._sessions.get(pc_id)
        if session is None or self._closed:
            return
        if session.role == "send":
            self._spawn(self._rebuild(session))
        elif session.peer is None:
            self._spawn(self._ask_rebuild(session))

    def rebuilding(self, peer: str | None) -> bool:
        """Whether the connection ``peer`` (None: the room server) offers us is being rebuilt:
        closed or replaced, its successor not connected yet."""
        return peer in self._rebuilding and not self._closed

    async def _ask_rebuild(self, session: _Session) -> None:
        log.info("asking the server for a new peer connection %s", session.id)
        self._rebuilding.add(None)
        for track_id in session.remote:
            relay = self._relays.get((None, track_id))
            if relay is not None:
                relay.hold()
        self._send(p.PeerConnectionMessage(
            id=session.id, description=p.Description(type="close", revision=session.negotiation.revision + 1)))
        await self._close_session(session)

    async def _rebuild(self, old: _Session) -> None:
        log.info("rebuilding peer connection %s", old.id)
        new = await self._replace(old)
        for media in self._media.values():
            self._attach_media(new, media)
        for data in self._data.values():
            self._attach_data(new, data)
        self._renegotiate(new)

    async def _replace(self, old: _Session) -> _Session:
        """A new connection under ``old``'s id, revisions going on from its; ``old`` closed."""
        new = self._new_session(old.id, old.role, old.peer)
        if old.role == "receive":
            self._rebuilding.add(old.peer)
        if old.role == "send":  # we number the offers; an answerer takes the offerer's
            new.negotiation.revision = old.negotiation.revision
        for track_id in old.remote:
            relay = self._relays.get((old.peer, track_id))
            if relay is not None:
                relay.hold()
        await self._close_session(old)
        return new

    def _release_relays(self, session: _Session) -> None:
        """Relays still waiting after a rebuild's answer: their track did not come back."""
        for key, relay in list(self._relays.items()):
            if key[0] == session.peer and relay.held and key[1] not in session.remote:
                relay.release()
            if relay.readyState == "ended":
                del self._relays[key]

    def sessions(self) -> dict[str, _Session]:
        """Every peer connection by id (a copy), with its role and local-track transceivers."""
        return dict(self._sessions)

    async def _close_session(self, session: _Session) -> None:
        if self._sessions.get(session.id) is session:
            del self._sessions[session.id]
        for data in self._data.values():
            channel = session.channels.get(data.track_id)
            if channel in data.channels:
                data.channels.remove(channel)
                self._on_local_channel(data.track_id, channel, False)
        for media in self._media.values():
            transceiver = session.transceivers.get(media.track_id)
            feed = transceiver.sender.track if transceiver is not None else None
            if feed in media.feeds:
                media.feeds.remove(feed)
                feed.stop()
        await session.pc.close()

    async def close(self) -> None:
        """Close every connection and stop every feed (the sources belong to their tracks)."""
        self._closed = True
        for session in list(self._sessions.values()):
            await self._close_session(session)
        await self._tasks.cancel_all()

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        return self._tasks.spawn(coro)


def start_pending_media(pc: RTCPeerConnection) -> None:
    """Start senders/receivers that a renegotiation added while the connection was still connecting.

    aiortc gap: ``setRemoteDescription`` starts new transceivers only if their (bundled)
    transport is already connected; one negotiated while DTLS is still handshaking is never
    started (0 fps for good). Re-running the private ``RTCPeerConnection.__connect`` once the
    connection is up starts them; everything it calls is guarded against a second start.
    """
    require("aiortc", "core.media.peers.start_pending_media")
    connect = pc._RTCPeerConnection__connect  # type: ignore[attr-defined]  # private; AttributeError if renamed

    async def _again() -> None:
        await asyncio.sleep(0.05)
        if pc.connectionState == "connected":
            try:
                await connect()
            except Exception as exc:  # noqa: BLE001 - aiortc's own __connect would have failed the same way
                log.warning("starting renegotiated media failed: %r", exc)

    if pc.connectionState != "connected":
        return  # the "connected" state change calls again

    task = asyncio.get_running_loop().create_task(_again())
    _pending_connects.add(task)
    task.add_done_callback(_pending_connects.discard)


_pending_connects: set[asyncio.Task[Any]] = set()


def codec_preferences(kind: str, names: list[str]) -> list[Any]:
    """aiortc codec capabilities of ``kind`` ordered by ``names`` (others follow; rtx kept)."""
    capabilities = RTCRtpSender.getCapabilities(kind).codecs
    wanted = [n.lower() for n in names]

    def rank(codec: Any) -> int:
        sub = codec.mimeType.split("/", 1)[1].lower()
        return wanted.index(sub) if sub in wanted else len(wanted)

    return sorted(capabilities, key=rank)
