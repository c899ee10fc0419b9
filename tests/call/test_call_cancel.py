"""Cancelling connect(): the participant leaves the server's room at once, nothing keeps running."""

from __future__ import annotations

import asyncio
import time

import pytest

from callutil import camera, until
from core import connect

pytestmark = pytest.mark.media


@pytest.mark.parametrize("cancel_when", ["admitted", "hello"])
async def test_a_cancelled_connect_leaves_the_room_at_once(server, monkeypatch, cancel_when: str) -> None:
    registry = server.registry
    own = camera("me")
    task = asyncio.ensure_future(connect(server.token("quitter", "cancel-room"), url=server.url,
                                         name="cancel-room", tracks=[own]))

    def admitted() -> bool:
        room = registry.find_room("cancel-room")
        return room is not None and any(q.identity == "quitter" for q in room.participants.values())

    if cancel_when == "admitted":
        # The cancellation lands the moment the server admits us, before its ``connected`` is sent.
        admit = registry.connect
        admissions: list[object] = []

        def admit_then_cancel(*args, **kwargs):
            participant = admit(*args, **kwargs)
            admissions.append(participant)
            task.cancel()
            return participant

        monkeypatch.setattr(registry, "connect", admit_then_cancel)
        await until(lambda: admissions, timeout=10, interval=0.001)
    else:
        await asyncio.sleep(0)  # the WebSocket is opening, nothing sent yet
        task.cancel()
    cancelled_at = time.monotonic()
    with pytest.raises(asyncio.CancelledError):
        await task
    await until(lambda: not admitted(), timeout=3)
    assert time.monotonic() - cancelled_at < 3  # not the 30 s session timeout
    assert not own.is_stopped  # a track we passed in is ours to stop, not connect()'s
    own.stop()
