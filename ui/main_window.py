"""MainWindow: the join screen and the room view in one stacked window."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from PySide6.QtCore import Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QMainWindow, QStackedWidget, QWidget

from ui.ended import EndedScreen
from ui.join import JoinScreen
from ui.resources import load_stylesheet
from ui.room_view import RoomView

__all__ = ["MainWindow"]

Screen = Literal["join", "room", "ended"]


class MainWindow(QMainWindow):
    """objectNames: ``main-window``, ``screens`` (the stack), ``join-screen``, ``room-view``,
    ``ended-screen`` (after a call: left, ended or lost, with Rejoin).

    ``closing`` fires from ``closeEvent`` so the app can leave the room before exit.
    """

    closing = Signal()

    def __init__(self, parent: QWidget | None = None, *, styled: bool = True) -> None:
        super().__init__(parent)
        self.setObjectName("main-window")
        self.setWindowTitle("Confab")
        self.resize(1280, 800)
        if styled:
            self.setStyleSheet(load_stylesheet())
        self.join_screen = JoinScreen()
        self.room_view = RoomView()
        self.ended_screen = EndedScreen()
        self.stack = QStackedWidget(self)
        self.stack.setObjectName("screens")
        self.stack.addWidget(self.join_screen)
        self.stack.addWidget(self.room_view)
        self.stack.addWidget(self.ended_screen)
        self.setCentralWidget(self.stack)
        self.room_view.fullscreen_toggled.connect(lambda: self.set_fullscreen(not self.isFullScreen()))

    def set_fullscreen(self, full: bool) -> None:
        """Full screen on or off (F11 or the room's button)."""
        if full:
            self.showFullScreen()
        else:
            self.showNormal()
        self.room_view.set_fullscreen(full)

    @property
    def current_screen(self) -> Screen:
        current = self.stack.currentWidget()
        if current is self.room_view:
            return "room"
        return "ended" if current is self.ended_screen else "join"

    def show_join(self) -> None:
        self.join_screen.set_busy(False)
        self.stack.setCurrentWidget(self.join_screen)
        self.setWindowTitle("Confab")

    def show_room(self, room_name: str | None = None) -> None:
        if room_name:
            self.room_view.set_room_name(room_name)
            self.setWindowTitle(f"{room_name} – Confab")
        self.stack.setCurrentWidget(self.room_view)

    def show_ended(self, code: int, message: str, *, room: str | None = None,
                   server: str | None = None) -> None:
        self.ended_screen.show_ended(code, message, room=room, server=server)
        self.stack.setCurrentWidget(self.ended_screen)
        self.setWindowTitle("Confab")
        self.ended_screen.rejoin_button.setFocus()

    def save_screenshot(self, path: str | Path) -> bool:
        """Grab the window's widgets (works offscreen) and save as an image (PNG by suffix).

        Atomic: written to a temporary file beside it, then renamed over ``path``, so a reader
        (or a capture interrupted by shutdown) never sees half an image."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.stem}.partial{path.suffix}")
        if not self.grab().save(str(partial)):
            partial.unlink(missing_ok=True)
            return False
        os.replace(partial, path)
        return True

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.closing.emit()
        super().closeEvent(event)
