"""A busy machine is not a bad network: how network quality discounts our own lag.

On a loaded machine the reports whose round trip aiortc measures, and the packets whose
arrival times give the jitter, wait in our own event loop's queue (bench/busy_quality.py
reproduces it with CPU hogs: a 0 %-loss loopback call read 1). Round trips are the floor of
the recent reports (``core.media.watchdog.min_rtt``), not aiortc's moving average of delayed
ones, and what our own loop's lag adds to the jitter our receivers measure is taken off
(``core.network_quality_score.LoopLag``).
"""

from __future__ import annotations

import time

from core.media.watchdog import last_acknowledged, min_rtt
from core.network_quality_score import LoopLag, direction_quality


def test_the_round_trip_is_the_floor_of_recent_reports() -> None:
    from aiortc import RTCRtpSender

    class _Sender(RTCRtpSender):
        def __init__(self) -> None:  # no transport needed to hold report samples
            pass

    sender = _Sender()
    now = time.monotonic()
    last_acknowledged(sender).rtts.extend([(now - 1, 0.61), (now - 0.5, 0.004), (now, 0.35), (now - 9, 0.001)])
    assert min_rtt(sender, now) == 0.004  # a report that waited in a busy loop is not the network


def test_our_own_loop_lag_is_taken_off_the_jitter() -> None:
    lag = LoopLag()
    for i in range(20):
        lag.tick(i * 0.15, 0.15, 0.1)  # every tick 50 ms late
    assert abs(lag.typical - 0.05) < 1e-9
    assert direction_quality(jitter=0.07).level <= 3
    assert direction_quality(jitter=0.07, local_delay=lag.typical).level == 5
