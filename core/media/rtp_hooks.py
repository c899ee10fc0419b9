"""A small, documented hook over aiortc's RTP receiver: bytes, ssrc-audio-level, stream counters.

aiortc's ``getStats`` has no ``bytesReceived`` and its receiver parses then drops the
``ssrc-audio-level`` header extension (architecture §8). Wrapping the private
``RTCRtpReceiver._handle_rtp_packet`` once lets us count both per receiver; the original
handler still does all the work. ``install()`` is idempotent.

* ``counters_of(receiver)``: bytes/packets received and the last audio level (-dBov → dBov).
* ``set_level_callback(receiver, fn)``: ``fn(dbov)`` for every packet that carries an
  ``ssrc-audio-level`` (the room server's dominant-speaker detector feeds on it).
* ``stream_counters(receiver)``: per media SSRC (RTX streams left out), packets received,
  packets lost and jitter (RTP clock units) as the receiver's own RTCP statistics have them
  — read from the private ``_RTCRtpReceiver__remote_streams``, because ``getStats()``
  keeps only one ``inbound-rtp`` entry per receiver and RTX makes it the wrong one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiortc.rtcrtpreceiver import RTCRtpReceiver

from ..pins import PINNED, require

__all__ = ["ReceiveCounters", "StreamCounters", "counters_of", "install", "set_level_callback",
           "stream_counters"]

RTP_HEADER_BYTES = 12
_ATTR = "_confab_counters"


@dataclass
class ReceiveCounters:
    """What one receiver saw: payload + fixed-header bytes, and the last audio level (-dBov)."""

    bytes_received: int = 0
    packets: int = 0
    audio_level_dbov: float | None = None
    on_level: Callable[[float], Any] | None = None


@dataclass(frozen=True)
class StreamCounters:
    ssrc: int
    packets_received: int
    packets_lost: int
    jitter: int
    clock_rate: int


def counters_of(receiver: RTCRtpReceiver) -> ReceiveCounters:
    counters = receiver.__dict__.get(_ATTR)
    if counters is None:
        counters = receiver.__dict__[_ATTR] = ReceiveCounters()
    return counters


def set_level_callback(receiver: RTCRtpReceiver, callback: Callable[[float], Any] | None) -> None:
    """Call ``callback(dbov)`` (on the event loop) for each received audio level."""
    counters_of(receiver).on_level = callback


def _private(receiver: RTCRtpReceiver, name: str) -> Any:
    """A private attribute of aiortc's receiver; missing means aiortc changed: say so loudly."""
    try:
        return receiver.__dict__[f"_RTCRtpReceiver__{name}"]
    except KeyError:
        raise RuntimeError(f"aiortc's RTCRtpReceiver has no __{name} any more (written for "
                           f"aiortc {PINNED['aiortc']}): loss and jitter would go unmeasured") from None


def stream_counters(receiver: RTCRtpReceiver) -> list[StreamCounters]:
    streams = _private(receiver, "remote_streams")
    rtx = _private(receiver, "rtx_ssrc")
    out = []
    for ssrc, stream in list(streams.items()):
        if ssrc in rtx or stream.max_seq is None:
            continue
        out.append(StreamCounters(ssrc, stream.packets_received, stream.packets_lost, stream.jitter,
                                  stream._clockrate))
    return out


def install() -> None:
    require("aiortc", "core.media.rtp_hooks")
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
            if counters.on_level is not None:
                counters.on_level(counters.audio_level_dbov)
        await original(self, packet, arrival_time_ms)

    _handle_rtp_packet._confab_hook = True  # type: ignore[attr-defined]  # marks the wrapper so install() runs once
    RTCRtpReceiver._handle_rtp_packet = _handle_rtp_packet  # type: ignore[method-assign]  # the hook itself (pinned aiortc)
