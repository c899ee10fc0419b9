"""``Forwarder``: the media backend of group rooms — one pair of peer connections per participant.

Each participant of a ``group``/``group-small`` room has two aiortc peer connections with
the server, each offered by the side whose media it carries (as in the mesh, so offers
never collide): **publish** (client → server, ``publish.py``) and **subscribe** (server →
client, ``subscribe.py``), with the media-signaling channels on the latter (``msp.py``).
Per-participant state is in ``peer.py``; the dominant speaker and network quality in
``ticker.py``; bandwidth profile, priority and track switch-off in ``switchoff.py`` (deciding
with ``allocation.py`` and ``downlink.py``).

Media is forwarded as encoded frames: the publisher's receiver hands ``av.Packet``\\ s to
every subscriber's :class:`~passthrough.ForwardTrack`, whose pass-through sender
re-packetizes them. A subscriber's PLI/FIR, and every new video subscription, becomes a PLI
to the publisher, at most one per ``PLI_THROTTLE_S`` per track.

This module is the façade: the ``MediaBackend`` methods (synchronous; late entries, answers
and offers, are pushed with the ``send(sid, entries)`` callback the backend is built with),
media taps, ``close()`` (the room ended: every connection closed), ``tasks()`` and
``stats()``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from aiortc import RTCConfiguration, RTCPeerConnection

from core import protocol as p
from core.dominant_speaker import DominantSpeakerDetector
from core.errors import TwilioError
from core.media import loopback, rtp_hooks
from core.media.negotiation import max_bundle
from core.media.peers import start_pending_media
from core.tasks import TaskSet

from ..mesh import MAX_CLOSE_REPLIES, MAX_PC_ID, MediaBackend, Outbox
from .msp import MediaSignaling
from .peer import PLI_THROTTLE_S, Peer, Session, Tap, Taps
from .publish import Publishing, close_entry
from .subscribe import Subscribing
from .switchoff import SwitchOff
from .ticker import Ticker

__all__ = ["PLI_THROTTLE_S", "Forwarder", "RoomView", "Send", "Tap"]

log = logging.getLogger(__name__)

rtp_hooks.install()

Send = Callable[[str, list[p.PeerConnectionMessage]], None]


class RoomView(Protocol):
    """What the forwarder may know about the room (``rooms.Room`` implements it)."""

    def published_media(self, sid: str) -> dict[str, tuple[str, bool]]:
        """Track id → (kind, enabled) of what ``sid`` publishes now."""

    def subscriptions_of(self, sid: str) -> list[tuple[str, str, str]]:
        """(publisher sid, track id, kind) of every track ``sid`` is subscribed to."""

    def video_codecs(self) -> list[str]:
        """The room's allowed video codecs (``VideoCodecs``), e.g. ``["VP8", "H264"]``."""

    def track_state(self, sid: str, track_id: str) -> tuple[str, str] | None:
        """(track SID, publish priority) of what ``sid`` publishes as ``track_id`` (None: nothing)."""

    def bandwidth_profile(self, sid: str) -> dict[str, Any] | None:
        """The ``bandwidth_profile`` ``sid`` connected with (RSP wire names; None: none)."""


