"""bench/latency.py end to end, one run of each path: JSON shape, every path measured, phases in order.

No timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.media  # real aiortc peer connections over loopback

ROOT = Path(__file__).resolve().parents[2]


def test_latency_bench_one_run_of_each_path() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "latency.py"), "--runs", "1", "--glass-runs", "1",
         "--glass-seconds", "1.5", "--no-janus"],
        capture_output=True, text=True, timeout=90, cwd=ROOT, check=True)
    result = json.loads(out.stdout)
    assert result["bench"] == "latency"
    for path in ("aiortc_pair", "confab_p2p", "confab_group"):
        assert result["join_to_first_frame_ms"][path]["median"] > 0, path
        phases = result["phases_ms"][path]
        assert {"ice>", "ice<", "dtls>", "dtls<", "first_rtp", "first_frame"} <= phases.keys(), path
        assert phases["dtls<"][0] <= phases["first_rtp"][0] <= phases["first_frame"][0], path
    assert "ws_open+ice_hello<" in result["phases_ms"]["confab_p2p"]
    for path in ("aiortc", "assembler", "confab-p2p", "confab-group"):
        assert result["glass_to_glass_ms"][path]["frames"] > 0, path
    assert "skipped" in result["janus"] and "reference_not_measured" in result["janus"]
    goals = result["goals"]
    assert {"p2p_join_within_1.2x_aiortc_pair", "group_join_within_janus"} <= goals.keys()
    assert goals["janus_join_source"].startswith("reference")
