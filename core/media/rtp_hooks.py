"""A small, documented hook over aiortc's RTP receiver: bytes received and ssrc-audio-level.

aiortc's ``getStats`` has no ``bytesReceived`` and its receiver parses then drops the
``ssrc-audio-level`` header extension (architecture §8). Wrapping the private
``RTCRtpReceiver._handle_rtp_packet`` once lets us count both per receiver; the original
handler still does all the work. ``install()`` is idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiortc.rtcrtpreceiver import RTCRtpReceiver

__all__ = ["ReceiveCounters", "install", "counters_of"]

RTP_HEADER_BYTES = 12
_ATTR = "_confab_counters"


@dataclass
class ReceiveCounters:
    """What one receiver saw: payload + fixed-header bytes, and the last audio level (-dBov)."""

    bytes_received: int = 0
    packets: int = 0
    audio_level_dbov: float | None = None


def counters_of(receiver: RTCRtpReceiver) -> ReceiveCounters:
    counters = receiver.__dict__.get(_ATTR)
    if counters is None:
        counters = receiver.__dict__[_ATTR] = ReceiveCounters()
    return counters


def install() -> None:
    original = RTCRtpReceiver._handle_rtp_packet
    if getattr(original, "_confab_hook", False):
        return

    async def _handle_rtp_packet(self: RTCRtpReceiver, packet: Any, arrival_time_ms: int) -> None:
        counters = counters_of(self)
        counters.packets += 1
        counters.bytes_received += RTP_HEADER_BYTES + len(packet.payload)
        level = packet.extensions.audio_level
        if level is not None:
            counters.audio_level_dbov = -float(level[1])
        await original(self, packet, arrival_time_ms)

    _handle_rtp_packet._confab_hook = True  # type: ignore[attr-defined]
    RTCRtpReceiver._handle_rtp_packet = _handle_rtp_packet  # type: ignore[method-assign]
