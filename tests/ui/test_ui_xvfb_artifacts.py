"""The screenshots CI keeps (``artifacts/``), taken from real X windows: the tests that stage
each screen rerun in a subprocess with Qt on the xcb platform of a private Xvfb, and their
``save_artifact`` (tests/ui/uilive.py) saves what the X server shows of the window."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QImage

import xserver
from uilive import ARTIFACTS, PLATFORM_KEY

REPO = Path(__file__).resolve().parents[2]
UI = "tests/ui"
# artifact -> the test that stages it (what it shows: see each test).
SHOTS = {
    "join-devices.png": f"{UI}/test_ui_devices_live.py::test_device_menu_switches_camera_microphone_and_speaker",
    "screen-share-local.png": f"{UI}/test_ui_devices_live.py::test_screen_picker_shares_the_chosen_window",
    "screen-share-remote-in-app.png": f"{UI}/test_ui_devices_live.py::test_screen_picker_shares_the_chosen_window",
    "speaker-pinned.png": f"{UI}/test_ui_room_extras.py::test_pin_a_tile_keeps_it_large_whoever_speaks",
    "raised-hand.png": f"{UI}/test_ui_meeting_live.py::test_raise_hand_both_ways",
    "join-error.png": f"{UI}/test_ui_meeting_live.py::test_errors_in_words_and_the_form_stays_usable",
    "meeting-ended.png": f"{UI}/test_ui_meeting_live.py::test_meeting_ended_page_and_rejoin",
}


def _rgb(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, : image.width() * 3].reshape(image.height(), image.width(), 3).copy()  # outlives image


@pytest.mark.timeout(300)  # six live tests in a subprocess
def test_the_screens_ci_keeps_are_saved_from_real_x_windows(qapp: object) -> None:
    if not xserver.available():
        pytest.skip("Xvfb or libX11 is not installed (.ci/run installs xvfb)")
    display = xserver.Xvfb((1280, 800))
    started = time.time()
    for name in SHOTS:
        (ARTIFACTS / name).unlink(missing_ok=True)
    try:
        env = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY", "PYTEST_ADDOPTS")}
        env.update(DISPLAY=display.display, QT_QPA_PLATFORM="xcb")
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               *dict.fromkeys(SHOTS.values())], cwd=REPO, env=env, capture_output=True,
                              text=True, timeout=300)
    finally:
        display.close()
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    for name in SHOTS:
        path = ARTIFACTS / name
        assert path.exists() and path.stat().st_mtime >= started, f"{name} was not saved"
        image = QImage(str(path))
        assert image.text(PLATFORM_KEY) == "xcb", name  # an X window, not the offscreen platform
        assert image.width() >= 900 and image.height() >= 580, (name, image.size())
        rgb = _rgb(image)
        assert rgb.std() > 8, f"{name} is nearly uniform: an unpainted window?"
