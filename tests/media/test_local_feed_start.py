"""A sender's feed starts with the latest captured frame, not the next one (``core.media.peers.LocalFeed``).

aiortc's ``MediaRelay`` proxy registers on its first ``recv()`` and then waits for the next
capture; a sender starting after DTLS would wait up to a frame interval for its first frame.
"""

from __future__ import annotations

import asyncio

from core.media.local import LocalSource
from core.media.peers import LocalFeed
from core.media.sources import SyntheticVideoSource
from core.media.stamp import read_stamp


async def test_a_feed_made_before_its_sender_starts_hands_over_the_latest_frame_at_once() -> None:
    camera = SyntheticVideoSource(160, 120, fps=4, label="feed")  # a frame every 250 ms
    source = LocalSource(camera)
    source.start()
    feed = LocalFeed("MT1", "video", source.subscribe())  # made with the offer, long before DTLS
    try:
        while camera.frames_sent < 3:
            await asyncio.sleep(0.01)
        latest = camera.frames_sent - 1  # the counter of the last frame captured
        frame = await asyncio.wait_for(feed.recv(), 2)
        stamp = read_stamp(frame)
        assert stamp is not None and stamp.counter == latest  # that frame, not the next capture
        stamp = read_stamp(await asyncio.wait_for(feed.recv(), 2))
        assert stamp is not None and stamp.counter == latest + 1  # then every capture in turn
    finally:
        feed.stop()
        await source.stop()
