"""Audio levels of decoded frames, with numpy (about 25 µs per 20 ms frame).

Two scales:

* ``dbov``: RMS level in dB relative to a full-scale square wave (RFC 6464's
  dBov), from -127 (silence floor) to 0.  A full-scale sine reads -3.0.
* ``level``: twilio-video.js's ``audioLevel`` scale, a linear amplitude from 0
  to 32767.  twilio-video.js reports ``round(stats.audioLevel * 32767)``, and
  browsers compute ``audioLevel`` from the peak absolute sample, so ``level``
  here is the frame's peak ``|sample|`` in s16 units (a sine of amplitude A
  reads A * 32767).

Decoded aiortc audio is s16 stereo (interleaved); any channel layout is
measured over all samples together.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import av
import numpy as np

__all__ = [
    "SILENCE_DBOV",
    "AudioLevel",
    "dbov_to_level",
    "frame_level",
    "frame_samples",
    "rfc6464_level",
    "samples_level",
]

SILENCE_DBOV = -127.0
_FULL_SCALE = 32768.0
_MAX_LEVEL = 32767


class AudioLevel(NamedTuple):
    dbov: float  # RMS, -127.0 .. 0.0
    level: int  # peak amplitude, 0 .. 32767 (twilio-video.js audioLevel scale)


def frame_samples(frame: av.AudioFrame) -> np.ndarray:
    """The frame's samples as int16 (any shape); float formats are scaled to s16."""
    array: np.ndarray = frame.to_ndarray()
    if array.dtype == np.int16:
        return array
    if array.dtype.kind == "f":
        return np.clip(array * _FULL_SCALE, -32768, 32767).astype(np.int16)
    if array.dtype == np.int32:
        return (array >> 16).astype(np.int16)
    if array.dtype == np.uint8:  # u8 / u8p
        return ((array.astype(np.int16) - 128) << 8).astype(np.int16)
    raise ValueError(f"unsupported sample format {frame.format.name}")


def samples_level(samples: np.ndarray) -> AudioLevel:
    """Level of int16 samples of any shape (empty -> silence)."""
    if samples.size == 0:
        return AudioLevel(SILENCE_DBOV, 0)
    flat = np.ascontiguousarray(samples).reshape(-1)
    x = flat.astype(np.float32)
    energy = float(np.dot(x, x)) / (flat.size * _FULL_SCALE * _FULL_SCALE)
    dbov = 10.0 * math.log10(energy) if energy > 0.0 else SILENCE_DBOV
    peak = max(int(flat.max()), -int(flat.min()))
    return AudioLevel(max(SILENCE_DBOV, min(0.0, dbov)), min(peak, _MAX_LEVEL))


def frame_level(frame: av.AudioFrame) -> AudioLevel:
    """Level of a decoded ``av.AudioFrame``."""
    return samples_level(frame_samples(frame))


def dbov_to_level(dbov: float) -> int:
    """The linear 0..32767 amplitude of an RMS level (e.g. to draw a meter from dBov)."""
    if dbov <= SILENCE_DBOV:
        return 0
    return min(_MAX_LEVEL, round(_MAX_LEVEL * math.pow(10.0, min(dbov, 0.0) / 20.0)))


def rfc6464_level(dbov: float) -> int:
    """The ``ssrc-audio-level`` header value: -dBov as an integer 0..127."""
    return int(min(127, max(0, round(-dbov))))
