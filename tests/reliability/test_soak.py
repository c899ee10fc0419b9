"""bench/soak.py end to end: churning bots in a group room, then views, data and server resources.

The default run churns 3 bots for 6 s; ``-m long`` runs the bench's own defaults (8 bots, 60 s).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def soak(*args: str, timeout: float) -> dict:
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "soak.py"), *args],
                         capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.splitlines()[-1])


def check(result: dict) -> None:
    assert result["views_match"], result["mismatches"]
    assert result["data"]["sent"] > 0 and result["data"]["lost"] == 0 and result["data"]["reordered"] == 0
    assert result["returned_to_baseline"], result["server"]
    assert result["ok"]


@pytest.mark.media
def test_soak_short() -> None:
    result = soak("--bots", "3", "--seconds", "6", timeout=110)
    assert sum(result["actions"].values()) >= 5
    check(result)


@pytest.mark.long
@pytest.mark.timeout(400)
def test_soak_long() -> None:
    check(soak(timeout=390))
