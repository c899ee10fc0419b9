"""A rebuilt connection carries the data tracks too (peer-to-peer): messages keep arriving on
the same RemoteDataTrack after the media watchdog replaced the connection, no unsubscribe."""

from __future__ import annotations

import pytest

from callutil import JoinFn, data_across_a_rebuild

pytestmark = pytest.mark.media


async def test_data_survives_a_rebuilt_connection(join: JoinFn) -> None:
    took = await data_across_a_rebuild(join)
    print(f"media back {took:.2f} s after the path returned")


async def test_the_data_grace_waits_for_a_slow_rebuild(join: JoinFn, monkeypatch: pytest.MonkeyPatch) -> None:
    """The grace a closed data channel gets does not run down while its connection is still
    being rebuilt: with a grace far shorter than a rebuild takes (closed → the new connection
    connected), the same RemoteDataTrack still carries the messages after it."""
    import core.join

    monkeypatch.setattr(core.join, "DATA_REBIND_S", 0.02)
    monkeypatch.setattr(core.join, "DATA_REBIND_TICK_S", 0.01)
    await data_across_a_rebuild(join)
