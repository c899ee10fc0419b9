"""Video processors: twilio-video.js's ``VideoTrack.addProcessor`` for Python.

A processor is any object with ``process_frame(input_frame, output_frame)``: both are RGB
``numpy`` arrays of shape (height, width, 3), ``uint8``; it reads the first and writes the
second (the SDK's input and output frame buffers), and may be a coroutine function. Added to
a :class:`~core.track.LocalVideoTrack` it changes what the preview shows and what is sent;
added to a :class:`~core.track.RemoteVideoTrack` it changes what that track's sinks get. A
frame whose processing raises is dropped, as in twilio-video.js, and the error logged once.

The processor runs on the event loop, so it should be quick (a 640×480 frame's RGB round trip
costs ~1 ms here); hand heavy work to a thread inside ``process_frame``.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from typing import Any, Protocol

import av
import numpy as np
from aiortc.mediastreams import MediaStreamTrack

__all__ = ["ProcessedTrack", "VideoProcessor", "check_processor", "process"]

log = logging.getLogger(__name__)


class VideoProcessor(Protocol):
    def process_frame(self, input_frame: np.ndarray, output_frame: np.ndarray) -> Any: ...


def check_processor(processor: Any, verb: str) -> None:
    if processor is None or not callable(getattr(processor, "process_frame", None)):
        raise TypeError(f"Received an invalid VideoProcessor from {verb}.")


async def process(processor: Any, frame: av.VideoFrame) -> av.VideoFrame | None:
    """``frame`` through ``processor`` (None: the processor failed and the frame is dropped)."""
    source = frame.to_ndarray(format="rgb24")
    output = np.empty_like(source)
    try:
        result = processor.process_frame(source, output)
        if inspect.isawaitable(result):
            await result
    except Exception:  # the SDK's rule: a frame whose processing fails is dropped
        if not getattr(processor, "_confab_failure_logged", False):
            log.exception("video processor %r failed: its frames are dropped", processor)
            with contextlib.suppress(AttributeError):  # (a processor with __slots__: logged each time)
                processor._confab_failure_logged = True
        return None
    out = av.VideoFrame.from_ndarray(output, format="rgb24")
    out.pts, out.time_base = frame.pts, frame.time_base
    return out


class ProcessedTrack(MediaStreamTrack):
    """``source``'s frames through ``owner.processor`` when it has one (else untouched)."""

    kind = "video"

    def __init__(self, source: MediaStreamTrack, owner: Any) -> None:
        super().__init__()
        self._source = source
        self._owner = owner

    async def recv(self) -> Any:
        while True:
            frame = await self._source.recv()
            processor = getattr(self._owner, "processor", None)
            if processor is None or not isinstance(frame, av.VideoFrame):
                return frame
            processed = await process(processor, frame)
            if processed is not None:
                return processed

    def stop(self) -> None:
        super().stop()
        self._source.stop()
