"""Recordings standing in for a camera, and a sink telling which one a remote sees."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import numpy as np


def record_clip(path: Path, yuv: tuple[int, int, int], size: tuple[int, int] = (320, 240)) -> Path:
    """A one-second recording of one flat colour, standing in for a camera."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=15)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        w, h = size
        planes = np.empty(w * h * 3 // 2, dtype=np.uint8)
        planes[: w * h], planes[w * h : w * h * 5 // 4], planes[w * h * 5 // 4 :] = yuv
        for _ in range(15):
            frame = av.VideoFrame.from_ndarray(planes.reshape(h * 3 // 2, w), format="yuv420p")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


class Chroma:
    """A video sink: the mean V (red-difference) of the newest frame."""

    def __init__(self) -> None:
        self.v = 0.0

    def __call__(self, frame: Any) -> None:
        self.v = float(frame.to_ndarray(format="yuv420p")[frame.height + frame.height // 4 :].mean())
