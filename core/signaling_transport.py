"""The RSP session over TCMP: ``connect`` once, ``sync`` after a dropped socket, ``disconnect``.

States, as twilio-video.js's ``TwilioConnectionTransport``: ``connecting → connected ⇄ syncing
→ disconnected``. While ``syncing`` it reconnects with back-off (80 ms, ×1.5, jitter) and
resumes the session with ``sync``; updates sent meanwhile are queued and flushed on ``synced``.
The window for that is the server's ``options.session_timeout``.

When the server answers ``sync`` with 53002 (it restarted and does not know the session) the
session *rejoins*: the next attempts send a fresh ``connect`` (``rejoin_body``) for the same
room, and its ``connected`` goes to ``on_message`` like a ``synced`` would — the signaling
layer rebuilds media and reconciles the room from it (docs/protocol.md §5).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import aiohttp
import msgspec

from . import protocol as p
from .errors import (
    RoomCompletedError,
    SignalingConnectionDisconnectedError,
    SignalingConnectionError,
    TwilioError,
    error_from_code,
)
from .transport import TwilioConnection

log = logging.getLogger(__name__)

BACKOFF_START_S = 0.08
BACKOFF_FACTOR = 1.5
#: Capped low so that a server back from a restart is found within a second or so.
BACKOFF_MAX_S = 1.0
#: ``sync`` answered with this: the server does not know the session (it restarted): rejoin.
SESSION_UNKNOWN = 53002

if TYPE_CHECKING:
    from .signaling import TransportState

StateListener = Callable[["TransportState", "TwilioError | None"], None]


def error_of(body: p.ServerMessage) -> TwilioError | None:
    """The TwilioError a server body ends the session with, if it does."""
    if isinstance(body, p.Error):
        return error_from_code(body.code, body.message or None)
    if isinstance(body, p.Disconnected):
        return RoomCompletedError() if body.status == "completed" else None
    return None


class SignalingTransport:
    """One participant's signaling session with the room server."""

    def __init__(
        self,
        url: str,
        *,
        on_message: Callable[[p.ServerMessage], None],
        on_state: StateListener,
        sync_body: Callable[[], p.Sync],
        rejoin_body: Callable[[], p.Connect] | None = None,
        heartbeat_ms: int = p.DEFAULT_HEARTBEAT_MS,
    ) -> None:
        self.url = url
        self.state: TransportState = "connecting"
        self.session: str | None = None
        self.session_timeout_s: float = p.DEFAULT_SESSION_TIMEOUT_S
        self._on_message = on_message
        self._on_state = on_state
        self._sync_body = sync_body
        self._rejoin_body = rejoin_body
        self._heartbeat_ms = heartbeat_ms
        self._http = aiohttp.ClientSession()
        self._conn: TwilioConnection | None = None
        self._first: asyncio.Future[p.ServerMessage] | None = None
        self._queue: list[msgspec.Struct] = []
        self._held: list[p.ServerMessage] = []
        self._sender: asyncio.Task[Any] | None = None
        self._outbox: asyncio.Queue[msgspec.Struct] = asyncio.Queue()
        self._reconnect_task: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None
        self._connect_sent = False  # abandon() waits for an answer only to a connect

    # --- connect -----------------------------------------------------------------------

    async def acquire_ice(self, token: str) -> list[p.IceServer]:
        """Open the connection with an ``ice`` hello and return the server's ICE servers.

        The connection stays open for :meth:`connect`, as twilio-video.js does it.
        """
        first = await self._open(p.IceRequest(token=token, edge="roaming"))
        if isinstance(first, p.Iced):
            return list(first.ice_servers)
        await self._fail(first)
        raise AssertionError("unreachable")

    async def connect(self, body: p.Connect) -> p.Connected:
        """Open the session; resolves with ``connected`` or raises the server's TwilioError."""
        conn = self._conn
        self._connect_sent = True
        if conn is not None and conn.state == "open":
            self._first = asyncio.get_running_loop().create_future()
            await conn.send(body)
            first = await self._first
        else:
            first = await self._open(body)
        if isinstance(first, p.Connected):
            self.session = first.session
            self.session_timeout_s = float(first.options.session_timeout)
            self._set_state("connected", None)
            self._sender = asyncio.get_running_loop().create_task(self._send_loop())
            return first
        await self._fail(first)
        raise AssertionError("unreachable")

    async def _fail(self, first: p.ServerMessage) -> None:
        await self._close_connection()
        await self._http.close()
        self.state = "disconnected"
        raise error_of(first) or SignalingConnectionError("Unexpected first message: " + type(first).__name__)

    async def _open(self, body: msgspec.Struct) -> p.ServerMessage:
        loop = asyncio.get_running_loop()
        self._first = loop.create_future()
        conn = TwilioConnection(self.url, on_message=self._received, on_close=self._closed,
                                heartbeat_ms=self._heartbeat_ms, session=self._http)
        self._conn = conn
        try:
            await conn.open(body)
        except TwilioError:
            if not self._first.done():
                raise
        return await self._first

    def _received(self, body: p.ServerMessage) -> None:
        if isinstance(body, p.Connected) and self.session is None:
            self.session = body.session  # known even if connect() was cancelled meanwhile
        if self._first is not None and not self._first.done():
            self._first.set_result(body)
            return
        if self.state == "syncing":
            # After the answer to ``sync``/``connect`` and before _reconnect() took it up: hold
            # on, so that the server's next updates are applied after that answer, not before.
            self._held.append(body)
            return
        error = error_of(body)
        self._on_message(body)
        if error is not None or isinstance(body, p.Disconnected):
            self._end(error)

    def _closed(self, error: TwilioError | None) -> None:
        if self._first is not None and not self._first.done():
            self._first.set_exception(error or SignalingConnectionDisconnectedError())
            return
        if self.state == "connected" and error is not None:
            self._set_state("syncing", SignalingConnectionDisconnectedError())
            self._reconnect_task = asyncio.get_running_loop().create_task(self._reconnect())

    # --- reconnect ---------------------------------------------------------------------

    async def _reconnect(self) -> None:
        deadline = time.monotonic() + self.session_timeout_s
        delay = BACKOFF_START_S
        last_error: TwilioError = SignalingConnectionDisconnectedError()
        rejoin = False
        while self.state == "syncing" and time.monotonic() < deadline:
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(max(delay, BACKOFF_START_S) * BACKOFF_FACTOR, BACKOFF_MAX_S)
            body = self._rejoin_body() if rejoin and self._rejoin_body is not None else self._sync_body()
            try:
                first = await asyncio.wait_for(self._open(body), max(0.1, deadline - time.monotonic()))
            except (TimeoutError, TwilioError) as exc:
                if isinstance(exc, TwilioError):
                    last_error = exc if exc.code not in (53000, 53001) else last_error
                self._held.clear()
                await self._close_connection()
                continue
            if isinstance(first, p.Synced):
                self._resumed(first)
                return
            if isinstance(first, p.Connected) and rejoin:
                self._rejoined(first)
                return
            self._held.clear()
            error = error_of(first) or last_error
            if not rejoin and self._rejoin_body is not None and error.code == SESSION_UNKNOWN:
                log.info("the server does not know session %s: joining the room again", self.session)
                rejoin, delay = True, 0.0
                await self._close_connection()
                continue
            self._on_message(first)
            self._end(error)
            return
        if self.state == "syncing":
            self._end(last_error)

    def _rejoined(self, connected: p.Connected) -> None:
        """A new session in the same room: nothing queued for the old one is sent."""
        self.session = connected.session
        self.session_timeout_s = float(connected.options.session_timeout)
        self._queue.clear()
        while not self._outbox.empty():
            self._outbox.get_nowait()
        self._resumed(connected)

    def _resumed(self, first: p.Synced | p.Connected) -> None:
        """Back: the answer, then what the server sent after it, then what we queued meanwhile."""
        self._on_message(first)
        self._set_state("connected", None)
        self._flush_queue()
        held, self._held = self._held, []
        for body in held:
            self._received(body)

    # --- sending -----------------------------------------------------------------------

    def send(self, body: msgspec.Struct) -> None:
        """Queue one RSP body; sent in order, held while the session is re-syncing."""
        if self.state == "disconnected":
            return
        if self.state == "syncing":
            self._queue.append(body)
        else:
            self._outbox.put_nowait(body)

    def _flush_queue(self) -> None:
        queued, self._queue = self._queue, []
        for body in queued:
            self._outbox.put_nowait(body)

    async def _send_loop(self) -> None:
        while True:
            body = await self._outbox.get()
            conn = self._conn
            try:
                if conn is None:
                    raise ConnectionError
                await conn.send(body)
            except (ConnectionError, aiohttp.ClientError, RuntimeError):
                if self.state in ("syncing", "connected"):
                    self._queue.append(body)

    # --- ending ------------------------------------------------------------------------

    async def abandon(self, wait: float = 2.0) -> None:
        """Give up a ``connect()`` in progress (cancelled, or failed after the hello).

        If the server admits us meanwhile — its ``connected`` may be on the way — leave the
        room at once (``disconnect`` + ``bye``) rather than linger there until the session
        times out; wait at most ``wait`` seconds for that answer.
        """
        conn = self._conn
        if self.state == "connecting" and self.session is None and self._connect_sent and conn is not None \
                and conn.state == "open":  # (after an ``ice`` alone no answer is coming)
            answered = asyncio.get_running_loop().create_future()
            self._first = answered
            with contextlib.suppress(TimeoutError, TwilioError):
                await asyncio.wait_for(answered, wait)
        await self.disconnect()

    async def disconnect(self) -> None:
        """Voluntary leave: RSP ``disconnect``, TCMP ``bye``, close 1000."""
        if self.state == "disconnected":
            return
        conn = self._conn
        if conn is not None and conn.state == "open" and self.session is not None:
            with contextlib.suppress(ConnectionError, aiohttp.ClientError, RuntimeError):
                await conn.send(p.Disconnect(session=self.session))
        self._end(None)
        await self.wait_closed()

    def _end(self, error: TwilioError | None) -> None:
        if self.state == "disconnected":
            return
        self._set_state("disconnected", error)
        for task in (self._sender, self._reconnect_task):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        self._closing = asyncio.get_running_loop().create_task(self._shutdown())

    async def _shutdown(self) -> None:
        await self._close_connection()
        await self._http.close()

    async def _close_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    async def wait_closed(self) -> None:
        if self._closing is not None:
            await asyncio.shield(self._closing)

    def _set_state(self, state: TransportState, error: TwilioError | None) -> None:
        if state == self.state:
            return
        self.state = state
        self._on_state(state, error)