class Forwarder(MediaBackend):
    """Forwards every published track to every subscriber without transcoding."""

    def __init__(self, view: RoomView, send: Send, *,
                 configuration: Callable[[], Any] | None = None,
                 fail: Callable[[str, TwilioError], None] = lambda sid, error: None,
                 decision_interval: float = 0.1, quality_interval: float = 1.0,
                 allocation_interval: float = 0.5, loopback_only: bool = False) -> None:
        self.view = view
        self.loopback_only = loopback_only  # gather the server's candidates on 127.0.0.1 only
        self._send_entries = send
        self.fail = fail  # ends a participant's session with a 534xx error
        self._configuration = configuration or _server_configuration
        self.peers: dict[str, Peer] = {}
        self._tasks = TaskSet("forwarder", log, expected=(ConnectionError,))
        self._refresh_handle: asyncio.Handle | None = None
        self.closed = False
        self.detector = DominantSpeakerDetector()
        self.dominant_speaker: str | None = None
        self.taps: Taps = {}
        self.publishing = Publishing(self)
        self.subscribing = Subscribing(self)
        self.msp = MediaSignaling(self)
        self.switching = SwitchOff(self, allocation_interval)
        self.ticker = Ticker(self, decision_interval, quality_interval)

    @property
    def decision_interval(self) -> float:
        return self.ticker.decision_interval

    @property
    def quality_interval(self) -> float:
        return self.ticker.quality_interval

    def add_tap(self, sid: str, track_id: str, tap: Tap) -> Callable[[], None]:
        """Hand a copy of (publisher ``sid``, ``track_id``)'s media to ``tap`` from now on.

        Keyed by publisher and track id, so it holds across a rebuilt publish connection and
        before the media arrives; a keyframe is asked for, so video taps start on one.
        Returns the function that removes the tap."""
        taps = self.taps.setdefault((sid, track_id), [])
        taps.append(tap)
        peer = self.peers.get(sid)
        inbound = peer.inbound.get(track_id) if peer is not None else None
        if inbound is not None:
            inbound.request_keyframe()

        def remove() -> None:
            if tap in taps:
                taps.remove(tap)
            if not taps and self.taps.get((sid, track_id)) is taps:
                del self.taps[(sid, track_id)]
        return remove

    def limit_downlink(self, sid: str, bps: float | None) -> None:
        """A fault (tests, ``--dev``): ``sid``'s downlink carries at most ``bps`` (None: lifted),
        as if its receiver reports had said so; the switch-off follows (``switchoff.py``)."""
        self.switching.limit_downlink(sid, bps)

    # --- MediaBackend -----------------------------------------------------------------

    def join(self, sid: str, others: list[str], offers: list[p.PeerConnectionMessage]) -> Outbox:
        out: Outbox = {}
        usable = [m for m in offers if m.description is not None and m.description.type == "offer"
                  and 0 < len(m.id) <= MAX_PC_ID]
        pub_id = usable[0].id if usable else f"pub-{uuid.uuid4()}"
        peer = Peer(sid, Session(pub_id), Session(f"sub-{uuid.uuid4()}"))
        self.switching.configure(peer, self.view.bandwidth_profile(sid))
        self.peers[sid] = peer
        first = usable[0].description if usable else None
        if first is not None:
            self.spawn(self.publishing.answer(peer, first))
        else:
            out[sid] = [p.PeerConnectionMessage(id=pub_id, description=p.Description(type="create-offer", revision=1))]
        for m in offers:  # any further offer: one publish connection per participant
            if m.id != pub_id and 0 < len(m.id) <= MAX_PC_ID:
                rev = m.description.revision if m.description is not None else 1
                out.setdefault(sid, []).append(close_entry(m.id, rev))
        self.ticker.start()
        self.room_changed()
        return out

    def media_signaling(self, sid: str, requested: dict[str, Any]) -> dict[str, p.MediaSignalingChannel]:
        peer = self.peers.get(sid)
        return self.msp.channels(peer, requested) if peer is not None else {}

    def peer_connections(self, sid: str, entries: list[p.PeerConnectionMessage]) -> Outbox:
        out: Outbox = {}
        peer = self.peers.get(sid)
        replies = 0
        for entry in entries:
            desc = entry.description
            if peer is not None and entry.id == peer.pub.id:
                if desc is not None and desc.type == "offer":
                    self.spawn(self.publishing.answer(peer, desc))
                elif desc is not None and desc.type == "close":
                    self.spawn(self.publishing.close(peer))
            elif peer is not None and entry.id == peer.sub.id:
                if desc is not None and desc.type == "answer":
                    self.spawn(self.subscribing.apply_answer(peer, desc))
                elif desc is not None and desc.type == "close":
                    self.spawn(self.subscribing.close(peer))
            elif 0 < len(entry.id) <= MAX_PC_ID and replies < MAX_CLOSE_REPLIES and desc is not None \
                    and desc.type != "close":
                out.setdefault(sid, []).append(close_entry(entry.id, desc.revision))
                replies += 1
            # Trickled ICE: aiortc puts its candidates in the SDP; nothing to do.
        return out

    def leave(self, sid: str) -> Outbox:
        peer = self.peers.pop(sid, None)
        if peer is None:
            return {}
        peer.closed = True
        for inbound in peer.inbound.values():
            inbound.stop_subscribers()
        if self.detector.remove(sid) or self.dominant_speaker == sid:
            self.speaker_changed(None)
        self.spawn(self._close_peer(peer))
        self.room_changed()
        return {}

    def resume(self, sid: str, entries: list[p.PeerConnectionMessage]) -> tuple[list[p.PeerConnectionMessage], Outbox]:
        relayed = self.peer_connections(sid, entries)
        relayed.pop(sid, None)
        peer = self.peers.get(sid)
        state: list[p.PeerConnectionMessage] = []
        if peer is not None:
            pub = peer.pub.last or p.Description(type="create-offer", revision=1)
            state.append(p.PeerConnectionMessage(id=peer.pub.id, description=pub))
            if peer.sub.last is not None:
                state.append(p.PeerConnectionMessage(id=peer.sub.id, description=peer.sub.last))
        return state, relayed

    def room_changed(self) -> None:
        """Tracks, rules or participants changed: re-derive the forwarding (coalesced)."""
        if self.closed or self._refresh_handle is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._refresh_handle = loop.call_soon(self._refresh)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._refresh_handle is not None:
            self._refresh_handle.cancel()
            self._refresh_handle = None
        self.ticker.cancel()
        for sid in list(self.peers):
            self.leave(sid)

    # --- introspection (tests, /dev/media) --------------------------------------------

    def tasks(self) -> list[asyncio.Task[Any]]:
        running = self._tasks.running()
        if self.ticker.task is not None and not self.ticker.task.done():
            running.append(self.ticker.task)
        return running

    def stats(self) -> dict[str, Any]:
        peers = {}
        for sid, peer in self.peers.items():
            peers[sid] = {
                "inbound": {tid: {"kind": i.kind, "mime": i.mime, "frames": i.frames, "keyframes": i.keyframes,
                                  "subscribers": len(i.subscribers), "plis_sent": i.plis_sent,
                                  "plis_throttled": i.plis_throttled, "bitrate": i.bitrate}
                            for tid, i in peer.inbound.items()},
                "outbound": {f"{k[0]}/{k[1]}": {"packets": o.track.packets, "skipped": o.track.skipped}
                             for k, o in peer.outbound.items()},
                "data_in": sorted(peer.data_in), "data_out": sorted(f"{a}/{b}" for a, b in peer.data_out),
                "msp": sorted(peer.msp),
                "subscribe_priority": dict(peer.subscribe_priority),
                "quality": {kind: {d: q.level for d, q in by.items()} for kind, by in peer.quality.items()},
                **self.switching.stats(peer),
            }
        return {"peers": peers, "dominant_speaker": self.dominant_speaker, "tasks": len(self.tasks())}

    # --- what the parts share -----------------------------------------------------------

    def peer(self, sid: str) -> Peer | None:
        return self.peers.get(sid)

    def peer_list(self) -> list[Peer]:
        return list(self.peers.values())

    def send(self, sid: str, entries: list[p.PeerConnectionMessage]) -> None:
        if sid in self.peers and entries:
            self._send_entries(sid, entries)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        return self._tasks.spawn(coro)

    def new_pc(self) -> RTCPeerConnection:
        pc = RTCPeerConnection(self._configuration())

        @pc.on("connectionstatechange")
        def _on_state() -> None:
            if pc.connectionState == "connected":
                start_pending_media(pc)  # transceivers negotiated while connecting (aiortc gap)

        return pc

    def speaker_changed(self, sid: str | None) -> None:
        if sid == self.dominant_speaker:
            return
        self.dominant_speaker = sid
        self.msp.announce_speaker(sid)
        for peer in self.peer_list():
            self.switching.update(peer)  # dominantSpeakerPriority

    def _refresh(self) -> None:
        self._refresh_handle = None
        if self.closed:
            return
        for peer in self.peer_list():
            if not peer.closed:
                self.subscribing.refresh(peer)

    async def _close_peer(self, peer: Peer) -> None:
        peer.detach_outbound()
        for session in (peer.pub, peer.sub):
            pc, session.negotiation = session.pc, None
            if pc is not None:
                await pc.close()


def _server_configuration() -> RTCConfiguration:
    """No ICE servers (never the public STUN default) and max-bundle (``negotiation.max_bundle``)."""
    return max_bundle(loopback.rtc_configuration())
