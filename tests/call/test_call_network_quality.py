"""Network quality in peer-to-peer rooms, computed by the client, on the server's inputs.

Hard-coding every level to 5 used to pass the suite. Here:

* a publisher's media stops (all its RTP dropped by the project's fault injection) and the
  viewer sees that participant fall to level <= 1 within 3 s, then recover;
* a publisher loses 20 % of its RTP: its own level (from the viewer's receiver reports) and
  its level as the viewer sees it (the viewer's receiver statistics) fall to 2 or less, and
  come back to 4 or 5 once the loss stops;
* an idle call scores 4 or 5 on both ends.
"""

from __future__ import annotations

import time

import pytest

from callutil import camera, levels_for, microphone, remote_of, subscribed, until
from core.media.faults import outgoing_loss

pytestmark = pytest.mark.media


async def test_a_participant_whose_media_stopped_drops_to_level_1_or_less(join) -> None:
    publisher = await join("publisher", tracks=[camera("publisher"), microphone("publisher")])
    viewer = await join("viewer", network_quality={"local": 1, "remote": 1})
    await until(lambda: subscribed(viewer, "publisher", "video"))
    seen = remote_of(viewer, "publisher")
    await until(lambda: (seen.network_quality_level or 0) >= 3, timeout=10)

    outgoing_loss(publisher).set_fraction(1.0)
    stopped = time.monotonic()
    await until(lambda: seen.network_quality_level is not None and seen.network_quality_level <= 1, timeout=8)
    took = time.monotonic() - stopped
    assert took < 3.3, took
    print(f"level <= 1 after {took:.2f} s")

    outgoing_loss(publisher).set_fraction(0.0)
    await until(lambda: (seen.network_quality_level or 0) >= 3, timeout=10)


async def test_levels_follow_injected_loss_on_both_ends(join) -> None:
    lossy = await join("lossy", tracks=[camera("lossy"), microphone("lossy")], network_quality=True)
    viewer = await join("viewer", network_quality={"local": 1, "remote": 1})
    await until(lambda: subscribed(viewer, "lossy", "video"))

    def own() -> int | None:
        return lossy.local_participant.network_quality_level

    def seen() -> int | None:
        remote = remote_of(viewer, "lossy")
        return remote.network_quality_level if remote is not None else None

    await until(lambda: own() is not None and seen() is not None, timeout=10)
    clean = await levels_for(3.0, own)
    assert min(clean) >= 4, clean
    assert (seen() or 0) >= 4
    assert min(await levels_for(1.0, lambda: viewer.local_participant.network_quality_level)) >= 4

    loss = outgoing_loss(lossy)
    loss.set_fraction(0.2)
    await until(lambda: (own() or 0) <= 2 and own() is not None, timeout=10)
    await until(lambda: (seen() or 0) <= 2 and seen() is not None, timeout=6)
    twenty = await levels_for(2.0, own)
    assert max(twenty) <= 2, twenty

    loss.set_fraction(0.0)
    await until(lambda: (own() or 0) >= 4, timeout=10)
    await until(lambda: (seen() or 0) >= 4, timeout=10)
    assert loss.dropped > 0
    print(f"levels: clean {clean} 20% {twenty}")
