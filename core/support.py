"""``is_supported()``: can this machine run Confab's SDK (twilio-video.js's ``isSupported``)?

The browser SDK checks for WebRTC APIs; here the equivalent is the codecs aiortc encodes and
decodes with through PyAV: VP8 (libvpx), H.264 and Opus.
"""

from __future__ import annotations

import functools
from typing import Literal

__all__ = ["is_supported", "missing_codecs"]

_NEEDED = {"vp8": ("libvpx", "vp8"), "h264": ("h264", "libx264"), "opus": ("libopus", "opus")}


def missing_codecs() -> list[str]:
    """The needed codecs PyAV cannot open for both encoding and decoding."""
    missing = []
    for name, candidates in _NEEDED.items():
        if not (any(_has(c, "w") for c in candidates) and any(_has(c, "r") for c in candidates)):
            missing.append(name)
    return missing


def _has(codec: str, mode: Literal["r", "w"]) -> bool:
    import av

    try:
        av.codec.Codec(codec, mode)
    except Exception:  # noqa: BLE001 - PyAV raises UnknownCodecError or ValueError depending on the build
        return False
    return True


@functools.cache
def is_supported() -> bool:
    """True when aiortc and PyAV import and every needed codec opens."""
    try:
        import aiortc  # noqa: F401
    except ImportError:
        return False
    return not missing_codecs()
