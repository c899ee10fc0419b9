"""Video processors: what a local processor writes is what the room sees; a remote one, what sinks get."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from callutil import camera, subscribed, until

pytestmark = pytest.mark.media


class Paint:
    """Writes a flat colour over the middle of each frame (the stamp strip on top stays readable)."""

    def __init__(self, rgb: tuple[int, int, int]) -> None:
        self.rgb = rgb
        self.frames = 0

    def process_frame(self, input_frame: np.ndarray, output_frame: np.ndarray) -> None:
        output_frame[:] = input_frame
        h = input_frame.shape[0]
        output_frame[h // 2:, :] = self.rgb
        self.frames += 1


class Failing:
    async def process_frame(self, input_frame: np.ndarray, output_frame: np.ndarray) -> None:
        raise ValueError("broken filter")


def middle_colour(frames: list[Any]) -> tuple[int, int, int]:
    rgb = frames[-1].to_ndarray(format="rgb24")
    h, w, _ = rgb.shape
    r, g, b = rgb[3 * h // 4 - 4:3 * h // 4 + 4, w // 2 - 4:w // 2 + 4].reshape(-1, 3).mean(axis=0)
    return round(r), round(g), round(b)


async def test_a_local_processor_changes_what_is_sent_and_a_remote_one_what_sinks_get(join) -> None:
    cam = camera("alice")
    await join("alice", tracks=[cam])
    bob = await join("bob")
    video = await until(lambda: (t := subscribed(bob, "alice", "video")) is not None and t.is_started and t)
    seen: list[Any] = []
    video.add_sink(seen.append)
    await until(lambda: len(seen) >= 3)

    red = Paint((250, 10, 10))
    assert cam.add_processor(red) is cam and cam.processor is red
    with pytest.raises(RuntimeError, match="already been added"):
        cam.add_processor(Paint((0, 0, 0)))
    await asyncio.sleep(1.0)
    r, g, b = middle_colour(seen)
    assert r > 200 and g < 60 and b < 60, (r, g, b)  # through VP8: near the painted red
    assert red.frames > 5

    blue = Paint((10, 10, 250))
    video.add_processor(blue)  # bob's own view of alice: blue over her red
    await asyncio.sleep(0.5)
    r, g, b = middle_colour(seen)
    assert b > 240 and r < 20, (r, g, b)  # exact: no codec after a remote processor
    video.remove_processor(blue)
    with pytest.raises(RuntimeError, match="different"):
        cam.remove_processor(blue)
    cam.remove_processor(red)
    await asyncio.sleep(0.2)
    painted = red.frames
    await asyncio.sleep(0.8)
    assert red.frames == painted and cam.processor is None  # no longer in the path

    with pytest.raises(TypeError, match="invalid VideoProcessor"):
        cam.add_processor(object())
    count = len(seen)
    video.add_processor(Failing())  # its frames are dropped, the call goes on
    await asyncio.sleep(0.5)
    assert len(seen) == count
