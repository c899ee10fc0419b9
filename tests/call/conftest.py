"""Real calls: the room server in-process on a free loopback port, real aiortc peers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from callutil import JoinFn, joiner
from core.media import loopback
from server.app import RunningServer, start_server


@pytest.fixture(autouse=True)
def _loopback_only() -> Any:
    with loopback.loopback_only():
        yield


@pytest.fixture
async def server(tmp_path: Any) -> AsyncIterator[RunningServer]:
    running = await start_server(port=0, data_dir=tmp_path / "server", dev=True,
                                 default_room_type="peer-to-peer")
    yield running
    await running.close()


@pytest.fixture
async def join(server: RunningServer) -> AsyncIterator[JoinFn]:
    """``await join("alice", tracks=[...], room="call")``: a connected Room, disconnected at the end."""
    async with joiner(server, "call") as join_room:
        yield join_room
