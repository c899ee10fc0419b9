"""``confab --self-test``: what ``make package`` runs on the bundle, here on the source tree."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.ui, pytest.mark.media]

REPO = Path(__file__).resolve().parents[2]


def test_self_test_joins_a_built_in_server_and_paints_a_remote_frame(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["CONFAB_CONFIG_DIR"] = str(tmp_path / "config")
    done = subprocess.run([sys.executable, "-m", "app.main", "--self-test"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[-1].endswith("a remote frame painted (selftest-bot): OK"), lines
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []  # no capture, no data directory left behind
