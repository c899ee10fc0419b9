"""A flooder, a client that never reads, a thousand half-open sockets: the others' call goes on.

``bench/abuse.py`` end to end, short: a confab-server process, two real SDK bystanders
exchanging reliable data messages through it (a group room) and a newcomer joining, while an
abuser process misbehaves. Each abuser gets its cap — 53004 for the flood, its socket cut for
the one who never reads, the half-open sockets closed after the idle timeout — and the
bystanders lose nothing, in order, with a delay bound far above their normal few ms (no
timing is measured here beyond "bounded"; the bench reports the figures).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from srvutil import ROOT

pytestmark = pytest.mark.media  # real aiortc peer connections over loopback

SECONDS = 3.0
TIMEOUT_S = 1.5  # the server's --send-timeout and --idle-timeout here


@pytest.fixture(scope="module")
def scenarios() -> dict[str, dict[str, object]]:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "abuse.py"), "--seconds", str(SECONDS), "--half-open", "1000",
         "--scenarios", "flood,noread,half-open", "--send-timeout", str(TIMEOUT_S),
         "--idle-timeout", str(TIMEOUT_S)],
        capture_output=True, text=True, timeout=180, cwd=ROOT, check=True)
    return json.loads(out.stdout)["scenarios"]


def _bystanders_untouched(result: dict[str, object]) -> None:
    assert result["received"] == result["sent"] and result["in_order"] is True, result
    assert isinstance(result["delay_ms_max"], float) and result["delay_ms_max"] < 1000, result
    assert isinstance(result["join_s"], float) and result["join_s"] < 5, result


def test_a_flooding_client_gets_53004_and_the_others_call_goes_on(scenarios) -> None:
    flood = scenarios["flood"]
    _bystanders_untouched(flood)
    abuser = flood["abuser"]
    assert abuser["code"] == 53004 and abuser["cut_after_s"] < 1.0, abuser


def test_a_client_that_never_reads_is_cut_off_and_the_others_call_goes_on(scenarios) -> None:
    noread = scenarios["noread"]
    _bystanders_untouched(noread)
    assert noread["abuser"]["cut_after_s"] is not None and noread["abuser"]["cut_after_s"] < 10, noread["abuser"]
    assert noread["server_fds_after"] <= noread["server_fds_before"] + 2, noread


def test_a_thousand_half_open_sockets_are_closed_and_the_others_call_goes_on(scenarios) -> None:
    half_open = scenarios["half-open"]
    _bystanders_untouched(half_open)
    abuser = half_open["abuser"]
    assert abuser["opened"] == 1000 and abuser["closed_by_server"] >= 900, abuser  # the rest never got accepted
    assert abuser["closed_after_s_min"] >= TIMEOUT_S * 0.9, abuser
    assert half_open["server_fds_peak"] >= half_open["server_fds_before"] + 500, half_open  # they were held
    assert half_open["server_fds_after"] <= half_open["server_fds_before"] + 2, half_open
