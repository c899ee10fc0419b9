"""Through the forwarder: a gap in a publisher's video heals only because a receiver asks
for a keyframe (the forwarder's own receiver, whose frame assembly drops what it cannot
complete, or the viewer's, whose PLI the server forwards). The publisher's sender ignores
NACKs and REMB (``callutil.gap_healed_by_keyframe``); suppressing every receiver's PLIs
(``RTCRtpReceiver._send_rtcp_pli``) makes this test fail.
"""

from __future__ import annotations

import pytest

from callutil import JoinFn, gap_healed_by_keyframe

pytestmark = pytest.mark.media


async def test_a_gap_heals_by_a_keyframe_request(join: JoinFn) -> None:
    await gap_healed_by_keyframe(join)  # group
