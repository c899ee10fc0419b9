"""bench/scale.py end to end at N=2 for a few seconds: JSON shape, and frames flowed (no timing asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.media  # real aiortc peer connections over loopback

ROOT = Path(__file__).resolve().parents[2]


def test_scale_bench_two_participants() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "scale.py"), "--sizes", "2", "--warmup", "1", "--measure", "2",
         "--procs", "1"],
        capture_output=True, text=True, timeout=60, cwd=ROOT, check=True)
    result = json.loads(out.stdout)
    assert result["bench"] == "scale"
    assert {"steps", "max_participants", "empty_server_rss_mb", "goal_met"} <= result.keys()
    (step,) = result["steps"]
    assert step["participants"] == 2
    for key in ("server_cpu_pct", "server_rss_mb", "mb_per_participant", "min_fps", "median_fps",
                "min_audio_fps", "clients_cpu_pct"):
        assert isinstance(step[key], (int, float)), key
    assert step["join_errors"] == []
    assert step["missing_pairs"] == 0
    assert step["min_fps"] > 0 and step["min_audio_fps"] > 0  # video and audio reached both subscribers
    assert step["unattributed_frames"] == 0
    assert step["server_rss_mb"] > 0
