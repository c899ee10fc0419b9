"""The forwarder writes its subscribers' RTP itself (``server/forwarder/rtp_writer.py``).

Several subscribers get the publisher's frames whole and in order, each frame packetized
once for all of them; a late joiner starts at a keyframe; a packet lost on the way to a
subscriber comes back as RTX from the writer's history when the subscriber NACKs it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from callutil import FrameLog, keyframe_requests, until
from core.media import faults
from groupkit import camera, forwarder_of, microphone, subscribed

pytestmark = pytest.mark.media


def _peers(server: Any) -> dict[str, Any]:
    forwarder = forwarder_of(server, "group")
    peers: dict[str, Any] = getattr(forwarder, "peers", None) or forwarder._peers
    return peers


def _outbound(server: Any, kind: str) -> list[Any]:
    return [out for peer in _peers(server).values() for out in peer.outbound.values() if out.inbound.kind == kind]


async def _watch(viewer: Any) -> FrameLog:
    await until(lambda: subscribed(viewer, "publisher", "video"))
    log = FrameLog()
    subscribed(viewer, "publisher", "video").add_sink(log)
    return log


def _reported(sender: Any) -> Callable[[], bool]:
    """Whether the subscriber's receiver reports on this sender have counted packets received."""
    def check() -> bool:
        return any(s.type == "remote-inbound-rtp" and s.packetsReceived > 0
                   for s in sender._RTCRtpSender__stats.values())
    return check


def _in_order(counters: list[int]) -> bool:
    return counters == sorted(set(counters))


async def test_three_subscribers_get_whole_frames_in_order_packetized_once(server, join) -> None:
    await join("publisher", tracks=[camera("publisher", width=640, height=480), microphone("publisher")])
    viewers = [await join(f"viewer{i}") for i in range(3)]
    logs = [await _watch(v) for v in viewers]
    await until(lambda: all(len(log.counters) >= 30 for log in logs), timeout=15)

    for log in logs:  # a stamp read back = a frame that decoded whole; counters rise = in order
        assert _in_order(log.counters), log.counters
        assert log.counters[-1] - log.counters[0] < 1.5 * len(log.counters)  # hardly any frame lost on loopback
    videos, audios = _outbound(server, "video"), _outbound(server, "audio")
    assert len(videos) == 3 and len(audios) == 3
    assert all(out.track.writer is not None and out.track.writer.packets > 0 for out in videos + audios)
    inbound = videos[0].inbound
    packed = videos[0].track._packer.frames
    assert packed <= inbound.frames + 1  # once per publisher frame, not once per subscriber
    for out in audios:  # the subscriber's receiver reports count what the writer sent; the sender's counters too
        stats = list((await out.transceiver.sender.getStats()).values())
        sent = next(s for s in stats if s.type == "outbound-rtp")
        assert sent.packetsSent >= out.track.writer.packets > 0
        await until(_reported(out.transceiver.sender), timeout=6)


async def test_a_late_subscriber_starts_at_a_keyframe(server, join) -> None:
    publisher = await join("publisher", tracks=[camera("publisher")])
    early = await _watch(await join("early"))
    await until(lambda: len(early.counters) >= 20, timeout=10)  # well past the first keyframe
    video = next(iter(publisher.local_participant.video_tracks.values())).track
    requests = keyframe_requests(publisher, video)

    late = await _watch(await join("late"))
    await until(lambda: len(late.counters) >= 5, timeout=6)
    assert requests  # the late subscription asked the publisher for a keyframe
    assert _in_order(late.counters) and _in_order(early.counters)
    assert late.counters[0] > early.counters[0]


async def test_a_packet_lost_to_a_subscriber_is_retransmitted(server, join) -> None:
    await join("publisher", tracks=[camera("publisher", width=640, height=480)])
    viewer = await join("viewer")
    log = await _watch(viewer)
    await until(lambda: len(log.counters) >= 5, timeout=10)
    (out,) = _outbound(server, "video")
    peer = _peers(server)[viewer.local_participant.sid]
    loss = faults.OutgoingLoss(0.05, seed=3)
    loss.attach(peer.sub.pc)  # the server's packets to this viewer: 5 % never arrive
    before = len(log.counters)
    await until(lambda: out.track.writer.retransmitted >= 3 and len(log.counters) > before + 30, timeout=15)
    loss.set_fraction(0.0)
    assert loss.dropped > 0
    assert _in_order(log.counters)
