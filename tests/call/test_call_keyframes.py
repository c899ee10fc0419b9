"""A gap in a publisher's video heals only because the receiver asks for a keyframe.

The publisher's sender ignores NACKs and REMB (``callutil.gap_healed_by_keyframe``), so no
retransmission fills the gap and aiortc never re-creates its encoder (which would make a
keyframe unasked). Suppressing the receivers' PLIs (``RTCRtpReceiver._send_rtcp_pli``) makes
this test fail: the video stays frozen.
"""

from __future__ import annotations

import pytest

from callutil import gap_healed_by_keyframe

pytestmark = pytest.mark.media


async def test_a_gap_heals_by_a_keyframe_request(join) -> None:
    await gap_healed_by_keyframe(join)  # peer-to-peer
