"""The subscribe connection (server → client) of each group-room participant.

The server offers one send-only transceiver per forwarded track (its msid track id is the
publisher's track id), one data channel per forwarded data track (same label, same
reliability) and the MSP data channels the client asked for (``msp.py``). The client
answers it as an unknown id, receive-only. Subscription changes (publish, unpublish, join,
leave, subscribe rules) re-offer it with a higher revision; a dropped track's transceiver is
stopped (RTCP BYE) and left ``inactive``, a new one gets a new transceiver. A client's
``close`` of it (its watchdog saw nothing arrive) asks for a new one, offered under the same
id with the revisions going on.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from aiortc import RTCDataChannel, RTCPeerConnection, RTCRtpSender

from core import protocol as p
from core.media.negotiation import DescriptionError, Negotiation
from core.media.peers import start_pending_media

from .passthrough import ForwardTrack, pass_through_sender, release_sender, send_only_receiver
from .peer import Inbound, Outbound, Peer

if TYPE_CHECKING:
    from .backend import Forwarder

__all__ = ["Subscribing"]

log = logging.getLogger(__name__)


class Subscribing:
    """Keeps each peer's subscribe connection in line with its subscriptions."""

    def __init__(self, forwarder: Forwarder) -> None:
        self._fw = forwarder
        self._order = 0

    def refresh(self, peer: Peer) -> None:
        if not peer.sync_pending:
            peer.sync_pending = True
            self._fw.spawn(self._sync(peer))

    def renegotiate(self, peer: Peer) -> None:
        if peer.sub.negotiation is not None:
            peer.sub.negotiation.needs_offer = True
            self._fw.spawn(self._offer(peer))

    async def apply_answer(self, peer: Peer, answer: p.Description) -> None:
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
            self._fw.spawn(self._offer(peer))

    async def close(self, peer: Peer) -> None:
        """The client closed its subscribe connection: a new one (same id) is offered once the
        forwarding is derived again — what the client's watchdog asks for when nothing arrives."""
        if peer.sub.negotiation is not None:
            peer.sub.revision = peer.sub.negotiation.revision
        pc, peer.sub.negotiation = peer.sub.pc, None
        peer.sub.offered_sctp = False
        self._fw.room_changed()
        peer.detach_outbound()
        peer.data_out.clear()
        peer.data_waiting.clear()
        peer.msp.clear()
        if pc is not None:
            await pc.close()

    async def _offer(self, peer: Peer) -> None:
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
        self._fw.send(peer.sid, [p.PeerConnectionMessage(id=session.id, description=offer)])

    async def _sync(self, peer: Peer) -> None:
        """Bring ``peer``'s subscribe connection in line with its subscriptions.

        Transceivers and channels change only under the session lock, never while an offer is
        being made or an answer applied (a transceiver added then would be offered without
        ICE candidates).
        """
        async with peer.sub.lock:
            peer.sync_pending = False
            if peer.closed or self._fw.closed:
                return
            changed = self._apply_subscriptions(peer)
        self._fw.switching.update(peer)
        if changed:
            self.renegotiate(peer)

    def _wanted(self, peer: Peer) -> dict[tuple[str, str], Inbound | RTCDataChannel]:
        wanted: dict[tuple[str, str], Inbound | RTCDataChannel] = {}
        for publisher, track_id, kind in self._fw.view.subscriptions_of(peer.sid):
            src = self._fw.peer(publisher)
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
        return wanted

    def _apply_subscriptions(self, peer: Peer) -> bool:
        wanted = self._wanted(peer)
        if not wanted and peer.sub.pc is None and not peer.msp_requested:
            return False
        pc = self._ensure(peer)
        changed = False
        for key in list(peer.outbound):
            out = peer.outbound[key]
            if wanted.get(key) is not out.inbound or out.track.readyState != "live":
                self._drop_outbound(peer, key)
                changed = True
        for key in list(peer.data_out):
            if key not in wanted:
                peer.data_out.pop(key).close()
                peer.data_waiting.pop(key, None)
        for key, wanted_src in wanted.items():
            if isinstance(wanted_src, Inbound):
                if key not in peer.outbound:
                    self._add_outbound(peer, pc, key, wanted_src)
                    changed = True
            elif key not in peer.data_out:
                peer.data_out[key] = channel = pc.createDataChannel(
                    wanted_src.label, ordered=wanted_src.ordered, maxPacketLifeTime=wanted_src.maxPacketLifeTime,
                    maxRetransmits=wanted_src.maxRetransmits)
                channel.on("open", lambda key=key, channel=channel: _flush_waiting(peer, key, channel))
                if not peer.sub.offered_sctp:
                    changed = True
        if len(peer.msp) < len(peer.msp_requested):
            self._fw.msp.open(peer, pc)
            changed = changed or not peer.sub.offered_sctp
        return changed

    def _ensure(self, peer: Peer) -> RTCPeerConnection:
        if peer.sub.negotiation is None:
            peer.sub.negotiation = Negotiation(peer.sub.id, self._fw.new_pc(), offerer=True,
                                               loopback_only=self._fw.loopback_only)
            peer.sub.negotiation.revision = peer.sub.revision
        return peer.sub.negotiation.pc

    def _add_outbound(self, peer: Peer, pc: RTCPeerConnection, key: tuple[str, str], inbound: Inbound) -> None:
        track = ForwardTrack(inbound.kind, inbound.track_id, inbound.mime, request_keyframe=inbound.request_keyframe)
        transceiver = pc.addTransceiver(track, direction="sendonly")
        send_only_receiver(transceiver.receiver)
        transceiver.setCodecPreferences(_codec_preferences(inbound))
        pass_through_sender(transceiver.sender, inbound.mime, inbound.clock_rate, inbound.request_keyframe)
        inbound.subscribers.add(track)
        state = self._fw.view.track_state(*key)
        self._order += 1
        peer.outbound[key] = Outbound(inbound, track, transceiver, sid=state[0] if state else "", order=self._order)

    def _drop_outbound(self, peer: Peer, key: tuple[str, str]) -> None:
        out = peer.outbound.pop(key)
        out.detach()
        release_sender(out.transceiver.sender)
        out.transceiver.direction = "inactive"
        self._fw.spawn(out.transceiver.stop())


def _codec_preferences(inbound: Inbound) -> list[Any]:
    """Only the publisher's codec (and RTX for video): the subscriber must take it as it is."""
    caps = RTCRtpSender.getCapabilities(inbound.kind).codecs
    mime = inbound.mime.lower()
    chosen = [c for c in caps if c.mimeType.lower() == mime]
    if len(chosen) > 1:
        exact = [c for c in chosen if c.parameters == inbound.parameters]
        chosen = exact or chosen[:1]
    rtx = [c for c in caps if c.mimeType.lower() == "video/rtx"]
    return chosen + (rtx if inbound.kind == "video" else [])


def _flush_waiting(peer: Peer, key: tuple[str, str], channel: RTCDataChannel) -> None:
    """Send what arrived for ``channel`` while it was connecting (``Peer.data_waiting``)."""
    waiting = peer.data_waiting.pop(key, [])
    if peer.data_out.get(key) is channel:
        for message in waiting:
            channel.send(message)
