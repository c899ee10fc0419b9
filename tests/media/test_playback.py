import asyncio
import io
import os
import threading
from pathlib import Path

import av
import numpy as np
import pytest

from core.media.playback import AudioPlayback, ensure_alsa_config
from core.media.sinks import AudioFanout
from pairs import FakeAudioTrack


def stereo_frame(value: int = 1000) -> av.AudioFrame:
    frame = av.AudioFrame.from_ndarray(np.full((1, 1920), value, np.int16), format="s16", layout="stereo")
    frame.sample_rate = 48000
    return frame


async def test_fanout_plays_every_frame_through_pyav_muxer(tmp_path) -> None:
    """The playback path (resample, encode, mux) with a file muxer standing in for a device."""
    path = str(tmp_path / "out.wav")
    playback = AudioPlayback(path, format="wav", max_latency_ms=2000)
    blocks = [np.full(1920, 3000, np.int16)] * 50
    fanout = AudioFanout(FakeAudioTrack(blocks), output=playback)
    fanout.start()
    while not fanout.ended:
        await asyncio.sleep(0.01)
    await fanout.stop()
    playback.close()
    assert playback.error is None and playback.frames_written == 50 and playback.frames_dropped == 0
    with av.open(path) as container:
        samples = np.concatenate([f.to_ndarray().ravel() for f in container.decode(audio=0)])
    assert samples.size == 50 * 960 * 2 and np.all(samples == 3000)


def test_playback_resamples_mono_and_other_rates(tmp_path) -> None:
    path = str(tmp_path / "mono.wav")
    playback = AudioPlayback(path, format="wav", max_latency_ms=2000)
    for i in range(25):
        frame = av.AudioFrame.from_ndarray(np.full((1, 320), 500, np.int16), format="s16", layout="mono")
        frame.sample_rate = 16000
        frame.pts = i * 320
        playback(frame)
    playback.close()
    assert playback.error is None
    with av.open(path) as container:
        stream = container.streams.audio[0]
        assert (stream.rate, stream.channels) == (48000, 2)
        total = sum(f.samples for f in container.decode(audio=0))
    assert abs(total - 24000) <= 480  # 0.5 s, give or take the resampler's delay


class GatedFile(io.BytesIO):
    """A file whose writes block until ``gate`` is set: a device that stalls."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.blocked = threading.Event()

    def write(self, data) -> int:
        self.blocked.set()
        self.gate.wait(5)
        return super().write(data)


def test_bounded_queue_drops_oldest_when_device_stalls() -> None:
    device = GatedFile()
    # AudioPlayback opens whatever av.open takes (here a file object); its annotation says str.
    playback = AudioPlayback(device, format="wav", max_latency_ms=40)  # type: ignore[arg-type]  # see above
    assert device.blocked.wait(2)  # the writer is stuck in the device (header write)
    for i in range(10):
        playback(stereo_frame(100 * (i + 1)))
    assert playback.frames_dropped == 8
    device.gate.set()
    playback.close()
    assert playback.error is None and playback.frames_written == 2
    device.seek(0)
    with av.open(device, mode="r", format="wav") as container:
        samples = np.concatenate([f.to_ndarray().ravel() for f in container.decode(audio=0)])
    assert set(np.unique(samples)) == {900, 1000}  # the newest two survived


def test_missing_device_reports_error(tmp_path: Path) -> None:
    errors: list[BaseException] = []
    playback = AudioPlayback(str(tmp_path / "missing" / "out.wav"), format="wav", on_error=errors.append)
    assert playback.opened.wait(15)  # set once the open failed (a loaded machine may take a while)
    playback.close()
    assert playback.error is not None and errors == [playback.error]
    playback(stereo_frame())  # ignored after failure, never raises


def test_alsa_null_pcm_if_available() -> None:
    """A real libasound output (the 'null' PCM discards): skipped without ALSA config."""
    ensure_alsa_config()
    if not os.path.exists(os.environ.get("ALSA_CONFIG_PATH", "/nonexistent")):
        pytest.skip("no ALSA configuration on this machine")
    playback = AudioPlayback("null", format="alsa")
    playback.opened.wait(2)
    for _ in range(10):
        playback(stereo_frame())
    playback.close()
    if playback.error is not None:
        pytest.skip(f"ALSA null PCM unavailable: {playback.error}")
    assert playback.frames_written == 10
