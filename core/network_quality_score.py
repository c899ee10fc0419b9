"""Network-quality scoring: loss, latency and bandwidth of each direction → levels 0..5.

Shared by the room server (group rooms: its receivers' RTCP-derived counters and the
receiver reports its senders get) and the client (peer-to-peer rooms: ``get_stats()``
deltas). Architecture §5, api-reference §2.12.

* :class:`StreamMeter` turns cumulative counters of one RTP stream (packets expected or
  sent, packets lost, bytes) sampled about once a second into windowed values: the
  fraction lost over the last ``window`` samples (3 s: a 5 % loss measured over 300
  packets, not 100), the bitrate, and whether media is flowing at all.
* :func:`loss_level`, :func:`latency_level`, :func:`bandwidth_level` score one aspect;
  :func:`direction_quality` takes the minimum — a direction is as good as its worst aspect.
* :func:`participant_quality` combines the directions of each media kind and renders the
  MSP ``network_quality`` value at a verbosity (1: level; 2: + audio/video send/recv
  levels; 3: + ``sendStats``/``recvStats``), in the form ``core.network_quality`` parses.

A busy machine is not a bad network: jitter is measured on arrival times our own event
loop stamps, so :class:`LoopLag` (how late the scorer's own loop runs, from the overshoot
of its periodic sleep) is taken off it (``direction_quality(local_delay=...)``), and round
trips are the floor of the last reports' samples (``core.media.watchdog.min_rtt``), not
aiortc's moving average of every delayed report. Measured on 2 cores with two busy loops and
three 640×480@30 participants in one process: a 0 %-loss loopback call read 1 (round trip
0.62 s, jitter 40-60 ms); scored this way it reads 4-5.

Breakpoints (upper bounds, exclusive) were chosen so that, over a 3 s window of a few
hundred packets, 0 % loss reads 5, 5 % reads 3 and 20 % reads 2 or 1 however the sampling
falls (the 10 % and 2.5 % edges are several standard deviations away).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DirectionQuality",
    "LoopLag",
    "StreamMeter",
    "bandwidth_level",
    "direction_quality",
    "latency_level",
    "loss_level",
    "participant_quality",
]

#: fraction lost below → level
LOSS_STEPS = ((0.01, 5), (0.025, 4), (0.10, 3), (0.20, 2), (0.35, 1))
#: round-trip time (s) below → level
RTT_STEPS = ((0.15, 5), (0.25, 4), (0.40, 3), (0.60, 2), (1.0, 1))
#: jitter (s) below → level
JITTER_STEPS = ((0.03, 5), (0.05, 4), (0.10, 3), (0.20, 2), (0.40, 1))
#: actual/needed bitrate at least → level
BANDWIDTH_STEPS = ((0.9, 5), (0.7, 4), (0.5, 3), (0.3, 2), (0.1, 1))

#: What a track needs, in bits per second, to count as "flowing" (audio, video).
NEEDED_BPS = {"audio": 8_000, "video": 30_000, "data": 0}


def _below(value: float, steps: tuple[tuple[float, int], ...]) -> int:
    for bound, level in steps:
        if value < bound:
            return level
    return 0


def loss_level(fraction_lost: float | None) -> int | None:
    return None if fraction_lost is None else _below(max(0.0, fraction_lost), LOSS_STEPS)


def latency_level(rtt_s: float | None, jitter_s: float | None) -> int | None:
    levels = [_below(v, steps) for v, steps in ((rtt_s, RTT_STEPS), (jitter_s, JITTER_STEPS)) if v is not None]
    return min(levels) if levels else None


def bandwidth_level(actual_bps: float | None, needed_bps: float | None) -> int | None:
    if actual_bps is None or not needed_bps:
        return None
    ratio = actual_bps / needed_bps
    for bound, level in BANDWIDTH_STEPS:
        if ratio >= bound:
            return level
    return 0


@dataclass(frozen=True)
class DirectionQuality:
    """One direction (send or recv) of one media kind: its level and what it was scored on."""

    level: int
    fraction_lost: float | None = None
    rtt: float | None = None
    jitter: float | None = None
    actual: float | None = None
    available: float | None = None
    loss_level: int | None = None
    latency_level: int | None = None
    bandwidth_level: int | None = None

    def stats(self) -> dict[str, Any]:
        """``sendStats``/``recvStats`` of the MSP message (api-reference §2.12)."""
        return {
            "bandwidth": {"actual": self.actual, "available": self.available, "level": self.bandwidth_level},
            "latency": {"jitter": self.jitter, "rtt": self.rtt, "level": self.latency_level},
            "fractionLost": {"fractionLost": self.fraction_lost, "level": self.loss_level},
        }


def direction_quality(*, fraction_lost: float | None = None, rtt: float | None = None,
                      jitter: float | None = None, actual: float | None = None,
                      needed: float | None = None, flowing: bool = True,
                      local_delay: float = 0.0) -> DirectionQuality:
    """Score one direction; ``flowing=False`` (media expected, none arriving) is level 0.

    ``local_delay``: what our own busy event loop adds to the measured jitter (``LoopLag``).
    """
    if jitter is not None and local_delay > 0:
        jitter = max(0.0, jitter - local_delay)
    loss = loss_level(fraction_lost)
    latency = latency_level(rtt, jitter)
    bandwidth = bandwidth_level(actual, needed)
    levels = [lvl for lvl in (loss, latency, bandwidth) if lvl is not None]
    level = min(levels) if levels else 5
    if not flowing:
        level = 0
    return DirectionQuality(level, fraction_lost, rtt, jitter, actual, needed, loss, latency, bandwidth)


class LoopLag:
    """How late the event loop runs a periodic task (seconds), over the last ``window`` s.

    Fed by a loop that sleeps ``interval`` and notes how much longer it took
    (:meth:`tick`); :attr:`typical` is the mean overshoot — roughly what the loop's lag adds
    to the spread of the arrival times it stamps on packets.
    """

    def __init__(self, window: float = 3.0) -> None:
        self._window = window
        self._samples: deque[tuple[float, float]] = deque()

    def tick(self, now: float, slept: float, interval: float) -> None:
        self._samples.append((now, max(0.0, slept - interval)))
        while self._samples and now - self._samples[0][0] > self._window:
            self._samples.popleft()

    @property
    def typical(self) -> float:
        return sum(lag for _, lag in self._samples) / len(self._samples) if self._samples else 0.0


class StreamMeter:
    """Cumulative counters of one stream, sampled ~1/s → windowed loss and bitrate."""

    def __init__(self, window: int = 3) -> None:
        self._samples: deque[tuple[float, int, int, int]] = deque(maxlen=window + 1)
        self.jitter: float | None = None
        self.rtt: float | None = None
        self._last_growth: float | None = None

    def sample(self, t: float, *, packets: int, lost: int = 0, bytes_: int = 0,
               jitter: float | None = None, rtt: float | None = None) -> None:
        """``packets``: received (or sent) so far; ``lost``: lost so far; ``bytes_``: bytes so far."""
        if self._samples and (packets > self._samples[-1][1] or bytes_ > self._samples[-1][3]):
            self._last_growth = t
        elif not self._samples:
            self._last_growth = None
        if self._samples and (packets < self._samples[-1][1] or bytes_ < self._samples[-1][3]):
            self._samples.clear()  # a stream went away: start over
        self._samples.append((t, packets, lost, bytes_))
        if jitter is not None:
            self.jitter = jitter
        if rtt is not None:
            self.rtt = rtt

    @property
    def fraction_lost(self) -> float | None:
        if len(self._samples) < 2:
            return None
        first, last = self._samples[0], self._samples[-1]
        received = last[1] - first[1]
        lost = max(0, last[2] - first[2])
        total = received + lost
        return lost / total if total > 0 else None

    @property
    def bitrate(self) -> float | None:
        if len(self._samples) < 2:
            return None
        first, last = self._samples[-2], self._samples[-1]
        dt = last[0] - first[0]
        return (last[3] - first[3]) * 8.0 / dt if dt > 0 else None

    def flowing(self, now: float, grace: float = 2.5) -> bool:
        """Packets arrived within ``grace`` seconds (or it is too early to tell)."""
        if len(self._samples) < 2:
            return True
        return self._last_growth is not None and now - self._last_growth <= grace


def participant_quality(directions: dict[str, dict[str, DirectionQuality]], verbosity: int) -> Any:
    """``directions[kind][send|recv]`` → the MSP value at ``verbosity`` (1..3).

    Nothing to measure (publishing and receiving nothing) is level 5.
    """
    levels = [d.level for by_dir in directions.values() for d in by_dir.values()]
    level = min(levels) if levels else 5
    if verbosity <= 1:
        return level
    value: dict[str, Any] = {"level": level}
    for kind in ("audio", "video"):
        by_dir = directions.get(kind)
        if not by_dir:
            value[kind] = None
            continue
        entry: dict[str, Any] = {"send": by_dir["send"].level if "send" in by_dir else None,
                                 "recv": by_dir["recv"].level if "recv" in by_dir else None}
        if verbosity >= 3:
            entry["sendStats"] = by_dir["send"].stats() if "send" in by_dir else None
            entry["recvStats"] = by_dir["recv"].stats() if "recv" in by_dir else None
        value[kind] = entry
    return value
