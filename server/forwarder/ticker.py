"""The forwarder's periodic work: the dominant speaker, network quality, the bandwidth allocation.

Dominant speaker (``core.dominant_speaker``) is fed by the audio receivers' ssrc-audio-level
values (``core.media.rtp_hooks``, see ``publish.py``) and decided every
``decision_interval``; network quality (``core.network_quality_score``) is scored every
``quality_interval`` from the receivers' RTCP statistics and the receiver reports the
senders get, and sent on each watcher's ``network_quality`` channel when it changed; the
bandwidth allocation (``switchoff.py``) samples every ``SwitchOff.interval``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from core.media import rtp_hooks
from core.media.negotiation import send_json
from core.media.watchdog import min_rtt
from core.network_quality_score import (
    NEEDED_BPS,
    DirectionQuality,
    LoopLag,
    StreamMeter,
    direction_quality,
    participant_quality,
)

from .peer import Peer

if TYPE_CHECKING:
    from .backend import Forwarder

__all__ = ["MEDIA_GRACE_S", "Ticker"]

log = logging.getLogger(__name__)

#: A publisher's media that has not arrived this long after its track did is "down".
MEDIA_GRACE_S = 5.0

Directions = dict[str, dict[str, DirectionQuality]]


class Ticker:
    """One task per room: decides the dominant speaker and scores network quality."""

    def __init__(self, forwarder: Forwarder, decision_interval: float, quality_interval: float) -> None:
        self._fw = forwarder
        self.decision_interval = decision_interval
        self.quality_interval = quality_interval
        self.task: asyncio.Task[None] | None = None
        self._lag = LoopLag()  # what the server's own busy loop adds to the jitter it measures

    def start(self) -> None:
        if self.task is None and not self._fw.closed:
            self.task = asyncio.get_running_loop().create_task(self._run())

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    async def _run(self) -> None:
        fw = self._fw
        next_quality = time.monotonic() + self.quality_interval
        next_allocation = time.monotonic() + fw.switching.interval
        while not fw.closed:
            before = time.monotonic()
            await asyncio.sleep(self.decision_interval)
            now = time.monotonic()
            self._lag.tick(now, now - before, self.decision_interval)
            try:
                if fw.detector.decide(now):
                    fw.speaker_changed(fw.detector.dominant)
                if now >= next_quality:
                    next_quality = now + self.quality_interval
                    await self._score_quality(now)
                if now >= next_allocation:
                    next_allocation = now + fw.switching.interval
                    await fw.switching.sample(now)
            except asyncio.CancelledError:
                raise
            except Exception:  # never let one bad sample stop the room's features
                log.exception("forwarder tick failed")

    async def _score_quality(self, now: float) -> None:
        peers = self._fw.peer_list()
        watchers = [q for q in peers if "network_quality" in q.msp]
        if not watchers:
            return
        for peer in peers:
            peer.quality = await self._directions(peer, now)
        for q in watchers:
            channel = q.msp["network_quality"]
            if channel.readyState != "open":
                continue
            remotes = []
            if q.nq_remote > 0:
                for other in self._fw.peer_list():
                    if other is q:
                        continue
                    value = participant_quality(other.quality, q.nq_remote)
                    remotes.append({"sid": other.sid, **(value if isinstance(value, dict) else {"level": value})})
            message = {"type": "network_quality", "local": participant_quality(q.quality, q.nq_local),
                       "remotes": remotes}
            if message != q.last_nq:
                q.last_nq = message
                send_json(channel, message)

    async def _directions(self, peer: Peer, now: float) -> Directions:
        published = self._fw.view.published_media(peer.sid)
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
        result: Directions = {}
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
