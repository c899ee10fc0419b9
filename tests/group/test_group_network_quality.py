"""Network quality under injected loss: 0 % → 5/4, 5 % → lower, 20 % → ≤ 2, back again; 0 when media stops.

One participant drops a fraction of its outgoing RTP packets (``core.media.faults``); the
server scores what it receives from it (receiver statistics over a 3 s window) and sends
levels on the ``network_quality`` MSP channel: its own level to it (verbosity local 1), and
to a watcher that asked for remote levels (remote 1).
"""

from __future__ import annotations

import itertools

import pytest

from callutil import JoinFn, levels_for, until
from core.media.faults import outgoing_loss
from groupkit import camera, microphone, remote_of

pytestmark = pytest.mark.media


async def test_levels_follow_injected_loss_and_recover(join: JoinFn) -> None:
    lossy = await join("lossy", tracks=[camera("lossy"), microphone("lossy")], network_quality=True)
    watcher = await join("watcher", tracks=[microphone("watcher")], network_quality={"local": 1, "remote": 1})
    changes: list[int] = []
    lossy.local_participant.on("networkQualityLevelChanged", lambda level, *_: changes.append(int(level)))
    loss = outgoing_loss(lossy)

    def own() -> int | None:
        return lossy.local_participant.network_quality_level

    def own_within(low: int, high: int) -> bool:
        level = own()
        return level is not None and low <= level <= high

    def seen_by_watcher() -> int | None:
        remote = remote_of(watcher, "lossy")
        return remote.network_quality_level if remote is not None else None

    def watcher_within(low: int, high: int) -> bool:
        level = seen_by_watcher()
        return level is not None and low <= level <= high

    # No loss: 5 or 4, on both ends.
    await until(lambda: own() is not None and seen_by_watcher() is not None, timeout=10)
    clean = await levels_for(3.0, own)
    assert min(clean) >= 4, clean
    assert watcher_within(4, 5)
    # 5 %: lower.
    loss.set_fraction(0.05)
    await until(lambda: own_within(0, 3), timeout=10)
    five = await levels_for(2.0, own)
    assert max(five) <= 3, five
    # 20 %: 2 or less, also as the watcher sees it.
    loss.set_fraction(0.20)
    await until(lambda: own_within(0, 2), timeout=10)
    await until(lambda: watcher_within(0, 2), timeout=5)
    twenty = await levels_for(2.0, own)
    assert max(twenty) <= 2, twenty
    # The loss stops: back to 4 or 5.
    loss.set_fraction(0.0)
    await until(lambda: own_within(4, 5), timeout=10)
    # Media stops altogether: 0.
    loss.set_fraction(1.0)
    await until(lambda: own() == 0, timeout=10)
    loss.set_fraction(0.0)
    await until(lambda: own_within(4, 5), timeout=10)
    assert loss.dropped > 0
    # Events only on change.
    assert all(a != b for a, b in itertools.pairwise(changes)), changes
    print(f"levels: clean {clean} 5% {five} 20% {twenty}; changes {changes}")
