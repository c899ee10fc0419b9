"""Which of one subscriber's video tracks fit its downlink budget (pure; the forwarder applies it).

Group rooms forward one layer per track (no simulcast), so a track cannot be given less than
it costs: each track is either forwarded whole (its measured bitrate) or **switched off**.
:func:`allocate` keeps the tracks that fit and switches off the rest:

* A track the subscriber does not render (its render hint ``enabled: false``: the client's
  ``switchOff()`` or an invisible element) is off and costs nothing.
* If everything else fits ``budget``, everything is on. Otherwise tracks are switched off
  one by one, **lowest priority first** in every mode (the track's effective priority: the
  subscriber's ``track_priority`` if it set one, else the publisher's, raised to
  ``dominantSpeakerPriority`` for the dominant speaker's video). Within a priority the
  ``mode`` decides:

  - ``grid`` (equal shares): the most expensive track goes first — it is the one furthest
    above an equal share of the budget;
  - ``collaboration`` (shares in proportion to render size): the track that costs most per
    rendered pixel goes first — its render dimensions (render hints, or
    ``setContentPreferences``) if the subscriber sent some, else the default render
    dimensions of its priority (high 1280×720, standard 640×480, low 176×144);
  - ``presentation`` (high priority first): the newest subscription goes first, so the
    tracks already shown stay.

  A switched-off track that fits in what is left afterwards (a small one, when a big one
  went) is switched back on. A track that is off counts ``ON_MARGIN`` times its bitrate, so
  one on the edge does not flap.
* A track not measured yet (``bitrate`` None: no media forwarded yet) costs nothing.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

__all__ = ["MODES", "ON_MARGIN", "PRIORITIES", "RENDER_AREA", "Candidate", "allocate", "effective_priority"]

PRIORITIES = ("low", "standard", "high")
MODES = ("grid", "collaboration", "presentation")
_RANK = {name: rank for rank, name in enumerate(PRIORITIES)}
#: The default render dimensions of each priority (twilio-video.js's ``renderDimensions``), in pixels.
RENDER_AREA = {"high": 1280 * 720, "standard": 640 * 480, "low": 176 * 144}

#: A switched-off track comes back only if it fits with this much to spare: measured bitrates
#: swing (keyframes), and a track on the edge would go off and on every few hundred milliseconds.
ON_MARGIN = 1.25

#: Why a track is off (server-side; twilio-video.js 2.36's ``track_switch_off`` carries no reason).
NOT_RENDERED = "disabled-by-subscriber"
NO_BANDWIDTH = "max-bandwidth-reached"


@dataclass(frozen=True)
class Candidate:
    """One subscribed video track as the allocation sees it."""

    key: Hashable
    priority: str
    #: Measured bitrate in bps; None: not measured yet (costs nothing).
    bitrate: float | None = None
    #: Subscription order (smaller: older).
    order: int = 0
    #: The subscriber's render hint: False when it does not render the track.
    rendered: bool = True
    #: Rendered pixels (render hints / content preferences); None: the priority's default.
    render_area: int | None = None
    #: Whether it is switched off now (it must fit with ``ON_MARGIN`` to come back).
    switched_off: bool = False

    @property
    def cost(self) -> float:
        return (self.bitrate or 0.0) * (ON_MARGIN if self.switched_off else 1.0)


def effective_priority(publisher: str, subscriber: str | None, *, dominant: bool = False,
                       dominant_priority: str = "standard") -> str:
    """The subscriber's priority if it set one, else the publisher's; at least
    ``dominant_priority`` for the dominant speaker's tracks."""
    priority = subscriber if subscriber in _RANK else publisher if publisher in _RANK else "standard"
    if dominant and _RANK.get(dominant_priority, 1) > _RANK[priority]:
        priority = dominant_priority
    return priority


def _first_to_go(mode: str, candidate: Candidate) -> tuple[float, ...]:
    """Sort key: the smallest goes first."""
    rank = float(_RANK.get(candidate.priority, 1))
    if mode == "presentation":
        return rank, -candidate.order
    if mode == "collaboration":
        area = candidate.render_area or RENDER_AREA.get(candidate.priority, RENDER_AREA["standard"])
        return rank, -candidate.cost / max(area, 1), -candidate.order
    return rank, -candidate.cost, -candidate.order


def allocate(candidates: Iterable[Candidate], budget: float | None, mode: str = "grid") -> dict[Hashable, str]:
    """The tracks to switch off, each with its reason (``NOT_RENDERED``, ``NO_BANDWIDTH``);
    every other candidate is on. ``budget`` None: unlimited."""
    off: dict[Hashable, str] = {}
    on: list[Candidate] = []
    for candidate in candidates:
        if candidate.rendered:
            on.append(candidate)
        else:
            off[candidate.key] = NOT_RENDERED
    if budget is None:
        return off
    on.sort(key=lambda c: _first_to_go(mode, c))
    total = sum(c.cost for c in on)
    dropped: list[Candidate] = []
    while on and total > budget:
        victim = on.pop(0)
        total -= victim.cost
        dropped.append(victim)
    for candidate in _best_first(mode, dropped):
        if total + candidate.cost <= budget:
            total += candidate.cost
        else:
            off[candidate.key] = NO_BANDWIDTH
    return off


def _best_first(mode: str, candidates: Sequence[Candidate]) -> list[Candidate]:
    return sorted(candidates, key=lambda c: _first_to_go(mode, c), reverse=True)
