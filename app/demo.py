"""``confab demo``: an embedded dev server and three bots in one room, in this process.

The server (``confab-server --dev`` in-process, on a free loopback port, data in a temporary
directory) and the bots (``app.bot.Bot``) run as asyncio tasks on the app's own loop. The bots
take turns speaking; one mutes and unmutes its microphone, one chats, every few seconds.
Video is kept small (320×240 @ 15 fps): every stream is encoded once per receiver in a mesh.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import tempfile
from collections.abc import Sequence
from typing import Any

from app.bot import Bot, parser as bot_parser
from server.app import RunningServer, start_server

__all__ = ["BOT_NAMES", "CHAT_LINES", "DEMO_ROOM", "Demo"]

log = logging.getLogger(__name__)

DEMO_ROOM = "demo"
BOT_NAMES = ("Ada", "Grace", "Linus")
CHAT_LINES = (
    "Hi everyone!",
    "Can you all hear me?",
    "The build is green again.",
    "Let's ship it on Friday.",
    "I'll write the release notes.",
    "Anything else for today?",
)


class _Discard:
    """A write-only sink for the bots' JSON event lines."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


class Demo:
    """The demo's server and bots. ``await start()`` → server URL; ``await close()``."""

    def __init__(
        self,
        *,
        room: str = DEMO_ROOM,
        names: Sequence[str] = BOT_NAMES,
        size: tuple[int, int] = (320, 240),
        fps: float = 15,
        room_type: str = "group",
        turn_s: float = 3.0,
        mute_every_s: float = 4.0,
        chat_every_s: float = 5.0,
    ) -> None:
        self.room = room
        self.names = tuple(names)
        self.size = size
        self.fps = fps
        self.room_type = room_type
        self.turn_s = turn_s
        self.mute_every_s = mute_every_s
        self.chat_every_s = chat_every_s
        self.server: RunningServer | None = None
        self.bots: list[Bot] = []
        self._bot_tasks: list[asyncio.Task[int]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        if self.server is None:
            raise RuntimeError("the demo is not started")
        return self.server.url

    async def start(self, timeout: float = 15.0) -> str:
        """Start the server, connect the bots and their routines; the server's URL."""
        self._tmp = tempfile.TemporaryDirectory(prefix="confab-demo-")
        self.server = await start_server("127.0.0.1", 0, self._tmp.name, dev=True,
                                         default_room_type=self.room_type)
        width, height = self.size
        loop = asyncio.get_running_loop()
        for name in self.names:
            args = bot_parser().parse_args([
                "--url", self.server.url, "--room", self.room, "--identity", name,
                "--width", str(width), "--height", str(height), "--fps", str(self.fps),
                "--audio-kind", "speech", "--look", "avatar", "--report-interval", "3600",
            ])
            bot = Bot(args, out=_Discard())
            self.bots.append(bot)
            self._bot_tasks.append(loop.create_task(bot.run(), name=f"demo bot {name}"))
        await asyncio.wait_for(self._connected(), timeout)
        self._tasks = [loop.create_task(self._take_turns(), name="demo turns")]
        if len(self.bots) > 1:
            self._tasks.append(loop.create_task(self._toggle_mic(self.bots[1]), name="demo mute"))
        if len(self.bots) > 2:
            self._tasks.append(loop.create_task(self._chat(self.bots[2]), name="demo chat"))
        return self.server.url

    async def _connected(self) -> None:
        while not all(bot.room is not None for bot in self.bots):
            failed = [t for t in self._bot_tasks if t.done()]
            if failed:
                raise RuntimeError(f"a demo bot could not join (exit {failed[0].result()})")
            await asyncio.sleep(0.02)

    async def _take_turns(self) -> None:
        for turn in itertools.count():
            speaker = turn % len(self.bots)
            for i, bot in enumerate(self.bots):
                if bot.audio_source is not None:
                    bot.audio_source.set_speaking(i == speaker)
            await asyncio.sleep(self.turn_s)

    async def _toggle_mic(self, bot: Bot) -> None:
        while True:
            await asyncio.sleep(self.mute_every_s)
            if bot.audio is not None:
                bot.audio.enable(not bot.audio.is_enabled)

    async def _chat(self, bot: Bot) -> None:
        for line in itertools.cycle(CHAT_LINES):
            await asyncio.sleep(self.chat_every_s)
            if bot.data is not None:
                bot.data.send(line)

    async def close(self) -> None:
        """Stop the routines, disconnect the bots, stop the server (idempotent)."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for bot in self.bots:
            bot.left.set()
        bot_tasks, self._bot_tasks = self._bot_tasks, []
        if bot_tasks:
            _done, pending = await asyncio.wait(bot_tasks, timeout=5.0)
            for bot_task in pending:
                bot_task.cancel()
            await asyncio.gather(*bot_tasks, return_exceptions=True)
        for bot in self.bots:  # Bot.run leaves the room but its tracks are its caller's
            for track in (bot.audio, bot.video):
                if track is not None:
                    track.stop()
        server, self.server = self.server, None
        if server is not None:
            await server.close()
        tmp, self._tmp = self._tmp, None
        if tmp is not None:
            tmp.cleanup()

    async def __aenter__(self) -> Demo:
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()
