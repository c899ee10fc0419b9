"""``server.start_server`` in-process (as the desktop demo and core's tests use it)."""

from __future__ import annotations

import asyncio

import aiohttp

from core import protocol as p
from rspclient import RspClient, track
from server import start_server


async def test_start_server_in_process(tmp_path) -> None:
    running = await start_server("127.0.0.1", 0, tmp_path, dev=True, session_timeout_s=7)
    try:
        assert running.port > 0 and running.url == f"http://127.0.0.1:{running.port}"
        assert running.signaling_url == f"ws://127.0.0.1:{running.port}/signaling"
        async with aiohttp.ClientSession(running.url) as http:
            async with http.post("/dev/token", json={"identity": "demo", "room": "demo"}) as r:
                token = (await r.json())["token"]
        a = await RspClient.open(running.url)
        connected = await a.connect(token, tracks=[track("mic")])
        assert connected.options.session_timeout == 7 and connected.name == "demo"
        b = await RspClient.open(running.url)
        await b.connect(running.token("other"), "demo")
        assert (await a.expect(p.ServerUpdate)).participants[0].identity == "other"
        assert running.registry.find_room("demo") is not None
    finally:
        await running.close()
    await a.close()
    await b.close()
    # Data survives in the directory: a second start holds the room for the session timeout
    # (its participants may come back), then completes it.
    again = await start_server("127.0.0.1", 0, tmp_path, session_timeout_s=0.5)
    try:
        assert again.credentials.account_sid == running.credentials.account_sid
        rec = await again.state.store.get_room("demo")
        assert rec is not None and rec["status"] == "in-progress"
        await asyncio.sleep(0.8)
        rec = await again.state.store.get_room("demo")
        assert rec is not None and rec["status"] == "completed"
    finally:
        await again.close()
