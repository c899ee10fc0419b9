"""Caps that keep one client (or one address) from taking the server: WebSockets and rooms."""

from __future__ import annotations

import aiohttp

from core import protocol as p
from rspclient import RspClient
from server import start_server


async def test_websockets_beyond_the_per_address_cap_get_53006_and_the_others_keep_their_call(tmp_path) -> None:
    running = await start_server("127.0.0.1", 0, tmp_path, max_connections_per_address=3)
    clients = []
    try:
        alice = await RspClient.open(running.url)
        clients.append(alice)
        await alice.connect(running.token("alice"), "r")
        clients += [await RspClient.open(running.url) for _ in range(2)]  # half-open: no hello
        async with aiohttp.ClientSession() as http:
            async with http.get(running.signaling_url.replace("ws", "http", 1),
                                headers={"Upgrade": "websocket", "Connection": "Upgrade",
                                         "Sec-WebSocket-Version": "13",
                                         "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}) as r:
                assert r.status == 503
                assert (await r.json())["code"] == 53006
        # The room goes on for the one who is in it: a newcomer is seen once a slot is free.
        await clients.pop().close()
        bob = await RspClient.open(running.url)
        clients.append(bob)
        await bob.connect(running.token("bob"), "r")
        assert (await alice.expect(p.ServerUpdate)).participants[0].identity == "bob"
    finally:
        for client in clients:
            await client.close()
        await running.close()


async def test_rooms_beyond_the_cap_are_refused_with_53103(tmp_path) -> None:
    running = await start_server("127.0.0.1", 0, tmp_path, max_rooms=2)
    creds = running.credentials
    try:
        auth = {"Authorization": aiohttp.encode_basic_auth(creds.api_key_sid, creds.api_key_secret)}
        async with aiohttp.ClientSession(running.url, headers=auth) as http:
            for name in ("one", "two"):
                async with http.post("/v1/Rooms", data={"UniqueName": name}) as r:
                    assert r.status == 201
            async with http.post("/v1/Rooms", data={"UniqueName": "three"}) as r:
                assert r.status >= 400 and (await r.json())["code"] == 53103
        client = await RspClient.open(running.url)
        try:
            assert (await client.connect_error(running.token("carol"), "ad-hoc")).code == 53103
        finally:
            await client.close()
    finally:
        await running.close()


async def test_the_caps_are_command_line_flags(server_factory) -> None:
    s = server_factory("--max-rooms", "1", "--max-connections-per-address", "64")
    async with aiohttp.ClientSession(base_url=s.url, headers=s.auth_headers) as http:
        async with http.post("/v1/Rooms", data={"UniqueName": "only"}) as r:
            assert r.status == 201
        async with http.post("/v1/Rooms", data={"UniqueName": "more"}) as r:
            assert (await r.json())["code"] == 53103
