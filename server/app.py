"""The aiohttp application and its lifecycle: ``start_server(...) -> RunningServer``.

Used by the CLI, by the tests in-process, and by the desktop demo::

    running = await start_server("127.0.0.1", 0, data_dir, dev=True)
    print(running.url)            # http://127.0.0.1:PORT  (signaling: running.signaling_url)
    await running.close()
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ctypes
import gc
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from .appkey import STATE
from .callbacks import StatusCallbacks
from .config import ServerConfig
from .credentials import Credentials, load_or_create
from .datadir import DataDirLock
from .invite_page import invite_page
from .mesh import MediaBackend
from .recording import Recordings
from .recording.api import RecordingsApi
from .rest import RestApi, dev_token
from .rooms import Room, RoomRegistry
from .signaling import Connection, handle_signaling
from .store import Store
from .tls import tls_context

log = logging.getLogger(__name__)

#: How often the store hears that the server is alive (a crash's participant end times).
ALIVE_INTERVAL_S = 2.0


@dataclass(eq=False)
class ServerState:
    """What the request handlers share (``app[STATE]``, server/appkey.py)."""

    config: ServerConfig
    credentials: Credentials
    store: Store
    callbacks: StatusCallbacks
    registry: RoomRegistry
    recordings: Recordings
    connections: set[Connection] = field(default_factory=set)


class _ClientHttpErrors(logging.Filter):
    """aiohttp logs malformed HTTP from clients as ERROR with a traceback; make it one INFO line."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.INFO, "INFO"
            detail = " ".join(str(getattr(exc, "message", exc)).split())[:200]
            record.msg = f"{record.msg}: bad HTTP request: {detail}"
        return True


_HTTP_FILTER = _ClientHttpErrors()


def create_app(state: ServerState) -> web.Application:
    server_log = logging.getLogger("aiohttp.server")
    if _HTTP_FILTER not in server_log.filters:
        server_log.addFilter(_HTTP_FILTER)
    rest = RestApi(state)
    app = web.Application(middlewares=[rest.middleware], client_max_size=1024 * 1024)
    app[STATE] = state
    app.router.add_get("/signaling", handle_signaling)
    app.router.add_get("/join/{room}", invite_page)  # what an invite link opens in a browser
    app.router.add_routes(rest.routes())
    app.router.add_routes(RecordingsApi(state).routes())
    if state.config.dev:
        app.router.add_post("/dev/token", dev_token)
        app.router.add_get("/dev/media", dev_media)
        app.router.add_get("/dev/stats", dev_stats)
    return app


async def dev_media(request: web.Request) -> web.Response:
    """``GET /dev/media`` (``--dev`` only): codec-audit counts and each room's forwarding state."""
    from .forwarder import audit

    state: ServerState = request.app[STATE]
    rooms = {}
    for room in state.registry.rooms.values():
        stats = getattr(room.media, "stats", None)
        rooms[room.sid] = {"name": room.unique_name, "type": room.type,
                           "backend": type(room.media).__name__, **(stats() if callable(stats) else {})}
    return web.json_response({"codecs": audit.snapshot(), "rooms": rooms})


