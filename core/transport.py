"""TCMP v2 over an aiohttp WebSocket: hello/welcome, heartbeats, msg frames, bye.

This is twilio-video.js's ``TwilioConnection``: one WebSocket, one negotiated heartbeat
interval, RSP bodies inside ``msg`` frames. It knows nothing of rooms; ``SignalingTransport``
in ``core/signaling_transport.py`` builds the connect/sync session on top of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp
import msgspec

from . import protocol as p
from .errors import (
    SignalingConnectionDisconnectedError,
    SignalingConnectionError,
    SignalingConnectionTimeoutError,
    SignalingIncomingMessageInvalidError,
    TwilioError,
)
from .tls import client_ssl, untrusted_message

log = logging.getLogger(__name__)

#: How long to wait for ``welcome`` after each ``hello`` (twilio-video.js: 5 s, 3 attempts).
WELCOME_TIMEOUT_S = 5.0
HELLO_ATTEMPTS = 3
OPEN_TIMEOUT_S = 15.0
MISSED_HEARTBEATS = 3


def signaling_url(url: str) -> str:
    """``http://host:port`` (or ``ws://…``, with or without ``/signaling``) → the WebSocket URL."""
    url = url.rstrip("/")
    if url.startswith("http://"):
        url = "ws://" + url[len("http://"):]
    elif url.startswith("https://"):
        url = "wss://" + url[len("https://"):]
    elif not url.startswith(("ws://", "wss://")):
        url = "ws://" + url
    return url if url.endswith("/signaling") else url + "/signaling"


