"""A relay moved to a rebuilt connection's track while it waits on a dead one (issue 14).

A subscribe connection rebuilt during an outage can itself be rebuilt before its ICE ever
completes; aiortc closes such a connection without ending its receiver tracks (their
receivers never started), so a read waiting on one would wait for ever. The relay must
give that read up when it is switched, and read the new track.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiortc import RTCPeerConnection, VideoStreamTrack
from aiortc.mediastreams import MediaStreamError

from core.media.relay import RelayTrack


async def _reading_a_never_connected_track() -> tuple[list[RTCPeerConnection], RelayTrack, asyncio.Future[Any]]:
    """A relay over a real receiver track of a connection whose remote description is set but
    whose ICE never ran, and a read of it under way."""
    offerer, answerer = RTCPeerConnection(), RTCPeerConnection()
    offerer.addTransceiver("video", direction="sendonly")
    await offerer.setLocalDescription(await offerer.createOffer())
    await answerer.setRemoteDescription(offerer.localDescription)
    relay = RelayTrack(answerer.getTransceivers()[0].receiver.track, "video-1")
    reader = asyncio.ensure_future(relay.recv())
    await asyncio.sleep(0.05)
    return [answerer, offerer], relay, reader


async def test_a_switch_abandons_a_read_on_a_track_of_a_connection_that_never_connected() -> None:
    pcs, relay, reader = await _reading_a_never_connected_track()
    relay.hold()
    for pc in pcs:
        await pc.close()  # what rebuilding it does; the track stays live
    live = VideoStreamTrack()
    relay.switch(live)
    frame = await asyncio.wait_for(reader, 2.0)
    assert frame.width == 640  # VideoStreamTrack's frames: the new source's
    assert (await asyncio.wait_for(relay.recv(), 2.0)).pts > frame.pts  # and it keeps reading it
    relay.stop()
    live.stop()


async def test_a_stopped_relay_ends_a_pending_read() -> None:
    pcs, relay, reader = await _reading_a_never_connected_track()
    relay.stop()
    with pytest.raises(MediaStreamError):  # as every ended track's recv()
        await asyncio.wait_for(reader, 2.0)
    for pc in pcs:
        await pc.close()
