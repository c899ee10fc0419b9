"""Consumers of remote tracks: video fan-out (latest frame wins) and audio fan-out (levels).

A **sink** is any callable ``sink(frame)``; it may return an awaitable, which
is awaited.  Objects with an ``on_frame`` method are passed as ``obj.on_frame``;
callable objects (``LatestFrameSink``, ``AudioPlayback``) are sinks themselves.

Video sinks each have a one-frame mailbox and their own task: a sink that is
slow (an async sink that awaits, or a sync one that takes long) sees only the
newest frame when it is ready again, never a backlog.  Sync sinks run on the
event loop and should be quick (store the frame, schedule a repaint); heavy
work belongs in an async sink, a ``ThreadedSink`` or a thread polling a
``LatestFrameSink``.  Frames are shared between sinks: never modify them.

Audio sinks are called inline for every frame, in order (playback must not
drop frames), so they must not block.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic, NamedTuple, Self, TypeVar

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from .freezes import FreezeCounter
from .levels import SILENCE_DBOV, AudioLevel, frame_level
from .processing import process

__all__ = [
    "AudioFanout",
    "FpsMeter",
    "FrameSink",
    "LatestFrameSink",
    "SinkStats",
    "ThreadedSink",
    "VideoFanout",
]

log = logging.getLogger(__name__)

FrameSink = Callable[[Any], Awaitable[None] | None]
T = TypeVar("T")


def _call_safely(callback: Callable[..., Any] | None, *args: Any) -> None:
    if callback is None:
        return
    try:
        callback(*args)
    except Exception:  # a buggy listener must not stop the media
        log.exception("media callback %r failed", callback)


class FpsMeter:
    """Frames per second over a sliding window of arrival times (monotonic clock)."""

    def __init__(self, window: float) -> None:
        self.window = window
        self._times: collections.deque[float] = collections.deque()

    def tick(self, now: float) -> None:
        self._times.append(now)
        self._trim(now)

    def _trim(self, now: float) -> None:
        while self._times and now - self._times[0] > self.window:
            self._times.popleft()

    def rate(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        self._trim(now)
        if len(self._times) < 2:
            return 0.0
        return (len(self._times) - 1) / max(now - self._times[0], self._times[-1] - self._times[0])


class SinkStats(NamedTuple):
    delivered: int  # frames handed to the sink
    skipped: int  # frames replaced in its mailbox before it was ready


class _Slot:
    __slots__ = ("closing", "delivered", "event", "frame", "sink", "skipped", "task")

    def __init__(self, sink: FrameSink) -> None:
        self.sink = sink
        self.frame: av.VideoFrame | None = None
        self.event = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.delivered = 0
        self.skipped = 0
        self.closing = False  # deliver what is pending, then end the task

    def offer(self, frame: av.VideoFrame) -> None:
        if self.frame is not None:
            self.skipped += 1
        self.frame = frame
        self.event.set()


class _Fanout:
    """The recv loop shared by video and audio fan-outs."""

    def __init__(
        self,
        track: MediaStreamTrack,
        *,
        on_started: Callable[[], Any] | None,
        on_ended: Callable[[], Any] | None,
        fps_window: float,
    ) -> None:
        self.track = track
        self._on_started = on_started
        self._on_ended = on_ended
        self._task: asyncio.Task[None] | None = None
        self._fps = FpsMeter(fps_window)
        self.frames = 0
        self.started = False
        self.ended = False  # the track ended (MediaStreamError), as opposed to stop()

    @property
    def fps(self) -> float:
        """Received frames per second over the last ``fps_window`` seconds."""
        return self._fps.rate()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start consuming the track (idempotent; needs a running event loop)."""
        if self._task is None and not self.ended:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"{type(self).__name__}({self.track.kind} {self.track.id})"
            )

    async def _run(self) -> None:
        try:
            while True:
                frame = await self.track.recv()
                self.frames += 1
                self._fps.tick(time.monotonic())
                if not isinstance(frame, av.Packet):  # a pre-encoded source: nothing to show or measure
                    frame = await self._prepare(frame)
                    if frame is not None:
                        self._handle(frame)
                if not self.started:
                    self.started = True
                    _call_safely(self._on_started)
        except MediaStreamError:
            pass
        except Exception:  # a broken source counts as ended, never as a silent dead task
            log.exception("receiving from %s track %s failed", self.track.kind, self.track.id)
        self.ended = True
        self._close_sinks()
        _call_safely(self._on_ended)

    async def _prepare(self, frame: Any) -> Any:
        """The frame the sinks get (None: drop it)."""
        return frame

    def _handle(self, frame: Any) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _close_sinks(self) -> None:
        pass

    async def stop(self) -> None:
        """Stop consuming (the track itself is left alone); waits for the tasks to finish."""
        task, self._task = self._task, None
        tasks = [t for t in self._stop_sink_tasks() if t is not asyncio.current_task()]
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            tasks.append(task)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def _stop_sink_tasks(self) -> list[asyncio.Task[None]]:
        return []

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


