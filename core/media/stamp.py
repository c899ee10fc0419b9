"""A frame counter and capture timestamp drawn into, and read back from, video pixels.

The stamp is a grid of ``STAMP_COLS`` x ``STAMP_ROWS`` large black/white
blocks across the top of the luma plane (``STAMP_ROWS / STAMP_CELL_DIVISOR`` of
the frame height; chroma there is neutral).  Block geometry is relative to the
frame size, so a frame rescaled anywhere between sender and reader still reads.
Blocks are sampled away from their edges, where lossy codecs ring, and the
threshold is calibrated from marker blocks, so brightness shifts don't matter.

80 bits, most significant first:

====== ===== =====================================================
bits   width meaning
====== ===== =====================================================
0-3    4     marker ``1010`` (presence check and threshold calibration)
4-27   24    frame counter, modulo 2**24 (6.5 days at 30 fps)
28-63  36    capture time: wall-clock (``time.time()``) ms, modulo 2**36
64-79  16    CRC-16/CCITT-FALSE of bits 0-63
====== ===== =====================================================

The timestamp is wall-clock so that a sender and a receiver in different
processes (or on NTP-synchronised machines) can compute glass-to-glass latency;
``read_stamp`` restores the full epoch value nearest to the reader's clock.
"""

from __future__ import annotations

import time
from functools import lru_cache
from typing import NamedTuple

import av
import numpy as np

__all__ = [
    "STAMP_COLS",
    "STAMP_ROWS",
    "Stamp",
    "crc16",
    "luma_plane",
    "read_stamp",
    "read_stamp_luma",
    "stamp_height",
    "write_stamp",
]

STAMP_COLS = 16
STAMP_ROWS = 5
STAMP_CELL_DIVISOR = 20  # a block is 1/20 of the frame height
BLACK, WHITE = 16, 235  # limited-range luma

_MARKER = (1, 0, 1, 0)
_COUNTER_BITS = 24
_TS_BITS = 36
_CRC_BITS = 16
_PAYLOAD_BITS = len(_MARKER) + _COUNTER_BITS + _TS_BITS
_NBITS = _PAYLOAD_BITS + _CRC_BITS
assert _NBITS == STAMP_COLS * STAMP_ROWS and _PAYLOAD_BITS % 8 == 0

COUNTER_MODULO = 1 << _COUNTER_BITS
TIMESTAMP_MODULO = 1 << _TS_BITS
_MIN_CONTRAST = 48.0  # luma difference between marker 1s and 0s to accept a stamp
_SAMPLE_POINTS = (0.3, 0.5, 0.7)  # where inside a block to sample (fractions)


class Stamp(NamedTuple):
    counter: int  # modulo 2**24
    timestamp_ms: int  # wall-clock epoch milliseconds


def stamp_height(height: int) -> int:
    """Rows at the top of a ``height``-row frame covered by the stamp."""
    return round(STAMP_ROWS * height / STAMP_CELL_DIVISOR)


def _make_crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return tuple(table)


