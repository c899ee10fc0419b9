"""Real ``confab-server`` processes restarted under real calls (tests/reliability, bench/restart.py).

``Restartable`` runs the server on one fixed loopback port and data directory, so that a
restart (after SIGTERM or SIGKILL) comes back where the clients look for it. ``Caller`` is one
``core.connect`` participant publishing small video (160×120@10) and a reliable data track,
counting what it receives, so a test can tell when media flows again.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
for folder in ("server", "call"):
    if str(ROOT / "tests" / folder) not in sys.path:
        sys.path.insert(0, str(ROOT / "tests" / folder))

from callutil import FrameLog, camera, until  # noqa: E402
from core import LocalDataTrack, Room, connect  # noqa: E402
from srvutil import ServerProcess  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Restartable:
    """``confab-server --dev`` on a fixed port; ``restart()`` after ``stop(signal)``."""

    def __init__(self, data_dir: Path, *args: str) -> None:
        self.port = free_port()
        self.process = ServerProcess(data_dir, ["--dev", "--port", str(self.port), *args])

    def start(self) -> Restartable:
        self.process.start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def token(self, identity: str, room: str | None = None, ttl: int = 3600) -> str:
        return self.process.token(identity, room, ttl=ttl)

    def stop(self, sig: int) -> None:
        self.process.stop(sig)

    def restart(self) -> float:
        """Start again; returns the monotonic time it accepted connections."""
        self.process.start()  # returns once it printed "listening"
        return time.monotonic()


@dataclass(eq=False)
class Caller:
    """A participant with a camera and a data track; records Room events and what it receives."""

    room: Room
    data: LocalDataTrack
    #: By remote identity: (when subscribed, its frames) of the latest video subscription.
    frames: dict[str, tuple[float, FrameLog]] = field(default_factory=dict)
    messages: dict[str, list[str]] = field(default_factory=dict)
    events: list[tuple[float, str]] = field(default_factory=list)

    @classmethod
    async def join(cls, server: Restartable, identity: str, room: str, **options: Any) -> Caller:
        return await cls.join_with_token(server, server.token(identity, room), room, **options)

    @classmethod
    async def join_with_token(cls, server: Restartable, token: str, room: str, **options: Any) -> Caller:
        data = LocalDataTrack(name="data")
        joined = await connect(token, url=server.url, name=room,
                               tracks=[camera("caller", 160, 120, 10), data], **options)
        caller = cls(joined, data)
        caller._watch()
        return caller

    def _watch(self) -> None:
        room = self.room
        for event in ("reconnecting", "reconnected", "disconnected", "participantConnected",
                      "participantDisconnected", "participantReconnecting", "participantReconnected"):
            room.on(event, lambda *args, event=event: self.events.append((time.monotonic(), event)))
        room.on("trackSubscribed", lambda track, *rest: self._subscribed(track, rest[-1]))
        room.on("trackMessage", lambda data, *rest: self.messages.setdefault(
            rest[-1].identity, []).append(data))
        for participant in room.participants.values():
            for pub in participant.tracks.values():
                if pub.track is not None:
                    self._subscribed(pub.track, participant)

    def _subscribed(self, track: Any, participant: Any) -> None:
        if track.kind == "video":
            log = FrameLog()
            self.frames[participant.identity] = (time.monotonic(), log)
            track.add_sink(log)

    def names(self) -> list[str]:
        return [name for _, name in self.events]

    def first(self, name: str, after: float = 0.0) -> float | None:
        return next((t for t, n in self.events if n == name and t >= after), None)

    async def media_from(self, identity: str, since: float, frames: int = 3, timeout: float = 15.0) -> float:
        """When ``frames`` video frames from ``identity`` had arrived on a subscription made
        after ``since`` (monotonic): media through connections built since then."""
        def enough() -> bool:
            subscribed, log = self.frames.get(identity, (0.0, FrameLog()))
            return subscribed >= since and len(log.times) >= frames

        try:
            await until(enough, timeout)
        except AssertionError:
            raise AssertionError(f"no video from {identity} since the restart: {self.describe()}") from None
        return self.frames[identity][1].times[frames - 1]

    def describe(self) -> str:
        """The Room as this client sees it (for failure messages)."""
        room = self.room
        people = {p.identity: (p.sid, p.state, {pub.track_name: pub.is_subscribed for pub in p.tracks.values()})
                  for p in room.participants.values()}
        media = room._signaling.media
        pcs = {pc_id: (s.role, s.pc.connectionState) for pc_id, s in media.mesh.sessions().items()}
        return (f"{room.local_participant.identity} {room.state}, participants {people}, pcs {pcs}, "
                f"subscriptions {self.frames and {k: len(v[1].times) for k, v in self.frames.items()}}, "
                f"events {self.names()}")

    async def reconnected(self, since: float, timeout: float = 15.0) -> float:
        """When the Room emitted ``reconnected`` after ``since``."""
        return await self.event("reconnected", since, timeout)

    async def event(self, name: str, since: float, timeout: float = 15.0) -> float:
        """When the Room first emitted ``name`` after ``since``."""
        return float(await until(lambda: self.first(name, since), timeout))

    async def data_from(self, identity: str, text: str, timeout: float = 10.0) -> None:
        await until(lambda: text in self.messages.get(identity, []), timeout)


async def leave(*callers: Caller) -> None:
    for caller in callers:
        caller.room.disconnect()
    await asyncio.sleep(0.3)


def cut_signaling(room: Room) -> None:
    """Drop the Room's signaling WebSocket as a network failure would (no close handshake)."""
    connection = room._signaling.transport.session._conn
    connection._ws._conn.transport.abort()


async def create_room(server: Restartable, room_type: str) -> str:
    """A REST-created room of ``room_type``; returns its unique name."""
    import aiohttp

    from srvutil import unique

    name = unique(room_type)
    async with aiohttp.ClientSession(server.url, headers=server.process.auth_headers) as http:
        async with http.post("/v1/Rooms", data={"UniqueName": name, "Type": room_type}) as r:
            assert r.status == 201, await r.text()
    return name