class VideoFanout(_Fanout):
    """Consume a video track in one task and hand decoded frames to many sinks.

    ``on_dimensions(width, height)`` fires at the first frame and whenever the
    size changes; then, at the first frame only, ``on_started()``.
    ``on_ended()`` fires if the track ends (not on ``stop()``).  Callbacks run
    on the event loop inside the receive task; exceptions are logged.
    """

    def __init__(
        self,
        track: MediaStreamTrack,
        *,
        on_started: Callable[[], Any] | None = None,
        on_dimensions: Callable[[int, int], Any] | None = None,
        on_ended: Callable[[], Any] | None = None,
        fps_window: float = 1.0,
    ) -> None:
        super().__init__(track, on_started=on_started, on_ended=on_ended, fps_window=fps_window)
        self._on_dimensions = on_dimensions
        self._slots: dict[FrameSink, _Slot] = {}
        #: Freezes of this video as webrtc-stats counts them (a pause while disabled counts too).
        self.freezes = FreezeCounter()
        #: A VideoProcessor applied before the sinks (RemoteVideoTrack.add_processor).
        self.processor: Any = None
        self.latest_frame: av.VideoFrame | None = None
        self.width: int | None = None
        self.height: int | None = None

    @property
    def dimensions(self) -> tuple[int, int] | None:
        return None if self.width is None or self.height is None else (self.width, self.height)

    @property
    def sinks(self) -> list[FrameSink]:
        return list(self._slots)

    def add_sink(self, sink: FrameSink) -> None:
        """Add a sink; it gets the latest frame right away (if any), then every newest one."""
        if sink in self._slots:
            return
        slot = _Slot(sink)
        self._slots[sink] = slot
        if self.running:
            self._start_slot(slot)
        if self.latest_frame is not None:
            slot.offer(self.latest_frame)

    def remove_sink(self, sink: FrameSink) -> None:
        """Remove a sink (no-op if absent); a call in progress is cancelled if it awaits."""
        slot = self._slots.pop(sink, None)
        if slot is not None and slot.task is not None and slot.task is not asyncio.current_task():
            slot.task.cancel()

    def sink_stats(self, sink: FrameSink) -> SinkStats:
        slot = self._slots[sink]
        return SinkStats(slot.delivered, slot.skipped)

    def start(self) -> None:
        super().start()
        if self.running:
            for slot in self._slots.values():
                if slot.task is None:
                    self._start_slot(slot)

    def _start_slot(self, slot: _Slot) -> None:
        slot.task = asyncio.get_running_loop().create_task(
            self._deliver(slot), name=f"VideoFanout sink {slot.sink!r}"
        )

    @staticmethod
    async def _deliver(slot: _Slot) -> None:
        while True:
            await slot.event.wait()
            slot.event.clear()
            frame, slot.frame = slot.frame, None
            if frame is None:
                if slot.closing:
                    return
                continue
            slot.delivered += 1
            try:
                result = slot.sink(frame)
                if inspect.isawaitable(result):
                    await result
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("video sink %r failed", slot.sink)
            if slot.closing and slot.frame is None:
                return

    async def _prepare(self, frame: av.VideoFrame) -> av.VideoFrame | None:
        return frame if self.processor is None else await process(self.processor, frame)

    def _handle(self, frame: av.VideoFrame) -> None:
        self.latest_frame = frame
        self.freezes.frame(time.monotonic())
        if (frame.width, frame.height) != (self.width, self.height):
            self.width, self.height = frame.width, frame.height
            _call_safely(self._on_dimensions, frame.width, frame.height)
        for slot in list(self._slots.values()):
            slot.offer(frame)

    def _stop_sink_tasks(self) -> list[asyncio.Task[None]]:
        tasks = []
        for slot in self._slots.values():
            slot.frame = None
            if slot.task is not None:
                slot.task.cancel()
                tasks.append(slot.task)
                slot.task = None
        return tasks

    def _close_sinks(self) -> None:
        # The track ended: each sink task delivers what is pending, then returns.
        for slot in self._slots.values():
            slot.closing = True
            slot.event.set()


