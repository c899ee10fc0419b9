"""``--turn-url``/``--turn-secret``: TURN REST credentials in ``iced``, ``enable_turn`` in REST, 53501."""

from __future__ import annotations

import base64
import hashlib
import hmac
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from core import protocol as p
from rspclient import RspClient
from server import start_server
from srvutil import ROOT

TURN_URL = "turn:127.0.0.1:3478?transport=udp"


async def _iced(url: str, token: str) -> p.ServerMessage:
    client = await RspClient.open(url)
    try:
        await client.hello(p.IceRequest(token=token))
        return await client.recv()
    finally:
        await client.close()


async def test_the_command_line_turn_server_comes_with_credentials_coturn_accepts(server_factory) -> None:
    s = server_factory("--turn-url", TURN_URL, "--turn-secret", "S3CRET", "--turn-ttl", "600")
    iced = await _iced(s.url, s.token("alice"))
    assert isinstance(iced, p.Iced) and len(iced.ice_servers) == 1
    server = iced.ice_servers[0]
    assert server.urls == [TURN_URL]
    assert server.username is not None
    expiry, identity = server.username.split(":", 1)
    assert identity == "alice" and abs(int(expiry) - (time.time() + 600)) < 5
    expected = base64.b64encode(hmac.new(b"S3CRET", server.username.encode(), hashlib.sha1).digest()).decode()
    assert server.credential == expected
    async with aiohttp.ClientSession(base_url=s.url, headers=s.auth_headers) as http:
        async with http.post("/v1/Rooms", data={"UniqueName": "with-turn"}) as r:
            assert r.status == 201 and (await r.json())["enable_turn"] is True


async def test_without_turn_no_ice_servers_and_enable_turn_is_false(tmp_path: Path) -> None:
    running = await start_server("127.0.0.1", 0, tmp_path)
    try:
        iced = await _iced(running.url, running.token("bob"))
        assert isinstance(iced, p.Iced) and iced.ice_servers == []
        creds = running.credentials
        async with aiohttp.ClientSession(running.url, headers={"Authorization": aiohttp.encode_basic_auth(
                                         creds.api_key_sid, creds.api_key_secret)}) as http:
            async with http.post("/v1/Rooms", data={"UniqueName": "plain"}) as r:
                assert (await r.json())["enable_turn"] is False
    finally:
        await running.close()


async def test_a_turn_secret_that_cannot_be_read_is_53501_and_a_rotated_one_is_used(tmp_path: Path) -> None:
    secret = tmp_path / "turn-secret"
    secret.write_text("first\n")
    running = await start_server("127.0.0.1", 0, tmp_path / "data", turn_urls=(TURN_URL,), turn_secret_file=secret)
    try:
        iced = await _iced(running.url, running.token("carol"))
        assert isinstance(iced, p.Iced)
        username = iced.ice_servers[0].username or ""
        assert iced.ice_servers[0].credential == base64.b64encode(
            hmac.new(b"first", username.encode(), hashlib.sha1).digest()).decode()
        secret.unlink()
        refused = await _iced(running.url, running.token("carol"))
        assert isinstance(refused, p.Error) and refused.code == 53501 and "TURN secret" in refused.message
    finally:
        await running.close()


def test_turn_and_tls_flags_are_checked_before_starting(tmp_path: Path) -> None:
    cases = [(["--turn-url", TURN_URL], "--turn-secret"),
             (["--turn-url", "stun:127.0.0.1:3478", "--turn-secret", "S"], "turn: or turns:"),
             (["--turn-secret", "S"], "need --turn-url"),
             (["--tls-cert", str(tmp_path / "cert.pem")], "go together"),
             (["--tls-cert", str(tmp_path / "c.pem"), "--tls-key", str(tmp_path / "k.pem")], "no such file")]
    for args, message in cases:
        out = subprocess.run([sys.executable, "-m", "server", "--port", "0", "--data-dir", str(tmp_path / "d"),
                              *args], capture_output=True, text=True, cwd=ROOT, timeout=30)
        assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr, (args, out.stderr)
    assert not (tmp_path / "d").exists()  # refused before touching the data directory
