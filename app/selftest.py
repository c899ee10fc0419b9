"""``confab --self-test``: does this installation hold a working call?

A room server in-process on a free loopback port (a group room, so the forwarder runs too), a
bot publishing video and sound, and the app's own window (offscreen) joining by name; it
passes when the bot's tile has painted a decoded remote frame. Every part a frozen bundle can
lose (Qt's platform plugin, the codecs, the server's modules, the resources) is on that path.
Prints one line per step; exit status 0 when the frame arrived in time, 1 otherwise.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from typing import TextIO

__all__ = ["run"]

ROOM = "self-test"


class _Quiet:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


async def run(timeout: float = 60.0, out: TextIO = sys.stdout) -> int:
    """The self-test on the running (qasync) loop; 0 on success."""
    from app.bot import Bot, parser as bot_parser
    from server.app import start_server
    from ui.join import JoinRequest
    from ui.main_window import MainWindow
    from ui.session import Session

    t0 = time.monotonic()

    def say(text: str) -> None:
        print(f"self-test {time.monotonic() - t0:5.1f} s: {text}", file=out, flush=True)

    window = MainWindow()
    window.resize(640, 400)
    window.show()
    with tempfile.TemporaryDirectory(prefix="confab-self-test-") as data:
        server = await start_server("127.0.0.1", 0, data, dev=True, default_room_type="group")
        say(f"server on {server.url}")
        session = Session(window, camera_size=(160, 120), camera_fps=10)
        bot: Bot | None = None
        bot_task: asyncio.Task[int] | None = None
        try:
            session.start()
            args = bot_parser().parse_args(["--url", server.url, "--room", ROOM, "--identity", "selftest-bot",
                                            "--width", "160", "--height", "120", "--fps", "10",
                                            "--report-interval", "3600"])
            bot = Bot(args, out=_Quiet())
            bot_task = asyncio.get_running_loop().create_task(bot.run())
            request = JoinRequest(server=server.url, room=ROOM, name="Self test", token=None,
                                  camera_id=None, mic_id=None, speaker_id=None)
            if not await asyncio.wait_for(session.join(request), timeout):
                say("FAILED: the app could not join")
                return 1
            say("the app joined")
            deadline = time.monotonic() + timeout
            while True:
                tile = window.room_view.tile(bot.room.local_participant.sid) if bot.room is not None else None
                if tile is not None and tile.painted_frames > 0:
                    say(f"a remote frame painted ({tile.name}): OK")
                    return 0
                if bot_task.done() or time.monotonic() > deadline:
                    say("FAILED: no remote frame" + (" (the bot stopped)" if bot_task.done() else ""))
                    return 1
                await asyncio.sleep(0.05)
        finally:
            await session.close()
            if bot is not None and bot_task is not None:
                bot.left.set()
                await asyncio.wait([bot_task], timeout=5)
                for track in (bot.audio, bot.video):
                    if track is not None:
                        track.stop()
            await server.close()
            window.close()
