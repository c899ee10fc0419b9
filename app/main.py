"""``confab``: the desktop app.

    confab                                             # the join screen
    confab join --url http://127.0.0.1:7880 --room standup --name Ada   # token from a --dev server
    confab join --url http://127.0.0.1:7880 --token JWT
    confab demo                                        # embedded server + three bots
    confab open 'http://host:7880/join/standup?token=…' # an invite link: the join screen, filled in

``join`` and ``demo`` (and the bare command) accept ``--screenshot PATH --quit-after S``: after
S seconds save a capture of the window to PATH, leave cleanly and exit 0 (for headless QA with
``QT_QPA_PLATFORM=offscreen``).

With no display at all (no ``$DISPLAY`` / ``$WAYLAND_DISPLAY``), Qt runs offscreen and the
window is captured to ``confab-<command>.png`` every few seconds instead, so ``make demo`` on
a headless machine still shows what it does.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from app.argtypes import log_level

__all__ = ["main", "parser"]

log = logging.getLogger("confab.app")


def _common(subcommand: bool) -> argparse.ArgumentParser:
    # A subcommand's defaults would overwrite the same option given before it: suppress them.
    default: Any = argparse.SUPPRESS if subcommand else None
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--screenshot", metavar="PATH", type=Path, default=default,
                        help="save a window capture here right before quitting (with --quit-after)")
    common.add_argument("--quit-after", metavar="S", type=float, default=default,
                        help="leave and quit after S seconds")
    common.add_argument("--log-level", type=log_level, default=argparse.SUPPRESS if subcommand else "WARNING",
                        help="logging level (default WARNING)")
    common.add_argument("--ca-file", metavar="PEM", type=Path, default=default,
                        help="also trust this certificate or CA for https:// servers ($CONFAB_CA_FILE)")
    return common


def parser() -> argparse.ArgumentParser:
    from core.release import version_line

    ap = argparse.ArgumentParser(prog="confab", parents=[_common(False)],
                                 description="Confab: desktop video conferencing")
    ap.add_argument("--version", action="version", version=version_line("confab"))
    ap.add_argument("--self-test", action="store_true",
                    help="check this installation: a built-in server, a bot and the app in a call "
                         "(offscreen); exit 0 when a remote frame is painted")
    sub = ap.add_subparsers(dest="command", metavar="{join,open,demo}")
    join = sub.add_parser("join", parents=[_common(True)], help="join a room right away")
    join.add_argument("--url", required=True, help="room server, e.g. http://127.0.0.1:7880")
    join.add_argument("--token", help="access token or invite link")
    join.add_argument("--room", help="room name (with --name: token from a --dev server)")
    join.add_argument("--name", help="your name (identity)")
    open_ = sub.add_parser("open", parents=[_common(True)],
                           help="the join screen filled in from an invite link (what a browser opens)")
    open_.add_argument("link", nargs="?", help="(none: just the join screen) "
                       "confab://join?… or http(s)://host:port/join/ROOM[?token=…]")
    demo = sub.add_parser("demo", parents=[_common(True)], help="a local server, three bots and you")
    demo.add_argument("--bots", type=int, default=3, choices=range(0, 4), metavar="N",
                      help="number of bots (0-3, default 3)")
    return ap


def _check(ap: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.command == "join" and not args.token and not (args.room and args.name):
        ap.error("join needs --token, or --room and --name")
    if args.command == "open" and args.link:
        from ui.invite import InviteError, parse_invite

        try:
            parse_invite(args.link)
        except InviteError as exc:
            ap.error(f"not an invite link: {exc}")
    if args.quit_after is not None and args.quit_after < 0:
        ap.error("--quit-after must be >= 0")
    if args.screenshot is not None and args.quit_after is None:
        ap.error("--screenshot needs --quit-after")


LIVE_CAPTURE_S = 5.0


def _headless() -> bool:
    """No screen to show a window on, and nobody chose a Qt platform."""
    if os.environ.get("QT_QPA_PLATFORM") or sys.platform in ("darwin", "win32"):
        return False
    return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def main(argv: list[str] | None = None) -> int:
    ap = parser()
    args = ap.parse_args(argv)
    _check(ap, args)
    if args.ca_file is not None:
        from core.tls import trust_ca_file

        try:
            trust_ca_file(args.ca_file)
        except OSError as exc:
            ap.error(f"--ca-file: {exc}")
    logging.basicConfig(level=str(args.log_level).upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args.live_capture = None
    if args.self_test:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    elif _headless():
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        if args.screenshot is None:
            args.live_capture = Path(f"confab-{args.command or 'app'}.png").resolve()
            print(f"confab: no display; running offscreen and saving the window to {args.live_capture} "
                  f"every {LIVE_CAPTURE_S:g} s (Ctrl+C to stop)", flush=True)

    try:
        import qasync
        from PySide6.QtWidgets import QApplication
    except ImportError as exc:
        print(f"confab: the desktop app needs its ui extra ({exc.name or exc} is missing): "
              "pip install 'confab[ui]'", file=sys.stderr)
        return 1

    from ui.resources import load_stylesheet

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication([sys.argv[0] if sys.argv else "confab"])
    app.setApplicationName("Confab")
    app.setDesktopFileName("confab")  # resources/confab.desktop
    from PySide6.QtGui import QIcon

    from ui.resources import resources_dir

    app.setWindowIcon(QIcon(str(resources_dir() / "icons" / "confab.svg")))
    app.setQuitOnLastWindowClosed(False)  # the coroutine below decides when to stop
    app.setStyleSheet(load_stylesheet())
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        if args.self_test:
            from app.selftest import run as self_test

            return loop.run_until_complete(self_test())
        return loop.run_until_complete(_run(args))
    finally:
        asyncio.set_event_loop(None)
        loop.close()


async def _run(args: argparse.Namespace) -> int:
    from PySide6.QtCore import QTimer

    from app.settings import Settings, load_settings, save_settings
    from ui.join import JoinRequest
    from ui.main_window import MainWindow
    from ui.session import Session

    settings = load_settings()
    window = MainWindow(styled=False)
    demo_mode = args.command == "demo"
    size, fps = ((320, 240), 15.0) if demo_mode else ((640, 480), 24.0)
    session = Session(window, camera_size=size, camera_fps=fps,
                      screen_size=(960, 540) if demo_mode else (1280, 720))
    window.join_screen.set_values(server=settings.server, room=settings.room, name=settings.name)

    def remember(request: JoinRequest) -> None:
        if demo_mode:
            return  # the demo's server lives only as long as the demo
        # The room joined (a token's, when the request named none), not only the one typed.
        room = session.bridge.room_name if session.bridge is not None else request.room
        save_settings(Settings(server=request.server, room=room, name=request.name,
                               camera_id=request.camera_id, mic_id=request.mic_id,
                               speaker_id=request.speaker_id))

    session.joined.connect(remember)
    closed = asyncio.Event()
    window.closing.connect(closed.set)
    # Ctrl+C (or SIGTERM) closes the window (Python handlers run between Qt events).
    previous = {sig: signal.signal(sig, lambda *_: window.close()) for sig in (signal.SIGINT, signal.SIGTERM)}
    ticker = QTimer()
    ticker.start(200)
    ticker.timeout.connect(lambda: None)
    capture = QTimer()
    if args.live_capture is not None:
        capture.timeout.connect(lambda: window.save_screenshot(args.live_capture))
        capture.start(int(float(os.environ.get("CONFAB_LIVE_CAPTURE_S") or LIVE_CAPTURE_S) * 1000))

    window.show()
    session.start(camera_id=settings.camera_id, mic_id=settings.mic_id, speaker_id=settings.speaker_id)
    demo: Any = None
    try:
        if demo_mode:
            from app.demo import BOT_NAMES, DEMO_ROOM, Demo

            demo = Demo(names=BOT_NAMES[: args.bots])
            url = await demo.start()
            window.join_screen.set_values(server=url, room=DEMO_ROOM, name="You", token="")
            if await session.join(_request(window, url, DEMO_ROOM, "You", None)) and session.bridge:
                # Your synthetic microphone never pauses: unmuted, it would out-talk every bot
                # and the dominant-speaker highlight would never move. Ctrl+D unmutes.
                session.bridge.set_mic_muted(True)
        elif args.command == "open" and args.link:
            window.join_screen.set_values(token="")
            window.join_screen.apply_invite(args.link)
        elif args.command == "join":
            window.join_screen.set_values(server=args.url, room=args.room, name=args.name,
                                          token=args.token)
            await session.join(_request(window, args.url, args.room, args.name, args.token))

        waits: list[asyncio.Future[Any]] = [asyncio.ensure_future(closed.wait())]
        if args.quit_after is not None:
            waits.append(asyncio.ensure_future(asyncio.sleep(args.quit_after)))
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waits:
            waiter.cancel()
        if args.screenshot is not None and not closed.is_set() and not window.save_screenshot(args.screenshot):
            log.error("could not save the screenshot to %s", args.screenshot)
    finally:
        # The live capture shows the call to the end: stopped (after one last one) before
        # leaving, so shutdown's join screen never overwrites it.
        capture.stop()
        if args.live_capture is not None and session.in_room:
            window.save_screenshot(args.live_capture)
        await session.close()
        if demo is not None:
            await demo.close()
        ticker.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if not closed.is_set():
            window.close()
        window.deleteLater()
        await _drain()
    return 0


def _request(window: Any, url: str, room: str | None, name: str | None, token: str | None) -> Any:
    """A JoinRequest for the command line (token may be an invite link), with the pickers' devices."""
    from ui.invite import InviteError, parse_invite
    from ui.join import JoinRequest, normalize_server

    join = window.join_screen
    server = normalize_server(url)
    if token:
        try:
            invite = parse_invite(token)
        except InviteError:
            invite = None
        if invite is not None:
            token = invite.token
            room = room or invite.room
            server = invite.server or server
    return JoinRequest(server=server, room=room, name=name, token=token or None,
                       camera_id=join.camera_picker.currentData(), mic_id=join.mic_picker.currentData(),
                       speaker_id=join.speaker_picker.currentData())


async def _drain(timeout: float = 2.0) -> None:
    """Give what is still closing (peer connections, sockets) a moment, then cancel the rest."""
    current = asyncio.current_task()
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        pending = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
        if not pending or asyncio.get_running_loop().time() >= deadline:
            break
        await asyncio.wait(pending, timeout=0.1)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)


if __name__ == "__main__":
    sys.exit(main())
