"""A small TCMP/RSP test client built on ``core.protocol`` (not on core's client).

It keeps every server frame in a queue; ``recv`` returns RSP bodies (heartbeats are
skipped and counted), ``expect`` waits for a body matching a predicate.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp
import msgspec

from core import protocol as p


class Closed(Exception):
    pass


def track(tid: str, kind: str = "audio", name: str | None = None, enabled: bool = True) -> p.LocalTrackState:
    return p.LocalTrackState(id=tid, kind=kind, name=name if name is not None else tid,  # type: ignore[arg-type]  # kind is a test's plain str, not the protocol's Literal
                             enabled=enabled)


class RspClient:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse, session: aiohttp.ClientSession | None) -> None:
        self.ws = ws
        self._own_session = session
        self.frames: asyncio.Queue[Any] = asyncio.Queue()
        self.heartbeats = 0
        self.heartbeat_times: list[float] = []
        self.welcome: p.Welcome | None = None
        self.connected: p.Connected | None = None
        self.session: str | None = None
        self.revision = 0
        self.close_code: int | None = None
        self.closed = asyncio.Event()
        self._reader = asyncio.get_running_loop().create_task(self._read())
        self._beater: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, url: str) -> RspClient:
        session = aiohttp.ClientSession()
        ws = await session.ws_connect(url.rstrip("/") + "/signaling", max_msg_size=0, autoping=True)
        return cls(ws, session)

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                if message.type == aiohttp.WSMsgType.TEXT:
                    frame = p.decode_server_frame(message.data)
                    if isinstance(frame, p.Heartbeat):
                        self.heartbeats += 1
                        self.heartbeat_times.append(time.monotonic())
                        continue
                    await self.frames.put(frame)
        finally:
            self.close_code = self.ws.close_code
            self.closed.set()
            await self.frames.put(Closed())

    # --- sending --------------------------------------------------------------------------

    async def send_raw(self, data: str | bytes) -> None:
        if isinstance(data, bytes):
            await self.ws.send_bytes(data)
        else:
            await self.ws.send_str(data)

    async def send_frame(self, frame: msgspec.Struct | dict[str, Any]) -> None:
        await self.ws.send_str(p.encode(frame).decode())

    async def send(self, body: msgspec.Struct | dict[str, Any]) -> None:
        """One RSP body in a ``msg``."""
        await self.ws.send_str(p.encode({"type": "msg", "body": msgspec.to_builtins(body)}).decode())

    async def hello(self, body: msgspec.Struct | dict[str, Any] | None = None, timeout: int = 5000,
                    heartbeats: bool = True) -> p.Welcome:
        frame: dict[str, Any] = {"type": "hello", "id": str(uuid.uuid4()), "version": 2, "timeout": timeout}
        if body is not None:
            frame["body"] = msgspec.to_builtins(body)
        await self.send_frame(frame)
        welcome = await self.next_frame()
        assert isinstance(welcome, p.Welcome), welcome
        self.welcome = welcome
        if heartbeats:
            self.start_heartbeats()
        return welcome

    def start_heartbeats(self) -> None:
        async def beat() -> None:
            assert self.welcome is not None
            while not self.ws.closed:
                await asyncio.sleep(self.welcome.negotiated_timeout / 1000 / 2)
                try:
                    await self.send_frame(p.Heartbeat())
                except (ConnectionError, RuntimeError):
                    return
        self._beater = asyncio.get_running_loop().create_task(beat())

    def stop_heartbeats(self) -> None:
        if self._beater is not None:
            self._beater.cancel()

    # --- receiving ------------------------------------------------------------------------

    async def next_frame(self, timeout: float = 5.0) -> Any:
        frame = await asyncio.wait_for(self.frames.get(), timeout)
        if isinstance(frame, Closed):
            await self.frames.put(frame)  # keep reporting it
            raise Closed(f"closed with {self.close_code}")
        return frame

    async def recv(self, timeout: float = 5.0) -> p.ServerMessage:
        """The next RSP body (non-``msg`` frames other than heartbeats are errors)."""
        frame = await self.next_frame(timeout)
        assert isinstance(frame, p.Msg), frame
        return p.decode_server_body(frame.body)

    async def expect(self, predicate: Callable[[Any], bool] | type, timeout: float = 5.0) -> Any:
        """Skip bodies until one matches (a type or a predicate)."""
        check = (lambda b: isinstance(b, predicate)) if isinstance(predicate, type) else predicate
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            body = await self.recv(max(0.01, deadline - loop.time()))
            if check(body):
                return body

    async def expect_error(self, timeout: float = 5.0) -> p.Error:
        """The ``error`` body (skipping anything else, and a TCMP ``bad`` frame)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            frame = await self.next_frame(max(0.01, deadline - loop.time()))
            if isinstance(frame, p.Msg):
                body = p.decode_server_body(frame.body)
                if isinstance(body, p.Error):
                    return body

    async def wait_closed(self, timeout: float = 5.0) -> int | None:
        await asyncio.wait_for(self.closed.wait(), timeout)
        return self.close_code

    # --- RSP ------------------------------------------------------------------------------

    def connect_body(self, token: str, name: str | None = None, tracks: list[p.LocalTrackState] = (),  # type: ignore[assignment]  # an immutable () default, never mutated
                     peer_connections: list[p.PeerConnectionMessage] = (),  # type: ignore[assignment]  # an immutable () default, never mutated
                     subscribe: p.Subscribe | None = None) -> p.Connect:
        self.revision = 1
        return p.Connect(token=token, name=name,
                         participant=p.LocalParticipantState(revision=1, tracks=list(tracks)),
                         peer_connections=list(peer_connections), subscribe=subscribe)

    async def connect(self, token: str, name: str | None = None, *, in_hello: bool = True,
                      **kwargs: Any) -> p.Connected:
        body = self.connect_body(token, name, **kwargs)
        if in_hello:
            await self.hello(body)
        else:
            await self.hello()
            await self.send(body)
        reply = await self.recv()
        if isinstance(reply, p.Error):
            raise AssertionError(f"connect failed: {reply.code} {reply.message}")
        assert isinstance(reply, p.Connected), reply
        self.connected = reply
        self.session = reply.session
        return reply

    async def connect_error(self, token: str, name: str | None = None, **kwargs: Any) -> p.Error:
        await self.hello(self.connect_body(token, name, **kwargs))
        reply = await self.recv()
        assert isinstance(reply, p.Error), reply
        return reply

    async def publish(self, tracks: list[p.LocalTrackState]) -> None:
        self.revision += 1
        assert self.session is not None
        await self.send(p.Update(session=self.session,
                                 participant=p.LocalParticipantState(revision=self.revision, tracks=tracks)))

    async def send_pcs(self, entries: list[p.PeerConnectionMessage]) -> None:
        assert self.session is not None
        await self.send(p.Update(session=self.session, peer_connections=entries))

    async def disconnect(self) -> None:
        assert self.session is not None
        await self.send(p.Disconnect(session=self.session))
        await self.send_frame(p.Bye())
        await self.close()

    async def close(self) -> None:
        self.stop_heartbeats()
        await self.ws.close()
        self._reader.cancel()
        if self._own_session is not None:
            await self._own_session.close()
