"""Fixtures: the real ``confab-server`` as a subprocess, tokens, signaling clients."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import aiohttp
import pytest

from rspclient import RspClient
from srvutil import FAST, ServerProcess


@pytest.fixture(scope="session")
def server_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., ServerProcess]]:
    started: list[ServerProcess] = []

    def make(*args: str, data_dir: Path | None = None) -> ServerProcess:
        d = data_dir or tmp_path_factory.mktemp("confab")
        server = ServerProcess(d, list(args)).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def server(server_factory: Callable[..., ServerProcess]) -> Iterator[ServerProcess]:
    """One shared server (dev mode, fast timers) for most tests."""
    s = server_factory("--dev", *FAST)
    yield s
    assert s.alive(), "the server exited"
    s.assert_clean()


@pytest.fixture
async def http(server: ServerProcess) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=server.url, headers=server.auth_headers) as session:
        yield session


@pytest.fixture
async def clients(server: ServerProcess) -> AsyncIterator[Callable[..., RspClient]]:
    """``await clients()`` opens a signaling client on the shared server; all closed at the end."""
    opened: list[RspClient] = []

    async def open_client(url: str | None = None) -> RspClient:
        c = await RspClient.open(url or server.url)
        opened.append(c)
        return c

    yield open_client  # type: ignore[misc]  # pytest-asyncio fixture: the yielded callable is the fixture value
    for c in opened:
        with contextlib.suppress(Exception):
            await c.close()
