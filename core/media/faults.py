"""Fault injection for tests: drop a fraction of a client's outgoing RTP packets.

A documented hook over aiortc: ``RTCDtlsTransport._send_rtp`` (the one door every RTP and
RTCP packet of a peer connection leaves by) is wrapped once, process-wide — but only when a
loss above 0 is first asked for, so a process that never injects a fault runs aiortc's own
method; the wrapper then does nothing unless the transport was handed an
:class:`OutgoingLoss` by :meth:`OutgoingLoss.attach`.
Only RTP is dropped (media and retransmissions alike), never RTCP, so receiver reports
keep telling the truth about the loss. The random generator is seeded, so a run is
reproducible; the fraction can change at any time (``set_fraction``).

    loss = outgoing_loss(room)      # the one every connect() creates for its connections
    loss.set_fraction(0.2)          # from now on, one RTP packet in five never leaves
"""

from __future__ import annotations

import random
from typing import Any

from aiortc.rtcdtlstransport import RTCDtlsTransport

from ..pins import require

__all__ = ["OutgoingLoss", "install", "installed", "outgoing_loss"]

_ATTR = "_confab_outgoing_loss"


def _is_rtcp(data: bytes) -> bool:
    return len(data) >= 2 and 192 <= data[1] <= 223


class OutgoingLoss:
    """Drops ``fraction`` of the outgoing RTP packets of the connections it is attached to."""

    def __init__(self, fraction: float = 0.0, seed: int = 1) -> None:
        self._rng = random.Random(seed)
        self.fraction = 0.0
        self.dropped = 0
        self.sent = 0
        self.set_fraction(fraction)

    def set_fraction(self, fraction: float) -> None:
        if not 0.0 <= fraction <= 1.0:
            raise ValueError("loss fraction must be within 0..1")
        self.fraction = float(fraction)
        if self.fraction > 0.0:
            install()

    def drop(self, data: bytes) -> bool:
        if self.fraction <= 0.0 or _is_rtcp(data):
            return False
        self.sent += 1
        if self._rng.random() < self.fraction:
            self.dropped += 1
            return True
        return False

    def attach(self, pc: Any) -> None:
        """Apply to every transport ``pc`` has now (call again after each negotiation)."""
        for transceiver in pc.getTransceivers():
            for transport in (transceiver.sender.transport, transceiver.receiver.transport):
                if transport is not None:
                    transport.__dict__[_ATTR] = self


def outgoing_loss(room: Any) -> OutgoingLoss:
    """The loss switch of a connected ``core.Room`` (fraction 0 until set)."""
    media = getattr(room._signaling, "media", None)
    if media is None:
        raise ValueError("this room has no media")
    faults: OutgoingLoss = media.faults
    return faults


def installed() -> bool:
    return bool(getattr(RTCDtlsTransport._send_rtp, "_confab_hook", False))


def install() -> None:
    require("aiortc", "core.media.faults")
    original = RTCDtlsTransport._send_rtp
    if getattr(original, "_confab_hook", False):
        return

    async def _send_rtp(self: RTCDtlsTransport, data: bytes) -> None:
        loss = self.__dict__.get(_ATTR)
        if loss is not None and loss.drop(data):
            return
        await original(self, data)

    _send_rtp._confab_hook = True  # type: ignore[attr-defined]  # marks the wrapper so install() runs once
    RTCDtlsTransport._send_rtp = _send_rtp  # type: ignore[method-assign]  # the hook itself (pinned aiortc)
