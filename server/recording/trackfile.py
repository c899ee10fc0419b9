"""One recorded track as one Matroska file, written from its forwarded packets (never decoded).

VP8/H.264 video goes to a ``.mkv``, Opus to a ``.mka`` (Twilio's per-track containers). The
file opens on the first packet it can start with (video: a keyframe, whose header gives the
size; H.264: its SPS/PPS become the stream's extradata) and its stream time is the packets'
own ``pts`` (RTP clock units), rebased to start at 0 and kept increasing across a rebuilt
publish connection (whose pts start again from 0).

Not thread-safe: a :class:`TrackFile` is used by one writer thread only (server/recording/
writer.py). PyAV opens the stream's codec context when it writes the header, as it does for
every output stream; no frame is ever encoded or decoded through it.
"""

from __future__ import annotations

import fractions
import os
from pathlib import Path
from typing import Any

import av

__all__ = ["TrackFile", "container_of", "vp8_size"]

#: Nominal packet duration in clock units when a pts does not move forward (30 fps / 20 ms).
_STEP = {"video": 3000, "audio": 960}
_CODECS = {"video/vp8": "vp8", "video/h264": "libx264", "audio/opus": "libopus"}


def container_of(kind: str) -> str:
    """Twilio's container per kind: ``mkv`` for video, ``mka`` for audio."""
    return "mkv" if kind == "video" else "mka"


def vp8_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a VP8 keyframe's header (RFC 6386 §9.1), or None."""
    if len(data) < 10 or data[0] & 1 or data[3:6] != b"\x9d\x01\x2a":
        return None
    return (int.from_bytes(data[6:8], "little") & 0x3FFF, int.from_bytes(data[8:10], "little") & 0x3FFF)


def _h264_parameter_sets(data: bytes) -> bytes:
    """The SPS and PPS NAL units (Annex B, with start codes) of a keyframe access unit."""
    out = b""
    for nal in data.split(b"\x00\x00\x01"):
        nal = nal.rstrip(b"\x00")
        if nal and nal[0] & 0x1F in (7, 8):
            out += b"\x00\x00\x00\x01" + nal
    return out


class TrackFile:
    """``write(data, pts, keyframe)`` packets, then ``close()`` → (duration in s, size in bytes)."""

    def __init__(self, path: Path, kind: str, mime: str, clock_rate: int) -> None:
        if mime.lower() not in _CODECS:
            raise ValueError(f"cannot record {mime}")
        self.path = path
        self.kind = kind
        self.mime = mime.lower()
        self.clock_rate = clock_rate
        self._time_base = fractions.Fraction(1, clock_rate)
        self._out: Any = None
        self._stream: Any = None
        self._first: int | None = None  # the first written pts (time 0 of the file)
        self._offset = 0  # added to incoming pts (a rebuilt connection starts again from 0)
        self._last = -1  # the last written stream time
        self.packets = 0
        self.skipped = 0

    @property
    def started(self) -> bool:
        return self._out is not None

    def write(self, data: bytes, pts: int, keyframe: bool) -> None:
        if self._out is None:
            if self.kind == "video" and not keyframe:
                self.skipped += 1
                return
            self._open(data)
            self._first = pts
        assert self._first is not None
        ts = pts + self._offset - self._first
        if ts <= self._last:  # pts went back: a new connection; go on from where the file is
            self._offset += self._last + _STEP[self.kind] - ts
            ts = self._last + _STEP[self.kind]
        self._last = ts
        packet = av.Packet(data)
        packet.pts = packet.dts = ts
        packet.time_base = self._time_base
        packet.is_keyframe = keyframe
        packet.stream = self._stream
        self._out.mux(packet)
        self.packets += 1

    def _open(self, data: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        out = av.open(str(self.path), "w", format="matroska")
        try:
            if self.kind == "video":
                size = vp8_size(data) if self.mime == "video/vp8" else None
                width, height = size or (640, 480)  # H.264: the decoder reads the size from the SPS
                stream = out.add_stream(_CODECS[self.mime], rate=30, width=width, height=height)
                if self.mime == "video/h264":
                    # The stream's own SPS/PPS, and no encoder's global header over them.
                    stream.codec_context.flags &= ~(1 << 22)  # AV_CODEC_FLAG_GLOBAL_HEADER
                    stream.codec_context.extradata = _h264_parameter_sets(data) or None
            else:
                audio = out.add_stream(_CODECS[self.mime], rate=self.clock_rate)
                assert isinstance(audio, av.audio.stream.AudioStream)
                audio.layout = "stereo"  # WebRTC's opus/48000/2
                stream = audio
            stream.time_base = self._time_base
        except BaseException:
            out.close()
            raise
        self._out, self._stream = out, stream

    def close(self) -> tuple[float, int]:
        """Finish the file (its index and duration written); (seconds of media, bytes)."""
        if self._out is not None:
            out, self._out = self._out, None
            out.close()
        if self._first is None:
            return 0.0, 0
        duration = (self._last + _STEP[self.kind]) / self.clock_rate
        return duration, os.path.getsize(self.path)
