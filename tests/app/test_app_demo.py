"""``confab demo --screenshot shot.png --quit-after 8`` as QA runs it: headless, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QImage

pytestmark = [pytest.mark.ui, pytest.mark.media]

REPO = Path(__file__).resolve().parents[2]
BACKGROUND = np.array([0x1F, 0x21, 0x25], dtype=np.float64)  # ui.tile.BACKGROUND


def _confab() -> list[str]:
    script = Path(sys.executable).with_name("confab")
    return [str(script)] if script.exists() else [sys.executable, "-m", "app.main"]


def _rgb(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    data = np.frombuffer(image.constBits(), dtype=np.uint8).reshape(image.height(), image.bytesPerLine())
    return data[:, : image.width() * 3].reshape(image.height(), image.width(), 3).astype(np.float64)


def test_demo_screenshot(qapp: object, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", CONFAB_CONFIG_DIR=str(tmp_path / "config"))
    done = subprocess.run([*_confab(), "demo", "--screenshot", str(shot), "--quit-after", "8"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr and " ERROR " not in done.stderr, done.stderr[-3000:]
    assert shot.stat().st_size > 0
    assert not (tmp_path / "config" / "settings.json").exists()  # the demo's server is throwaway

    image = QImage(str(shot))
    assert not image.isNull() and (image.width(), image.height()) == (1280, 800)
    rgb = _rgb(image)
    # The stage (between the title row and the control bar) holds a 2×2 grid: You + 3 bots.
    # Each cell must be mostly video (a moving test pattern), not a tile's plain background
    # with initials (which covers ~10 % of a cell).
    top, bottom = 44, 740
    half_h, half_w = (bottom - top) // 2, image.width() // 2
    for row in range(2):
        for col in range(2):
            cell = rgb[top + row * half_h: top + (row + 1) * half_h, col * half_w: (col + 1) * half_w]
            covered = (np.abs(cell - BACKGROUND).max(axis=-1) > 30).mean()
            assert covered > 0.4 and cell.std() > 20, (row, col, covered, cell.std())


@pytest.fixture
def xvfb_display():
    """A private Xvfb screen (CI installs xvfb); the real xcb window is drawn on it."""
    import shutil

    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (.ci/run installs it)")
    display = f":{90 + os.getpid() % 9}"
    server = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):  # wait for the socket
            if Path(f"/tmp/.X11-unix/X{display[1:]}").exists():
                break
            subprocess.run(["sleep", "0.1"])
        yield display
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_demo_in_a_real_window_under_xvfb_saves_a_ci_artifact(qapp: object, tmp_path: Path, xvfb_display: str) -> None:
    artifacts = REPO / "artifacts"
    artifacts.mkdir(exist_ok=True)
    shot = artifacts / "demo-xvfb.png"
    shot.unlink(missing_ok=True)
    env = dict(os.environ, DISPLAY=xvfb_display, QT_QPA_PLATFORM="xcb",
               CONFAB_CONFIG_DIR=str(tmp_path / "config"))
    done = subprocess.run([*_confab(), "demo", "--screenshot", str(shot), "--quit-after", "8"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    image = QImage(str(shot))
    assert not image.isNull() and image.width() >= 640 and image.height() >= 400
    rgb = _rgb(image)
    assert rgb.std() > 20  # tiles with video, not an empty window


def test_headless_demo_keeps_capturing_the_call_to_the_end(qapp: object, tmp_path: Path) -> None:
    """No display: captures to ./confab-demo.png (here every 0.1 s, so some fall in the
    shutdown); the last one still shows the call."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env.update(CONFAB_CONFIG_DIR=str(tmp_path / "config"), CONFAB_LIVE_CAPTURE_S="0.1")
    done = subprocess.run([*_confab(), "demo", "--quit-after", "3"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    shot = tmp_path / "confab-demo.png"
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["confab-demo.png"]  # no partial capture left
    assert not list(tmp_path.glob(".*partial*"))
    rgb = _rgb(QImage(str(shot)))
    bar = rgb[-70:]  # the room's control bar: the red Leave button (the join screen has none)
    red = (bar[..., 0] > 180) & (bar[..., 1] < 90) & (bar[..., 2] < 90)
    assert red.sum() > 300, red.sum()
