"""Direct RTP writing for the forwarder's pass-through senders: no task, no queue, no re-packetizing.

aiortc's ``RTCRtpSender`` runs one task per sender: it wakes for every frame its track
yields, packetizes it, builds an ``RtpPacket`` object per packet (header extensions through
``HeaderExtensionsMap``, the NTP clock read through ``datetime``), keeps that object in its
RTX history and awaits three coroutine layers down to ``sendto``. A group room of N
participants has N·(N−1)·2 such senders; profiled at N=12 (``bench/scale.py --profile``)
the server spent ~46 % of its time in ``_run_rtp`` and only half of that in the
unavoidable part (SRTP and the ``sendto`` system call).

:class:`RtpWriter` does the same work for one sender synchronously, called by the
publisher's receiver as each frame is released (``passthrough.ForwardTrack.push``):

* the frame is packetized **once per publisher track** for all its subscribers
  (``passthrough.SharedPacker``), and the NTP time read once per frame;
* the header is a per-sender template (payload type, SSRC, the negotiated ``mid`` and
  ``abs-send-time`` extension ids, laid out by aiortc's own ``RtpPacket.serialize``) in
  which only marker, sequence number, timestamp and abs-send-time are rewritten;
* the packet is protected with the sender's DTLS transport's SRTP session and handed to the
  nominated ICE pair's UDP transport, as ``RTCDtlsTransport._send_rtp`` →
  ``aioice.Connection.sendto`` → ``StunProtocol.send_data`` do. A transport with a
  ``core.media.faults`` loss switch attached, or a pair that is not plain UDP, goes through
  ``RTCDtlsTransport._send_rtp`` instead (one task per packet: tests and TURN only);
* video keeps a 128-packet RTX history of ``(seq, marker, timestamp, payload)`` — the
  payloads are the shared ones — and the sender's ``_retransmit`` (called on a NACK) is
  replaced by :meth:`RtpWriter.retransmit`, which rebuilds the packet and sends it as RTX
  exactly as aiortc does. Audio keeps none (aiortc negotiates no NACK for audio).
* the sender's and the transport's counters that RTCP sender reports and ``getStats``
  read are kept up to date.

The aiortc sender still does everything else: negotiation, its RTCP task (SR, RR, NACK,
PLI → ``_send_keyframe``), ``getStats``, ``stop()``. Its RTP task waits in the track's
``recv()`` until the track stops.

Private names used (aiortc 1.16, aioice 0.13; checked by ``core.pins.require`` and on
construction): ``RTCRtpSender._ssrc``, ``_rtx_ssrc``, ``_enabled``, ``_retransmit``,
``_RTCRtpSender__{packet_count,octet_count,ntp_timestamp,rtp_timestamp}``,
``RTCDtlsTransport._tx_srtp``, ``_send_rtp``, ``_RTCDtlsTransport__tx_{bytes,packets}``,
``RTCIceTransport._connection`` and ``aioice.Connection._nominated``.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from typing import Any

from aioice.ice import StunProtocol
from aiortc.codecs import is_rtx
from aiortc.rtcrtpparameters import RTCRtpSendParameters
from aiortc.rtcrtpsender import RTCRtpSender, random_sequence_number
from aiortc.rtp import HeaderExtensionsMap, RtpPacket, wrap_rtx
from aiortc.utils import random32

from core.media import faults
from core.pins import require

__all__ = ["HISTORY_SIZE", "NTP_EPOCH_OFFSET", "RtpWriter", "ntp_time"]

log = logging.getLogger(__name__)

#: Packets a video sender can retransmit (aiortc's ``RTP_HISTORY_SIZE``).
HISTORY_SIZE = 128
#: Seconds from the NTP epoch (1900) to the Unix epoch (1970).
NTP_EPOCH_OFFSET = 2208988800
_SENDER = ("_RTCRtpSender__packet_count", "_RTCRtpSender__octet_count", "_RTCRtpSender__ntp_timestamp",
           "_RTCRtpSender__rtp_timestamp", "_ssrc", "_rtx_ssrc", "_enabled")
_DTLS = ("_RTCDtlsTransport__tx_bytes", "_RTCDtlsTransport__tx_packets", "_tx_srtp")
_pack_seq = struct.Struct("!H").pack_into
_pack_ts = struct.Struct("!I").pack_into


def ntp_time(unix: float) -> int:
    """64-bit NTP timestamp of a ``time.time()`` value (what ``aiortc.clock.current_ntp_time`` gives)."""
    return int((unix + NTP_EPOCH_OFFSET) * (1 << 32))


def _template(extensions: HeaderExtensionsMap, payload_type: int, ssrc: int,
              mid: str | None) -> tuple[bytes, int | None]:
    """The RTP header aiortc would write for this sender, and where abs-send-time's 3 bytes are."""

    def header(abs_send_time: int) -> bytes:
        packet = RtpPacket(payload_type=payload_type, sequence_number=0, timestamp=0, ssrc=ssrc)
        packet.extensions.mid = mid
        packet.extensions.abs_send_time = abs_send_time
        return packet.serialize(extensions)

    zero, ones = header(0), header(0xFFFFFF)
    changed = [i for i, (a, b) in enumerate(zip(zero, ones, strict=True)) if a != b]
    if not changed:  # abs-send-time not negotiated
        return zero, None
    if changed != list(range(changed[0], changed[0] + 3)):
        raise RuntimeError("aiortc's RtpPacket.serialize no longer writes abs-send-time as 3 bytes")
    return zero, changed[0]


