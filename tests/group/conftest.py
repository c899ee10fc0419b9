"""Group rooms through the forwarder: the server in-process (or as a subprocess), real aiortc peers."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from core.media import loopback
from server.app import RunningServer, start_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "call"))  # callutil, botprocs

from callutil import JoinFn, joiner


@pytest.fixture(autouse=True)
def _loopback_only() -> Any:
    with loopback.loopback_only():
        yield


@pytest.fixture
async def server(tmp_path: Any) -> AsyncIterator[RunningServer]:
    running = await start_server(port=0, data_dir=tmp_path / "server", dev=True, default_room_type="group")
    yield running
    await running.close()


@pytest.fixture
async def join(server: RunningServer) -> AsyncIterator[JoinFn]:
    """``await join("alice", tracks=[...], room="group")``: a connected Room, disconnected at the end."""
    async with joiner(server, "group") as join_room:
        yield join_room

