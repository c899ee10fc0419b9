"""A local source of pre-encoded packets (what bench/loadclient.py replays) is not a decoded frame."""

from __future__ import annotations

import asyncio
import fractions

import av
from aiortc.mediastreams import MediaStreamTrack

from core.media.local import LocalSource


class PacketTrack(MediaStreamTrack):
    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self.sent = 0

    async def recv(self) -> av.Packet:
        await asyncio.sleep(0.01)
        packet = av.Packet(b"\x10\x00\x00")
        packet.pts, packet.time_base = self.sent * 3000, fractions.Fraction(1, 90000)
        self.sent += 1
        return packet


async def test_the_preview_of_a_packet_source_keeps_running() -> None:
    ended: list[bool] = []
    started: list[bool] = []
    source = LocalSource(PacketTrack(), on_started=lambda: started.append(True), on_ended=lambda: ended.append(True))
    source.start()
    feed = source.subscribe()
    packets = [await feed.recv() for _ in range(5)]
    await asyncio.sleep(0.1)
    assert all(isinstance(p, av.Packet) for p in packets)
    assert started and not ended and source.preview.frames >= 5
    await source.stop()
