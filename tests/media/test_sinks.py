import asyncio
import threading
import time
from typing import Any

import numpy as np

from core.media.levels import AudioLevel
from core.media.sinks import AudioFanout, LatestFrameSink, ThreadedSink, VideoFanout
from pairs import FakeAudioTrack, FakeVideoTrack


def other_tasks() -> set[asyncio.Task]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()}


async def wait_until(predicate, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.005)


async def test_fanout_delivers_and_reports() -> None:
    events: list[object] = []
    track = FakeVideoTrack([(64, 48)] * 5 + [(32, 24)] * 5, interval=0.01)
    fanout = VideoFanout(
        track,
        on_started=lambda: events.append("started"),
        on_dimensions=lambda w, h: events.append((w, h)),
        on_ended=lambda: events.append("ended"),
    )
    got_a: list = []
    got_b: list = []
    fanout.add_sink(got_a.append)
    fanout.start()
    fanout.start()  # idempotent
    await wait_until(lambda: fanout.frames >= 2)
    fanout.add_sink(got_b.append)  # late sink gets the latest frame at once
    await wait_until(lambda: fanout.ended)
    await asyncio.sleep(0.01)
    assert events == [(64, 48), "started", (32, 24), "ended"]
    assert fanout.frames == 10 and len(got_a) == 10
    assert 1 <= len(got_b) <= 9 and got_b[-1] is got_a[-1] is fanout.latest_frame
    assert fanout.dimensions == (32, 24)
    assert not fanout.running
    assert not other_tasks()  # sink tasks end with the track
    await fanout.stop()


async def test_slow_sink_sees_only_latest_frames() -> None:
    track = FakeVideoTrack([(64, 48)] * 60, interval=0.005)
    fanout = VideoFanout(track)
    fast: list = []
    slow: list = []

    async def slow_sink(frame) -> None:
        slow.append(frame)
        await asyncio.sleep(0.05)

    fanout.add_sink(fast.append)
    fanout.add_sink(slow_sink)
    fanout.add_sink(lambda f: time.sleep(0.002))  # a slow-ish sync sink
    async with fanout:
        await wait_until(lambda: fanout.ended)
        await asyncio.sleep(0.12)
    assert len(fast) == 60
    stats = fanout.sink_stats(slow_sink)
    assert stats.delivered == len(slow) < 20
    assert stats.delivered + stats.skipped == 60
    assert slow[-1] is fast[-1]  # the last frame still reached the slow sink
    assert not other_tasks()


async def test_stop_cancels_everything_and_sink_errors_are_contained() -> None:
    track = FakeVideoTrack(iter(lambda: (32, 24), None), interval=0.005)  # endless
    fanout = VideoFanout(track)
    calls = []

    def broken(frame) -> None:
        calls.append(frame)
        raise RuntimeError("boom")

    async def hanging(frame) -> None:
        await asyncio.sleep(3600)

    before = other_tasks()
    fanout.add_sink(broken)
    fanout.add_sink(hanging)
    fanout.start()
    await wait_until(lambda: len(calls) >= 5)
    assert fanout.running and fanout.fps > 50
    await fanout.stop()
    assert other_tasks() == before
    assert not fanout.running and not fanout.ended
    n = fanout.frames
    await asyncio.sleep(0.03)
    assert fanout.frames == n


async def test_remove_sink() -> None:
    track = FakeVideoTrack(iter(lambda: (32, 24), None), interval=0.005)
    got: list = []
    async with VideoFanout(track) as fanout:
        fanout.add_sink(got.append)
        await wait_until(lambda: len(got) >= 3)
        fanout.remove_sink(got.append)
        fanout.remove_sink(got.append)  # no-op
        n = len(got)
        await asyncio.sleep(0.03)
        assert len(got) <= n + 1
        assert fanout.sinks == []


async def test_audio_fanout_levels_and_sinks() -> None:
    loud = np.full(1920, 8000, np.int16)
    blocks = [loud] * 5 + [np.zeros(1920, np.int16)] * 5
    levels: list[AudioLevel] = []
    started: list[int] = []
    got: list[Any] = []
    fanout = AudioFanout(FakeAudioTrack(blocks), on_level=levels.append,
                         on_started=lambda: started.append(1), output=got.append)
    fanout.add_sink(lambda f: None)
    fanout.start()
    await wait_until(lambda: fanout.ended)
    assert started == [1] and len(got) == 10 and fanout.frames == 10
    assert levels[0].level == 8000 and levels[0].dbov > -13
    assert levels[-1].level == 0 and fanout.level == levels[-1]
    await fanout.stop()
    assert not other_tasks()


def test_latest_frame_sink_across_threads() -> None:
    sink: LatestFrameSink[int] = LatestFrameSink()
    assert sink.get() is None and sink.take() is None
    seen: list[int] = []

    def reader() -> None:
        while True:
            item = sink.wait(timeout=1.0)
            if item is None:
                return
            seen.append(item)

    thread = threading.Thread(target=reader)
    thread.start()
    for i in range(1, 2001):
        sink(i)
    time.sleep(0.05)
    sink.close()
    thread.join(2)
    assert not thread.is_alive()
    assert seen == sorted(seen) and seen[-1] == 2000 and len(set(seen)) == len(seen)
    assert sink.get() == 2000 and sink.seq == 2000
    assert sink.take() is None  # already taken by the reader


def test_threaded_sink_latest_wins() -> None:
    done: list[int] = []

    def work(i: int) -> None:
        time.sleep(0.01)
        done.append(i)

    sink = ThreadedSink(work)
    for i in range(100):
        sink(i)
        time.sleep(0.0005)
    time.sleep(0.05)
    sink.close()
    assert not sink.alive
    assert done[-1] == 99 and len(done) < 50 and done == sorted(done)


async def test_broken_track_counts_as_ended() -> None:
    from aiortc.mediastreams import MediaStreamTrack

    class Broken(MediaStreamTrack):
        kind = "video"

        async def recv(self):
            raise RuntimeError("decoder exploded")

    ended = []
    fanout = VideoFanout(Broken(), on_ended=lambda: ended.append(1))
    fanout.start()
    await wait_until(lambda: fanout.ended)
    assert ended == [1] and not fanout.running
    await fanout.stop()