_CRC_TABLE = _make_crc_table()


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no xor-out)."""
    crc = 0xFFFF
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ _CRC_TABLE[((crc >> 8) ^ byte) & 0xFF]
    return crc


def _payload(counter: int, timestamp_ms: int) -> int:
    payload = 0
    for bit in _MARKER:
        payload = (payload << 1) | bit
    payload = (payload << _COUNTER_BITS) | (counter % COUNTER_MODULO)
    return (payload << _TS_BITS) | (timestamp_ms % TIMESTAMP_MODULO)


def _encode(counter: int, timestamp_ms: int) -> np.ndarray:
    """The 80 stamp bits, MSB first, as a uint8 array of 0/1."""
    payload = _payload(counter, timestamp_ms).to_bytes(_PAYLOAD_BITS // 8, "big")
    word = payload + crc16(payload).to_bytes(2, "big")
    return np.unpackbits(np.frombuffer(word, dtype=np.uint8))


@lru_cache(maxsize=16)
def _cell_geometry(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Block column of every pixel column, block row of every strip row (read-only)."""
    xs = (np.arange(width) * STAMP_COLS) // width
    ys = np.minimum((np.arange(stamp_height(height)) * STAMP_CELL_DIVISOR) // height, STAMP_ROWS - 1)
    xs.setflags(write=False)
    ys.setflags(write=False)
    return xs, ys


def write_stamp(luma: np.ndarray, counter: int, timestamp_ms: int) -> None:
    """Draw the stamp into the top of a (h, w) uint8 luma array, in place."""
    height, width = luma.shape
    levels = np.where(_encode(counter, timestamp_ms) == 1, WHITE, BLACK).astype(np.uint8)
    xs, ys = _cell_geometry(width, height)
    rows = levels.reshape(STAMP_ROWS, STAMP_COLS)[:, xs]  # (ROWS, width)
    luma[: len(ys), :] = rows[ys]


@lru_cache(maxsize=32)
def _sample_index(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    fractions = np.array(_SAMPLE_POINTS)
    cols = ((np.arange(STAMP_COLS)[:, None] + fractions[None, :]) * width / STAMP_COLS)
    rows = (
        (np.arange(STAMP_ROWS)[:, None] + fractions[None, :]) * height / STAMP_CELL_DIVISOR
    )
    cols_i = np.clip(cols.astype(np.intp).ravel(), 0, width - 1)
    rows_i = np.clip(rows.astype(np.intp).ravel(), 0, height - 1)
    return rows_i, cols_i


def _unwrap_timestamp(low: int, now_ms: int) -> int:
    delta = (now_ms - low) % TIMESTAMP_MODULO
    if delta > TIMESTAMP_MODULO // 2:
        delta -= TIMESTAMP_MODULO
    return now_ms - delta


def read_stamp_luma(luma: np.ndarray, now_ms: int | None = None) -> Stamp | None:
    """Read a stamp from a (h, w) luma array of any size; ``None`` if absent or misread."""
    height, width = luma.shape
    if height < STAMP_CELL_DIVISOR or width < STAMP_COLS:
        return None
    rows, cols = _sample_index(width, height)
    n = len(_SAMPLE_POINTS)
    samples = luma[np.ix_(rows, cols)].astype(np.float32)
    means = samples.reshape(STAMP_ROWS, n, STAMP_COLS, n).mean(axis=(1, 3)).ravel()
    marker = np.array(_MARKER, dtype=bool)
    ones = means[: len(_MARKER)][marker]
    zeros = means[: len(_MARKER)][~marker]
    if ones.min() - zeros.max() < _MIN_CONTRAST:
        return None
    threshold = (ones.mean() + zeros.mean()) / 2.0
    word = np.packbits(means > threshold).tobytes()
    if crc16(word[:-2]) != int.from_bytes(word[-2:], "big"):
        return None
    payload = int.from_bytes(word[:-2], "big")
    ts_low = payload & (TIMESTAMP_MODULO - 1)
    counter = (payload >> _TS_BITS) & (COUNTER_MODULO - 1)
    if now_ms is None:
        now_ms = int(time.time() * 1000)
    return Stamp(counter, _unwrap_timestamp(ts_low, now_ms))


_LUMA_FIRST_FORMATS = frozenset(
    {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "nv21",
     "gray", "yuv410p", "yuv411p", "yuv440p"}
)


def luma_plane(frame: av.VideoFrame) -> np.ndarray:
    """The frame's luma as a (h, w) uint8 array (a view when the format allows)."""
    if frame.format.name not in _LUMA_FIRST_FORMATS:
        frame = frame.reformat(format="gray")
    plane = frame.planes[0]
    buf: np.ndarray = np.frombuffer(memoryview(plane), dtype=np.uint8)
    return buf.reshape(-1, plane.line_size)[: frame.height, : frame.width]


def read_stamp(frame: av.VideoFrame, now_ms: int | None = None) -> Stamp | None:
    """Read the stamp from a decoded frame of any size (``None`` if absent or misread).

    ``now_ms`` (default: the current wall clock) resolves the 36-bit timestamp
    to the nearest full epoch value.
    """
    return read_stamp_luma(luma_plane(frame), now_ms)
