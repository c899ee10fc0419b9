"""The media watchdog in peer-to-peer rooms: a publisher's RTP stops (the project's fault
injection drops all of it, signaling stays up), both Rooms go ``reconnecting`` with 53405,
the viewer's tile would show the video frozen, the publisher rebuilds its connection, and
when the path works again the same RemoteVideoTrack gets frames within 3 s and both Rooms
are ``reconnected`` — no unsubscribe on the way (``callutil.stall_and_heal``). A disabled
camera and a silent microphone are no stall; a stall past the session timeout ends in
``disconnected`` 53405.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from callutil import EventLog, FrameLog, camera, joiner, microphone, stall_and_heal, subscribed, until
from core.media.faults import outgoing_loss
from server.app import start_server

pytestmark = pytest.mark.media


def _code(error: Any) -> int | None:
    return getattr(error, "code", None)


async def test_a_stopped_publisher_reconnects_and_heals(join) -> None:
    took = await stall_and_heal(join)
    assert took < 3.0, took
    print(f"first frame {took:.2f} s after the path came back")


async def test_a_disabled_camera_and_a_silent_microphone_are_not_a_stall(join) -> None:
    cam = camera("publisher")
    # Silence still sends packets: aiortc's Opus encoder has no DTX.
    await join("publisher", tracks=[cam, microphone("publisher", amplitude=0.0)])
    viewer = await join("viewer")
    await until(lambda: subscribed(viewer, "publisher", "video"))
    video = subscribed(viewer, "publisher", "video")
    seen = EventLog(viewer, "reconnecting")
    frozen = EventLog(video, "frozen")
    cam.disable()
    await until(lambda: not video.is_enabled, timeout=5)
    await asyncio.sleep(5.0)
    assert not seen.items and not frozen.items
    cam.enable()


async def test_a_stall_past_the_session_timeout_disconnects_with_53405(tmp_path: Any) -> None:
    server = await start_server(port=0, data_dir=tmp_path / "server", dev=True,
                                default_room_type="peer-to-peer", session_timeout_s=4)
    try:
        async with joiner(server, "call") as join:
            publisher = await join("publisher", tracks=[camera("publisher")])
            viewer = await join("viewer")
            await until(lambda: subscribed(viewer, "publisher", "video"))
            frames = FrameLog()
            subscribed(viewer, "publisher", "video").add_sink(frames)
            await until(lambda: len(frames.times) >= 3)
            ended = EventLog(viewer, "disconnected")
            outgoing_loss(publisher).set_fraction(1.0)
            await until(lambda: ended.items, timeout=15)
            _room, error = ended.of("disconnected")[0]
            assert _code(error) == 53405
    finally:
        await server.close()
