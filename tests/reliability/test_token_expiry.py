"""A token that expired mid-call: the resume after a dropped WebSocket is refused with 20104.

That client ends ``disconnected`` 20104 at once (no hang until the session timeout), and the
server lets it go at once too: the others see ``participantDisconnected`` right away, not
``reconnecting`` until the session timeout.
"""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any

import pytest

from restartkit import Caller, Restartable, create_room, cut_signaling, leave


@pytest.fixture
def server(tmp_path):
    s = Restartable(tmp_path / "data", "--session-timeout", "20").start()
    yield s
    s.stop(signal.SIGTERM)
    s.process.assert_clean()


@pytest.mark.parametrize("room_type", ["peer-to-peer", "group"])
async def test_expired_token_on_resume_ends_the_session_for_everyone(server: Restartable, room_type: str) -> None:
    name = await create_room(server, room_type)
    alice = await Caller.join(server, "alice", name)
    bob = await Caller.join_with_token(server, server.token("bob", name, ttl=2), name)
    await alice.media_from("bob", 0)
    ended: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    left: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def on_ended(room: Any, error: Any = None) -> None:
        if not ended.done():
            ended.set_result(error)

    def on_left(participant: Any) -> None:
        if not left.done():
            left.set_result(participant.identity)

    bob.room.on("disconnected", on_ended)
    alice.room.on("participantDisconnected", on_left)
    await asyncio.sleep(2.2)  # bob's token has expired; his call goes on
    cut = time.monotonic()
    cut_signaling(bob.room)
    error = await asyncio.wait_for(ended, 5)
    assert error is not None and error.code == 20104
    assert await asyncio.wait_for(left, 5) == "bob"
    assert time.monotonic() - cut < 5  # well before the 20 s session timeout
    assert alice.room.state == "connected" and "participantReconnecting" not in alice.names()[-1:]
    await leave(alice)
