"""A local track's source, shared without decoding by its preview and every sender.

aiortc's ``MediaRelay`` fans one source out to many consumers (for a *local* source that is
a plain hand-over of frames; only remote tracks would be decoded). The preview consumer
always runs, so a local track starts, knows its size and measures its level whether or not
anyone is in the room — the join screen's camera preview and microphone meter use it. It also
tells when the source stops delivering without ending (a device taken by another program, a
stalled capture): ``on_muted`` after ``mute_after`` seconds without a frame, ``on_unmuted`` at
the next one — twilio-video.js's ``muted``/``unmuted`` of local tracks.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamTrack

from .levels import AudioLevel
from .sinks import AudioFanout, VideoFanout

__all__ = ["LocalSource"]


class LocalSource:
    """One local source: ``subscribe()`` a feed for each sender, ``preview`` for sinks and levels."""

    def __init__(
        self,
        track: MediaStreamTrack,
        *,
        on_started: Callable[[], Any] | None = None,
        on_dimensions: Callable[[int, int], Any] | None = None,
        on_level: Callable[[AudioLevel], Any] | None = None,
        on_ended: Callable[[], Any] | None = None,
        on_muted: Callable[[bool], Any] | None = None,
        mute_after: float = 1.0,
    ) -> None:
        self.track = track
        self._on_muted = on_muted
        self._mute_after = mute_after
        self._watch: asyncio.Task[None] | None = None
        self.muted = False
        self.kind = track.kind
        self._relay = MediaRelay()
        feed = self.subscribe()
        self.preview: VideoFanout | AudioFanout
        if track.kind == "video":
            self.preview = VideoFanout(feed, on_started=on_started, on_dimensions=on_dimensions,
                                       on_ended=on_ended)
        else:
            self.preview = AudioFanout(feed, on_started=on_started, on_level=on_level, on_ended=on_ended)

    def subscribe(self) -> MediaStreamTrack:
        """A new consumer of the source (latest frame wins, never a queue)."""
        return self._relay.subscribe(self.track, buffered=False)

    def start(self) -> None:
        """Start the preview consumer (needs a running loop; idempotent)."""
        self.preview.start()
        if self._on_muted is not None and self._watch is None:
            self._watch = asyncio.get_running_loop().create_task(self._watch_frames(), name="LocalSource.watch")

    async def stop(self) -> None:
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.cancel()
        await self.preview.stop()

    async def _watch_frames(self) -> None:
        assert self._on_muted is not None
        seen, last_frame = -1, time.monotonic()
        while not self.preview.ended:
            await asyncio.sleep(min(0.25, self._mute_after / 4))
            now = time.monotonic()
            if self.preview.frames != seen:
                seen, last_frame = self.preview.frames, now
                if self.muted:
                    self.muted = False
                    self._on_muted(False)
            elif self.preview.started and not self.muted and now - last_frame > self._mute_after:
                self.muted = True
                self._on_muted(True)
