"""Network quality in peer-to-peer rooms, computed by the client: it must tell a stopped stream.

Hard-coding every level to 5 used to pass the suite; here a publisher's media stops (all its
RTP dropped by the project's fault injection) and the viewer must see that participant fall
to level <= 1 within a few seconds, then recover once media flows again.
"""

from __future__ import annotations

import time

import pytest

from callutil import camera, microphone, remote_of, subscribed, until
from core.media.faults import outgoing_loss

pytestmark = pytest.mark.media


async def test_a_participant_whose_media_stopped_drops_to_level_1_or_less(join) -> None:  # type: ignore[no-untyped-def]
    publisher = await join("publisher", tracks=[camera("publisher"), microphone("publisher")])
    viewer = await join("viewer", network_quality={"local": 1, "remote": 1})
    await until(lambda: subscribed(viewer, "publisher", "video"))
    seen = remote_of(viewer, "publisher")
    await until(lambda: (seen.network_quality_level or 0) >= 3, timeout=10)

    outgoing_loss(publisher).set_fraction(1.0)
    stopped = time.monotonic()
    await until(lambda: seen.network_quality_level is not None and seen.network_quality_level <= 1, timeout=8)
    took = time.monotonic() - stopped
    assert took < 5.0, took
    assert (viewer.local_participant.network_quality_level or 0) >= 3  # our own link is fine

    outgoing_loss(publisher).set_fraction(0.0)
    await until(lambda: (seen.network_quality_level or 0) >= 3, timeout=10)
