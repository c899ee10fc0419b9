"""A rebuilt connection carries the data tracks too (peer-to-peer): messages keep arriving on
the same RemoteDataTrack after the media watchdog replaced the connection, no unsubscribe."""

from __future__ import annotations

import pytest

from callutil import JoinFn, data_across_a_rebuild

pytestmark = pytest.mark.media


async def test_data_survives_a_rebuilt_connection(join: JoinFn) -> None:
    took = await data_across_a_rebuild(join)
    print(f"media back {took:.2f} s after the path returned")
