"""freezeCount as webrtc-stats defines it: a delay over max(3 x average, average + 150 ms)."""

from core.media.freezes import FreezeCounter


def test_a_long_gap_is_one_freeze_and_jitter_is_none() -> None:
    counter = FreezeCounter()
    t = 0.0
    for i in range(60):  # 30 fps with ±10 ms jitter: never a freeze
        t += 1 / 30 + (0.01 if i % 2 else -0.01)
        counter.frame(t)
    assert counter.count == 0
    t += 0.180  # 3 x 33 ms = 100 ms, 33 + 150 = 183 ms: still not a freeze
    counter.frame(t)
    assert counter.count == 0
    t += 0.5
    counter.frame(t)
    assert counter.count == 1 and abs(counter.total_duration - 0.5) < 1e-9


def test_slow_video_needs_a_longer_gap_and_the_start_never_counts() -> None:
    counter = FreezeCounter()
    counter.frame(0.0)
    counter.frame(2.0)  # no history yet: the first delays are never a freeze
    assert counter.count == 0
    t = 2.0
    for _ in range(35):  # 5 fps, long enough for the 2 s start-up delay to leave the 30-delay average
        t += 0.2
        counter.frame(t)
    t += 0.55  # under 3 x 200 ms
    counter.frame(t)
    assert counter.count == 0
    t += 0.7
    counter.frame(t)
    assert counter.count == 1
