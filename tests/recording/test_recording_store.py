"""The recordings table: a crash leaves a recording ``failed``, not ``completed``; a data directory
of an older version (no recordings table) gains one at its next start."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from server.store import Store


def _recording(sid: str, status: str) -> dict[str, object]:
    return {"sid": sid, "account_sid": "AC" + "0" * 32, "room_sid": "RM" + "1" * 32,
            "participant_sid": "PA" + "2" * 32, "source_sid": "MT" + "3" * 32, "track_name": "camera",
            "type": "video", "codec": "VP8", "container_format": "mkv", "status": status,
            "date_created": 1.0, "date_updated": 1.0, "duration": None, "size": None, "offset": 0,
            "path": "/nowhere.mkv"}


async def test_a_recording_cut_off_by_a_crash_is_failed_at_the_next_start(tmp_path: Path) -> None:
    store = Store(tmp_path)
    await store.open()
    store.save_recording(_recording("RT" + "a" * 32, "processing"))  # the server dies here
    store.save_recording({**_recording("RT" + "b" * 32, "completed"), "duration": 3, "size": 100})
    await store.close()

    again = Store(tmp_path)
    await again.open()
    try:
        assert (await again.get_recording("RT" + "a" * 32) or {})["status"] == "failed"
        assert (await again.get_recording("RT" + "b" * 32) or {})["status"] == "completed"
    finally:
        await again.close()


async def test_an_older_data_directory_gains_the_recordings_table(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / Store.FILENAME) as old:  # what a version without recording left
        old.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value REAL NOT NULL)")
        old.execute("INSERT INTO meta VALUES ('alive', 5.0)")
    store = Store(tmp_path)
    previous = await store.open()
    try:
        assert previous.alive == 5.0
        assert await store.list_recordings(offset=0, limit=10) == []
        store.save_recording(_recording("RT" + "c" * 32, "processing"))
        assert [r["sid"] for r in await store.list_recordings(offset=0, limit=10)] == ["RT" + "c" * 32]
    finally:
        await store.close()
