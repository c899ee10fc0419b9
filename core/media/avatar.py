"""A synthetic person for demos: a drawn head and shoulders that blinks, sways a little and
moves its mouth while its voice sounds, with the name written under it.

Drawn straight into yuv420p with numpy: the still parts (background, shoulders, head) are
rendered once per size; each frame copies them and paints only the eyes and the mouth, so a
320x240 frame costs well under a millisecond. No frame stamp (that stays with the test
pattern of ``core.media.sources``, for tests and benchmarks).

``mouth()`` (optional) returns how open the mouth is, 0..1, e.g. a
``SyntheticAudioSource.envelope``: the mouth follows the voice's syllables and stays shut in
its pauses.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import av
import numpy as np

__all__ = ["AvatarPattern"]

# Classic 5x7 glyphs, one byte per column, bit 0 the top row (A-Z; anything else is a gap).
_FONT = {
    "A": "7e1111117e", "B": "7f49494936", "C": "3e41414122", "D": "7f4141221c", "E": "7f49494941",
    "F": "7f09090901", "G": "3e4149497a", "H": "7f0808087f", "I": "00417f4100", "J": "2040413f01",
    "K": "7f08142241", "L": "7f40404040", "M": "7f020c027f", "N": "7f0408107f", "O": "3e4141413e",
    "P": "7f09090906", "Q": "3e4151215e", "R": "7f09192946", "S": "4649494931", "T": "01017f0101",
    "U": "3f4040403f", "V": "1f2040201f", "W": "3f4038403f", "X": "6314081463", "Y": "0708700807",
    "Z": "6151494543",
}


def _text_mask(text: str, scale: int) -> np.ndarray:
    """A boolean bitmap of ``text`` in the 5x7 font (upper-cased), ``scale`` pixels a dot."""
    columns: list[int] = []
    for ch in text.upper()[:14]:
        glyph = _FONT.get(ch)
        columns += [int(glyph[i:i + 2], 16) for i in range(0, 10, 2)] if glyph else [0, 0, 0]
        columns.append(0)
    bits = np.array([[(col >> row) & 1 for col in columns] for row in range(7)], dtype=bool)
    return np.kron(bits, np.ones((scale, scale), dtype=bool)) if bits.size else bits


def _ellipse(h: int, w: int, cy: float, cx: float, ry: float, rx: float) -> np.ndarray:
    y, x = np.ogrid[:h, :w]
    return ((y - cy) / max(ry, 0.5)) ** 2 + ((x - cx) / max(rx, 0.5)) ** 2 <= 1.0


class AvatarPattern:
    """Renders a person of ``seed``'s colours named ``name`` at ``width`` x ``height``."""

    def __init__(self, width: int, height: int, seed: int, name: str = "",
                 mouth: Callable[[], float] | None = None) -> None:
        if width < 16 or height < 16 or width % 2 or height % 2:
            raise ValueError(f"size must be even and at least 16x16, got {width}x{height}")
        self.width, self.height, self.seed, self.name = width, height, seed, name
        self.mouth = mouth
        hue = math.radians((seed * 137.50776405) % 360.0)
        self.chroma = (round(128 + 22 * math.cos(hue)), round(128 + 22 * math.sin(hue)))
        self._shirt = (round(128 - 48 * math.cos(hue)), round(128 - 48 * math.sin(hue)))
        self._still = self._draw_still()
        self._buf = np.empty_like(self._still)
        self._blink_phase = (seed % 97) / 97.0 * 4.0

    # geometry (pixels of the luma plane)
    @property
    def _head(self) -> tuple[float, float, float, float]:
        h, w = self.height, self.width
        r = 0.2 * min(h, w * 0.75)
        return 0.42 * h, 0.5 * w, r * 1.15, r  # centre y, x, radius y, x

    def _draw_still(self) -> np.ndarray:
        w, h = self.width, self.height
        y_plane = np.empty((h, w), dtype=np.uint8)
        u = np.full((h // 2, w // 2), self.chroma[0], dtype=np.uint8)
        v = np.full((h // 2, w // 2), self.chroma[1], dtype=np.uint8)
        y_plane[:] = np.linspace(70, 40, h, dtype=np.float32)[:, None].astype(np.uint8)  # a soft wall
        cy, cx, ry, rx = self._head
        shirt = _ellipse(h, w, h * 1.02, cx, h * 0.3, rx * 2.1)
        skin = _ellipse(h, w, cy, cx, ry, rx) | (_ellipse(h, w, cy + ry * 1.05, cx, ry * 0.35, rx * 0.42) & ~shirt)
        hair = _ellipse(h, w, cy - ry * 0.35, cx, ry * 0.75, rx * 1.05) & ~_ellipse(h, w, cy + ry * 0.1, cx,
                                                                                    ry * 0.85, rx * 0.95)
        y_plane[shirt] = 95
        y_plane[skin] = 175
        y_plane[hair] = 45 + (self.seed % 4) * 25
        half = (slice(None, None, 2), slice(None, None, 2))
        u[shirt[half]], v[shirt[half]] = self._shirt
        skin_tone = (110 - (self.seed % 3) * 4, 150 + (self.seed % 3) * 4)
        u[skin[half]], v[skin[half]] = skin_tone
        u[hair[half]], v[hair[half]] = 120, 134
        if self.name:
            scale = max(1, h // 90)
            text = _text_mask(self.name, scale)
            th, tw = text.shape
            if 0 < tw <= w - 4:
                top, left = h - th - max(3, h // 30), (w - tw) // 2
                region = y_plane[top:top + th, left:left + tw]
                region[text] = 235
        return np.concatenate([y_plane.reshape(-1), u.reshape(-1), v.reshape(-1)])

    def render(self, counter: int, timestamp_ms: int, t: float) -> av.VideoFrame:
        """The frame at ``t`` seconds (``counter`` and ``timestamp_ms`` are not drawn)."""
        w, h = self.width, self.height
        buf = self._buf
        buf[:] = self._still
        y_plane = buf[: w * h].reshape(h, w)
        cy, cx, ry, rx = self._head
        sway = rx * 0.04 * math.sin(t * 0.9 + self.seed)
        # Eyes: shut for 150 ms every 4 s.
        blinking = ((t + self._blink_phase) % 4.0) < 0.15
        eye_ry = max(1.0, ry * (0.02 if blinking else 0.09))
        for side in (-1, 1):
            ey, ex = cy - ry * 0.1, cx + sway + side * rx * 0.38
            self._paint(y_plane, ey, ex, eye_ry, rx * 0.1, 30)
        # Mouth: a line when shut, an opening dark ellipse while the voice sounds.
        opening = min(1.0, max(0.0, self.mouth())) if self.mouth is not None else 0.0
        self._paint(y_plane, cy + ry * 0.5, cx + sway, max(1.0, ry * (0.03 + 0.2 * opening)), rx * 0.32,
                    60 - int(30 * opening))
        return av.VideoFrame.from_ndarray(buf.reshape(h * 3 // 2, w), format="yuv420p")

    @staticmethod
    def _paint(plane: np.ndarray, cy: float, cx: float, ry: float, rx: float, value: int) -> None:
        top, bottom = max(0, int(cy - ry)), min(plane.shape[0], int(cy + ry) + 1)
        left, right = max(0, int(cx - rx)), min(plane.shape[1], int(cx + rx) + 1)
        if bottom <= top or right <= left:
            return
        region = plane[top:bottom, left:right]
        region[_ellipse(bottom - top, right - left, cy - top, cx - left, ry, rx)] = value
