"""TURN: confab-server hands out coturn ``use-auth-secret`` credentials; relay-only clients use them.

A real Debian ``turnserver`` (coturn) runs on 127.0.0.1 only. Two participants with
``ice_transport_policy="relay"`` get the server's time-limited credentials and exchange media
through it and nothing else: their connections hold relay candidates only, coturn logs their
allocations, and stopping coturn stops the media. A server with the wrong secret, or with no
TURN server at all, makes connect() fail at once with the documented code.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from callutil import EventLog, FrameLog, JoinFn, camera, joiner, subscribed, until
from core import Room, TwilioError, connect
from server.app import RunningServer, start_server

pytestmark = pytest.mark.media

SECRET = "turn-secret-for-tests"


@dataclass
class Coturn:
    url: str
    args: list[str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Run turnserver (again: same port, same secret) and wait until it relays."""
        self.log.unlink(missing_ok=True)
        self.process = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while "relay 127.0.0.1 initialization done" not in self.text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"turnserver did not start: {self.text()}")
            time.sleep(0.05)

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def allocations(self) -> int:
        return self.text().count("ALLOCATE processed, success")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def _free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (coturn listens on both)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port


@pytest.fixture
def coturn(tmp_path: Path) -> Iterator[Coturn]:
    binary = shutil.which("turnserver")
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("turnserver (Debian's coturn) is missing: .ci/run installs it")
        pytest.skip("turnserver (coturn) is not installed: apt-get install coturn")
    port = _free_port()
    log = tmp_path / "turn.log"
    args = [binary, "-n", "--no-cli", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1",
            f"--listening-port={port}", "--use-auth-secret", f"--static-auth-secret={SECRET}",
            "--realm=confab.test", "--allow-loopback-peers", "--no-tls", "--no-dtls",
            "--no-tcp-relay", "--no-multicast-peers", f"--pidfile={tmp_path / 'turn.pid'}",
            f"--userdb={tmp_path / 'turndb'}", f"--log-file={log}", "--simple-log", "--verbose"]
    server = Coturn(f"turn:127.0.0.1:{port}?transport=udp", args, log)
    server.start()
    yield server
    server.stop()


async def _server(tmp_path: Path, room_type: str, **turn: Any) -> RunningServer:
    return await start_server(port=0, data_dir=tmp_path / "server", dev=True, default_room_type=room_type,
                              **turn)


@pytest.fixture(params=["peer-to-peer", "group"])
async def turn_server(request: pytest.FixtureRequest, tmp_path: Path, coturn: Coturn) -> AsyncIterator[RunningServer]:
    running = await _server(tmp_path, request.param, turn_urls=(coturn.url,), turn_secret=SECRET)
    yield running
    await running.close()


def _local_candidate_types(room: Any) -> set[str]:
    """The candidate types in every local description of the room's peer connections."""
    types = set()
    for session in room._signaling.media.mesh.sessions().values():
        description = session.pc.localDescription
        for line in (description.sdp if description else "").splitlines():
            if line.startswith("a=candidate:"):
                types.add(line.split(" typ ")[1].split()[0])
    return types


async def _relay_call(join: JoinFn) -> tuple[Room, Room, Any, FrameLog]:
    """alice sends bob video, both relay-only; returns once bob has decoded a few frames."""
    alice = await join("alice", tracks=[camera("alice", 160, 120, 15)], ice_transport_policy="relay")
    bob = await join("bob", ice_transport_policy="relay")
    video = await until(lambda: subscribed(bob, "alice", "video"))
    frames = FrameLog()
    video.add_sink(frames)
    await until(lambda: len(frames.times) >= 5)
    return alice, bob, video, frames


async def test_relay_only_participants_exchange_media_through_coturn_only(turn_server: RunningServer,
                                                                          coturn: Coturn) -> None:
    async with joiner(turn_server, "turn") as join:
        alice, bob, _video, frames = await _relay_call(join)
        for room in (alice, bob):
            assert _local_candidate_types(room) == {"relay"}
        assert coturn.allocations() >= 2  # the connect() check and at least one peer connection
        # Only through it: without coturn the video stops.
        coturn.stop()
        await asyncio.sleep(0.5)
        stopped = time.monotonic()
        await asyncio.sleep(1.5)
        assert frames.count_since(stopped) == 0
        coturn.start()  # back, so the clients' TURN allocations close at once instead of retrying past the test


async def test_a_turn_server_that_goes_away_mid_call_is_survived(turn_server: RunningServer,
                                                                  coturn: Coturn) -> None:
    """coturn stops mid-call (its allocations die with it): both relay-only Rooms go
    ``reconnecting`` (53405); coturn is back within the session timeout: the watchdog's next
    rebuild allocates again, both Rooms are ``reconnected`` and the same video track plays."""
    async with joiner(turn_server, "turn") as join:
        alice, bob, video, frames = await _relay_call(join)
        await asyncio.sleep(2.0)  # mid-call: receiver reports have come back through the relay
        seen = {name: EventLog(room, "reconnecting", "reconnected", "disconnected", "trackUnsubscribed")
                for name, room in (("alice", alice), ("bob", bob))}
        coturn.stop()
        await until(lambda: all(log.of("reconnecting") for log in seen.values()), timeout=10)
        assert {getattr(log.of("reconnecting")[0][0], "code", None) for log in seen.values()} == {53405}
        coturn.start()
        back = time.monotonic()
        await until(lambda: frames.count_since(back) >= 3, timeout=15)
        await until(lambda: all(log.of("reconnected") for log in seen.values()), timeout=10)
        print(f"video back {next(t for t in frames.times if t >= back) - back:.2f} s after coturn")
        assert subscribed(bob, "alice", "video") is video
        assert not any(log.of("disconnected") or log.of("trackUnsubscribed") for log in seen.values())
        assert _local_candidate_types(bob) == {"relay"}


async def test_the_wrong_turn_secret_fails_connect_with_53405_at_once(tmp_path: Path, coturn: Coturn) -> None:
    running = await _server(tmp_path, "peer-to-peer", turn_urls=(coturn.url,), turn_secret="not-the-secret")
    try:
        started = time.monotonic()
        with pytest.raises(TwilioError) as refused:
            await connect(running.token("alice", "r"), url=running.url, tracks=[], ice_transport_policy="relay")
        assert refused.value.code == 53405 and "TURN" in refused.value.message
        assert time.monotonic() - started < 1.0  # no wait for an answer to a connect never sent
        assert coturn.allocations() == 0
    finally:
        await running.close()


async def test_relay_without_a_turn_server_fails_with_53501(tmp_path: Path) -> None:
    running = await _server(tmp_path, "peer-to-peer")
    try:
        with pytest.raises(TwilioError) as refused:
            await connect(running.token("alice", "r"), url=running.url, tracks=[], ice_transport_policy="relay")
        assert refused.value.code == 53501
    finally:
        await running.close()
