"""SwitchableTrack: one steady track in front of a source that can be swapped while it runs.

A local track's senders and preview all read one relay fed by this wrapper, so replacing the
device (``LocalTrack.restart``) is ``switch(new_source)``: no transceiver, sender, track id or
publication changes, and the remote side sees the same track carry the new pictures or sound.

A switch does not wait for the old source: a ``recv`` blocked on a device that stalled (the
reason to restart it) is abandoned, and the next frame comes from the new source.

Timestamps stay monotonic across a switch: every source starts its own ``pts`` at its own
origin (often 0), so frames after a switch are shifted to continue one frame after the last
one sent (RTP timestamps must not jump back). Video leaves in 90 kHz units, audio in samples.
"""

from __future__ import annotations

import asyncio
import fractions
from collections.abc import Callable
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

__all__ = ["SwitchableTrack"]

_VIDEO_TIME_BASE = fractions.Fraction(1, 90000)
_DEFAULT_VIDEO_STEP = 3000  # one frame at 30 fps, for the first frame after a switch


class SwitchableTrack(MediaStreamTrack):
    """Forwards ``source``'s frames until ``switch`` names another source."""

    def __init__(self, source: MediaStreamTrack,
                 on_switched: Callable[[], Any] | None = None) -> None:
        super().__init__()
        self.kind = source.kind
        self.source = source
        self._on_switched = on_switched  # called with the first frame of a new source
        self._fresh = False
        self._offset = 0  # added to the source's pts (in our time base)
        self._last: int | None = None  # last pts sent
        self._step = 0  # last frame's duration (our time base)
        self._pending_recv: asyncio.Future[Any] | None = None  # the pending recv of the current source

    def switch(self, source: MediaStreamTrack) -> MediaStreamTrack:
        """Read from ``source`` from the next frame on; returns the old source (not stopped)."""
        if source.kind != self.kind:
            raise TypeError(f"cannot switch a {self.kind} track to a {source.kind} source")
        old, self.source = self.source, source
        self._fresh = True
        if self._pending_recv is not None and not self._pending_recv.done():
            self._pending_recv.cancel()  # recv() goes on with the new source
        return old

    async def recv(self) -> av.VideoFrame | av.AudioFrame:
        while True:
            source = self.source
            self._pending_recv = waiting = asyncio.ensure_future(source.recv())
            try:
                frame = await waiting
            except asyncio.CancelledError:
                if waiting.cancelled() and self.source is not source and not _being_cancelled():
                    continue  # switched away while the old source had nothing
                raise
            except MediaStreamError:
                if self.source is not source:
                    continue  # the old source ended because it was switched away
                self.stop()
                raise
            if self.source is source and isinstance(frame, (av.VideoFrame, av.AudioFrame)):
                break  # (a frame of an old source that arrived after a switch is dropped)
        assert isinstance(frame, (av.VideoFrame, av.AudioFrame))
        pts = self._pts(frame)
        if self._fresh:
            self._fresh = False
            after = (self._last + max(self._step, 1)) if self._last is not None else pts
            self._offset = after - pts
            if self._on_switched is not None:
                self._on_switched()
        out = pts + self._offset
        if self._last is not None and out > self._last:
            self._step = out - self._last
        elif self._last is not None:  # a source whose clock went back: keep going forward
            self._offset += self._last + max(self._step, 1) - out
            out = self._last + max(self._step, 1)
        self._last = out
        frame.pts = out
        frame.time_base = self._time_base(frame)
        return frame

    def _time_base(self, frame: av.VideoFrame | av.AudioFrame) -> fractions.Fraction:
        if isinstance(frame, av.AudioFrame):
            return fractions.Fraction(1, frame.sample_rate or 48000)
        return _VIDEO_TIME_BASE

    def _pts(self, frame: av.VideoFrame | av.AudioFrame) -> int:
        """The frame's pts in our time base (a frame without one continues the last)."""
        if frame.pts is None or frame.time_base is None:
            if self._last is None:
                return 0
            return self._last + (frame.samples if isinstance(frame, av.AudioFrame)
                                 else self._step or _DEFAULT_VIDEO_STEP) - self._offset
        return round(frame.pts * frame.time_base / self._time_base(frame))


def _being_cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
