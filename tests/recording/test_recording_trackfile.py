"""One track's file on its own (no network): a file starts on a keyframe, its time goes on across a
publish connection rebuilt (pts from 0 again), and a codec it cannot hold fails that recording only."""

from __future__ import annotations

import fractions
from pathlib import Path

import av
import numpy as np

from server.recording.trackfile import TrackFile, vp8_size
from server.recording.writer import FileWriter


def _vp8(count: int, width: int = 160, height: int = 120) -> list[tuple[bytes, int, bool]]:
    """``count`` VP8 frames of 1/30 s (pts in 90 kHz units, as the forwarder hands them over)."""
    enc = av.CodecContext.create("libvpx", "w")
    assert isinstance(enc, av.VideoCodecContext)
    enc.width, enc.height, enc.pix_fmt = width, height, "yuv420p"
    enc.time_base = fractions.Fraction(1, 90000)
    out = []
    for i in range(count):
        frame = av.VideoFrame.from_ndarray(np.full((height, width, 3), i * 5 % 255, np.uint8), format="rgb24")
        frame = frame.reformat(format="yuv420p")
        frame.pts, frame.time_base = i * 3000, fractions.Fraction(1, 90000)
        out += [(bytes(p), i * 3000, p.is_keyframe) for p in enc.encode(frame)]
    return out


def _times(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        return [float(p.pts * p.time_base) for p in container.demux(video=0) if p.pts is not None]


def test_the_file_starts_on_a_keyframe_and_its_time_survives_a_pts_reset(tmp_path: Path) -> None:
    packets = _vp8(30)
    assert packets[0][2] and not packets[1][2]
    assert vp8_size(packets[0][0]) == (160, 120) and vp8_size(packets[1][0]) is None
    file = TrackFile(tmp_path / "v.mkv", "video", "video/vp8", 90000)
    file.write(*packets[1])  # not a keyframe: nothing can start on it
    assert not file.started and file.skipped == 1
    for data, pts, keyframe in packets[:15]:
        file.write(data, pts + 123456, keyframe)  # the first connection's timeline
    for data, pts, keyframe in packets[15:]:
        file.write(data, pts - 15 * 3000, keyframe)  # a rebuilt connection: pts from 0 again
    seconds, size = file.close()
    times = _times(tmp_path / "v.mkv")
    assert len(times) == 30 and times == sorted(times) and len(set(times)) == 30
    assert times[0] == 0.0 and abs(seconds - 30 / 30) < 0.05 and size > 0
    with av.open(str(tmp_path / "v.mkv")) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.width, stream.height) == ("vp8", 160, 120)
        assert len(list(container.decode(stream))) == 30


def test_a_codec_it_cannot_hold_fails_that_recording(tmp_path: Path) -> None:
    writer = FileWriter(tmp_path / "x.mkv")
    writer.write("video", "video/AV1", 90000, b"\x00" * 10, 0, True)
    assert writer.failed and writer.close() == ("failed", 0.0, 0)
    assert FileWriter(tmp_path / "never.mka").close()[0] == "failed"  # no media ever came
