"""Units of the group-room features: the speaker detector, the quality scores, the audit, the loss switch."""

from __future__ import annotations

import fractions

import av
import numpy as np

from core.dominant_speaker import DominantSpeakerDetector
from core.media.faults import OutgoingLoss
from core.network_quality_score import StreamMeter, direction_quality, loss_level, participant_quality
from server.forwarder import audit
from server.forwarder.passthrough import is_keyframe


def _feed(detector: DominantSpeakerDetector, who: str, start: float, end: float, dbov: float = -15.0,
          others: tuple[str, ...] = ()) -> None:
    t = start
    while t < end:
        detector.add(who, dbov, t)
        for other in others:
            detector.add(other, -127.0, t)
        t += 0.02


def _run(detector: DominantSpeakerDetector, timeline: list[tuple[float, float, str]],
         until: float) -> list[tuple[float, str | None]]:
    changes = []
    t = 0.0
    speakers = sorted({who for _, _, who in timeline})
    while t < until:
        for who in speakers:
            speaking = any(a <= t < b and w == who for a, b, w in timeline)
            detector.add(who, -15.0 if speaking else -127.0, t)
        if round(t * 50) % 5 == 0 and detector.decide(t):
            changes.append((round(t, 2), detector.dominant))
        t = round(t + 0.02, 6)
    return changes


def test_detector_switches_in_about_half_a_second_and_ignores_coughs() -> None:
    detector = DominantSpeakerDetector()
    changes = _run(detector, [(0.2, 0.45, "b"), (1.0, 4.0, "a"), (4.0, 7.0, "b"), (5.0, 5.28, "c"),
                              (7.0, 9.0, "c"), (7.5, 7.7, "a")], 10.0)
    assert [who for _, who in changes] == ["a", "b", "c"], changes
    for (t, _), start in zip(changes, (1.0, 4.0, 7.0), strict=True):
        assert 0.3 < t - start < 0.7, changes


def test_detector_keeps_the_speaker_through_pauses_and_overlap() -> None:
    detector = DominantSpeakerDetector()
    # a talks with 0.4 s phrase pauses; b chimes in for 0.5 s while a talks: a keeps it.
    timeline = [(0.0, 1.6, "a"), (2.0, 3.6, "a"), (4.0, 5.6, "a"), (3.0, 3.5, "b")]
    changes = _run(detector, timeline, 6.0)
    assert [who for _, who in changes] == ["a"], changes
    assert detector.remove("a") is True and detector.dominant is None


def test_scores_map_loss_latency_and_bandwidth_to_levels() -> None:
    assert [loss_level(f) for f in (0.0, 0.02, 0.05, 0.12, 0.2, 0.5)] == [5, 4, 3, 2, 1, 0]
    assert direction_quality(fraction_lost=0.0, rtt=0.3).level == 3
    assert direction_quality(actual=5_000, needed=30_000).level == 1
    assert direction_quality(fraction_lost=0.0, flowing=False).level == 0
    meter = StreamMeter()
    for i, (packets, lost) in enumerate([(0, 0), (95, 5), (190, 10), (285, 15)]):
        meter.sample(float(i), packets=packets, lost=lost, bytes_=packets * 1000)
    assert meter.fraction_lost is not None and abs(meter.fraction_lost - 0.05) < 1e-9
    assert meter.bitrate == 95 * 8000
    quality = {"audio": {"send": direction_quality(fraction_lost=0.05)},
               "video": {"send": direction_quality(fraction_lost=0.0), "recv": direction_quality(jitter=0.06)}}
    assert participant_quality(quality, 1) == 3
    moderate = participant_quality(quality, 2)
    assert moderate["level"] == 3 and moderate["video"] == {"send": 5, "recv": 3}
    detailed = participant_quality(quality, 3)
    assert detailed["audio"]["sendStats"]["fractionLost"] == {"fractionLost": 0.05, "level": 3}
    assert participant_quality({}, 1) == 5  # nothing sent or received


def test_the_codec_audit_counts_real_encodes() -> None:
    from aiortc.codecs.vpx import Vp8Decoder, Vp8Encoder

    audit.install()
    before = audit.snapshot()["counts"]
    frame = av.VideoFrame.from_ndarray(np.zeros((240, 320, 3), dtype=np.uint8), format="rgb24")
    frame.pts, frame.time_base = 0, fractions.Fraction(1, 90000)
    payloads, _ = Vp8Encoder().encode(frame)
    Vp8Decoder()
    after = audit.snapshot()["counts"]
    assert after.get("video.encode.vp8", 0) == before.get("video.encode.vp8", 0) + 1
    assert after.get("video.decoder_created.vp8", 0) == before.get("video.decoder_created.vp8", 0) + 1
    # The keyframe test the forwarder uses to start a subscriber (VP8: P bit clear).
    from aiortc.codecs.vpx import vp8_depayload

    assert is_keyframe("video/VP8", vp8_depayload(payloads[0]))


def test_outgoing_loss_drops_rtp_only_at_the_set_rate() -> None:
    loss = OutgoingLoss(0.2, seed=7)
    rtp = bytes([0x80, 96]) + bytes(10)
    rtcp = bytes([0x80, 200]) + bytes(10)
    dropped = sum(loss.drop(rtp) for _ in range(10_000))
    assert 1800 < dropped < 2200
    assert not any(loss.drop(rtcp) for _ in range(100))
    loss.set_fraction(0.0)
    assert not any(loss.drop(rtp) for _ in range(100))


def test_a_keyframe_asked_for_before_any_packet_goes_out_with_the_first_one() -> None:
    """A publisher whose stream goes on over a rebuilt connection (a browser's ICE restart)
    sends no keyframe by itself: a request made before the new receiver had a packet (no SSRC
    to address yet) must not be lost, but sent as the first packet arrives."""
    import asyncio
    from types import SimpleNamespace

    import av

    from server.forwarder.peer import Inbound

    sent: list[int] = []
    sources: list[SimpleNamespace] = []

    class Receiver:  # the two things Inbound reads of aiortc's RTCRtpReceiver
        def getSynchronizationSources(self) -> list[SimpleNamespace]:  # noqa: N802  (aiortc's name)
            return sources

        async def _send_rtcp_pli(self, ssrc: int) -> None:
            sent.append(ssrc)

    async def run() -> None:
        inbound = Inbound("PA1", "video-1", "video", Receiver(), "video/VP8", 90000, taps={},
                          spawn=asyncio.get_running_loop().create_task)
        inbound.request_keyframe()  # nothing received yet
        await asyncio.sleep(0)
        assert sent == []
        sources.append(SimpleNamespace(source=1234))
        inbound.deliver(SimpleNamespace(mimeType="video/VP8"), av.Packet(b"\x01" + bytes(20)))  # a delta frame
        await asyncio.sleep(0)
        assert sent == [1234]

    asyncio.run(run())
