"""Helpers of the recording tests (``from reckit import ...``)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import av

from core.media.stamp import read_stamp
from server.rooms import RoomOptions

#: When the test server's recorder calls a recorded track's media lost (the default is 30 s).
MEDIA_LOST_S = 2.0

__all__ = ["MEDIA_LOST_S", "audio_seconds", "finished", "media_seconds", "recorded_room", "recordings",
           "stamped_counters"]


def recorded_room(server: Any, name: str = "rec", *, record: bool = True, video_codecs: str = "VP8,H264") -> Any:
    """A group room made as ``POST /v1/Rooms`` makes it, with ``RecordParticipantsOnConnect``."""
    return server.registry.create_room(RoomOptions(type="group", unique_name=name, video_codecs=video_codecs.split(","),
                                                   record_participants_on_connect=record))


async def recordings(server: Any, room_sid: str) -> list[dict[str, Any]]:
    """The room's recordings as the store has them (after every queued write), oldest first."""
    await server.state.recordings.writer.drain()
    await server.state.store.flush()
    rows = await server.state.store.list_recordings(room_sid=room_sid, offset=0, limit=100)
    return list(reversed(rows))


async def finished(server: Any, room_sid: str, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The room's ``count`` recordings once none is ``processing`` any more."""
    deadline = time.monotonic() + timeout
    while True:
        rows = await recordings(server, room_sid)
        if len(rows) >= count and all(r["status"] != "processing" for r in rows):
            return rows
        if time.monotonic() > deadline:
            raise AssertionError(f"recordings not finished within {timeout} s: {rows}")
        await asyncio.sleep(0.1)


def stamped_counters(path: str) -> list[int]:
    """The synthetic camera's frame counters of every decoded frame of a recorded video file."""
    counters = []
    with av.open(path) as container:
        for frame in container.decode(video=0):
            stamp = read_stamp(frame)
            if stamp is not None:
                counters.append(stamp.counter)
    return counters


def media_seconds(path: str) -> float:
    """How long a recorded file plays, by its timestamps (what a player shows)."""
    with av.open(path) as container:
        return (container.duration or 0) / 1_000_000


def audio_seconds(path: str) -> float:
    """Seconds of audio a recorded ``.mka`` decodes to."""
    with av.open(path) as container:
        stream = container.streams.audio[0]
        return sum(frame.samples for frame in container.decode(stream)) / stream.sample_rate
