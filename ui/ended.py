"""EndedScreen: what you see after a call, however it ended.

A meeting that ended normally (53118) or that you left is a calm page ("The meeting has
ended" / "You left the meeting"); a call lost to an error says what happened in words, with the
code in small print (:mod:`ui.messages`). Either way there is "Rejoin" (the same room, the same
devices) and "Back to start" (the join screen).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ui.messages import Message, describe

__all__ = ["EndedScreen"]

LEFT = Message("You left the meeting.", "", "left")


class EndedScreen(QWidget):
    """objectNames: ``ended-screen``, ``ended-card`` (property ``kind``: ended, left, error),
    ``ended-title``, ``ended-detail``, ``rejoin-button``, ``home-button``."""

    rejoin_requested = Signal()
    home_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ended-screen")
        self._message = LEFT
        self.card = QFrame(self)
        self.card.setObjectName("ended-card")
        self.title = QLabel(self.card)
        self.title.setObjectName("ended-title")
        self.title.setWordWrap(True)
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.room_label = QLabel(self.card)
        self.room_label.setObjectName("ended-room")
        self.room_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.detail = QLabel(self.card)
        self.detail.setObjectName("ended-detail")
        self.detail.setWordWrap(True)
        self.detail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.rejoin_button = QPushButton("Rejoin", self.card)
        self.rejoin_button.setObjectName("rejoin-button")
        self.rejoin_button.setDefault(True)
        self.rejoin_button.clicked.connect(self.rejoin_requested)
        self.home_button = QPushButton("Back to start", self.card)
        self.home_button.setObjectName("home-button")
        self.home_button.clicked.connect(self.home_requested)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.home_button)
        buttons.addWidget(self.rejoin_button)
        buttons.addStretch(1)
        inner = QVBoxLayout(self.card)
        inner.setContentsMargins(32, 28, 32, 28)
        inner.setSpacing(12)
        inner.addWidget(self.title)
        inner.addWidget(self.room_label)
        inner.addWidget(self.detail)
        inner.addLayout(buttons)

        outer = QVBoxLayout(self)
        outer.addStretch(1)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.card, 2)
        row.addStretch(1)
        outer.addLayout(row)
        outer.addStretch(2)
        self.show_message(LEFT)

    @property
    def kind(self) -> str:
        return self._message.kind

    @property
    def message(self) -> Message:
        return self._message

    def show_ended(self, code: int, message: str, *, room: str | None = None,
                   server: str | None = None) -> None:
        """After a disconnect: code 0 means you left (or the SDK saw a clean close)."""
        self.show_message(LEFT if not code else describe(code, message, server=server), room=room)

    def show_message(self, message: Message, *, room: str | None = None) -> None:
        self._message = message
        self.title.setText(message.text)
        self.room_label.setText(room or "")
        self.room_label.setVisible(bool(room))
        self.detail.setText(message.detail)
        self.detail.setVisible(bool(message.detail))
        self.card.setProperty("kind", message.kind)
        self.card.style().unpolish(self.card)
        self.card.style().polish(self.card)
