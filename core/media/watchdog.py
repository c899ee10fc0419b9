"""The media watchdog: is media flowing on each peer connection, both ways?

aiortc notices a dead path only when ICE consent fails (six missed checks five seconds
apart: half a minute) and has no ICE restart (architecture §8). So Confab watches the media
itself, about four times a second, per peer connection (a :class:`Link`):

* **incoming** — the receivers whose track the remote publishes *enabled* and we subscribe
  to: a link whose expected receivers all got no RTP packet for ``STALL_S`` is stalled.
  (A publisher who is merely silent still sends: aiortc's Opus encoder has no DTX, and a
  disabled track is not expected.) Each expected video receiver quiet for ``FROZEN_S`` is
  *frozen* (``on_frozen``: the tile's mark).
* **outgoing** — the senders that are sending (their packet count grew): a link whose
  sending senders all had no receiver report *advancing* the highest sequence number they
  acknowledge for ``STALL_S`` is stalled. The reports come from the other end's own
  statistics, so this sees a path that drops our media whatever the reason. aiortc keeps the
  highest sequence of a report to itself; :func:`install` wraps the private
  ``RTCRtpSender._handle_rtcp_packet`` (aiortc 1.16) to note it, and the original does the rest.
* ICE or DTLS ``failed`` stalls a link at once.

A link is judged only once it proved itself (a packet or an acknowledgement seen), so a
connection still being set up is not "stalled". A stalled link is **rebuilt** by the side
that offers it (``on_rebuild``; again every ``REBUILD_INTERVAL_S`` while it stays stalled) —
or, for a room server's connection (``Link.may_ask``) on which not even RTCP arrives any
more, the client asks the server for a new one (``on_rebuild`` too: ``MeshMedia`` closes it) —
keeps its stalled state across the rebuild, and recovers when media is seen flowing on it
again. ``on_state("failed" | "connected")`` reports the room's media state on change: the
Room goes ``reconnecting`` (53405) and back. Nothing is judged while ``signaling_up()`` is
false, and a tick that comes late (the event loop was busy) is not taken as silence.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcrtpsender import RTCRtpSender
from aiortc.rtp import RtcpRrPacket, RtcpSrPacket

from ..pins import require
from .rtp_hooks import counters_of

__all__ = ["FROZEN_S", "Link", "MediaWatchdog", "STALL_S", "install", "last_acknowledged", "min_rtt",
           "rtcp_heard_at"]

log = logging.getLogger(__name__)

#: No media for this long on a link (every expected stream) stalls it.
STALL_S = 3.0
#: An expected remote video with no packet for this long is shown frozen.
FROZEN_S = 2.0
#: A frozen video with no receiver at all (mid-rebuild) keeps its mark this long.
ABSENT_FROZEN_S = 5.0
#: A link still stalled this long after its last rebuild is rebuilt again.
REBUILD_INTERVAL_S = 4.0
TICK_S = 0.25
#: A tick this late means the loop was busy, not that media stopped: start the clocks again.
LATE_TICK_S = 1.0

_ACK = "_confab_acknowledged"
_RTCP_AT = "_confab_rtcp_at"


@dataclass
class Acknowledged:
    """What the far end's receiver reports say: the highest sequence number they acknowledge
    and since when, and each report's own round-trip time (``rtts``: (when, seconds))."""

    highest: int | None = None
    at: float | None = None
    rtts: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=16))
    #: The sender reports seen going out lately, (LSR, when): aiortc keeps only the last one,
    #: and on a busy loop a report often answers the one before.
    srs: deque[tuple[int, float]] = field(default_factory=lambda: deque(maxlen=8))


def min_rtt(sender: RTCRtpSender, now: float | None = None, window: float = 5.0) -> float | None:
    """The smallest round trip the reports of the last ``window`` seconds measured.

    aiortc's ``roundTripTime`` is a slow moving average of every report, and each report's
    round trip includes how long a busy event loop (ours, the far end's) let the report and
    its sender report wait: on a loaded loopback 0.6 s. The network's round trip is the
    floor under those samples, so a busy machine does not read as a bad network (a network
    whose latency really grows raises every sample, the minimum too).
    """
    now = time.monotonic() if now is None else now
    samples = [rtt for at, rtt in last_acknowledged(sender).rtts if now - at <= window]
    return min(samples) if samples else None


def last_acknowledged(sender: RTCRtpSender) -> Acknowledged:
    ack = sender.__dict__.get(_ACK)
    if ack is None:
        ack = sender.__dict__[_ACK] = Acknowledged()
    return ack


def packets_sent(sender: RTCRtpSender) -> int:
    return int(sender.__dict__.get("_RTCRtpSender__packet_count", 0))


def rtcp_heard_at(transport: Any) -> float | None:
    """When ``transport`` last received an RTCP packet (any: reports, SR, feedback)."""
    at = transport.__dict__.get(_RTCP_AT) if transport is not None else None
    return float(at) if at is not None else None


