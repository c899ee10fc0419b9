"""``--tls-cert``/``--tls-key``: https:// REST and wss:// signaling, a client told to trust the cert.

The certificate is self-signed, made here for 127.0.0.1. A client given it (``CONFAB_CA_FILE``,
what ``confab --ca-file``/``confab-bot --ca-file`` set) joins and exchanges data; one that is
not gets 53000 with a message saying what to do, and no traceback.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from callutil import joiner, remote_of, until
from core import LocalDataTrack, TwilioError, connect
from core.tls import CA_FILE_ENV
from server.app import RunningServer, start_server

pytestmark = pytest.mark.media

ROOT = Path(__file__).resolve().parents[2]


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost signed by its own key: (cert.pem, key.pem)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "confab test server")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def cert(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed(tmp_path)


@pytest.fixture
async def tls_server(tmp_path: Path, cert: tuple[Path, Path]) -> AsyncIterator[RunningServer]:
    running = await start_server(port=0, data_dir=tmp_path / "server", dev=True,
                                 default_room_type="peer-to-peer", tls_cert=cert[0], tls_key=cert[1])
    yield running
    await running.close()


async def test_a_client_told_to_trust_the_certificate_joins_over_wss(tls_server: RunningServer, cert: tuple[Path, Path],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    assert tls_server.url.startswith("https://") and tls_server.signaling_url.startswith("wss://")
    monkeypatch.setenv(CA_FILE_ENV, str(cert[0]))
    creds = tls_server.credentials
    context = ssl.create_default_context(cafile=str(cert[0]))
    auth = {"Authorization": aiohttp.encode_basic_auth(creds.api_key_sid, creds.api_key_secret)}
    async with aiohttp.ClientSession(tls_server.url, headers=auth, connector=aiohttp.TCPConnector(ssl=context)) as http:
        async with http.post("/v1/Rooms", data={"UniqueName": "secure"}) as r:
            assert r.status == 201 and (await r.json())["url"].startswith("https://")
    async with joiner(tls_server, "secure") as join:
        chat = LocalDataTrack("chat")
        await join("alice", tracks=[chat])
        bob = await join("bob")
        received: list[str] = []
        await until(lambda: remote_of(bob, "alice") and remote_of(bob, "alice").data_tracks)
        publication = next(iter(remote_of(bob, "alice").data_tracks.values()))
        await until(lambda: publication.track is not None)
        publication.track.on("message", lambda data, *_: received.append(data))
        await until(lambda: chat.send("over TLS") or "over TLS" in received, timeout=10, interval=0.2)


async def test_a_client_not_told_gets_53000_saying_the_certificate_is_not_trusted(
        tls_server: RunningServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CA_FILE_ENV, raising=False)
    with pytest.raises(TwilioError) as refused:
        await connect(tls_server.token("eve", "secure"), url=tls_server.url, tracks=[])
    assert refused.value.code == 53000
    assert "not trusted" in refused.value.message and CA_FILE_ENV in refused.value.message


def test_the_bot_connects_with_ca_file_and_explains_without(tmp_path: Path, cert: tuple[Path, Path]) -> None:
    server = subprocess.Popen([sys.executable, "-m", "server", "--port", "0", "--data-dir", str(tmp_path / "d"),
                               "--dev", "--tls-cert", str(cert[0]), "--tls-key", str(cert[1])],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        assert line.startswith("confab-server listening on https://127.0.0.1:"), line
        url = line.split()[-1]
        token = subprocess.run([sys.executable, "-m", "server", "token", "--data-dir", str(tmp_path / "d"),
                                "--identity", "bot", "--room", "r"], capture_output=True, text=True, cwd=ROOT,
                               check=True, timeout=30).stdout.strip()
        bot = [sys.executable, "-m", "app.bot", "--url", url, "--token", token, "--room", "r", "--duration", "1",
               "--no-audio", "--no-video", "--report-interval", "5"]
        trusted = subprocess.run([*bot, "--ca-file", str(cert[0])], capture_output=True, text=True, cwd=ROOT,
                                 timeout=60)
        events = [json.loads(line)["event"] for line in trusted.stdout.splitlines() if line.startswith("{")]
        assert trusted.returncode == 0 and "connected" in events, trusted.stdout + trusted.stderr
        untrusted = subprocess.run(bot, capture_output=True, text=True, cwd=ROOT, timeout=60)
        error = next(json.loads(line) for line in untrusted.stdout.splitlines() if '"error"' in line)
        assert untrusted.returncode == 2 and error["code"] == 53000 and "--ca-file" in error["message"]
        assert "Traceback" not in untrusted.stderr
    finally:
        server.terminate()
        server.wait(10)


async def test_the_desktop_app_joins_an_https_server_with_ca_file(tls_server: RunningServer, cert: tuple[Path, Path],
                                                                  tmp_path: Path) -> None:
    import asyncio
    import os

    config = tmp_path / "config"
    config.mkdir()
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", CONFAB_CONFIG_DIR=str(config))
    env.pop(CA_FILE_ENV, None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.main", "join", "--url", tls_server.url, "--token", tls_server.token("ada", "secure"),
        "--ca-file", str(cert[0]), "--quit-after", "4", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        await until(lambda: any(p.identity == "ada" for room in tls_server.registry.rooms.values()
                                for p in room.participants.values()), timeout=30)
    finally:
        _, stderr = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0 and "Traceback" not in stderr.decode(), stderr.decode()[-2000:]
    assert json.loads((config / "settings.json").read_text())["server"] == tls_server.url


async def test_dev_tokens_come_over_https_from_a_trusted_server(tls_server: RunningServer, cert: tuple[Path, Path],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from core.dev_token import DevTokenUnreachable, fetch_dev_token
    from core.token import verify_access_token

    with pytest.raises(DevTokenUnreachable):  # not told to trust it: refused, with the reason
        await fetch_dev_token(tls_server.url, "ada", "secure")
    monkeypatch.setenv(CA_FILE_ENV, str(cert[0]))
    token = await fetch_dev_token(tls_server.url, "ada", "secure")
    creds = tls_server.credentials
    verified = verify_access_token(token, {creds.api_key_sid: creds.api_key_secret}, account_sid=creds.account_sid)
    assert verified["grants"]["identity"] == "ada"
