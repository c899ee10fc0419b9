import asyncio
import time

import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError

from core.media.levels import frame_level
from core.media.sources import SyntheticAudioSource, SyntheticVideoSource
from core.media.stamp import read_stamp


async def test_video_frames_are_stamped_yuv420p_at_size() -> None:
    src = SyntheticVideoSource(320, 240, fps=30, label="alice")
    frames = [await src.recv() for _ in range(5)]
    src.stop()
    for i, frame in enumerate(frames):
        assert (frame.width, frame.height, frame.format.name) == (320, 240, "yuv420p")
        assert frame.time_base is not None and frame.time_base.denominator == 90000
        assert frame.pts == i * 3000
        stamp = read_stamp(frame)
        assert stamp is not None and stamp.counter == i
        assert abs(stamp.timestamp_ms - time.time() * 1000) < 5000
    assert np.any(frames[0].to_ndarray() != frames[4].to_ndarray())  # it moves


async def test_video_pacing_does_not_drift() -> None:
    src = SyntheticVideoSource(160, 120, fps=50)
    start = time.monotonic()
    for _ in range(26):
        frame = await src.recv()
    elapsed = time.monotonic() - start
    assert 0.47 <= elapsed <= 0.6  # 25 intervals of 20 ms
    assert frame.pts == 25 * 1800
    src.stop()
    with pytest.raises(MediaStreamError):
        await src.recv()


async def test_video_pts_exact_for_fractional_fps() -> None:
    src = SyntheticVideoSource(64, 40, fps=29.97)
    src._pacer.start = time.monotonic() - 100.0  # pretend we have been running: no sleeping
    src._pacer.slot = 2996
    src._pacer.max_lag_slots = 1e9
    frame = await src.recv()
    assert frame.pts == round(2997 * 90000 / 29.97) == 9_000_000


async def test_video_drops_slots_when_consumer_lags() -> None:
    src = SyntheticVideoSource(64, 40, fps=30)
    first = await src.recv()
    await asyncio.sleep(0.3)  # ~9 intervals late
    late = await src.recv()
    assert late.pts is not None and first.pts is not None
    assert late.pts - first.pts >= 8 * 3000  # pts follows capture time
    stamp = read_stamp(late)
    assert stamp is not None and stamp.counter == 1  # counter counts emitted frames


def test_sources_have_distinct_colours() -> None:
    labels = ["alice", "bob", "carol", "dave"]
    chromas = [SyntheticVideoSource(64, 40, label=name).chroma for name in labels]
    assert len(set(chromas)) == len(labels)
    assert SyntheticVideoSource(64, 40, label="alice").chroma == chromas[0]  # stable per label
    assert SyntheticVideoSource(64, 40).seed != SyntheticVideoSource(64, 40).seed


async def test_video_resize() -> None:
    src = SyntheticVideoSource(320, 240)
    await src.recv()
    src.resize(160, 120)
    frame = await src.recv()
    assert (frame.width, frame.height) == (160, 120)
    stamp = read_stamp(frame)
    assert stamp is not None and stamp.counter == 1


async def test_audio_tone_frames() -> None:
    src = SyntheticAudioSource("tone", frequency=440, amplitude=0.5)
    assert src.kind == "audio" and src.signal == "tone"
    start = time.monotonic()
    frames = [await src.recv() for _ in range(11)]
    assert 0.18 <= time.monotonic() - start <= 0.3
    for i, frame in enumerate(frames):
        assert frame.format.name == "s16" and frame.layout.name == "mono"
        assert frame.samples == 960 and frame.sample_rate == 48000
        assert frame.pts == i * 960
    level = frame_level(frames[3])
    assert abs(level.dbov - (20 * np.log10(0.5) - 3.01)) < 0.2
    assert abs(level.level - 0.5 * 32767) < 50
    # Phase-continuous across frames: no jump between consecutive samples.
    joined = np.concatenate([f.to_ndarray()[0] for f in frames]).astype(int)
    assert np.abs(np.diff(joined)).max() < 0.5 * 32767 * 2 * np.pi * 440 / 48000 + 2


def test_audio_schedule_and_override() -> None:
    src = SyntheticAudioSource("tone", schedule=[(1.0, 2.0), (3.0, 3.5)])
    silent = src.render(0)
    loud = src.render(48000 + 960 * 10)
    assert not silent.any() and frame_level_of(loud) > -20
    assert not src.render(int(2.5 * 48000)).any()
    assert src.render(int(3.2 * 48000)).any()
    src.set_speaking(True)
    assert src.render(0).any() and src.speaking
    src.set_speaking(False)
    assert not src.render(int(1.5 * 48000)).any() and not src.speaking
    src.set_speaking(None)
    assert src.render(int(1.5 * 48000)).any()


def frame_level_of(samples: np.ndarray) -> float:
    from core.media.levels import samples_level

    return samples_level(samples).dbov


def test_speech_is_bursty() -> None:
    src = SyntheticAudioSource("speech", frequency=140)
    levels = [frame_level_of(src.render(i * 960)) for i in range(100)]  # 2 s
    loud = [lvl for lvl in levels if lvl > -30]
    quiet = [lvl for lvl in levels if lvl < -45]
    assert len(loud) >= 20 and len(quiet) >= 10  # syllables and pauses


def test_audio_rejects_bad_kind() -> None:
    with pytest.raises(ValueError):
        SyntheticAudioSource("noise")


async def test_audio_stop_ends_recv() -> None:
    src = SyntheticAudioSource()
    await src.recv()
    src.stop()
    with pytest.raises(MediaStreamError):
        await src.recv()