def install() -> None:
    """Note each receiver report's highest sequence number per sender, and when each DTLS
    transport last received RTCP (idempotent)."""
    require("aiortc", "core.media.watchdog")
    original = RTCRtpSender._handle_rtcp_packet
    if getattr(original, "_confab_hook", False):
        return
    original_rtcp_data = RTCDtlsTransport._handle_rtcp_data

    async def _handle_rtcp_data(self: RTCDtlsTransport, data: bytes) -> None:
        self.__dict__[_RTCP_AT] = time.monotonic()
        await original_rtcp_data(self, data)

    RTCDtlsTransport._handle_rtcp_data = _handle_rtcp_data  # type: ignore[method-assign]  # the hook itself (pinned aiortc)
    names = RTCRtpSender.__init__.__code__.co_names
    for private in ("_RTCRtpSender__packet_count", "_RTCRtpSender__lsr", "_RTCRtpSender__lsr_time"):
        if private not in names:
            raise RuntimeError(f"aiortc's RTCRtpSender has no {private} any more")

    async def _handle_rtcp_packet(self: RTCRtpSender, packet: Any) -> None:
        if isinstance(packet, (RtcpRrPacket, RtcpSrPacket)):
            for report in packet.reports:
                if report.ssrc == self._ssrc:
                    ack = last_acknowledged(self)
                    now = time.monotonic()
                    if report.highest_sequence != ack.highest:
                        ack.highest, ack.at = report.highest_sequence, now
                    lsr = self.__dict__.get("_RTCRtpSender__lsr")
                    lsr_time = self.__dict__.get("_RTCRtpSender__lsr_time")
                    if lsr is not None and lsr_time is not None:
                        if ack.srs and ack.srs[-1][0] == lsr:
                            ack.srs.pop()  # no media sent since: the same LSR, the latest time counts
                        ack.srs.append((lsr, lsr_time))
                    sent = next((at for sr, at in ack.srs if sr == report.lsr), None)
                    if report.dlsr and sent is not None:
                        ack.rtts.append((now, max(0.0, time.time() - sent - report.dlsr / 65536)))
        await original(self, packet)

    _handle_rtcp_packet._confab_hook = True  # type: ignore[attr-defined]  # marks the wrapper so install() runs once
    RTCRtpSender._handle_rtcp_packet = _handle_rtcp_packet  # type: ignore[method-assign]  # the hook itself (pinned aiortc)


@dataclass
class Link:
    """One peer connection as the watchdog sees it."""

    id: str
    pc: Any
    #: We offer it, so we rebuild it; the other side rebuilds the ones it offers.
    offerer: bool
    senders: list[Any] = field(default_factory=list)
    #: (publisher SID or None, track id, kind, receiver) of the remote tracks we expect media on.
    receivers: list[tuple[str | None, str, str, Any]] = field(default_factory=list)
    #: Not ours to rebuild, but we may ask the other side to (a room server's connection) when
    #: nothing at all arrives on it any more, not even RTCP.
    may_ask: bool = False


@dataclass
class _Watch:
    created: float
    stalled: bool = False
    rebuilt_at: float = -1e9
    proven: bool = False
    #: (peer, track id) → (its receiver, packets, quiet since): kept across a rebuild
    heard: dict[tuple[str | None, str], tuple[Any, int, float]] = field(default_factory=dict)
    #: Ticks that saw media flowing since the link stalled (two are needed: one stray packet is not a recovery).
    evidence: int = 0
    #: sender → (packets, grew at, the acknowledgement time seen last)
    sent: dict[Any, tuple[int, float, float | None]] = field(default_factory=dict)


