"""Memory a group room gives back: a subscriber's connection does not keep those who left.

aiortc never removes an m-line, so each subscriber's subscribe connection keeps the stopped
transceiver of every track it was once sent. That transceiver must not hold on to the
publisher (its keyframe request bound to the publisher's inbound track, hence its receiver
and whole publish connection): with one participant staying, the server grew 0.76 MB per
join/leave before, 0.23 MB after (``GET /dev/stats?trim=1&types=N`` diffs). And the
receiving half of a send-only forwarding carries no REMB estimator (aiortc gives every video
receiver a 1000-bucket one, ~100 kB: N·(N−1) of them in a full room).
"""

from __future__ import annotations

import pytest

from callutil import JoinFn, until
from groupkit import camera, forwarder_of, microphone, subscribed
from server.app import RunningServer
from server.forwarder.peer import Inbound

pytestmark = pytest.mark.media


def _holds_an_inbound(fn: object) -> bool:
    return isinstance(getattr(fn, "__self__", None), Inbound)


async def test_a_subscribers_connection_lets_go_of_publishers_who_left(join: JoinFn, server: RunningServer) -> None:
    viewer = await join("viewer")
    forwarder = forwarder_of(server, "group")
    for i in range(3):
        publisher = await join(f"publisher-{i}", tracks=[camera(f"publisher-{i}"), microphone(f"publisher-{i}")])
        await until(lambda: subscribed(viewer, f"publisher-{i}", "video"), timeout=10)
        sub = forwarder.peers[viewer.local_participant.sid].sub.pc
        live = [t.sender for t in sub.getTransceivers() if t.direction == "sendonly"]
        assert live and all(_holds_an_inbound(s._send_keyframe) for s in live)  # while subscribed: it must
        publisher.disconnect()
        await until(lambda: not viewer.participants, timeout=10)
    transceivers = forwarder.peers[viewer.local_participant.sid].sub.pc.getTransceivers()
    assert len(transceivers) == 6  # three departed publishers' audio and video, stopped
    await until(lambda: all(t.direction == "inactive" for t in transceivers), timeout=5)
    for t in transceivers:
        assert not _holds_an_inbound(t.sender._send_keyframe), t.kind
        track = t.sender.track
        assert track is None or not _holds_an_inbound(getattr(track, "_request_keyframe", None)), t.kind
    videos = [t.receiver for t in transceivers if t.kind == "video"]
    assert all(r.__dict__["_RTCRtpReceiver__remote_bitrate_estimator"] is None for r in videos)
