"""The ``/signaling`` WebSocket: TCMP v2 framing, heartbeats, and the RSP session on top.

One ``Connection`` per WebSocket. It decodes and validates every frame and body with
``core.protocol``; anything malformed, unknown, oversize or out of order gets RSP
``error 53004`` and the connection closes (nobody else is affected). Outgoing messages
go through a bounded queue drained by a writer task, so the room registry never waits on
a slow socket. States: ``new`` (waiting for ``hello``) → ``open`` (welcomed) → ``closed``;
the RSP side is "not joined" until ``connect``/``sync`` succeed.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import WSMsgType, web

from core import protocol as p
from core.errors import (
    SignalingConnectionError,
    SignalingConnectionTimeoutError,
    SignalingOutgoingMessageInvalidError,
    SignalingServerBusyError,
    TwilioError,
)
from core.token import identity_of, verify_access_token

from .appkey import STATE
from .ratelimit import TokenBucket
from .turn import TurnCredentials

if TYPE_CHECKING:
    from .app import ServerState
    from .rooms import Participant

log = logging.getLogger(__name__)

#: aiohttp refuses (close 1009) frames beyond this; up to it we answer 53004 ourselves.
WS_HARD_LIMIT = 4 * p.MAX_MESSAGE_BYTES
_HEARTBEAT = p.encode(p.Heartbeat())
#: The kernel send buffer of a signaling socket (Linux doubles it). Signaling is small; without a
#: bound, autotuning lets a client that never reads park megabytes in the kernel.
SOCKET_SEND_BUFFER = 128 * 1024
#: How long a server-initiated close waits for the client's close frame.
CLOSE_TIMEOUT_S = 2.0


class ProtocolViolation(Exception):
    """A client frame or body we cannot accept (→ 53004)."""


class Connection:
    """A signaling WebSocket and, once joined, the ``Sink`` of its participant."""

    def __init__(self, state: ServerState, ws: web.WebSocketResponse, peer: str,
                 transport: asyncio.Transport | None = None) -> None:
        self.state = state
        self.config = state.config
        self.ws = ws
        self.peer = peer
        self._transport = transport  # cut at once when the client stops reading
        self._queued_bytes = 0
        self._rate = TokenBucket(self.config.max_messages_per_s, self.config.message_burst)
        self.address = peer.split("#", 1)[0]  # the client's IP address (connection caps)
        self.phase = "new"
        self.participant: Participant | None = None
        self.negotiated_ms = self.config.heartbeat_max_ms
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._closing = False
        self._left = False  # RSP disconnect received
        self._end_session = False  # closed with an error: the participant leaves for good
        now = time.monotonic()
        self._opened = now
        self._last_received = now
        self._last_heartbeat = now

    # --- Sink ---------------------------------------------------------------------------

    def send(self, body: msgspec.Struct) -> None:
        """Queue one RSP body (in a TCMP ``msg``)."""
        self._enqueue(p.msg_frame(body))

    def close(self) -> None:
        """Close after everything queued so far was sent."""
        if not self._closing:
            self._closing = True
            self._queue.put_nowait(None)

    def _enqueue(self, frame: bytes) -> None:
        if self._closing:
            return
        if self._queue.qsize() >= self.config.max_send_queue or \
                self._queued_bytes + len(frame) > self.config.max_send_buffer_bytes:
            self._cut("send queue overflow")
            return
        self._queued_bytes += len(frame)
        self._queue.put_nowait(frame)

    def _cut(self, reason: str) -> None:
        """Drop a client that does not read what we send: its socket closes now, unflushed."""
        log.warning("%s: %s, dropping the connection", self.peer, reason)
        self._closing = True
        if self._transport is not None:
            self._transport.abort()  # the reader ends, run() cleans up
        else:
            asyncio.get_running_loop().create_task(self.ws.close(code=1011, message=reason.encode()))

    def _fail(self, error: TwilioError, *, keep_session: bool = False) -> None:
        """Send RSP ``error`` and close; the participant leaves unless ``keep_session``."""
        if not keep_session:
            self._end_session = True
        self.send(p.Error(code=error.code, message=error.message))
        self.close()

    # --- lifecycle ------------------------------------------------------------------------

    async def run(self) -> None:
        writer = asyncio.create_task(self._writer(), name=f"ws-writer {self.peer}")
        timer = asyncio.create_task(self._timers(), name=f"ws-timers {self.peer}")
        try:
            await self._reader()
        finally:
            self.phase = "closed"
            timer.cancel()
            if not writer.done():
                self.close()
                try:
                    await asyncio.wait_for(writer, timeout=1.0)
                except (TimeoutError, asyncio.CancelledError):
                    writer.cancel()
            participant = self.participant
            if participant is not None and not self._left:
                if self._end_session:
                    self.state.registry.disconnect(participant, reason="signaling error")
                else:
                    self.state.registry.dropped(participant, self)

    async def _writer(self) -> None:
        ws = self.ws
        try:
            while True:
                frame = await self._queue.get()
                if frame is None:
                    break
                self._queued_bytes -= len(frame)
                if ws.closed:
                    return
                try:
                    await asyncio.wait_for(ws.send_str(frame.decode("utf-8")), self.config.send_timeout_s)
                except TimeoutError:
                    self._cut(f"nothing taken for {self.config.send_timeout_s:g} s")
                    return
            if not ws.closed:
                await ws.close(code=1000)
        except (TimeoutError, ConnectionError, RuntimeError) as exc:
            log.debug("%s: send failed: %s", self.peer, exc)
            if not ws.closed:
                await ws.close(code=1011)

    async def _timers(self) -> None:
        """Heartbeats out; silence, handshake and join deadlines in."""
        while True:
            interval = self.negotiated_ms / 1000.0
            tick = max(0.02, min(interval / 4, 0.5))
            await asyncio.sleep(0.1 if self.phase == "new" else tick)
            now = time.monotonic()
            if self.phase == "new":
                if now - self._opened > self.config.handshake_timeout_s:
                    log.info("%s: no hello, closing", self.peer)
                    await self.ws.close(code=1000)
                    return
                continue
            if self.phase != "open":
                return
            # twilio-video.js expects one within negotiatedTimeout + 100 ms, and only
            # heartbeat frames reset that timer: send at 0.7 × interval (+ one tick at worst).
            if now - self._last_heartbeat >= 0.7 * interval:
                self._last_heartbeat = now
                self._enqueue(_HEARTBEAT)
            if now - self._last_received > self.config.missed_heartbeats * interval:
                log.info("%s: silent for %.1f s, dropping", self.peer, now - self._last_received)
                self._fail(SignalingConnectionTimeoutError(), keep_session=True)
                return
            if self.participant is None and now - self._opened > self.config.handshake_timeout_s:
                log.info("%s: never connected, closing", self.peer)
                self._fail(SignalingConnectionTimeoutError("No connect message"))
                return

    async def _reader(self) -> None:
        async for message in self.ws:
            if self._closing:
                continue  # draining; the writer closes the socket
            self._last_received = time.monotonic()
            if not self._rate.take():
                self._fail(SignalingOutgoingMessageInvalidError(
                    f"Too many signaling messages: more than {self.config.max_messages_per_s:g} a second"))
                log.warning("%s: message flood, cut off (53004)", self.peer)
                continue
            try:
                if message.type == WSMsgType.TEXT:
                    data = message.data.encode("utf-8", "surrogatepass")
                elif message.type == WSMsgType.BINARY:
                    raise ProtocolViolation("binary frames are not TCMP")
                else:  # ERROR (e.g. a frame beyond WS_HARD_LIMIT): aiohttp closes it
                    log.info("%s: WebSocket error: %s", self.peer, self.ws.exception())
                    break
                self._handle_frame(p.decode_client_frame(data))
            except (ProtocolViolation, p.ProtocolError) as exc:
                self._violation(str(exc))
            except TwilioError as err:
                log.info("%s: %s", self.peer, err)
                self._fail(err)
            except Exception:  # a server bug: report it, keep serving everyone else
                log.exception("%s: internal error while handling a message", self.peer)
                self._fail(SignalingConnectionError("Internal server error"))

    def _violation(self, reason: str) -> None:
        reason = reason if len(reason) <= 200 else reason[:200] + "…"
        log.info("%s: invalid signaling message: %s", self.peer, reason)
        if self.phase == "new":
            self._enqueue(p.encode(p.Bad(reason=reason)))
        self._fail(SignalingOutgoingMessageInvalidError(
            f"{SignalingOutgoingMessageInvalidError.default_message}: {reason}"))

    # --- TCMP -----------------------------------------------------------------------------

    def _handle_frame(self, frame: Any) -> None:
        if isinstance(frame, p.Hello):
            if self.participant is not None:
                raise ProtocolViolation("hello after the session started")
            if frame.version != p.TCMP_VERSION:
                raise ProtocolViolation(f"unsupported TCMP version {frame.version}")
            self.negotiated_ms = max(self.config.heartbeat_min_ms,
                                     min(self.config.heartbeat_max_ms, frame.timeout))
            self.phase = "open"
            self._last_heartbeat = time.monotonic()
            self._enqueue(p.encode(p.Welcome(negotiated_timeout=self.negotiated_ms)))
            if bytes(frame.body) != b"null":
                self._handle_body(frame.body)
            return
        if self.phase == "new":
            raise ProtocolViolation(f"expected hello, got {type(frame).__name__.lower()}")
        if isinstance(frame, p.Msg):
            self._handle_body(frame.body)
        elif isinstance(frame, p.Bye):
            self.close()
        # Heartbeat: receiving it was enough.

    # --- RSP ------------------------------------------------------------------------------

    def _verify(self, token: str) -> dict[str, Any]:
        creds = self.state.credentials
        return verify_access_token(token, creds.secrets, account_sid=creds.account_sid)

    def _handle_body(self, raw: msgspec.Raw) -> None:
        body = p.decode_client_body(raw)
        registry = self.state.registry
        participant = self.participant
        if isinstance(body, p.Update):
            if participant is None:
                raise ProtocolViolation("update before connect")
            registry.update(participant, body)
        elif isinstance(body, p.Disconnect):
            if participant is None:
                self.close()
                return
            if body.session != participant.session:
                raise ProtocolViolation("disconnect for another session")
            self._left = True
            registry.disconnect(participant, reason="left")
            self.close()
        elif participant is not None:
            raise ProtocolViolation(f"{type(body).__name__.lower()} after the session started")
        elif isinstance(body, p.IceRequest):
            identity = identity_of(self._verify(body.token))
            self.send(p.Iced(ice_servers=TurnCredentials.of(self.config).ice_servers(identity)))
        elif isinstance(body, p.Connect):
            claims = self._verify(body.token)
            self.participant = registry.connect(claims, body, self)
        elif isinstance(body, p.Sync):
            try:
                claims = self._verify(body.token)
            except TwilioError:
                registry.resume_refused(body.session)  # e.g. 20104: it leaves now, not at the timeout
                raise
            self.participant = registry.sync(claims, body, self)


async def handle_signaling(request: web.Request) -> web.StreamResponse:
    """GET /signaling: upgrade and serve one TCMP connection."""
    state: ServerState = request.app[STATE]
    ws = web.WebSocketResponse(max_msg_size=WS_HARD_LIMIT, autoping=True, heartbeat=None,
                               timeout=CLOSE_TIMEOUT_S)
    if not ws.can_prepare(request).ok:
        return web.json_response({"code": 53000, "message": "WebSocket upgrade required",
                                  "status": 400}, status=400)
    address = request.remote or "?"
    from_address = sum(1 for c in state.connections if c.address == address)
    if len(state.connections) >= state.config.max_connections or \
            from_address >= state.config.max_connections_per_address:
        log.warning("signaling connection from %s refused: %d open (%d from it)", address,
                    len(state.connections), from_address)
        busy = SignalingServerBusyError()
        return web.json_response({"code": busy.code, "message": busy.message, "status": 503}, status=503)
    await ws.prepare(request)
    sock = request.transport.get_extra_info("socket") if request.transport is not None else None
    if sock is not None:  # a fixed kernel buffer: a client that stops reading is noticed within it
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_SEND_BUFFER)
    peer = f"{address}#{id(ws) & 0xffff:04x}"
    connection = Connection(state, ws, peer, request.transport)
    state.connections.add(connection)
    try:
        await connection.run()
    finally:
        state.connections.discard(connection)
    return ws
