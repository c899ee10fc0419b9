"""Synthetic media sources: a stamped moving test pattern (or a drawn person, for demos) and
a tone/speech-like signal.

Both are aiortc ``MediaStreamTrack``s paced in real time on ``time.monotonic()``
and never drift: frame ``n`` is due at ``start + n / rate`` (not at "previous +
interval").  If the consumer falls more than two intervals behind, the missed
slots are dropped, like a real camera or microphone would, so ``pts`` always
reflects capture time.
"""

from __future__ import annotations

import asyncio
import fractions
import itertools
import math
import time
import zlib
from collections.abc import Callable, Iterable
from typing import Literal

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from .avatar import AvatarPattern
from .stamp import stamp_height, write_stamp

__all__ = [
    "AUDIO_PTIME",
    "VIDEO_CLOCK_RATE",
    "VIDEO_TIME_BASE",
    "SyntheticAudioSource",
    "SyntheticVideoSource",
    "TestPattern",
]

VIDEO_CLOCK_RATE = 90000
VIDEO_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK_RATE)
AUDIO_PTIME = 0.020

_seeds = itertools.count(1)


def _seed_for(label: str | None) -> int:
    if label is None:
        return next(_seeds)
    return zlib.crc32(label.encode("utf-8")) & 0x7FFFFFFF


class _Pacer:
    """Real-time slots ``n -> start + n / rate`` on the monotonic clock."""

    def __init__(self, rate: float, max_lag_slots: float = 2.0) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = float(rate)
        self.max_lag_slots = max_lag_slots
        self.start: float | None = None
        self.slot = -1

    async def next_slot(self) -> int:
        now = time.monotonic()
        if self.start is None:
            self.start = now
            self.slot = 0
            return 0
        slot = self.slot + 1
        wait = self.start + slot / self.rate - now
        if wait > 0:
            await asyncio.sleep(wait)
        elif -wait * self.rate > self.max_lag_slots:
            slot = int((now - self.start) * self.rate)  # drop the missed slots
        self.slot = slot
        return slot