class TwilioConnection:
    """One TCMP connection. ``on_message`` gets decoded RSP bodies; ``on_close`` gets the
    TwilioError that ended it (``None`` for a local, voluntary close)."""

    def __init__(
        self,
        url: str,
        *,
        on_message: Callable[[p.ServerMessage], None],
        on_close: Callable[[TwilioError | None], None],
        heartbeat_ms: int = p.DEFAULT_HEARTBEAT_MS,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.url = signaling_url(url)
        self.state = "early"
        self._on_message = on_message
        self._on_close = on_close
        self._requested_timeout = heartbeat_ms
        self.negotiated_timeout_ms = heartbeat_ms
        self._own_session = session is None
        self._session = session
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._last_sent = 0.0
        self._last_received = 0.0
        self._closed = asyncio.Event()

    async def open(self, first_body: msgspec.Struct | None = None) -> None:
        """Open the WebSocket and complete the hello/welcome handshake.

        ``first_body`` (an RSP ``connect``/``sync``/``ice``) rides on the hello, as twilio-video.js
        sends it. Raises SignalingConnectionError (53000) when the server never welcomes us.
        """
        self.state = "connecting"
        if self._session is None:
            self._session = aiohttp.ClientSession()
        try:
            self._ws = await asyncio.wait_for(
                self._session.ws_connect(self.url, max_msg_size=p.MAX_MESSAGE_BYTES, autoping=True,
                                         ssl=client_ssl()),
                OPEN_TIMEOUT_S,
            )
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            await self._release()
            self.state = "closed"
            if isinstance(exc, aiohttp.ClientConnectorCertificateError):
                cert_error = exc.certificate_error
                reason = getattr(cert_error, "verify_message", None) or str(cert_error)
                raise SignalingConnectionError(untrusted_message(reason)) from None
            raise SignalingConnectionError(f"Signaling connection error: {exc}") from None
        body = p.Raw(p.encode(first_body)) if first_body is not None else p.NO_BODY
        for _attempt in range(HELLO_ATTEMPTS):
            hello = p.Hello(id=str(uuid.uuid4()), timeout=self._requested_timeout, body=body)
            await self._send_frame(hello)
            welcome = await self._await_welcome()
            if welcome is not None:
                self.negotiated_timeout_ms = max(200, welcome.negotiated_timeout)
                break
        else:
            await self._abort()
            raise SignalingConnectionError("All handshake attempts failed")
        self.state = "open"
        self._last_received = time.monotonic()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._reader()), loop.create_task(self._heartbeats())]

    async def _await_welcome(self) -> p.Welcome | None:
        assert self._ws is not None
        deadline = time.monotonic() + WELCOME_TIMEOUT_S
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                wsmsg = await self._ws.receive(timeout=remaining)
            except TimeoutError:
                return None
            frame = self._decode(wsmsg)
            if frame is None:
                raise await self._fail_open(wsmsg)
            if isinstance(frame, p.Welcome):
                return frame
            if isinstance(frame, p.Msg):  # an error can arrive before welcome
                self._dispatch(frame)
            elif isinstance(frame, (p.Bye, p.Bad)):
                raise await self._fail_open(wsmsg)

    async def _fail_open(self, wsmsg: aiohttp.WSMessage) -> TwilioError:
        await self._abort()
        if wsmsg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING) \
                and wsmsg.data == 1000:
            return SignalingConnectionDisconnectedError()
        return SignalingConnectionError()

    def _decode(self, wsmsg: aiohttp.WSMessage) -> Any:
        if wsmsg.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
            return None
        try:
            return p.decode_server_frame(wsmsg.data)
        except p.ProtocolError as exc:
            log.warning("invalid frame from server: %s", exc)
            return "invalid"

    def _dispatch(self, frame: p.Msg) -> None:
        try:
            body = p.decode_server_body(frame.body)
        except p.ProtocolError as exc:
            log.warning("invalid RSP message from server: %s", exc)
            self._finish(SignalingIncomingMessageInvalidError())
            return
        self._on_message(body)

    async def _reader(self) -> None:
        assert self._ws is not None
        error: TwilioError | None = SignalingConnectionDisconnectedError()
        try:
            async for wsmsg in self._ws:
                self._last_received = time.monotonic()
                frame = self._decode(wsmsg)
                if frame == "invalid":
                    error = SignalingIncomingMessageInvalidError()
                    break
                if isinstance(frame, p.Msg):
                    self._dispatch(frame)
                    if self.state == "closed":
                        return
                elif isinstance(frame, p.Bye):
                    break
                elif isinstance(frame, p.Bad):
                    error = SignalingIncomingMessageInvalidError(frame.reason or None)
                    break
                # heartbeats only refresh _last_received
        except (aiohttp.ClientError, OSError) as exc:
            log.info("signaling socket error: %s", exc)
        self._finish(error)

    async def _heartbeats(self) -> None:
        interval = max(0.05, self.negotiated_timeout_ms / 1000 - 0.2)
        silence_limit = MISSED_HEARTBEATS * self.negotiated_timeout_ms / 1000
        while self.state == "open":
            await asyncio.sleep(min(interval, silence_limit) / 2)
            now = time.monotonic()
            if now - self._last_received > silence_limit:
                log.info("missed %d heartbeats from the server", MISSED_HEARTBEATS)
                self._finish(SignalingConnectionTimeoutError())
                return
            if now - self._last_sent >= interval:
                try:
                    await self._send_frame(p.Heartbeat())
                except (ConnectionError, aiohttp.ClientError, RuntimeError):
                    self._finish(SignalingConnectionDisconnectedError())
                    return

    async def _send_frame(self, frame: msgspec.Struct) -> None:
        assert self._ws is not None
        self._last_sent = time.monotonic()
        await self._ws.send_str(p.encode(frame).decode())  # text frames, as twilio-video.js

    async def send(self, body: msgspec.Struct) -> None:
        """Send one RSP body in a ``msg`` frame. Raises ConnectionError when closed."""
        if self.state != "open" or self._ws is None or self._ws.closed:
            raise ConnectionError("signaling connection is not open")
        await self._send_frame(p.Msg(body=p.Raw(p.encode(body))))

    async def close(self) -> None:
        """Voluntary close: ``bye`` then WebSocket close 1000. Fires ``on_close(None)``."""
        if self.state == "closed":
            return
        if self.state == "open" and self._ws is not None and not self._ws.closed:
            with contextlib.suppress(ConnectionError, aiohttp.ClientError, RuntimeError):
                await self._send_frame(p.Bye())
        self._finish(None)
        await self._abort()

    def _finish(self, error: TwilioError | None) -> None:
        if self.state == "closed":
            return
        self.state = "closed"
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        asyncio.get_running_loop().create_task(self._abort())
        self._on_close(error)

    async def _abort(self) -> None:
        self.state = "closed"
        if self._ws is not None and not self._ws.closed:
            with contextlib.suppress(aiohttp.ClientError, OSError, RuntimeError):
                await self._ws.close(code=1000)
        await self._release()
        self._closed.set()

    async def _release(self) -> None:
        if self._own_session and self._session is not None and not self._session.closed:
            await self._session.close()

    async def wait_closed(self) -> None:
        await self._closed.wait()
