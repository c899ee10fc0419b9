"""Group rooms through the forwarder: the server in-process (or as a subprocess), real aiortc peers."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from core import Room, connect
from core.media import loopback
from server.app import RunningServer, start_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "call"))  # callutil


@pytest.fixture(autouse=True)
def _loopback_only() -> Any:
    with loopback.loopback_only():
        yield


@pytest.fixture
async def server(tmp_path: Any) -> AsyncIterator[RunningServer]:
    running = await start_server(port=0, data_dir=tmp_path / "server", dev=True, default_room_type="group")
    yield running
    await running.close()


JoinFn = Callable[..., Awaitable[Room]]


@pytest.fixture
async def join(server: RunningServer) -> AsyncIterator[JoinFn]:
    """``await join("alice", tracks=[...], room="r")``: a connected Room, disconnected at the end."""
    rooms: list[Room] = []

    async def _join(identity: str, *, room: str = "group", tracks: list[Any] | None = None, **options: Any) -> Room:
        joined = await connect(server.token(identity, room), url=server.url, name=room,
                               tracks=tracks if tracks is not None else [], **options)
        rooms.append(joined)
        return joined

    yield _join
    for joined in rooms:
        joined.disconnect()
    await asyncio.sleep(0.3)  # let bye and peer-connection teardown finish
