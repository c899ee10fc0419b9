"""The live harness of the app's tests: a REAL in-process room server, a MainWindow driven by
``ui.session.Session`` and real bots (``app.bot.Bot``), all on one qasync loop.

Use the ``run_live`` fixture (tests/ui/conftest.py): ``run_live(scenario)`` runs the async
``scenario(live)`` with server, window and session set up and torn down in ONE
``run_until_complete``. Conditions are polled inside the loop with :meth:`Live.until`
(``qtbot.waitUntil`` would not run asyncio tasks). Video is tiny (160×120 @ 10 fps).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import qasync
from PySide6.QtGui import QGuiApplication, QImage

from app.bot import Bot, parser as bot_parser
from server.app import RunningServer, start_server
from ui.join import JoinRequest
from ui.main_window import MainWindow
from ui.session import Session
from ui.tile import ParticipantTile

ROOM = "standup"
SIZE = (160, 120)
FPS = 10


class _Discard:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


class Live:
    """One server, one window + session, bots; use inside :func:`run_live`'s coroutine."""

    def __init__(self, server: RunningServer, window: MainWindow, session: Session) -> None:
        self.server = server
        self.window = window
        self.session = session
        self.bots: list[tuple[Bot, asyncio.Task[int]]] = []

    async def until(self, predicate: Callable[[], Any], timeout: float = 8.0, what: str = "") -> Any:
        """Poll ``predicate`` on the loop (Qt events and asyncio tasks both run meanwhile)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if loop.time() > deadline:
                raise AssertionError(f"timed out waiting for {what or predicate}")
            await asyncio.sleep(0.02)

    async def rest(self, path: str, data: dict[str, str]) -> tuple[int, str]:
        """POST to the server's REST API as its operator: (status, body)."""
        c = self.server.credentials
        headers = {"Authorization": aiohttp.encode_basic_auth(c.api_key_sid, c.api_key_secret)}
        async with aiohttp.ClientSession(headers=headers) as http, \
                http.post(f"{self.server.url}/v1/{path}", data=data) as resp:
            return resp.status, await resp.text()

    async def bot(self, identity: str) -> Bot:
        args = bot_parser().parse_args([
            "--url", self.server.url, "--room", ROOM, "--identity", identity,
            "--width", str(SIZE[0]), "--height", str(SIZE[1]), "--fps", str(FPS),
            "--report-interval", "3600",
        ])
        bot = Bot(args, out=_Discard())
        task = asyncio.get_running_loop().create_task(bot.run())
        self.bots.append((bot, task))
        await self.until(lambda: bot.room is not None or task.done(), what=f"{identity} to connect")
        assert bot.room is not None, f"{identity} could not join"
        return bot

    async def remove_bot(self, bot: Bot) -> None:
        for entry in list(self.bots):
            if entry[0] is bot:
                self.bots.remove(entry)
                await _stop_bot(*entry)

    async def join(self, name: str = "Me", *, token: str | None = None, room: str | None = ROOM,
                   server: str | None = None) -> bool:
        request = JoinRequest(server=server or self.server.url, room=room, name=name, token=token,
                              camera_id=None, mic_id=None, speaker_id=None)
        return await self.session.join(request)

    @property
    def local_sid(self) -> str:
        assert self.session.bridge is not None
        return self.session.bridge.local_sid

    def tile_of(self, bot: Bot) -> ParticipantTile | None:
        assert bot.room is not None
        return self.window.room_view.tile(bot.room.local_participant.sid)

    def me_as_seen_by(self, bot: Bot) -> Any:
        assert bot.room is not None
        return bot.room.participants.get(self.local_sid)

    async def close(self) -> None:
        await self.session.close()
        for bot, task in self.bots:
            await _stop_bot(bot, task)
        self.bots.clear()
        await self.server.close()


async def _stop_bot(bot: Bot, task: asyncio.Task[int]) -> None:
    bot.left.set()
    await asyncio.wait_for(task, 5)
    for track in (bot.audio, bot.video):
        if track is not None:
            track.stop()


async def _drain() -> None:
    """Let closing tasks (peer connections, sources) finish; cancel stragglers."""
    current = asyncio.current_task()
    pending: list[asyncio.Task[Any]] = []
    for _ in range(40):
        pending = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
        if not pending:
            return
        await asyncio.wait(pending, timeout=0.05)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


Scenario = Callable[[Live], Coroutine[Any, Any, None]]


