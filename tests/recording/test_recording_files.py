"""A recorded group room: one Matroska file per track, written from the forwarded packets.

Played back with PyAV: the video holds the publisher's stamped frames in order, the audio
decodes to as long as the publisher was there.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from callutil import JoinFn, camera, microphone, until
from reckit import audio_seconds, finished, media_seconds, recorded_room, stamped_counters
from server.app import RunningServer


async def test_every_track_of_two_publishers_is_recorded_and_plays_back(server: RunningServer, join: JoinFn) -> None:
    room = recorded_room(server)
    alice = await join("alice", tracks=[camera("alice"), microphone("alice")])
    bob = await join("bob", tracks=[camera("bob"), microphone("bob")])
    await until(lambda: len(room.participants) == 2 and room.track_count == 4)
    published = {pub.track_sid: pub.kind for r in (alice, bob) for pub in r.local_participant.tracks.values()}
    assert len(published) == 4
    started = time.monotonic()
    await asyncio.sleep(3.0)
    alice.disconnect()
    bob.disconnect()
    connected = time.monotonic() - started

    rows = await finished(server, room.sid, 4)
    assert sorted((r["type"], r["container_format"], r["codec"], r["status"]) for r in rows) == [
        ("audio", "mka", "OPUS", "completed")] * 2 + [("video", "mkv", "VP8", "completed")] * 2
    assert {r["source_sid"] for r in rows} == set(published)
    for row in rows:
        path = Path(row["path"])
        assert path.is_file() and path.stat().st_size == row["size"] > 0
        assert abs(media_seconds(str(path)) - connected) < 1.0, (media_seconds(str(path)), connected)
        if published[row["source_sid"]] == "video":
            counters = stamped_counters(str(path))
            assert len(counters) >= 2.0 * 15, len(counters)  # most of ~3+ s at 15 fps
            assert counters == sorted(counters) and len(set(counters)) == len(counters)
        else:
            seconds = audio_seconds(str(path))
            assert abs(seconds - connected) < 1.0, (seconds, connected)
            assert abs(row["duration"] - seconds) <= 1


async def test_an_h264_track_is_recorded_as_it_arrived(server: RunningServer, join: JoinFn) -> None:
    """H.264 (a VideoCodecs=H264 room): the .mkv carries the publisher's own SPS/PPS and frames."""
    room = recorded_room(server, video_codecs="H264")
    alice = await join("alice", tracks=[camera("alice")])
    await until(lambda: room.track_count == 1)
    await asyncio.sleep(2.0)
    alice.disconnect()
    (row,) = await finished(server, room.sid, 1)
    assert (row["codec"], row["container_format"], row["status"]) == ("H264", "mkv", "completed")
    counters = stamped_counters(row["path"])
    assert len(counters) >= 15 and counters == sorted(counters), counters
