"""``core.media.frames.FrameAssembler``: frames out on their marker bit, healing after gaps.

Packets are aiortc ``RtpPacket``s with depayloaded VP8 data (``_data``: a key frame's tag has
the P bit clear), fed in the order a network might deliver them; time is a fake clock.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiortc.rtp import RtpPacket

from core.media.frames import FrameAssembler, is_keyframe, starts_frame
from core.media.loopback import loopback_only
from core.media.sources import SyntheticVideoSource

KEY, DELTA = b"\x00", b"\x01"  # VP8 frame tags: key frame / inter frame


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def frame_packets(seq: int, timestamp: int, count: int, key: bool) -> list[RtpPacket]:
    """One VP8 frame in ``count`` packets: descriptor S bit on the first, marker on the last."""
    packets = []
    for i in range(count):
        packet = RtpPacket(payload_type=96, sequence_number=(seq + i) & 0xFFFF, timestamp=timestamp,
                           marker=int(i == count - 1),
                           payload=bytes([0x10 if i == 0 else 0x00]) + b"x")
        packet._data = ((KEY if key else DELTA) if i == 0 else b"") + bytes([i])  # type: ignore[attr-defined]  # the raw bytes aiortc's RtpPacket keeps after parsing, set by hand
        packets.append(packet)
    return packets


def stream(frames: int, per_frame: int = 3, keyframes: tuple[int, ...] = (0,),
           start: int = 1000) -> list[list[RtpPacket]]:
    return [frame_packets(start + n * per_frame, n * 3000, per_frame, n in keyframes) for n in range(frames)]


def assembler(clock: Clock) -> FrameAssembler:
    return FrameAssembler(clock=clock, mime_of=lambda packet: "video/VP8")


def feed(buf: FrameAssembler, packets: list[RtpPacket]) -> tuple[list[int], int]:
    out, plis = [], 0
    for packet in packets:
        pli, frame = buf.add(packet)
        plis += pli
        if frame is not None:
            out.append(frame.timestamp)
    return out, plis


def test_a_frame_leaves_with_its_last_packet_not_with_the_next_frame() -> None:
    clock = Clock()
    buf = assembler(clock)
    frames = stream(3)
    released = [feed(buf, f)[0] for f in frames]
    assert released == [[0], [3000], [6000]]  # each frame out on its own marker
    assert buf.plis == 0  # a stream that starts with a keyframe needs no request


def test_reordered_packets_wait_only_for_the_missing_one() -> None:
    clock = Clock()
    buf = assembler(clock)
    f0, f1 = stream(2)
    assert feed(buf, f0)[0] == [0]
    assert feed(buf, [f1[0], f1[2]])[0] == []
    assert feed(buf, [f1[1]])[0] == [3000]


def test_a_lost_packet_is_given_up_after_max_wait_then_a_keyframe_is_asked_for_at_once() -> None:
    clock = Clock()
    buf = assembler(clock)
    frames = stream(8, keyframes=(0, 6))
    assert feed(buf, frames[0])[0] == [0]
    feed(buf, [frames[1][0], frames[1][2]])  # frames[1][1] never arrives
    clock.now += 0.05
    out, plis = feed(buf, frames[2])
    assert out == [] and plis == 0  # still hoping for the retransmission
    clock.now += 0.2
    out, plis = feed(buf, frames[3])
    assert out == [] and plis == 1  # gave up; inter frames can't decode without a keyframe
    clock.now += 0.1
    out, plis = feed(buf, frames[4] + frames[5])
    assert out == [] and plis == 0  # asked again only after pli_interval
    clock.now += 0.3
    out, plis = feed(buf, frames[6] + frames[7])
    assert out == [18000, 21000]
    assert buf.dropped >= 4


def test_after_a_long_outage_recovery_does_not_depend_on_the_packet_rate() -> None:
    """aiortc's buffer waited for 512 newer packets; here one keyframe after the wait is enough."""
    clock = Clock()
    buf = assembler(clock)
    before = stream(2)
    feed(buf, before[0] + before[1])
    clock.now += 10.0  # nothing at all for 10 s
    after = stream(6, keyframes=(3,), start=1000 + 2 * 3 + 150)  # 150 packets lost
    out, plis = feed(buf, after[0])
    assert out == []
    clock.now += 0.25
    out, plis = feed(buf, after[1])
    assert plis == 1
    out, _ = feed(buf, after[2] + after[3] + after[4])
    assert out == [9000, 12000]


def test_a_jump_past_the_buffer_restarts_at_the_next_frame_start() -> None:
    clock = Clock()
    buf = assembler(clock)
    feed(buf, stream(1)[0])
    far = stream(3, keyframes=(1, 2), start=1000 + 5000)
    out, plis = feed(buf, far[0][1:] + far[1] + far[2])  # lands mid-frame first
    assert out == [3000, 6000] and plis == 1


def test_sequence_numbers_wrap() -> None:
    clock = Clock()
    buf = assembler(clock)
    frames = stream(4, start=65530)
    assert [feed(buf, f)[0] for f in frames] == [[0], [3000], [6000], [9000]]


def test_frame_start_and_keyframe_detection() -> None:
    assert starts_frame("video/VP8", b"\x10\x00") and not starts_frame("video/VP8", b"\x00\x00")
    assert not starts_frame("video/VP8", b"\x11\x00")  # partition 1
    assert starts_frame("video/H264", bytes([24, 0]))  # STAP-A
    assert starts_frame("video/H264", bytes([0x65, 0x88]))  # IDR, first_mb_in_slice 0
    assert not starts_frame("video/H264", bytes([0x61, 0x08]))  # slice further into the picture
    assert starts_frame("video/H264", bytes([0x7C, 0x85, 0x88]))  # FU-A start of an IDR slice
    assert not starts_frame("video/H264", bytes([0x7C, 0x05, 0x88]))  # FU-A continuation
    assert is_keyframe("video/H264", b"\x00\x00\x00\x01\x67")
    assert not is_keyframe("video/H264", b"\x00\x00\x00\x01\x41")
    assert is_keyframe("video/VP8", KEY) and not is_keyframe("video/VP8", DELTA)


@pytest.mark.media
@pytest.mark.parametrize("codec", ["vp8", "h264"])
async def test_real_video_through_the_assembler_with_loss(codec: str) -> None:
    """A real encoder and decoder: 5 % RTP loss, every frame that comes out decodes."""
    from core.media import faults, frames
    from pairs import media_pair

    with loopback_only():
        async with media_pair([SyntheticVideoSource(320, 240, 30, label="asm")], video_codec=codec) as pair:
            receiver = pair.receiver.getTransceivers()[0].receiver
            buf: Any = frames.install(receiver)
            loss = faults.OutgoingLoss(0.05, seed=7)
            loss.attach(pair.sender)
            for _ in range(90):
                frame: Any = await pair.video.recv()
                assert frame.width == 320
            assert isinstance(buf, FrameAssembler) and buf.released >= 90
            assert loss.dropped > 0
