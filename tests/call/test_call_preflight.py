"""run_preflight against the real server: its steps in order, a report whose numbers mean something."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from core.errors import AccessTokenSignatureInvalidError
from core.preflight import PROGRESS, PreflightTestReport, run_preflight
from core.token import AccessToken

pytestmark = pytest.mark.media


def _recorded(test: Any) -> dict[str, list[Any]]:
    seen: dict[str, list[Any]] = {"progress": [], "completed": [], "failed": []}
    test.on("progress", seen["progress"].append)
    test.on("completed", seen["completed"].append)
    test.on("failed", lambda error, report: seen["failed"].append((error, report)))
    return seen


async def test_preflight_runs_every_step_and_reports_a_clean_loopback(server) -> None:
    # 3 s: aiortc sends receiver reports every 0.5-1.5 s, and RTT needs one after a sender report.
    test = run_preflight(server.token("preflight", "pf"), url=server.url, duration=3.0)
    seen = _recorded(test)
    report = await test.wait()
    assert seen["failed"] == [] and seen["completed"] == [report]
    assert sorted(seen["progress"], key=PROGRESS.index) == list(PROGRESS)  # each step once
    assert seen["progress"][:2] == ["mediaAcquired", "connected"]
    assert seen["progress"][-2:] == ["mediaSubscribed", "mediaStarted"]
    assert [name for _, name in report.progress_events] == seen["progress"]
    timing = report.network_timing
    durations = {k: t.duration for k, t in timing.items()}
    assert all(d is not None and d >= 0 for d in durations.values()), durations
    assert (durations["media"] or 0) < 5000
    assert report.test_timing.duration is not None and report.test_timing.duration >= 3000
    stats = report.stats
    assert stats["rtt"] is not None and 0 <= stats["rtt"].average < 200  # ms, loopback
    assert stats["packet_loss"] is not None and stats["packet_loss"].max == 0.0
    assert stats["jitter"] is not None and stats["jitter"].max < 0.1  # seconds
    kinds = {(c["type"], c["address"]) for c in report.ice_candidate_stats}
    assert ("local-candidate", "127.0.0.1") in kinds and ("remote-candidate", "127.0.0.1") in kinds


async def test_preflight_measures_loss_on_the_path(server) -> None:
    from aiortc import RTCPeerConnection

    from core.media import faults

    senders: list[RTCPeerConnection] = []
    original = RTCPeerConnection.addTrack

    def add_track(pc: RTCPeerConnection, track: Any) -> Any:  # remember the preflight's sending connection
        if pc not in senders:
            senders.append(pc)
        return original(pc, track)

    loss = faults.OutgoingLoss(seed=7)

    def on_progress(name: str) -> None:  # once media flows, 20 % of the sender's RTP never leaves
        if name == "mediaStarted":
            loss.attach(senders[0])
            loss.set_fraction(0.2)

    RTCPeerConnection.addTrack = add_track  # type: ignore[method-assign, assignment]  # a test-only spy
    try:
        test = run_preflight(server.token("preflight", "pf"), url=server.url, duration=3.0)
        test.on("progress", on_progress)
        report = await test.wait()
    finally:
        RTCPeerConnection.addTrack = original  # type: ignore[method-assign]  # the spy removed
    assert loss.dropped > 0 and report.stats["packet_loss"] is not None
    assert 8.0 < report.stats["packet_loss"].average < 35.0, report.stats  # ~20 % (NACK resends refill some)


async def test_preflight_fails_with_the_token_error_and_a_partial_report(server) -> None:
    creds = server.credentials
    forged = AccessToken(creds.account_sid, creds.api_key_sid, "not-the-secret-" * 3, identity="x").to_jwt()
    test = run_preflight(forged, url=server.url, duration=1.0)
    seen = _recorded(test)
    with pytest.raises(AccessTokenSignatureInvalidError):
        await test.wait()
    [(error, report)] = seen["failed"]
    assert error.code == 20107 and isinstance(report, PreflightTestReport)
    assert seen["progress"] == ["mediaAcquired"] and report.stats["rtt"] is None


async def test_stop_ends_the_test_with_failed(server) -> None:
    test = run_preflight(server.token("preflight", "pf"), url=server.url, duration=30.0)
    seen = _recorded(test)
    while "mediaStarted" not in seen["progress"]:
        await asyncio.sleep(0.05)
    test.stop()
    with pytest.raises(RuntimeError, match="stopped"):
        await test.wait()
    assert len(seen["failed"]) == 1 and seen["completed"] == []
