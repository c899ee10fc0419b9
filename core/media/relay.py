"""A remote media track that outlives the peer connection it arrived on.

When the watchdog (``core.media.watchdog``) rebuilds a peer connection, every remote track
of it arrives again as a new aiortc receiver track. The Room must not see that as an
unsubscribe and a new subscription (an app's sinks would be lost), so what the rest of the
client consumes is a :class:`RelayTrack`: ``recv()`` reads from the current receiver track,
:meth:`RelayTrack.switch` moves it to the new one. While a rebuild is under way
(:meth:`RelayTrack.hold`) the old track's end is not the relay's end; otherwise it is.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

__all__ = ["RelayTrack"]


#: How long a relay whose source ended by itself waits for a rebuilt connection's track.
#: (The far end closing its old connection ends our receiver track with an RTCP BYE before
#: its new offer arrives.)
ORPHAN_GRACE_S = 3.0


class RelayTrack(MediaStreamTrack):
    """``recv()`` from whichever receiver track currently carries this remote track."""

    def __init__(self, source: MediaStreamTrack, track_id: str) -> None:
        super().__init__()
        self.kind = source.kind
        self._id = track_id
        self.source = source
        self._held = False
        self._orphaned = False
        self._switched = asyncio.Event()

    @property
    def held(self) -> bool:
        """Waiting for a rebuilt connection's track (:meth:`hold`, or its source ended)."""
        return (self._held or self._orphaned) and self.readyState != "ended"

    def switch(self, source: MediaStreamTrack) -> None:
        """Read from ``source`` from now on (a rebuilt connection's receiver track)."""
        self.source = source
        self._held = False
        self._switched.set()

    def hold(self) -> None:
        """The current source is about to end with its connection: wait for :meth:`switch`."""
        self._held = True

    def release(self) -> None:
        """The rebuild did not bring this track back: let the old source's end be ours."""
        self._held = False
        self._switched.set()

    async def recv(self) -> Any:
        while True:
            source = self.source
            try:
                return await source.recv()
            except MediaStreamError:
                if source is not self.source:
                    continue  # switched while we waited
                if self.readyState == "ended":
                    raise
                self._switched.clear()
                self._orphaned = True
                try:
                    if self._held:
                        await self._switched.wait()
                    else:
                        await asyncio.wait_for(self._switched.wait(), ORPHAN_GRACE_S)
                except TimeoutError:
                    pass
                finally:
                    self._orphaned = False
                if self.source is source:
                    self.stop()
                    raise

    def stop(self) -> None:
        super().stop()
        self._switched.set()
