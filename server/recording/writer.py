"""The recording's disk thread: every mux and close runs there, in the order it was queued.

Opening a file (PyAV writes the Matroska header and opens the stream's codec context, ~7 ms)
and closing one (index and duration written) would stall the event loop; a packet's mux is
cheap but still disk I/O. The loop only copies the packet's bytes and queues them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from .trackfile import TrackFile

__all__ = ["FileWriter", "Writer"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class Writer:
    """One worker thread for all the server's recordings."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="confab-recorder")
        self._closed = False

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        return self._executor.submit(fn, *args)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on the writer thread, after everything queued before it."""
        return await asyncio.wrap_future(self._executor.submit(fn, *args))

    async def drain(self) -> None:
        """Wait until everything queued so far has run."""
        await asyncio.wrap_future(self._executor.submit(lambda: None))

    def shutdown(self) -> None:
        if not self._closed:
            self._closed = True
            self._executor.shutdown(wait=True)


class FileWriter:
    """One recording's file, written on the writer thread; made at its first packet (codec known)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file: TrackFile | None = None
        self.failed = False

    def write(self, kind: str, mime: str, clock_rate: int, data: bytes, pts: int, keyframe: bool) -> None:
        if self.failed:
            return
        try:
            if self.file is None:
                self.file = TrackFile(self.path, kind, mime, clock_rate)
            self.file.write(data, pts, keyframe)
        except Exception:  # a full disk, an unrecordable codec: this recording fails, not the room
            log.exception("recording %s failed", self.path.name)
            self.failed = True

    def close(self) -> tuple[str, float, int]:
        """("completed" | "failed", seconds, bytes); failed when no media was ever written."""
        if self.file is None:
            return "failed", 0.0, 0
        try:
            duration, size = self.file.close()
        except Exception:
            log.exception("recording %s could not be finished", self.path.name)
            return "failed", 0.0, 0
        if self.failed or not self.file.packets:
            return "failed", duration, size
        return "completed", duration, size
