import fractions
import time

import av
import numpy as np
import pytest

from core.media.sources import TestPattern
from core.media.stamp import (
    TIMESTAMP_MODULO,
    Stamp,
    crc16,
    read_stamp,
    read_stamp_luma,
    stamp_height,
    write_stamp,
)

NOW = 1_796_000_000_000  # a fixed "now" in epoch ms


def test_crc16_check_value() -> None:
    assert crc16(b"123456789") == 0x29B1  # CRC-16/CCITT-FALSE


@pytest.mark.parametrize("size", [(640, 480), (320, 240), (1280, 720), (176, 144), (64, 40)])
def test_roundtrip(size) -> None:
    w, h = size
    luma = np.full((h, w), 100, np.uint8)
    write_stamp(luma, 123456, NOW + 5)
    assert read_stamp_luma(luma, now_ms=NOW) == Stamp(123456, NOW + 5)
    assert stamp_height(h) <= h // 4 + 1


def test_counter_wraps_and_timestamp_unwraps() -> None:
    luma = np.zeros((240, 320), np.uint8)
    write_stamp(luma, 2**24 + 7, NOW)
    # The reader's clock may be behind or ahead of the writer's.
    assert read_stamp_luma(luma, now_ms=NOW - 10_000) == Stamp(7, NOW)
    assert read_stamp_luma(luma, now_ms=NOW + 10_000) == Stamp(7, NOW)
    far = read_stamp_luma(luma, now_ms=NOW + TIMESTAMP_MODULO // 3)
    assert far is not None and far.timestamp_ms == NOW


@pytest.mark.parametrize("scaled", [(160, 120), (320, 240), (1280, 960), (480, 270), (640, 360)])
def test_survives_rescaling(scaled) -> None:
    frame = TestPattern(640, 480, seed=3).render(4242, NOW, 1.0)
    out = frame.reformat(width=scaled[0], height=scaled[1], interpolation="BILINEAR")
    assert read_stamp(out, now_ms=NOW) == Stamp(4242, NOW)


def test_reads_rgb_frames() -> None:
    frame = TestPattern(320, 240, seed=9).render(99, NOW, 0.0).reformat(format="rgb24")
    assert read_stamp(frame, now_ms=NOW) == Stamp(99, NOW)


def test_rejects_frames_without_stamp() -> None:
    rng = np.random.default_rng(0)
    accepted = 0
    for _ in range(500):
        luma = rng.integers(0, 256, (120, 160), dtype=np.uint8)
        accepted += read_stamp_luma(luma) is not None
    for value in (0, 16, 128, 235, 255):
        accepted += read_stamp_luma(np.full((240, 320), value, np.uint8)) is not None
    # Random large blocks pass the marker check 1/16 of the time; the CRC must stop them.
    blocks = rng.integers(0, 2, (2000, 5, 16), dtype=np.uint8)
    for b in blocks:
        luma = np.kron(np.vstack([b, np.zeros((15, 16), np.uint8)]), np.ones((12, 20), np.uint8)) * 200
        accepted += read_stamp_luma(luma.astype(np.uint8)) is not None
    assert accepted == 0


def test_rejects_a_flipped_block() -> None:
    luma = np.zeros((240, 320), np.uint8)
    write_stamp(luma, 77, NOW)
    for cell in (5, 30, 70):  # counter, timestamp, crc bits
        bad = luma.copy()
        r, c = divmod(cell, 16)
        y0, x0 = r * 12, c * 20
        bad[y0 : y0 + 12, x0 : x0 + 20] = 251 - bad[y0 : y0 + 12, x0 : x0 + 20]
        assert read_stamp_luma(bad, now_ms=NOW) is None


def test_rejects_tiny_frames() -> None:
    assert read_stamp_luma(np.zeros((10, 10), np.uint8)) is None


def _encode_decode(codec: str, w: int, h: int, kbps: int, n: int, scale=None):
    enc = av.CodecContext.create(codec, "w")
    assert isinstance(enc, av.VideoCodecContext)
    enc.width, enc.height, enc.pix_fmt = w, h, "yuv420p"
    enc.bit_rate = kbps * 1000
    enc.framerate = fractions.Fraction(30, 1)
    enc.time_base = fractions.Fraction(1, 30)
    if codec == "libvpx":  # aiortc's realtime settings
        enc.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    else:
        enc.options = {"tune": "zerolatency", "preset": "ultrafast"}
    dec = av.CodecContext.create("vp8" if codec == "libvpx" else "h264", "r")
    pattern = TestPattern(w, h, seed=5)
    base = int(time.time() * 1000)
    results = []
    for i in range(n):
        frame = pattern.render(i, base + 33 * i, i / 30)
        frame.pts, frame.time_base = i, enc.time_base
        for packet in enc.encode(frame):
            for decoded in dec.decode(packet):
                if scale:
                    decoded = decoded.reformat(width=scale[0], height=scale[1])
                results.append(read_stamp(decoded))
    return base, results


@pytest.mark.parametrize(
    ("codec", "w", "h", "kbps", "scale"),
    [
        ("libvpx", 640, 480, 100, None),
        ("libvpx", 320, 240, 30, None),
        ("libvpx", 640, 480, 100, (160, 120)),
        ("libx264", 320, 240, 50, None),
    ],
)
def test_survives_lossy_codec_at_low_bitrate(codec, w, h, kbps, scale) -> None:
    base, results = _encode_decode(codec, w, h, kbps, 45, scale)
    assert len(results) >= 40
    read = [r for r in results if r is not None]
    assert len(read) >= 0.98 * len(results)
    assert all(r.timestamp_ms == base + 33 * r.counter for r in read)  # no misreads
    counters = [r.counter for r in read]
    assert counters == sorted(counters)
