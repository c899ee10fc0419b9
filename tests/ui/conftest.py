"""Fixtures for the Qt widget tests (offscreen, pytest-qt)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Before anything creates the QApplication (pytest-qt's ``qapp``).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "call"))  # pulseserver, as tests/group does

from collections.abc import Callable

import av
import numpy as np
import pytest

RED = (255, 0, 0)
BLUE = (0, 0, 255)
GREEN = (0, 255, 0)

FrameFactory = Callable[..., av.VideoFrame]


def split_frame(width: int, height: int, left: tuple[int, int, int] = RED,
                right: tuple[int, int, int] = BLUE) -> av.VideoFrame:
    """A yuv420p frame whose left half is ``left`` and right half ``right``."""
    rgb = np.zeros((height, width, 3), dtype=np.uint8)
    rgb[:, : width // 2] = left
    rgb[:, width // 2:] = right
    return av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")


@pytest.fixture
def make_frame() -> FrameFactory:
    return split_frame


def near(color: object, expected: tuple[int, int, int], tol: int = 24) -> bool:
    """``QColor`` ``color`` within ``tol`` per channel of ``expected`` (YUV rounding)."""
    rgb = (color.red(), color.green(), color.blue())  # type: ignore[attr-defined]  # a QColor (the pixel helper returns object)
    return all(abs(a - b) <= tol for a, b in zip(rgb, expected, strict=True))


@pytest.fixture
def near_color() -> Callable[..., bool]:
    return near


@pytest.fixture
def run_live(qapp, qtbot, tmp_path):
    """``run_live(scenario)``: a real server, window and session around ``scenario(live)``."""
    from uilive import run_live_fixture

    yield from run_live_fixture(qapp, qtbot, tmp_path)
