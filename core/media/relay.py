"""A remote media track that outlives the peer connection it arrived on.

When the watchdog (``core.media.watchdog``) rebuilds a peer connection, every remote track
of it arrives again as a new aiortc receiver track. The Room must not see that as an
unsubscribe and a new subscription (an app's sinks would be lost), so what the rest of the
client consumes is a :class:`RelayTrack`: ``recv()`` reads from the current receiver track,
:meth:`RelayTrack.switch` moves it to the new one. While a rebuild is under way
(:meth:`RelayTrack.hold`) the old track's end is not the relay's end; otherwise it is.
A switch abandons a read still waiting on the old track: a connection rebuilt before its
ICE ever completed closes without ending its receiver tracks (aiortc never started their
receivers), so that read would never return (issue 14: a group subscriber rebuilt twice
during an outage got none of a browser's video afterwards).
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


def _drop(read: asyncio.Task[Any]) -> None:
    """Give up a source's read (an ended source's error is ours to drop, not to log)."""
    if read.done() and not read.cancelled():
        read.exception()
    read.cancel()


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
        self._moved: asyncio.Future[None] | None = None  # resolved by the next switch()
        self._pending: tuple[MediaStreamTrack, asyncio.Task[Any]] | None = None

    @property
    def held(self) -> bool:
        """Waiting for a rebuilt connection's track (:meth:`hold`, or its source ended)."""
        return (self._held or self._orphaned) and self.readyState != "ended"

    def switch(self, source: MediaStreamTrack) -> None:
        """Read from ``source`` from now on (a rebuilt connection's receiver track). A read
        waiting on the old source is abandoned: a connection that never got media (its ICE
        never completed) closes without ending its receiver tracks."""
        self.source = source
        self._held = False
        self._switched.set()
        self._wake()

    def hold(self) -> None:
        """The current source is about to end with its connection: wait for :meth:`switch`."""
        self._held = True

    def release(self) -> None:
        """The rebuild did not bring this track back: let the old source's end be ours."""
        self._held = False
        self._switched.set()

    def _wake(self) -> None:
        if self._moved is not None and not self._moved.done():
            self._moved.set_result(None)

    async def _read(self, source: MediaStreamTrack) -> Any:
        """``source.recv()``, or ``None`` as soon as the relay moves to another source."""
        pending = self._pending
        if pending is None or pending[0] is not source:
            if pending is not None:
                _drop(pending[1])
            pending = self._pending = (source, asyncio.ensure_future(source.recv()))
        task = pending[1]
        if not task.done():
            if self._moved is None or self._moved.done():
                self._moved = asyncio.get_running_loop().create_future()
            await asyncio.wait((task, self._moved), return_when=asyncio.FIRST_COMPLETED)
            if not task.done() or task.cancelled():  # switched or stopped: the read is dropped
                _drop(task)
                self._pending = None
                return None
        self._pending = None
        return task.result()

    async def recv(self) -> Any:
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            source = self.source
            try:
                frame = await self._read(source)
                if frame is None:
                    continue  # switched while we waited
                return frame
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
        if self._pending is not None:
            _drop(self._pending[1])
            self._pending = None
        self._wake()
