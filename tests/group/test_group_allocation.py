"""The forwarder's bandwidth allocation and downlink estimate, as pure functions (issue 11)."""

from __future__ import annotations

from server.forwarder.allocation import NO_BANDWIDTH, NOT_RENDERED, Candidate, allocate, effective_priority
from server.forwarder.downlink import DownlinkEstimate


def _off(candidates: list[Candidate], budget: float | None, mode: str = "grid") -> set[object]:
    return set(allocate(candidates, budget, mode))


def test_everything_fits_or_no_budget_nothing_is_switched_off() -> None:
    tracks = [Candidate("a", "low", 300e3), Candidate("b", "high", 300e3)]
    assert _off(tracks, None) == set()
    assert _off(tracks, 600e3) == set()


def test_the_lowest_priority_goes_first_in_every_mode() -> None:
    tracks = [Candidate("big-high", "high", 500e3, order=2), Candidate("small-low", "low", 100e3, order=1),
              Candidate("std", "standard", 300e3, order=3)]
    for mode in ("grid", "collaboration", "presentation"):
        # 900k in all: without the low one (100k) it still does not fit, so standard goes
        # too — and then the small low one fits again in what is left
        assert _off(tracks, 650e3, mode) == {"std"}, mode
        assert _off(tracks, 550e3, mode) == {"std", "small-low"}, mode
        assert _off(tracks, 450e3, mode) == {"big-high"}, mode  # 100k + 300k fit, 500k not
        assert _off(tracks, 50e3, mode) == {"big-high", "small-low", "std"}, mode


def test_within_a_priority_the_mode_decides() -> None:
    old_big = Candidate("old-big", "standard", 600e3, order=1)
    new_small = Candidate("new-small", "standard", 300e3, order=2)
    assert _off([old_big, new_small], 700e3, "grid") == {"old-big"}  # the one furthest above an equal share
    assert _off([old_big, new_small], 700e3, "presentation") == {"new-small"}  # what was shown stays
    # collaboration: cost per rendered pixel — the big one rendered large is worth keeping
    large = Candidate("old-big", "standard", 600e3, order=1, render_area=1280 * 720)
    small_tile = Candidate("new-small", "standard", 300e3, order=2, render_area=160 * 90)
    assert _off([large, small_tile], 700e3, "collaboration") == {"new-small"}


def test_not_rendered_is_off_whatever_the_budget_and_costs_nothing() -> None:
    tracks = [Candidate("hidden", "high", 900e3, rendered=False), Candidate("shown", "low", 300e3)]
    assert allocate(tracks, None) == {"hidden": NOT_RENDERED}
    assert allocate(tracks, 400e3) == {"hidden": NOT_RENDERED}
    assert allocate(tracks, 100e3) == {"hidden": NOT_RENDERED, "shown": NO_BANDWIDTH}


def test_a_switched_off_track_needs_room_to_spare_to_come_back() -> None:
    assert _off([Candidate("a", "standard", 300e3, switched_off=True)], 320e3) == {"a"}
    assert _off([Candidate("a", "standard", 300e3, switched_off=True)], 400e3) == set()
    assert _off([Candidate("a", "standard", 300e3)], 320e3) == set()


def test_unmeasured_tracks_cost_nothing() -> None:
    assert _off([Candidate("new", "low", None), Candidate("b", "high", 300e3)], 300e3) == set()


def test_effective_priority() -> None:
    assert effective_priority("low", None) == "low"
    assert effective_priority("low", "high") == "high"  # the subscriber's wins
    assert effective_priority("high", "low") == "low"
    assert effective_priority("low", None, dominant=True, dominant_priority="high") == "high"
    assert effective_priority("high", None, dominant=True, dominant_priority="low") == "high"  # a minimum only
    assert effective_priority("bogus", None) == "standard"


def test_the_downlink_estimate_follows_loss_and_lifts_after_a_clean_spell() -> None:
    est = DownlinkEstimate(recover_s=4.0)
    assert est.observe(0.0, 1e6, 0.0) is None  # no loss: no limit
    assert est.observe(1.0, 1e6, 0.3) == 1e6 * 0.85  # 30 % lost: the link carries less than was sent
    assert est.observe(2.0, 1e6, 0.05) == 1e6 * 0.85  # some loss: hold
    low = est.observe(3.0, 0.5e6, 0.0)
    assert low is not None and low > 0.85e6  # clean: it grows
    assert est.observe(6.9, 0.5e6, 0.0) is not None
    assert est.observe(7.1, 0.5e6, 0.0) is None  # 4 s without loss: lifted (the tracks may come back)
    est.observe(8.0, 1e6, 0.4)  # loss at once after the lift: the next lift waits twice as long
    assert est.recover_after == 8.0
    assert est.observe(8.5, 0.6e6, None) == 0.8e6  # no report: nothing learnt
    assert est.observe(9.0, 0.3e6, 0.4) == 0.8e6  # within HOLD_S of the cut: its effect is not seen yet
    assert est.observe(10.5, 0.3e6, 0.4) == 0.3e6 * 0.8


def test_nothing_sent_counts_as_no_loss() -> None:
    est = DownlinkEstimate(recover_s=4.0)
    est.observe(0.0, 1e6, 0.5)
    est.observe(1.0, 0.0, None)  # every track switched off: no reports grow
    assert est.observe(5.5, 0.0, None) is None  # lifted: the tracks may come back
