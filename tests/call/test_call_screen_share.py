"""Screen share of a real X display: the picker lists the Xvfb screen and a window by name,
x11grab captures them, and a remote participant decodes the pixels painted there."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import xserver
from callutil import JoinFn, subscribed, until
from core import LocalVideoTrack
from core.media import devices

pytestmark = pytest.mark.skipif(not xserver.available(), reason="needs Xvfb and libX11")

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
ORANGE = (255, 128, 0)
TEAL = (0, 128, 128)


@pytest.fixture
def xvfb(monkeypatch: pytest.MonkeyPatch) -> Iterator[xserver.Xvfb]:
    display = xserver.Xvfb((320, 240))
    monkeypatch.setenv("DISPLAY", display.display)
    try:
        yield display
    finally:
        display.close()


class Latest:
    def __init__(self) -> None:
        self.frame: Any = None

    def __call__(self, frame: Any) -> None:
        self.frame = frame

    def rgb(self, x: int, y: int) -> tuple[int, ...]:
        return tuple(int(c) for c in self.frame.to_ndarray(format="rgb24")[y, x])


def near(rgb: tuple[int, ...], expected: tuple[int, int, int], tol: int = 30) -> bool:
    return all(abs(a - b) <= tol for a, b in zip(rgb, expected, strict=True))


async def _share(join: JoinFn, device: devices.Device) -> tuple[Latest, LocalVideoTrack]:
    screen = LocalVideoTrack(devices.open_screen(device, 320, 240, 10), name="screen")
    await join("alice", tracks=[screen])
    bob = await join("bob")
    remote = await until(lambda: subscribed(bob, "alice", "video"))
    seen = Latest()
    remote.add_sink(seen)
    return seen, screen


async def test_share_the_xvfb_screen(join: JoinFn, xvfb: xserver.Xvfb) -> None:
    xvfb.paint_root(ORANGE)
    screens = devices.list_screens()
    assert screens[0] == devices.Device(f"x11grab:{xvfb.display}", "Entire screen (320x240)", "screen")
    assert screens[-1].synthetic
    seen, screen = await _share(join, screens[0])
    try:
        await until(lambda: seen.frame is not None and near(seen.rgb(60, 200), ORANGE), timeout=15)
        assert (seen.frame.width, seen.frame.height) == (320, 240)
        xvfb.paint_root(TEAL)  # live: what is on the screen now
        await until(lambda: near(seen.rgb(60, 200), TEAL), timeout=10)
        xserver.save_png(seen.frame, ARTIFACTS / "screen-share-remote.png")
    finally:
        screen.stop()


async def test_share_one_window(join: JoinFn, xvfb: xserver.Xvfb) -> None:
    xvfb.paint_root(ORANGE)
    window = xvfb.window("Quarterly report", TEAL, (40, 30, 160, 120))
    listed = {d.name: d for d in devices.list_screens()}
    device = listed["Window: Quarterly report (160x120)"]
    assert device.id == f"x11grab:{xvfb.display}@{window:#x}"
    seen, screen = await _share(join, device)
    try:
        await until(lambda: seen.frame is not None and seen.frame.width == 160, timeout=15)
        pixels = seen.frame.to_ndarray(format="rgb24").reshape(-1, 3)
        assert near(tuple(int(c) for c in np.median(pixels, axis=0)), TEAL)  # the window, not the screen
    finally:
        screen.stop()
