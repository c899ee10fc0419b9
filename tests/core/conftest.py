"""Fixtures of the public-object tests: listener errors fail the test instead of being logged."""

from __future__ import annotations

import pytest

from core.events import set_listener_error_handler


@pytest.fixture(autouse=True)
def listener_errors():
    """Exceptions raised by listeners during the test; any left in the list fail it."""
    errors: list[tuple[object, str, BaseException]] = []
    previous = set_listener_error_handler(lambda emitter, event, exc: errors.append((emitter, event, exc)))
    try:
        yield errors
    finally:
        set_listener_error_handler(previous)
    if errors:
        emitter, event, exc = errors[0]
        raise AssertionError(f"listener of {type(emitter).__name__}.{event} raised {exc!r}") from exc


@pytest.fixture
async def room_harness():
    """A connected Room (no tracks, nobody else) over a recorder transport; see ``harness.py``."""
    from harness import RoomHarness

    harness = await RoomHarness.connect()
    yield harness
    harness.room.disconnect()
