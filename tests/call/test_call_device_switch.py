"""Changing camera, microphone and speaker during a call: LocalTrack.restart swaps the device
under the published track (same sid, no unpublish) and the remote side sees and hears it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import pulseserver
from callutil import EventLog, JoinFn, subscribed, until
from core.local_tracks import create_local_audio_track, create_local_video_track
from core.media import devices
from core.media.pulse import PulseAudioSource
from recorded import Chroma, record_clip


async def test_camera_switch_keeps_the_track_and_the_remote_sees_the_new_camera(
        join: JoinFn, tmp_path: Path) -> None:
    red = record_clip(tmp_path / "red.mp4", (82, 90, 240))
    camera = create_local_video_track("synthetic:camera", name="camera", width=320, height=240, fps=15)
    alice = await join("alice", tracks=[camera])
    bob = await join("bob")
    remote = await until(lambda: subscribed(bob, "alice", "video"))
    sid = remote.sid
    seen = Chroma()
    remote.add_sink(seen)
    await until(lambda: 0 < seen.v < 200)  # the test pattern's colour
    bob_events = EventLog(bob, "trackUnpublished", "trackUnsubscribed", "trackSubscribed")
    track_events = EventLog(camera, "stopped", "started")

    await camera.restart({"device": f"file:{red}"})
    try:
        await until(lambda: seen.v > 220)  # red, from the recording
        published = [pub.track for pub in alice.local_participant.video_tracks.values()]
        assert subscribed(bob, "alice", "video").sid == sid and published == [camera]
        assert bob_events.names() == [] and not camera.is_stopped
        await until(lambda: track_events.names() == ["stopped", "started"])
    finally:
        camera.stop()  # the recording's player thread


async def test_a_device_that_cannot_open_leaves_the_track_as_it_was(join: JoinFn) -> None:
    camera = create_local_video_track("synthetic:camera", width=160, height=120, fps=10)
    await join("alice", tracks=[camera])
    before = camera.media_stream_track
    with pytest.raises(devices.DeviceError):
        await camera.restart({"device": "file:/nonexistent/clip.mp4"})
    assert camera.media_stream_track is before and not camera.is_stopped
    with pytest.raises(TypeError):
        await camera.restart({"colour": "blue"})


def _mono(frame: Any) -> np.ndarray:
    data = frame.to_ndarray()
    return data[0, :: len(frame.layout.channels)] if frame.format.is_packed else data[0]


class Heard:
    """An audio sink (or reader) keeping the last ``seconds`` of mono samples."""

    def __init__(self, seconds: float = 0.4) -> None:
        self.samples = np.zeros(0, dtype=np.int16)
        self.keep = int(seconds * pulseserver.RATE)
        self.since = time.monotonic()

    def __call__(self, frame: Any) -> None:
        self.samples = np.concatenate([self.samples, _mono(frame)])[-self.keep :]

    def reset(self) -> None:
        self.samples = self.samples[:0]

    def hz(self) -> float:
        if len(self.samples) < self.keep or np.abs(self.samples).max() < 1000:
            return 0.0
        return pulseserver.dominant_hz(self.samples)


async def _listen(source: PulseAudioSource, heard: Heard) -> None:
    while True:
        heard(await source.recv())


@pytest.mark.skipif(not pulseserver.available(), reason="needs pulseaudio (Debian: pulseaudio)")
async def test_microphone_and_speaker_switch_on_pulseaudio(
        join: JoinFn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pulse = pulseserver.PulseServer(tmp_path / "pulse", ["spk_a", "spk_b", "out_c", "out_d"])
    try:
        for key, value in pulse.env().items():
            monkeypatch.setenv(key, value)
        pulse.play_tone("spk_a", 440)
        pulse.play_tone("spk_b", 1000)
        mics = devices.list_audio_inputs()
        assert mics[0].backend == "pulse" and mics[-1].synthetic  # real ones first
        assert "Monitor of Spk a" in [d.name for d in mics]
        assert devices.list_audio_outputs()[0].id == "pulse:spk_a"

        mic = create_local_audio_track("pulse:spk_a.monitor", name="microphone")
        await join("alice", tracks=[mic])
        bob = await join("bob")
        remote = await until(lambda: subscribed(bob, "alice", "audio"))
        heard = Heard()
        remote.media_stream_track.set_output(heard)
        await until(lambda: abs(heard.hz() - 440) < 25, timeout=15)
        bob_events = EventLog(bob, "trackUnpublished", "trackUnsubscribed")

        await mic.restart({"device": "pulse:spk_b.monitor"})
        heard.reset()
        await until(lambda: abs(heard.hz() - 1000) < 25, timeout=15)
        assert subscribed(bob, "alice", "audio").sid == remote.sid and bob_events.names() == []

        # The speaker: bob plays alice on out_c, then on out_d; each sink's monitor hears it.
        remote.media_stream_track.set_output(None)
        for sink in ("out_c", "out_d"):
            remote.attach(f"pulse:{sink}")
            monitor = PulseAudioSource(f"{sink}.monitor")
            on_sink = Heard()
            listener = asyncio.ensure_future(_listen(monitor, on_sink))
            try:
                await until(lambda: abs(on_sink.hz() - 1000) < 25, timeout=15)
            finally:
                listener.cancel()
                monitor.stop()
        remote.detach()
    finally:
        pulse.close()