class MediaWatchdog:
    """Watches every link ``links()`` returns; rebuilds, reports state and frozen video."""

    def __init__(self, links: Callable[[], list[Link]], *,
                 on_rebuild: Callable[[str], Any],
                 on_state: Callable[[str], Any] = lambda state: None,
                 on_frozen: Callable[[str | None, str, bool], Any] = lambda peer, track_id, frozen: None,
                 signaling_up: Callable[[], bool] = lambda: True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        install()
        self._links = links
        self._on_rebuild = on_rebuild
        self._on_state = on_state
        self._on_frozen = on_frozen
        self._signaling_up = signaling_up
        self._clock = clock
        self._watches: dict[str, _Watch] = {}
        self._frozen: set[tuple[str | None, str]] = set()
        self._absent: dict[tuple[str | None, str], float] = {}  # frozen keys with no receiver: since when
        self._state: str | None = None
        self._last_tick: float | None = None
        self._floor = -1e9
        self._task: asyncio.Task[None] | None = None

    @property
    def stalled(self) -> list[str]:
        return [link_id for link_id, w in self._watches.items() if w.stalled]

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="media-watchdog")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            try:
                self.tick()
            except Exception:  # a watchdog that dies silently would be worse
                log.exception("media watchdog tick failed")

    def tick(self) -> None:
        now = self._clock()
        if self._last_tick is not None and now - self._last_tick > LATE_TICK_S:
            self._floor = now  # the loop was busy: what looks like silence may be our own lag
        self._last_tick = now
        links = self._links()
        for gone in set(self._watches) - {link.id for link in links}:
            del self._watches[gone]
        frozen: set[tuple[str | None, str]] = set()
        for link in links:
            self._judge(link, self._watches.setdefault(link.id, _Watch(now)), now, frozen)
        # A frozen video whose receiver is gone for a moment (its connection is being rebuilt:
        # the old one closed, the new one not answered yet) stays frozen, for a while.
        present = {(peer, track_id) for link in links for peer, track_id, *_ in link.receivers}
        for key in self._frozen - present:
            if now - self._absent.setdefault(key, now) < ABSENT_FROZEN_S:
                frozen.add(key)
        self._absent = {k: v for k, v in self._absent.items() if k in frozen and k not in present}
        for key in frozen - self._frozen:
            self._on_frozen(key[0], key[1], True)
        for key in self._frozen - frozen:
            self._on_frozen(key[0], key[1], False)
        self._frozen = frozen
        state = "failed" if any(w.stalled for w in self._watches.values()) else "connected"
        if state != self._state and (state == "failed" or self._state is not None):
            self._state = state
            self._on_state(state)

    def _judge(self, link: Link, watch: _Watch, now: float, frozen: set[tuple[str | None, str]]) -> None:
        floor = max(self._floor, watch.created)
        progressed = False
        quiet_in: list[bool] = []
        current = {(peer, track_id) for peer, track_id, *_ in link.receivers}
        watch.heard = {k: v for k, v in watch.heard.items() if k in current}
        for peer, track_id, kind, receiver in link.receivers:
            packets = counters_of(receiver).packets
            last = watch.heard.get((peer, track_id))
            if last is None and (peer, track_id) in self._frozen and packets == 0:
                last = (receiver, 0, now - FROZEN_S)  # back after a rebuild, still nothing: still frozen
            elif last is None:
                last = (receiver, packets, now)
            elif last[0] is not receiver:  # a rebuilt connection's receiver: still quiet since then
                last = (receiver, 0, last[2]) if packets == 0 else (receiver, packets, now)
            elif packets != last[1]:
                progressed = True
                last = (receiver, packets, now)
            watch.heard[(peer, track_id)] = last
            watch.proven = watch.proven or packets > 0
            quiet_in.append(now - max(last[2], floor) >= STALL_S)
            if kind == "video" and now - last[2] >= FROZEN_S:
                frozen.add((peer, track_id))
        quiet_out: list[bool] = []
        watch.sent = {s: v for s, v in watch.sent.items() if s in link.senders}
        for sender in link.senders:
            count, ack = packets_sent(sender), last_acknowledged(sender)
            seen = watch.sent.get(sender)
            if seen is None or count != seen[0]:
                watch.sent[sender] = seen = (count, now, seen[2] if seen is not None else ack.at)
            if now - seen[1] >= STALL_S:
                continue  # not sending (a disabled track): nothing to acknowledge
            if ack.at is not None and ack.at != seen[2]:
                progressed = progressed or ack.at >= watch.created
                watch.sent[sender] = (seen[0], seen[1], ack.at)
            acked = ack.at if ack.at is not None and ack.at >= watch.created else None
            watch.proven = watch.proven or acked is not None
            if acked is not None or watch.stalled:
                quiet_out.append(now - max(acked or 0.0, floor) >= STALL_S)
        if progressed:
            watch.evidence += 1
        failed = "failed" in (link.pc.iceConnectionState, link.pc.connectionState)
        quiet = bool(quiet_in or quiet_out) and all(quiet_in) and all(quiet_out)
        if not self._signaling_up():
            return
        if watch.stalled:
            idle = not quiet_in and not quiet_out and link.pc.connectionState == "connected"
            if not failed and (watch.evidence >= 2 or idle):
                watch.stalled = False
                log.info("media flows again on %s (%s)", link.id, "nothing expected" if idle else "media seen")
            elif now - watch.rebuilt_at >= REBUILD_INTERVAL_S and self._ours(link, now):
                self._rebuild(link, watch, now)
        elif failed or (quiet and watch.proven):
            watch.stalled = True
            watch.evidence = 0
            log.info("media stalled on %s (%s)", link.id, "ICE/DTLS failed" if failed else "no media")
            if self._ours(link, now):
                self._rebuild(link, watch, now)

    def _ours(self, link: Link, now: float) -> bool:
        """Whether to rebuild (or ask for) ``link`` now."""
        if link.offerer:
            return True
        if not link.may_ask:
            return False
        heard = [rtcp_heard_at(r.transport) for *_, r in link.receivers]
        last = max((h for h in heard if h is not None), default=None)
        return last is None or now - max(last, self._floor) >= STALL_S

    def _rebuild(self, link: Link, watch: _Watch, now: float) -> None:
        watch.rebuilt_at = now
        watch.created = now
        watch.evidence = 0
        watch.sent.clear()
        self._on_rebuild(link.id)