async def dev_stats(request: web.Request) -> web.Response:
    """``GET /dev/stats`` (``--dev`` only): what bench/soak.py watches return to baseline."""
    state: ServerState = request.app[STATE]
    objects = -1
    types: list[tuple[str, int]] = []
    top = request.query.get("types", "0")
    if not top.isdigit():
        raise web.HTTPBadRequest(text="types: a number of object types to list")
    if request.query.get("trim"):  # what is really still held: collect, and give freed heap back
        gc.collect()
        live = gc.get_objects()
        objects = len(live)
        if int(top):  # what they are: the most numerous types, to diff two snapshots
            types = collections.Counter(type(o).__qualname__ for o in live).most_common(int(top))
        del live
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)
    fds = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else -1
    with open("/proc/self/statm") as statm:  # Linux: pages
        rss_kb = int(statm.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
    registry = state.registry
    return web.json_response({
        "fds": fds, "tasks": len(asyncio.all_tasks()), "rss_kb": rss_kb, "rooms": len(registry.rooms),
        "participants": sum(len(r.participants) for r in registry.rooms.values()),
        "connections": len(state.connections), "threads": threading.active_count(), "objects": objects,
        **({"types": dict(types)} if types else {})})


class RunningServer:
    """A started server. ``url`` is ``http://HOST:PORT``; ``close()`` stops it."""

    def __init__(self, state: ServerState, runner: web.AppRunner, host: str, port: int,
                 lock: DataDirLock | None = None) -> None:
        self.state = state
        self._runner = runner
        self._lock = lock
        self.host = host
        self.port = port
        self._closed = False
        self._alive: asyncio.Task[None] | None = asyncio.get_running_loop().create_task(self._mark_alive())

    async def _mark_alive(self) -> None:
        """Record now and then that we are alive: after a crash, the end time of who was in a room."""
        while True:
            self.state.store.save_alive(time.time())
            await asyncio.sleep(ALIVE_INTERVAL_S)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "https" if self.state.config.tls_cert else "http"
        return f"{scheme}://{host}:{self.port}"

    @property
    def signaling_url(self) -> str:
        return "ws" + self.url[4:] + "/signaling"

    @property
    def credentials(self) -> Credentials:
        return self.state.credentials

    @property
    def registry(self) -> RoomRegistry:
        return self.state.registry

    def token(self, identity: str, room: str | None = None, ttl: int = 3600) -> str:
        """A token signed with this server's API key (what ``POST /dev/token`` returns)."""
        from core.token import AccessToken

        c = self.state.credentials
        return AccessToken(c.account_sid, c.api_key_sid, c.api_key_secret, identity=identity,
                           ttl=ttl, room=room).to_jwt()

    async def close(self) -> None:
        """Stop: close every connection; rooms stay in progress, resumable at the next start."""
        if self._closed:
            return
        self._closed = True
        state = self.state
        if self._alive is not None:
            self._alive.cancel()
        await state.recordings.close()  # every file finished: its recording completed
        state.registry.suspend_all()
        for connection in list(state.connections):
            connection.close()
        await self._runner.cleanup()
        await state.callbacks.close()
        await state.store.flush()
        await state.store.close()
        if self._lock is not None:
            self._lock.release()
        log.info("stopped")


async def start_server(host: str = "127.0.0.1", port: int = 7880, data_dir: str | Path = "confab-data",
                       dev: bool = False, *, config: ServerConfig | None = None,
                       media_backend: Callable[[Room], MediaBackend] | None = None,
                       **options: Any) -> RunningServer:
    """Open the store, bind ``host:port`` (0 picks a free port) and serve.

    ``options`` are further ``ServerConfig`` fields (``session_timeout_s=5``, ...);
    alternatively pass a whole ``config`` (its host/port/data_dir/dev then win).
    ``media_backend`` makes each room's ``MediaBackend`` (default: ``MeshRelay`` for go and
    peer-to-peer rooms, the forwarder for group rooms). A server bound to a loopback host
    gathers its media ICE candidates on 127.0.0.1 only.
    """
    if config is None:
        config = ServerConfig(host=host, port=port, data_dir=Path(data_dir), dev=dev, **options)
    from .forwarder import audit

    audit.enabled_by_environment()  # CONFAB_CODEC_AUDIT=1: count every codec use (tests)
    lock = DataDirLock(config.data_dir).acquire()  # before anything in the directory is read
    try:
        return await _start(config, media_backend, lock)
    except BaseException:
        lock.release()
        raise


async def _start(config: ServerConfig, media_backend: Callable[[Room], MediaBackend] | None,
                 lock: DataDirLock) -> RunningServer:
    credentials = load_or_create(config.data_dir, account_sid=config.account_sid,
                                 api_key_sid=config.api_key_sid, api_key_secret=config.api_key_secret)
    store = Store(config.data_dir)
    previous = await store.open()
    callbacks = StatusCallbacks(timeout_s=config.callback_timeout_s)
    callbacks.start()
    registry = RoomRegistry(config, credentials.account_sid, store, callbacks, backend_factory=media_backend)
    recordings = Recordings(registry, store, config.data_dir, restored_rules=previous.recording_rules)
    state = ServerState(config, credentials, store, callbacks, registry, recordings)
    # keepalive_timeout also closes a connection that never completes a request (half-open).
    runner = web.AppRunner(create_app(state), access_log=None, handle_signals=False,
                           keepalive_timeout=config.idle_timeout_s, shutdown_timeout=1.0)
    try:
        await runner.setup()
        site = web.TCPSite(runner, config.host, config.port, backlog=config.listen_backlog,
                           ssl_context=tls_context(config.tls_cert, config.tls_key))
        await site.start()
    except BaseException:
        await runner.cleanup()
        await recordings.close()
        await callbacks.close()
        await store.close()
        raise
    registry.restore(previous)  # no await since the bind: nobody can connect before it
    bound = runner.addresses[0]
    return RunningServer(state, runner, config.host, int(bound[1]), lock)
