"""Counts every codec aiortc opens or runs in this process (proof that the forwarder never transcodes).

``install()`` wraps, class-wide, the constructors of aiortc's decoders (they open their
codec context there) and the ``encode``/``decode`` methods of every aiortc encoder and
decoder — video (VP8, H.264) and audio (Opus, G.722, G.711) alike. ``snapshot()`` returns
the counts. The server installs it when started with ``CONFAB_CODEC_AUDIT=1`` and serves the
counts at ``GET /dev/media`` (with ``--dev``); tests/group asserts they stay zero while
media flows through the server.
"""

from __future__ import annotations

import functools
import os
import threading
from collections import Counter
from typing import Any

__all__ = ["ENV_VAR", "enabled_by_environment", "install", "installed", "snapshot"]

ENV_VAR = "CONFAB_CODEC_AUDIT"

_lock = threading.Lock()
_counts: Counter[str] = Counter()
_installed = False


def _count(key: str) -> None:
    with _lock:
        _counts[key] += 1


def _wrap(cls: type, name: str, key: str) -> None:
    original = cls.__dict__.get(name)
    if original is None or getattr(original, "_confab_audit", False):
        return

    @functools.wraps(original)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        _count(key)
        return original(self, *args, **kwargs)

    wrapper._confab_audit = True  # type: ignore[attr-defined]  # marks the wrapper so install() wraps once
    setattr(cls, name, wrapper)


def install() -> None:
    """Idempotent; affects every aiortc codec object of the process from now on."""
    global _installed
    from aiortc.codecs import g711, g722, h264, opus, vpx

    with _lock:
        if _installed:
            return
        _installed = True
    decoders: list[tuple[type, str, str]] = [
        (vpx.Vp8Decoder, "video", "vp8"), (h264.H264Decoder, "video", "h264"), (opus.OpusDecoder, "audio", "opus"),
        (g722.G722Decoder, "audio", "g722"), (g711.PcmDecoder, "audio", "pcm")]
    encoders: list[tuple[type, str, str]] = [
        (vpx.Vp8Encoder, "video", "vp8"), (h264.H264Encoder, "video", "h264"), (opus.OpusEncoder, "audio", "opus"),
        (g722.G722Encoder, "audio", "g722"), (g711.PcmEncoder, "audio", "pcm")]
    for cls, kind, label in decoders:
        _wrap(cls, "__init__", f"{kind}.decoder_created.{label}")
        _wrap(cls, "decode", f"{kind}.decode.{label}")
    for cls, kind, label in encoders:
        _wrap(cls, "encode", f"{kind}.encode.{label}")
        if kind == "audio":  # audio encoders open their codec context in the constructor: count it there
            _wrap(cls, "__init__", f"audio.encoder_created.{label}")


def installed() -> bool:
    return _installed


def enabled_by_environment() -> bool:
    if os.environ.get(ENV_VAR, "").strip().lower() in {"1", "true", "yes", "on"}:
        install()
    return _installed


def snapshot() -> dict[str, Any]:
    with _lock:
        counts = dict(_counts)
    return {
        "installed": _installed,
        "counts": counts,
        "video_codec_calls": sum(v for k, v in counts.items() if k.startswith("video.")),
        "audio_codec_calls": sum(v for k, v in counts.items() if k.startswith("audio.")),
    }
