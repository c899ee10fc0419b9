"""One server per data directory: a second one refuses before it touches the first's rooms."""

from __future__ import annotations

import subprocess

import aiohttp

from srvutil import _command, unique


async def test_a_second_server_on_the_same_data_directory_refuses_and_changes_nothing(server_factory) -> None:
    first = server_factory("--dev")  # real timers: the room must not end by UnusedRoomTimeout meanwhile
    name = unique()
    async with aiohttp.ClientSession(base_url=first.url, headers=first.auth_headers) as http:
        async with http.post("/v1/Rooms", data={"UniqueName": name}) as r:
            assert r.status == 201
            room_sid = (await r.json())["sid"]
        db = sorted(p.name for p in first.data_dir.iterdir())

        second = subprocess.run([*_command(), "--port", "0", "--data-dir", str(first.data_dir), "--dev"],
                                capture_output=True, text=True, timeout=30)
        assert second.returncode == 1
        assert "in use by another confab-server" in second.stderr and str(first.proc.pid) in second.stderr
        assert "Traceback" not in second.stderr and second.stdout == ""

        async with http.get(f"/v1/Rooms/{room_sid}") as r:
            assert r.status == 200 and (await r.json())["status"] == "in-progress"
        assert sorted(p.name for p in first.data_dir.iterdir()) == db
    first.stop()
    # Once the first has stopped, the directory is free again.
    again = server_factory("--dev", data_dir=first.data_dir)
    assert again.alive()