class AudioFanout(_Fanout):
    """Consume an audio track: level per frame, every frame to each sink (e.g. playback).

    ``level`` is the latest frame's ``AudioLevel`` (RMS dBov and the 0..32767
    twilio-video.js scale).  ``on_level(level)`` fires per frame (50/s),
    ``on_started()`` at the first frame, ``on_ended()`` if the track ends.
    ``output`` is an optional playback sink (``AudioPlayback``), set with
    ``set_output()``; it is closed by neither ``stop()`` nor ``set_output``.
    """

    def __init__(
        self,
        track: MediaStreamTrack,
        *,
        on_started: Callable[[], Any] | None = None,
        on_level: Callable[[AudioLevel], Any] | None = None,
        on_ended: Callable[[], Any] | None = None,
        output: Callable[[av.AudioFrame], Any] | None = None,
        fps_window: float = 1.0,
    ) -> None:
        super().__init__(track, on_started=on_started, on_ended=on_ended, fps_window=fps_window)
        self._on_level = on_level
        self._sinks: list[Callable[[av.AudioFrame], Any]] = []
        self.output = output
        self.level = AudioLevel(SILENCE_DBOV, 0)

    def add_sink(self, sink: Callable[[av.AudioFrame], Any]) -> None:
        if sink not in self._sinks:
            self._sinks.append(sink)

    def remove_sink(self, sink: Callable[[av.AudioFrame], Any]) -> None:
        if sink in self._sinks:
            self._sinks.remove(sink)

    @property
    def sinks(self) -> list[Callable[[av.AudioFrame], Any]]:
        return list(self._sinks)

    def set_output(self, output: Callable[[av.AudioFrame], Any] | None) -> None:
        """Route frames to a playback sink (``None``: play nowhere)."""
        self.output = output

    def _handle(self, frame: av.AudioFrame) -> None:
        self.level = frame_level(frame)
        _call_safely(self._on_level, self.level)
        if self.output is not None:
            _call_safely(self.output, frame)
        for sink in list(self._sinks):
            _call_safely(sink, frame)


class LatestFrameSink(Generic[T]):
    """A thread-safe one-item holder: set from the event loop, read from any thread.

    Call it (or ``set``) with each frame.  ``get()`` peeks at the latest;
    ``take()`` returns it only if it is new since the last ``take``;
    ``wait(timeout)`` blocks (in a non-loop thread) until a new one arrives.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: T | None = None
        self._seq = 0
        self._taken = 0
        self._closed = False

    def __call__(self, item: T) -> None:
        self.set(item)

    def set(self, item: T) -> None:
        with self._cond:
            self._item = item
            self._seq += 1
            self._cond.notify_all()

    @property
    def seq(self) -> int:
        """How many items have been set so far."""
        return self._seq

    def get(self) -> T | None:
        with self._cond:
            return self._item

    def take(self) -> T | None:
        with self._cond:
            if self._taken == self._seq:
                return None
            self._taken = self._seq
            return self._item

    def wait(self, timeout: float | None = None) -> T | None:
        """The next new item, or ``None`` on timeout or after ``close()``."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._closed or self._taken != self._seq, timeout):
                return None
            if self._taken == self._seq:
                return None
            self._taken = self._seq
            return self._item

    def close(self) -> None:
        """Wake up waiters for good (e.g. at shutdown)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def clear(self) -> None:
        with self._cond:
            self._item = None
            self._taken = self._seq


class ThreadedSink(Generic[T]):
    """Run ``fn(item)`` in a dedicated thread with latest-wins hand-over.

    Use it as a sink to do heavy per-frame work (e.g. ``to_rgb``; libswscale
    releases the GIL) off the event loop.  ``close()`` stops the thread.
    """

    def __init__(self, fn: Callable[[T], Any], name: str = "confab-sink") -> None:
        self._fn = fn
        self._holder: LatestFrameSink[T] = LatestFrameSink()
        self._stop = False
        self.processed = 0
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def __call__(self, item: T) -> None:
        self._holder.set(item)

    def _loop(self) -> None:
        while not self._stop:
            item = self._holder.wait(timeout=0.5)
            if item is None or self._stop:
                continue
            try:
                self._fn(item)
            except Exception:
                log.exception("threaded sink %r failed", self._fn)
            self.processed += 1

    def close(self, timeout: float = 1.0) -> None:
        self._stop = True
        self._holder.close()
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()