class RtpWriter:
    """Writes one pass-through sender's RTP packets straight to its transport (see the module docstring)."""

    def __init__(self, sender: RTCRtpSender, parameters: RTCRtpSendParameters) -> None:
        require("aiortc", "server.forwarder.rtp_writer")
        require("aioice", "server.forwarder.rtp_writer")
        dtls = sender.transport
        missing = [n for n in _SENDER if n not in sender.__dict__] + [n for n in _DTLS if n not in dtls.__dict__]
        if missing or not hasattr(dtls.transport, "_connection") or not callable(getattr(sender, "_retransmit", None)):
            raise RuntimeError(f"aiortc's sender or transport changed (missing {missing}): "
                               "server.forwarder.rtp_writer cannot write RTP")
        codec = parameters.codecs[0]
        if codec.payloadType is None:
            raise ValueError("the sender's codec has no payload type")
        self._sender = sender
        self._state = sender.__dict__
        self._dtls = dtls
        self._counters = dtls.__dict__
        self._connection: Any = dtls.transport._connection
        self._payload_type: int = codec.payloadType
        self._extensions = HeaderExtensionsMap()
        self._extensions.configure(parameters)
        self._mid = parameters.muxId
        template, self._abs_at = _template(self._extensions, codec.payloadType, sender._ssrc, self._mid)
        self._header = bytearray(template)
        self._rtx_payload_type = next((c.payloadType for c in parameters.codecs
                                       if is_rtx(c) and c.parameters.get("apt") == codec.payloadType), None)
        self._rtx_seq = random_sequence_number()
        self._seq = random_sequence_number()
        self._origin = random32()
        video = sender.kind == "video"
        self._history: list[tuple[int, int, int, bytes] | None] | None = [None] * HISTORY_SIZE if video else None
        self._slow: set[asyncio.Task[None]] = set()
        self.packets = 0
        self.retransmitted = 0
        sender._retransmit = self.retransmit  # type: ignore[method-assign]  # NACKs read our history (pinned aiortc)

    def write(self, payloads: list[bytes], timestamp: int, ntp: int) -> None:
        """Send one frame's packets (``timestamp`` in the codec clock from 0; ``ntp`` = send time, NTP 64-bit)."""
        if not payloads or self._dtls.state != "connected" or not self._state["_enabled"]:
            return
        route = self._route()
        srtp = self._counters["_tx_srtp"]
        header = self._header
        ts = (self._origin + timestamp) & 0xFFFFFFFF
        _pack_ts(header, 4, ts)
        if self._abs_at is not None:
            at = self._abs_at
            header[at:at + 3] = ((ntp >> 14) & 0xFFFFFF).to_bytes(3, "big")
        history, seq, last, payload_type = self._history, self._seq, len(payloads) - 1, self._payload_type
        octets = wire = 0
        for i, payload in enumerate(payloads):
            marker = 0x80 if i == last else 0
            header[1] = marker | payload_type
            _pack_seq(header, 2, seq)
            if history is not None:
                history[seq % HISTORY_SIZE] = (seq, marker, ts, payload)
            if route is None:
                self._through_transport(bytes(header) + payload)
            else:  # inline: SRTP and the UDP socket (what RTCDtlsTransport._send_rtp and aioice do)
                data = srtp.protect(bytes(header) + payload)
                route[0](data, route[1])
                wire += len(data)
            octets += len(payload)
            seq = (seq + 1) & 0xFFFF
        self._seq = seq
        self.packets += len(payloads)
        state = self._state
        state["_RTCRtpSender__packet_count"] += len(payloads)
        state["_RTCRtpSender__octet_count"] += octets
        state["_RTCRtpSender__ntp_timestamp"] = ntp
        state["_RTCRtpSender__rtp_timestamp"] = ts
        if route is not None:  # the slow door counts for itself
            self._counters["_RTCDtlsTransport__tx_bytes"] += wire
            self._counters["_RTCDtlsTransport__tx_packets"] += len(payloads)

    def _route(self) -> tuple[Any, Any] | None:
        """``(udp.sendto, addr)`` of the nominated plain-UDP pair for this frame; None: the transport's door."""
        pair = self._connection._nominated.get(1)
        protocol = getattr(pair, "protocol", None)
        if (pair is None or type(protocol) is not StunProtocol or protocol.transport is None
                or faults._ATTR in self._dtls.__dict__):  # a loss switch is attached to this transport
            return None
        return protocol.transport.sendto, pair.remote_addr

    def _through_transport(self, plain: bytes) -> None:
        """The slow door (a loss switch, a relayed pair): ``RTCDtlsTransport._send_rtp``, one task a packet."""
        task = asyncio.get_running_loop().create_task(self._dtls._send_rtp(plain))
        self._slow.add(task)
        task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._slow.discard(task)
        if not task.cancelled():
            task.exception()  # a ConnectionError (closed meanwhile) drops the packet, as aiortc's sender does

    async def retransmit(self, sequence_number: int) -> None:
        """A NACKed packet again, as RTX when negotiated (what ``RTCRtpSender._retransmit`` does)."""
        entry = self._history[sequence_number % HISTORY_SIZE] if self._history is not None else None
        if entry is None or entry[0] != sequence_number:
            return
        seq, marker, ts, payload = entry
        packet = RtpPacket(payload_type=self._payload_type, marker=marker >> 7, sequence_number=seq,
                           timestamp=ts, ssrc=self._sender._ssrc, payload=payload)
        packet.extensions.mid = self._mid
        if self._rtx_payload_type is not None:
            packet = wrap_rtx(packet, payload_type=self._rtx_payload_type, sequence_number=self._rtx_seq,
                              ssrc=self._sender._rtx_ssrc)
            self._rtx_seq = (self._rtx_seq + 1) & 0xFFFF
        if self._dtls.state == "connected":
            self.retransmitted += 1
            await self._dtls._send_rtp(packet.serialize(self._extensions))
