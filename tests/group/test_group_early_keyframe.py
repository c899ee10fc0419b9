"""A new video subscription keeps the publisher's keyframe until its sender starts (``passthrough.ForwardTrack``).

The subscription asks for a keyframe when it is made; what arrives before the subscriber's
connection is up (the keyframe and the frames after it, at most ``EARLY_FRAMES``) is sent
the moment the sender starts, packetized as the frames just before the shared stream's next
one (VP8 picture ids run on without a gap). Real VP8 packets from PyAV's libvpx; the
writer is a recorder standing in for the subscriber's transport.
"""

from __future__ import annotations

import fractions
from typing import Any

import av
import numpy as np

from server.forwarder.passthrough import EARLY_FRAMES, ForwardTrack, SharedPacker


def _vp8_frames(count: int) -> list[tuple[Any, bool]]:
    ctx = av.CodecContext.create("libvpx", "w")
    ctx.width, ctx.height, ctx.pix_fmt = 64, 48, "yuv420p"
    ctx.time_base = fractions.Fraction(1, 15)
    out: list[tuple[Any, bool]] = []
    for i in range(count):
        frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 7 % 256, np.uint8), format="rgb24")
        frame = frame.reformat(format="yuv420p")
        frame.pts, frame.time_base = i, ctx.time_base
        for packet in ctx.encode(frame):
            copy = av.Packet(bytes(packet))
            copy.pts, copy.time_base = i * 6000, fractions.Fraction(1, 90000)
            out.append((copy, bool(packet.is_keyframe)))
    return out


class _Recorder:
    def __init__(self) -> None:
        self.frames: list[tuple[int, int]] = []  # (rtp timestamp, VP8 picture id)

    def write(self, payloads: list[bytes], timestamp: int, ntp: int) -> None:
        self.frames.append((timestamp, int.from_bytes(payloads[0][2:4], "big") & 0x7FFF))


def _track(requests: list[int]) -> ForwardTrack:
    return ForwardTrack("video", "MT1", "video/VP8", request_keyframe=lambda: requests.append(1))


def _attach(track: ForwardTrack, recorder: _Recorder, packer: SharedPacker) -> None:
    writer: Any = recorder  # duck-typed as the RtpWriter the sender would get
    track.attach(writer, packer)


async def test_frames_kept_before_the_sender_starts_go_out_first_without_a_picture_id_gap() -> None:
    frames = _vp8_frames(8)
    assert frames[0][1] and not any(k for _, k in frames[1:])
    requests: list[int] = []
    packer = SharedPacker("video/VP8", 90000)
    live = _track([])
    _attach(live, _Recorder(), packer)  # another subscriber, already receiving: the shared stream
    early = _track(requests)
    assert requests == [1]  # asked for a keyframe the moment the subscription was made

    for packet, key in frames[:5]:  # while the new subscriber's connection is set up
        live.push(packet, key)
        early.push(packet, key)
    recorder = _Recorder()
    _attach(early, recorder, packer)
    for packet, key in frames[5:]:
        live.push(packet, key)
        early.push(packet, key)

    assert [ts for ts, _ in recorder.frames] == [i * 6000 for i in range(8)]  # keyframe first, all, in order
    ids = [pid for _, pid in recorder.frames]
    assert ids == [(ids[0] + i) % (1 << 15) for i in range(8)]  # one run of picture ids into the live stream
    assert requests == [1]  # it had its keyframe: no second request
    assert early.early_sent == 5


async def test_too_many_early_frames_are_dropped_for_a_fresh_keyframe() -> None:
    frames = _vp8_frames(EARLY_FRAMES + 3)
    requests: list[int] = []
    track = _track(requests)
    for packet, key in frames:
        track.push(packet, key)
    recorder = _Recorder()
    _attach(track, recorder, SharedPacker("video/VP8", 90000))
    assert recorder.frames == [] and track.early_sent == 0
    assert requests == [1, 1]  # asked again when the sender started
    track.push(*frames[-1])  # a delta frame is no start
    assert recorder.frames == []
