"""The publish connection (client → server) of each group-room participant.

The server sends ``create-offer`` in ``connected`` (or takes an offer in ``connect``,
twilio-video.js style); the client offers its tracks send-only and its data channels; the
server answers receive-only with pass-through receivers (``passthrough.py``: encoded frames
in, no decoder). Each published track becomes an :class:`~peer.Inbound` under the
publisher's own SID; each published data channel is relayed to the subscribers' copies.

A publish offer with new ICE credentials and a new DTLS fingerprint (the client's media
watchdog rebuilt its connection) is answered by a new server-side connection under the same
id, and the publisher's tracks on it are re-bound to the same forwardings; one with the same
fingerprint (a browser's ICE restart) is answered in place (``core/media/ice_restart.py``).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from aiortc import RTCDataChannel, RTCPeerConnection
from aiortc.mediastreams import MediaStreamTrack

from core import protocol as p
from core.errors import (
    MediaNoSupportedCodecError,
    MediaServerLocalDescFailedError,
    MediaServerRemoteDescFailedError,
    TwilioError,
)
from core.media import rtp_hooks
from core.media.negotiation import (
    DescriptionError,
    Negotiation,
    RemoteMediaLine,
    codecs_allowed,
    rebuilt_by_offerer,
    restrict_video_codecs,
)
from core.media.peers import start_pending_media

from .passthrough import pass_through_receiver
from .peer import Inbound, Peer

if TYPE_CHECKING:
    from .backend import Forwarder

__all__ = ["Publishing", "close_entry"]

log = logging.getLogger(__name__)

#: Messages kept per subscriber and data track while its channel is still connecting.
DATA_WAITING_MAX = 1024


def close_entry(pc_id: str, revision: int) -> p.PeerConnectionMessage:
    return p.PeerConnectionMessage(id=pc_id, description=p.Description(type="close", revision=revision))


class Publishing:
    """Answers, rebuilds and closes the publish connections of ``forwarder``'s peers."""

    def __init__(self, forwarder: Forwarder) -> None:
        self._fw = forwarder

    async def answer(self, peer: Peer, offer: p.Description) -> None:
        fw, session = self._fw, peer.pub
        if peer.closed:
            return
        old = session.negotiation
        if old is not None and rebuilt_by_offerer(old.pc, offer.sdp):
            # The publisher rebuilt its connection: a new one here too; its tracks are
            # re-bound to their forwardings as the new receivers appear (_inbound_media).
            log.info("%s: publish connection %s rebuilt", peer.sid, session.id)
            session.negotiation = None
            for inbound in peer.inbound.values():
                peer.by_receiver.pop(inbound.receiver, None)
            fw.spawn(old.pc.close())
        if session.negotiation is None:
            pc = fw.new_pc()
            session.negotiation = Negotiation(session.id, pc, offerer=False,
                                              on_media=lambda line, t: self._inbound_media(peer, line, t),
                                              loopback_only=fw.loopback_only)
            self._wire(peer, pc)
        negotiation = session.negotiation
        allowed = fw.view.video_codecs()

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
            fw.send(peer.sid, [close_entry(session.id, offer.revision + 1)])
            session.negotiation = None
            await negotiation.pc.close()
            fw.fail(peer.sid, error)
            return
        if answer is not None:
            start_pending_media(negotiation.pc)
            fw.send(peer.sid, [p.PeerConnectionMessage(id=session.id, description=answer)])

    async def close(self, peer: Peer) -> None:
        pc, peer.pub.negotiation = peer.pub.pc, None
        for inbound in peer.inbound.values():
            inbound.stop_subscribers()
        peer.inbound.clear()
        peer.by_receiver.clear()
        peer.data_in.clear()
        self._fw.room_changed()
        if pc is not None:
            await pc.close()

    def _inbound_media(self, peer: Peer, line: RemoteMediaLine, transceiver: Any) -> None:
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
                old.stop_subscribers()
        inbound = Inbound(peer.sid, line.track_id, line.kind, transceiver.receiver, codec.mimeType,
                          codec.clockRate, codec.parameters, taps=self._fw.taps, spawn=self._fw.spawn)
        peer.by_receiver[transceiver.receiver] = inbound
        self._listen_levels(peer, line.kind, transceiver.receiver)
        peer.inbound[line.track_id] = inbound
        self._fw.room_changed()

    def _listen_levels(self, peer: Peer, kind: str, receiver: Any) -> None:
        if kind == "audio":
            sid, detector = peer.sid, self._fw.detector
            rtp_hooks.set_level_callback(receiver, lambda dbov: detector.add(sid, dbov, time.monotonic()))

    def _wire(self, peer: Peer, pc: RTCPeerConnection) -> None:
        fw = self._fw

        @pc.on("track")
        def _on_track(track: MediaStreamTrack) -> None:
            # Pass-through must be in place before aiortc starts the receiver (right after
            # setRemoteDescription); which published track it carries is known once the
            # description is applied (``_inbound_media``), until then frames are dropped.
            transceiver = next((t for t in pc.getTransceivers() if t.receiver.track is track), None)
            if transceiver is not None:
                receiver = transceiver.receiver
                pass_through_receiver(receiver, lambda codec, packet: _deliver(peer, receiver, codec, packet))

        @pc.on("datachannel")
        def _on_datachannel(channel: RTCDataChannel) -> None:
            label = channel.label
            if label in p.MSP_LABELS:
                log.warning("%s: a data channel named like a media-signaling channel (%s) ignored", peer.sid, label)
                return
            peer.data_in[label] = channel

            @channel.on("message")
            def _on_message(message: Any) -> None:
                for sub in fw.peer_list():
                    out = sub.data_out.get((peer.sid, label))
                    if out is None:
                        continue
                    if out.readyState == "open":
                        out.send(message)
                    elif out.readyState == "connecting":  # its connection is new: send when it opens
                        waiting = sub.data_waiting.setdefault((peer.sid, label), [])
                        if len(waiting) < DATA_WAITING_MAX:
                            waiting.append(message)

            @channel.on("close")
            def _on_close() -> None:
                if peer.data_in.get(label) is channel and peer.pub.pc is pc:  # not a rebuilt one's old channel
                    del peer.data_in[label]
                    fw.room_changed()

            fw.room_changed()


def _deliver(peer: Peer, receiver: Any, codec: Any, packet: Any) -> None:
    inbound = peer.by_receiver.get(receiver)
    if inbound is not None:
        inbound.deliver(codec, packet)