def run_live_fixture(qapp: Any, qtbot: Any, tmp_path: Path) -> Iterator[Callable[[Scenario], None]]:
    """``run_live(scenario)``: server, window, session, scenario and teardown in ONE
    ``run_until_complete``, so no asyncio task is left for pytest-qt's ``processEvents``
    between test phases (it would step them while no loop runs)."""
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(960, 600)
    window.show()
    window.activateWindow()  # keyboard shortcuts need the active window (an X display has no WM here)
    qtbot.waitActive(window)

    async def main(scenario: Scenario) -> None:
        server = await start_server("127.0.0.1", 0, tmp_path / "server", dev=True,
                                    default_room_type="peer-to-peer")
        session = Session(window, camera_size=SIZE, camera_fps=FPS, screen_size=(320, 180), screen_fps=5)
        live = Live(server, window, session)
        try:
            session.start()
            await asyncio.wait_for(scenario(live), 40)
        finally:
            await asyncio.wait_for(live.close(), 15)
            await _drain()

    try:
        yield lambda scenario: loop.run_until_complete(main(scenario))
    finally:
        asyncio.set_event_loop(None)
        loop.close()


ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
# The PNG text key naming the Qt platform a screenshot was taken on (tests/ui/test_ui_xvfb_artifacts.py).
PLATFORM_KEY = "Confab-Qt-Platform"


# Qt's own display: a test may point DISPLAY elsewhere later (a second Xvfb to share).
_QT_DISPLAY = os.environ.get("DISPLAY", "")


class _XImage(ctypes.Structure):  # the head of Xlib's XImage, up to what is read here
    _fields_ = [("width", ctypes.c_int), ("height", ctypes.c_int), ("xoffset", ctypes.c_int),
                ("format", ctypes.c_int), ("data", ctypes.c_void_p), ("byte_order", ctypes.c_int),
                ("bitmap_unit", ctypes.c_int), ("bitmap_bit_order", ctypes.c_int), ("bitmap_pad", ctypes.c_int),
                ("depth", ctypes.c_int), ("bytes_per_line", ctypes.c_int), ("bits_per_pixel", ctypes.c_int)]


def _x_window_pixels(window: MainWindow) -> QImage:
    """What the X server holds for ``window``: XGetImage on a connection of its own. Not Qt's
    grabWindow nor QGuiApplication.sync(): under the qasync loop, asyncio stops running after
    Qt's synchronous X round trip (the scenario never resumes)."""
    window.raise_()
    window.repaint()  # paints and flushes the backing store to the X window now
    x = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
    x.XOpenDisplay.restype = ctypes.c_void_p
    x.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x.XGetImage.restype = ctypes.POINTER(_XImage)
    x.XGetImage.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_int, ctypes.c_uint,
                            ctypes.c_uint, ctypes.c_ulong, ctypes.c_int]
    x.XFree.argtypes = [ctypes.c_void_p]
    x.XCloseDisplay.argtypes = [ctypes.c_void_p]
    dpy = x.XOpenDisplay(_QT_DISPLAY.encode())
    assert dpy, f"cannot open display {_QT_DISPLAY!r}"
    try:
        z_pixmap, all_planes = 2, 0xFFFFFFFF
        ximage = x.XGetImage(dpy, int(window.winId()), 0, 0, window.width(), window.height(), all_planes,
                             z_pixmap)
        assert ximage, "XGetImage failed"
        head = ximage.contents
        assert head.bits_per_pixel == 32, head.bits_per_pixel  # 24-bit visuals hold BGRX words
        pixels = ctypes.string_at(head.data, head.bytes_per_line * head.height)
        image = QImage(pixels, head.width, head.height, head.bytes_per_line, QImage.Format.Format_RGB32).copy()
        x.XFree(head.data)
        x.XFree(ximage)
    finally:
        x.XCloseDisplay(dpy)
    return image


def save_artifact(window: MainWindow, name: str) -> Path | None:
    """Save what the X server shows of the window to ``artifacts/NAME`` (CI keeps that folder):
    what a person would see. Only on a real display (the xcb platform, Xvfb in CI:
    tests/ui/test_ui_xvfb_artifacts.py reruns these tests there); offscreen runs only check
    that the window renders."""
    if QGuiApplication.platformName() != "xcb":
        assert not window.grab().isNull()
        return None
    image = _x_window_pixels(window)
    assert image.width() == window.width() and image.height() == window.height(), f"could not grab {name}"
    image.setText(PLATFORM_KEY, QGuiApplication.platformName())
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    partial = path.with_name(f".{path.stem}.partial{path.suffix}")
    assert image.save(str(partial)), f"could not save {path}"
    os.replace(partial, path)  # a reader never sees half an image
    return path
