"""ChatPanel: the message list and an input line (chat rides on a data track).

The panel does not echo what the user sends: it emits ``message_submitted`` and
the caller (the bridge) adds the message with ``local=True`` once it was sent,
so a message that failed to send never looks delivered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

__all__ = ["ChatMessage", "ChatPanel", "MAX_HISTORY", "MAX_MESSAGE_LENGTH"]

MAX_MESSAGE_LENGTH = 4000  # characters; well under a data channel message's size
MAX_HISTORY = 1000  # oldest messages are dropped past this


@dataclass(frozen=True, slots=True)
class ChatMessage:
    sender: str
    text: str
    local: bool
    timestamp: datetime


class ChatPanel(QWidget):
    """objectNames: ``chat-panel``, ``chat-list``, ``chat-input``, ``chat-send``."""

    message_submitted = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chat-panel")
        self._messages: list[ChatMessage] = []

        title = QLabel("Chat", self)
        title.setObjectName("panel-title")

        self._list = QListWidget(self)
        self._list.setObjectName("chat-list")
        self._list.setWordWrap(True)
        self._list.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self._list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)

        self._input = QLineEdit(self)
        self._input.setObjectName("chat-input")
        self._input.setPlaceholderText("Send a message to everyone")
        self._input.setMaxLength(MAX_MESSAGE_LENGTH)
        self._input.returnPressed.connect(self.submit)
        self._input.textChanged.connect(self._refresh_send)

        self._send = QPushButton("Send", self)
        self._send.setObjectName("chat-send")
        self._send.clicked.connect(self.submit)

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self._input, 1)
        row.addWidget(self._send)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(title)
        layout.addWidget(self._list, 1)
        layout.addLayout(row)
        self._refresh_send()

    @property
    def input(self) -> QLineEdit:
        return self._input

    def messages(self) -> list[ChatMessage]:
        return list(self._messages)

    def add_message(self, sender: str, text: str, local: bool = False,
                    timestamp: datetime | None = None) -> None:
        """Append a message; the list follows the newest one."""
        message = ChatMessage(sender, text, bool(local), timestamp or datetime.now())
        self._messages.append(message)
        who = "You" if message.local else sender
        item = QListWidgetItem(f"{who}  ·  {message.timestamp:%H:%M}\n{text}")
        item.setToolTip(f"{sender} at {message.timestamp:%Y-%m-%d %H:%M:%S}")
        item.setData(Qt.ItemDataRole.UserRole, message.local)
        if message.local:
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            item.setForeground(QColor("#c6dafc"))
        self._list.addItem(item)
        while len(self._messages) > MAX_HISTORY:
            self._messages.pop(0)
            self._list.takeItem(0)
        self._list.scrollToBottom()

    def clear(self) -> None:
        self._messages.clear()
        self._list.clear()

    def set_input_enabled(self, enabled: bool) -> None:
        """Disable the input while there is no data track to send on."""
        self._input.setEnabled(enabled)
        self._refresh_send()

    def submit(self) -> None:
        """Emit ``message_submitted`` with the trimmed input (nothing for blank input)."""
        text = self._input.text().strip()
        if not text or not self._input.isEnabled():
            return
        self._input.clear()
        self.message_submitted.emit(text)

    def _refresh_send(self, *_: object) -> None:
        self._send.setEnabled(self._input.isEnabled() and bool(self._input.text().strip()))
