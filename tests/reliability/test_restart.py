"""Calls survive a server restart: SIGKILL or SIGTERM, then the same port and data directory.

Both participants come back under their very Room objects (``reconnecting`` → ``reconnected``),
with the same participant SIDs, and video and data flow again; REST records say what
happened. Past the session timeout the Room ends ``disconnected`` 53001, never hangs.
"""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any

import aiohttp
import pytest

from restartkit import Caller, Restartable, create_room, leave

SESSION_TIMEOUT = "6"


@pytest.fixture
def server(tmp_path):
    s = Restartable(tmp_path / "data", "--session-timeout", SESSION_TIMEOUT, "--heartbeat-min-ms", "200").start()
    yield s
    s.stop(signal.SIGTERM)
    s.process.assert_clean()


async def call(server: Restartable, room_type: str) -> tuple[str, Caller, Caller]:
    name = await create_room(server, room_type)
    alice = await Caller.join(server, "alice", name)
    bob = await Caller.join(server, "bob", name)
    await alice.media_from("bob", 0)
    await bob.media_from("alice", 0)
    return name, alice, bob


@pytest.mark.parametrize("room_type", ["peer-to-peer", "group"])
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
async def test_call_survives_a_server_restart(server: Restartable, room_type: str, sig: int) -> None:
    name, alice, bob = await call(server, room_type)
    sids = (alice.room.sid, alice.room.local_participant.sid, bob.room.local_participant.sid)
    server.stop(sig)
    await asyncio.sleep(1.0)
    assert alice.room.state == bob.room.state == "reconnecting"
    back = server.restart()
    try:
        for caller, other in ((alice, bob), (bob, alice)):
            await caller.reconnected(back)
            await caller.media_from(other.room.local_participant.identity, back)
    except AssertionError as exc:
        log = server.process.stderr()[-3000:]
        raise AssertionError(f"{exc}\nother side: {bob.describe()}\nserver: {log}") from None
    assert alice.room.state == bob.room.state == "connected"
    assert (alice.room.sid, alice.room.local_participant.sid, bob.room.local_participant.sid) == sids
    for caller in (alice, bob):
        names = caller.names()
        assert names.count("reconnecting") == 1 and names.count("reconnected") == 1, names
        assert "disconnected" not in names and "participantDisconnected" not in names, names
    bob.data.send("after the restart")
    await alice.data_from("bob", "after the restart")
    async with aiohttp.ClientSession(server.url, headers=server.process.auth_headers) as http:
        async with http.get(f"/v1/Rooms/{name}") as r:
            assert (await r.json())["status"] == "in-progress"
        async with http.get(f"/v1/Rooms/{sids[0]}/Participants", params={"Status": "connected"}) as r:
            people = {x["identity"]: x["sid"] for x in (await r.json())["participants"]}
        assert people == {"alice": sids[1], "bob": sids[2]}
    await leave(alice, bob)


async def test_server_away_past_the_session_timeout_disconnects(server: Restartable) -> None:
    _, alice, bob = await call(server, "group")
    server.stop(signal.SIGKILL)
    started = time.monotonic()
    errors = await asyncio.wait_for(asyncio.gather(*(until_disconnected(c) for c in (alice, bob))), 20)
    for caller, error in zip((alice, bob), errors, strict=True):
        assert caller.room.state == "disconnected"
        assert error is not None and error.code == 53001
    assert time.monotonic() - started >= float(SESSION_TIMEOUT) - 1
    server.restart()


async def until_disconnected(caller: Caller) -> Any:
    """The error the caller's Room ends with."""
    done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def ended(room: Any, error: Any = None) -> None:
        if not done.done():
            done.set_result(error)

    caller.room.on("disconnected", ended)
    return await done


async def test_after_a_restart_who_stays_away_leaves_and_newcomers_arrive(server: Restartable) -> None:
    name, alice, bob = await call(server, "group")
    carol = await Caller.join(server, "carol", name)
    await alice.media_from("carol", 0)
    server.stop(signal.SIGKILL)
    carol.room.disconnect()  # she gives up while the server is away: she never comes back
    back = server.restart()
    await alice.reconnected(back)
    await bob.reconnected(back)
    dave = await Caller.join(server, "dave", name)
    await alice.media_from("dave", back)
    assert "participantDisconnected" not in alice.names()  # carol may still come back
    assert {p.identity: p.state for p in alice.room.participants.values()} == {
        "bob": "connected", "carol": "reconnecting", "dave": "connected"}
    left = await alice.event("participantDisconnected", back, timeout=float(SESSION_TIMEOUT) + 5)
    assert left - back >= float(SESSION_TIMEOUT) - 1  # at the session timeout after the restart
    assert sorted(p.identity for p in alice.room.participants.values()) == ["bob", "dave"]
    assert "participantConnected" in alice.names() and alice.room.state == "connected"
    await leave(alice, bob, dave)
