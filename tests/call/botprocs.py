"""``confab-server`` and ``confab-bot`` as real processes, for the tests that run them."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

BIN = Path(sys.executable).parent
FPS = 15
WIDTH, HEIGHT = 320, 240


@contextlib.contextmanager
def server_process(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """A ``confab-server --port 0 --dev`` process; yields its URL; asserts no traceback at the end."""
    proc = subprocess.Popen(
        [str(BIN / "confab-server"), "--port", "0", "--dev", "--data-dir", str(data_dir), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("confab-server listening on "), line
    try:
        yield line.split()[-1]
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=10)
    assert "Traceback" not in stderr, stderr


def run_bot(url: str, room: str, identity: str, duration: float) -> subprocess.Popen:
    """A bot publishing WIDTH×HEIGHT@FPS video and a tone for ``duration`` seconds."""
    return subprocess.Popen(
        [str(BIN / "confab-bot"), "--url", url, "--room", room, "--identity", identity,
         "--duration", str(duration), "--width", str(WIDTH), "--height", str(HEIGHT), "--fps", str(FPS),
         "--audio-kind", "tone"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def events(proc: subprocess.Popen) -> list[dict]:
    """The bot's JSON lines, once it exited 0 without a traceback."""
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    return [json.loads(line) for line in out.splitlines() if line.strip()]
