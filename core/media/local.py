"""A local track's source, shared without decoding by its preview and every sender.

aiortc's ``MediaRelay`` fans one source out to many consumers (for a *local* source that is
a plain hand-over of frames; only remote tracks would be decoded). The preview consumer
always runs, so a local track starts, knows its size and measures its level whether or not
anyone is in the room — the join screen's camera preview and microphone meter use it.
"""

from __future__ import annotations

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
    ) -> None:
        self.track = track
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

    async def stop(self) -> None:
        await self.preview.stop()
