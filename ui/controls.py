"""ControlBar: the room's buttons (mic, camera, screen, chat, participants, stats, leave).

Signals fire only on user action (click or shortcut). The ``set_*`` methods
reflect state decided elsewhere (the bridge, after the SDK acted) and never
re-emit. Shortcuts, as in Google Meet: Ctrl+D toggles the microphone, Ctrl+E
the camera (⌘D / ⌘E on macOS, where Qt maps Ctrl to Command); they work
anywhere in the window.
"""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, QSize, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QSizePolicy, QToolButton, QWidget

from ui.resources import icon

__all__ = ["CAMERA_SHORTCUT", "HAND_SHORTCUT", "ControlBar", "MIC_SHORTCUT"]

MIC_SHORTCUT = "Ctrl+D"
CAMERA_SHORTCUT = "Ctrl+E"
HAND_SHORTCUT = "Ctrl+Alt+H"


class ControlBar(QWidget):
    """Checkable buttons; objectNames ``mic-button``, ``camera-button``, ``screen-button``,
    ``chat-button``, ``participants-button``, ``stats-button``, ``leave-button``."""

    mic_toggled = Signal(bool)  # True = muted
    camera_toggled = Signal(bool)  # True = paused
    screen_toggled = Signal(bool)  # True = sharing
    chat_toggled = Signal(bool)  # True = panel open
    participants_toggled = Signal(bool)
    stats_toggled = Signal(bool)
    hand_toggled = Signal(bool)  # True = raised
    leave_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("control-bar")
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.setSpacing(10)

        self.mic_button = self._button("mic-button", "mic", self.mic_toggled)
        self.camera_button = self._button("camera-button", "camera", self.camera_toggled)
        self.screen_button = self._button("screen-button", "screen", self.screen_toggled)
        self.chat_button = self._button("chat-button", "chat", self.chat_toggled)
        self.participants_button = self._button(
            "participants-button", "people", self.participants_toggled)
        self.stats_button = self._button("stats-button", "stats", self.stats_toggled)
        self.hand_button = self._button("hand-button", "hand", self.hand_toggled)
        self.leave_button = self._button("leave-button", "leave", None)
        self.leave_button.clicked.connect(lambda: self.leave_requested.emit())

        layout.addStretch(1)
        for b in (self.mic_button, self.camera_button, self.screen_button, self.hand_button):
            layout.addWidget(b)
        layout.addSpacing(18)
        for b in (self.chat_button, self.participants_button, self.stats_button):
            layout.addWidget(b)
        layout.addSpacing(18)
        layout.addWidget(self.leave_button)
        layout.addStretch(1)

        self._mic_shortcut = self._shortcut(MIC_SHORTCUT, self.mic_button)
        self._camera_shortcut = self._shortcut(CAMERA_SHORTCUT, self.camera_button)
        self._hand_shortcut = self._shortcut(HAND_SHORTCUT, self.hand_button)
        self._chat_unread = 0
        self._refresh()

    # ------------------------------------------------------------------ state

    @property
    def mic_muted(self) -> bool:
        return self.mic_button.isChecked()

    @property
    def camera_paused(self) -> bool:
        return self.camera_button.isChecked()

    @property
    def screen_sharing(self) -> bool:
        return self.screen_button.isChecked()

    @property
    def chat_open(self) -> bool:
        return self.chat_button.isChecked()

    @property
    def participants_open(self) -> bool:
        return self.participants_button.isChecked()

    @property
    def stats_open(self) -> bool:
        return self.stats_button.isChecked()

    @property
    def chat_unread(self) -> int:
        return self._chat_unread

    def set_mic_muted(self, muted: bool) -> None:
        self._set_checked(self.mic_button, muted)

    def set_camera_paused(self, paused: bool) -> None:
        self._set_checked(self.camera_button, paused)

    @property
    def hand_raised(self) -> bool:
        return self.hand_button.isChecked()

    def set_hand_raised(self, raised: bool) -> None:
        self._set_checked(self.hand_button, raised)

    def set_screen_sharing(self, sharing: bool) -> None:
        self._set_checked(self.screen_button, sharing)

    def set_chat_open(self, open_: bool) -> None:
        self._set_checked(self.chat_button, open_)

    def set_participants_open(self, open_: bool) -> None:
        self._set_checked(self.participants_button, open_)

    def set_stats_open(self, open_: bool) -> None:
        self._set_checked(self.stats_button, open_)

    def set_chat_unread(self, count: int) -> None:
        """Unread messages shown on the chat button (0 hides the count)."""
        self._chat_unread = max(0, int(count))
        self._refresh()

    def set_screen_share_available(self, available: bool) -> None:
        self.screen_button.setEnabled(available)
        self._refresh()

    # ------------------------------------------------------------------ internals

    def _button(self, name: str, icon_name: str, signal: Signal | None) -> QToolButton:
        button = QToolButton(self)
        button.setObjectName(name)
        button.setIcon(icon(icon_name))
        button.setIconSize(QSize(22, 22))
        button.setMinimumSize(QSize(44, 44))
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        if signal is not None:
            button.setCheckable(True)
            # clicked(bool) fires on user action only, never on setChecked().
            button.clicked.connect(lambda *_: signal.emit(button.isChecked()))
        button.toggled.connect(self._refresh)
        return button

    def _shortcut(self, keys: str, button: QToolButton) -> QShortcut:
        shortcut = QShortcut(QKeySequence(keys), self)
        shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
        shortcut.activated.connect(lambda: button.click() if button.isEnabled() else None)
        return shortcut

    def _set_checked(self, button: QToolButton, checked: bool) -> None:
        with QSignalBlocker(button):
            button.setChecked(bool(checked))
        self._refresh()

    def _refresh(self, *_: object) -> None:
        mic = QKeySequence(MIC_SHORTCUT).toString(QKeySequence.SequenceFormat.NativeText)
        cam = QKeySequence(CAMERA_SHORTCUT).toString(QKeySequence.SequenceFormat.NativeText)
        muted, paused = self.mic_button.isChecked(), self.camera_button.isChecked()
        self.mic_button.setIcon(icon("mic-off" if muted else "mic"))
        self._describe(self.mic_button,
                       f"{'Unmute' if muted else 'Mute'} microphone ({mic})")
        self.camera_button.setIcon(icon("camera-off" if paused else "camera"))
        self._describe(self.camera_button,
                       f"{'Turn on' if paused else 'Turn off'} camera ({cam})")
        if not self.screen_button.isEnabled():
            screen = "Screen sharing is not available"
        else:
            screen = "Stop sharing screen" if self.screen_button.isChecked() else "Share screen"
        self._describe(self.screen_button, screen)
        chat = "Hide chat" if self.chat_button.isChecked() else "Show chat"
        if self._chat_unread:
            chat += f" ({self._chat_unread} unread)"
        self._describe(self.chat_button, chat)
        self.chat_button.setText(str(self._chat_unread) if self._chat_unread else "")
        self.chat_button.setToolButtonStyle(
            Qt.ToolButtonStyle.ToolButtonTextBesideIcon if self._chat_unread
            else Qt.ToolButtonStyle.ToolButtonIconOnly)
        self._describe(self.participants_button,
                       "Hide participants" if self.participants_button.isChecked()
                       else "Show participants")
        self._describe(self.stats_button,
                       "Hide call statistics" if self.stats_button.isChecked()
                       else "Show call statistics")
        self._describe(self.leave_button, "Leave call")
        hand = QKeySequence(HAND_SHORTCUT).toString(QKeySequence.SequenceFormat.NativeText)
        self._describe(self.hand_button,
                       f"{'Lower' if self.hand_button.isChecked() else 'Raise'} hand ({hand})")

    @staticmethod
    def _describe(button: QToolButton, text: str) -> None:
        button.setToolTip(text)
        button.setAccessibleName(text)
