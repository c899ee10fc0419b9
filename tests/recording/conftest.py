"""Recording in group rooms: the server in-process, real aiortc publishers, real files read back with PyAV.

The server notices a recorded track's lost media after 2 s here (``reckit.MEDIA_LOST_S``; 30 s by default).
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from core.media import loopback
from server.app import RunningServer, start_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "call"))  # callutil
sys.path.insert(1, str(Path(__file__).resolve().parents[1] / "server"))  # test_srv_records' Receiver

from callutil import JoinFn, joiner
from reckit import MEDIA_LOST_S


@pytest.fixture
async def server(tmp_path: Any) -> AsyncIterator[RunningServer]:
    """A group-room server whose recorder checks its tracks' media every 0.25 s (loopback ICE only)."""
    with loopback.loopback_only():
        running = await start_server(port=0, data_dir=tmp_path / "data", dev=True, default_room_type="group")
        recordings = running.state.recordings
        recordings.media_lost_s, recordings.check_interval = MEDIA_LOST_S, 0.25
        try:
            yield running
        finally:
            await running.close()


@pytest.fixture
async def join(server: RunningServer) -> AsyncIterator[JoinFn]:
    """``await join("alice", tracks=[...])`` into room "rec" (``room=`` another): disconnected at the end."""
    async with joiner(server, "rec") as rec_join:
        yield rec_join