class TestPattern:
    """Renders stamped yuv420p frames: a scrolling gradient and a bouncing box.

    Chroma of the background is fixed per ``seed`` (hues spread by the golden
    angle), so participants can be told apart; the box has the opposite hue.
    The top ``stamp_height(height)`` rows carry the stamp (neutral chroma).
    """

    __test__ = False  # not a pytest class

    def __init__(self, width: int, height: int, seed: int) -> None:
        if width < 16 or height < 20 or width % 2 or height % 2:
            raise ValueError(f"size must be even and at least 16x20, got {width}x{height}")
        self.width, self.height, self.seed = width, height, seed
        hue = math.radians((seed * 137.50776405) % 360.0)
        self.chroma = (
            round(128 + 72 * math.cos(hue)),
            round(128 + 72 * math.sin(hue)),
        )
        self.box_chroma = (256 - self.chroma[0], 256 - self.chroma[1])
        y_size = width * height
        c_size = y_size // 4
        self._buf = np.empty(y_size + 2 * c_size, dtype=np.uint8)
        self._y = self._buf[:y_size].reshape(height, width)
        self._u = self._buf[y_size : y_size + c_size].reshape(height // 2, width // 2)
        self._v = self._buf[y_size + c_size :].reshape(height // 2, width // 2)
        self._strip = stamp_height(height) + (stamp_height(height) & 1)
        # One period of the scrolling gradient, doubled so any window is a slice.
        ramp = (60 + 120 * (0.5 - 0.5 * np.cos(np.linspace(0, 2 * np.pi, width, endpoint=False))))
        self._ramp = np.tile(ramp.astype(np.uint8), 2)
        self._box = max(4, (height // 5) & ~1)

    def render(self, counter: int, timestamp_ms: int, t: float) -> av.VideoFrame:
        """The frame for ``counter`` at ``t`` seconds since the start."""
        w, h, s, box = self.width, self.height, self._strip, self._box
        shift = int(t * w / 4.0) % w  # one gradient period per 4 s
        self._y[s:, :] = self._ramp[shift : shift + w]
        self._u[:, :] = self.chroma[0]
        self._v[:, :] = self.chroma[1]
        self._u[: s // 2, :] = 128
        self._v[: s // 2, :] = 128
        # Bouncing box (triangle waves, incommensurate periods).
        free_x, free_y = w - box, h - s - box
        px = abs(((t / 3.1) % 2.0) - 1.0)
        py = abs(((t / 2.3) % 2.0) - 1.0)
        x0 = int(px * free_x) & ~1
        y0 = (s + int(py * free_y)) & ~1
        self._y[y0 : y0 + box, x0 : x0 + box] = 235 if (self.seed & 1) else 40
        self._u[y0 // 2 : (y0 + box) // 2, x0 // 2 : (x0 + box) // 2] = self.box_chroma[0]
        self._v[y0 // 2 : (y0 + box) // 2, x0 // 2 : (x0 + box) // 2] = self.box_chroma[1]
        write_stamp(self._y, counter, timestamp_ms)
        return av.VideoFrame.from_ndarray(self._buf.reshape(h * 3 // 2, w), format="yuv420p")


Look = Literal["pattern", "avatar"]


class SyntheticVideoSource(MediaStreamTrack):
    """A video track of a moving, stamped test pattern (see ``core.media.stamp``).

    Each frame carries its counter (0, 1, 2, ... per emitted frame) and its
    capture time (wall-clock ms, taken when the frame is made), readable with
    ``read_stamp`` after any codec.  ``pts`` is in 90 kHz units of the capture
    slot.  ``seed`` (default: derived from ``label``, else a fresh number)
    picks the colours.

    ``look="avatar"`` draws a person captioned ``caption`` (default: ``label``) instead
    (``core.media.avatar``; no stamp), whose mouth follows ``mouth()`` (0..1, e.g.
    ``SyntheticAudioSource.envelope``).
    """

    kind = "video"

    def __init__(
        self,
        width: int = 640,
        height: int = 480,
        fps: float = 30,
        label: str | None = None,
        *,
        seed: int | None = None,
        look: Look = "pattern",
        mouth: Callable[[], float] | None = None,
        caption: str | None = None,
    ) -> None:
        super().__init__()
        self.label = label or "Synthetic camera"
        self.seed = _seed_for(label) if seed is None else seed
        self.fps = float(fps)
        self.look = look
        self._mouth = mouth
        self._caption = self.label if caption is None else caption
        self._pattern = self._renderer(width, height)
        self._pacer = _Pacer(self.fps)
        self.frames_sent = 0

    @property
    def width(self) -> int:
        return self._pattern.width

    @property
    def height(self) -> int:
        return self._pattern.height

    @property
    def chroma(self) -> tuple[int, int]:
        """(U, V) of the background: this source's identifying colour."""
        return self._pattern.chroma

    def _renderer(self, width: int, height: int) -> TestPattern | AvatarPattern:
        if self.look == "avatar":
            return AvatarPattern(width, height, self.seed, self._caption, self._mouth)
        return TestPattern(width, height, self.seed)

    def resize(self, width: int, height: int) -> None:
        """Change the size from the next frame on (the encoder restarts remotely)."""
        if (width, height) != (self.width, self.height):
            self._pattern = self._renderer(width, height)

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        slot = await self._pacer.next_slot()
        if self.readyState != "live":
            raise MediaStreamError
        t = slot / self.fps
        frame = self._pattern.render(self.frames_sent, int(time.time() * 1000), t)
        frame.pts = round(slot * VIDEO_CLOCK_RATE / self.fps)
        frame.time_base = VIDEO_TIME_BASE
        self.frames_sent += 1
        return frame


Interval = tuple[float, float]


class SyntheticAudioSource(MediaStreamTrack):
    """An audio track of 20 ms s16 mono frames: a steady tone or speech-like bursts.

    ``kind`` here names the signal (``"tone"`` or ``"speech"``); the track's
    own ``kind`` attribute stays ``"audio"`` as aiortc requires (the signal is
    ``self.signal``).  ``"speech"`` is a harmonic tone with fundamental
    ``frequency`` and slight vibrato, amplitude-modulated at a syllable rate
    (~4 Hz) in phrases of 1.6 s with 0.4 s pauses.

    ``schedule`` lists ``(start_s, end_s)`` intervals, in seconds of the
    track's timeline (0 = first ``recv``), during which it sounds; silence
    otherwise.  ``None`` means always.  ``set_speaking(True/False)`` overrides
    the schedule at runtime, ``set_speaking(None)`` returns to it.
    """

    kind = "audio"

    def __init__(
        self,
        kind: str = "tone",
        frequency: float = 440.0,
        schedule: Iterable[Interval] | None = None,
        sample_rate: int = 48000,
        *,
        amplitude: float = 0.3,
        label: str | None = None,
    ) -> None:
        super().__init__()
        if kind not in ("tone", "speech"):
            raise ValueError(f"kind must be 'tone' or 'speech', got {kind!r}")
        if not 0.0 <= amplitude <= 1.0:
            raise ValueError("amplitude must be within 0..1")
        self.signal = kind
        self.label = label or ("Synthetic tone" if kind == "tone" else "Synthetic speech")
        self.frequency = float(frequency)
        self.sample_rate = int(sample_rate)
        self.amplitude = float(amplitude)
        self.samples_per_frame = round(AUDIO_PTIME * self.sample_rate)
        self.schedule: list[Interval] | None = (
            None if schedule is None else sorted((float(a), float(b)) for a, b in schedule)
        )
        self._override: bool | None = None
        self._pacer = _Pacer(1.0 / AUDIO_PTIME, max_lag_slots=5)
        self._time_base = fractions.Fraction(1, self.sample_rate)
        self._sample = 0  # index of the next frame's first sample

    # -- speaking state -------------------------------------------------
    def set_speaking(self, on: bool | None) -> None:
        """Force sound on/off (``True``/``False``) or follow the schedule (``None``)."""
        self._override = on

    def scheduled_at(self, t: float) -> bool:
        if self.schedule is None:
            return True
        return any(start <= t < end for start, end in self.schedule)

    def speaking_at(self, t: float) -> bool:
        return self._override if self._override is not None else self.scheduled_at(t)

    @property
    def speaking(self) -> bool:
        """Whether the next frame will sound."""
        return self.speaking_at(self._sample / self.sample_rate)

    def envelope(self) -> float:
        """How loud the voice is now, 0..1 (the syllables of speech; 1 for a sounding tone):
        what an avatar's mouth follows."""
        t = self._sample / self.sample_rate
        if self.readyState != "live" or not self.speaking_at(t):
            return 0.0
        if self.signal == "tone":
            return 1.0
        return float(np.sin(np.pi * 4.0 * t) ** 2 * (np.mod(t, 2.0) < 1.6))

    # -- signal -----------------------------------------------------------
    def _signal(self, t: np.ndarray) -> np.ndarray:
        f0 = self.frequency
        if self.signal == "tone":
            tone: np.ndarray = np.sin(2 * np.pi * f0 * t)
            return tone
        # Phase of f0 * (1 + 0.03 sin(2*pi*5 t)), integrated analytically.
        phase = 2 * np.pi * f0 * t - (f0 * 0.03 / 5.0) * np.cos(2 * np.pi * 5.0 * t)
        wave = sum(np.sin(k * phase) / k for k in range(1, 7)) / 1.8
        syllable = np.sin(np.pi * 4.0 * t) ** 2
        stress = 0.6 + 0.4 * np.sin(np.pi * 1.3 * t) ** 2
        phrase = (np.mod(t, 2.0) < 1.6).astype(np.float64)
        speech: np.ndarray = wave * syllable * stress * phrase
        return speech

    def render(self, first_sample: int) -> np.ndarray:
        """The s16 samples of the frame starting at ``first_sample`` (shape (1, n))."""
        n = self.samples_per_frame
        if not self.speaking_at(first_sample / self.sample_rate):
            return np.zeros((1, n), dtype=np.int16)
        t = (first_sample + np.arange(n)) / self.sample_rate
        x = np.clip(self.amplitude * self._signal(t), -1.0, 1.0)
        return (x * 32767.0).astype(np.int16).reshape(1, n)

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        slot = await self._pacer.next_slot()
        if self.readyState != "live":
            raise MediaStreamError
        self._sample = slot * self.samples_per_frame
        frame = av.AudioFrame.from_ndarray(self.render(self._sample), format="s16", layout="mono")
        frame.sample_rate = self.sample_rate
        frame.pts = self._sample
        frame.time_base = self._time_base
        self._sample += self.samples_per_frame
        return frame

