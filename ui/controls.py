"""ControlBar: the room's buttons (mic, camera, screen, devices, chat, participants, stats, leave).

Signals fire only on user action (click or shortcut). The ``set_*`` methods
reflect state decided elsewhere (the bridge, after the SDK acted) and never
re-emit. Shortcuts, as in Google Meet: Ctrl+D toggles the microphone, Ctrl+E
the camera (⌘D / ⌘E on macOS, where Qt maps Ctrl to Command); they work
anywhere in the window.

The devices button opens ``device-menu``: the cameras, microphones and speakers
(``set_devices``), the current ones checked; choosing one emits
``device_chosen(kind, id)`` with kind ``videoinput``/``audioinput``/``audiooutput``.
With more than one screen or window to share (``set_screens``), the screen button
opens ``screen-menu`` first and the choice emits ``screen_chosen(id)``.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QPoint, QSignalBlocker, QSize, Qt, Signal, SignalInstance
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QMenu, QSizePolicy, QToolButton, QWidget

from ui.resources import icon

__all__ = ["CAMERA_SHORTCUT", "DEVICE_KINDS", "HAND_SHORTCUT", "ControlBar", "MIC_SHORTCUT"]

MIC_SHORTCUT = "Ctrl+D"
CAMERA_SHORTCUT = "Ctrl+E"
HAND_SHORTCUT = "Ctrl+Alt+H"
#: The device menu's sections: (kind, title).
DEVICE_KINDS = (("videoinput", "Camera"), ("audioinput", "Microphone"), ("audiooutput", "Speaker"))


class ControlBar(QWidget):
    """Checkable buttons; objectNames ``mic-button``, ``camera-button``, ``screen-button``,
    ``devices-button``, ``chat-button``, ``participants-button``, ``stats-button``,
    ``leave-button``."""

    mic_toggled = Signal(bool)  # True = muted
    camera_toggled = Signal(bool)  # True = paused
    screen_toggled = Signal(bool)  # True = sharing
    chat_toggled = Signal(bool)  # True = panel open
    participants_toggled = Signal(bool)
    stats_toggled = Signal(bool)
    hand_toggled = Signal(bool)  # True = raised
    leave_requested = Signal()
    device_chosen = Signal(str, str)  # kind, device id
    screen_chosen = Signal(str)  # device id of the screen or window to share
    devices_wanted = Signal()  # a menu of devices or screens is about to show: list them again

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("control-bar")
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.setSpacing(10)

        self.mic_button = self._button("mic-button", "mic", self.mic_toggled)
        self.camera_button = self._button("camera-button", "camera", self.camera_toggled)
        self.screen_button = self._button("screen-button", "screen", None)
        self.screen_button.setCheckable(True)
        self.screen_button.clicked.connect(self._on_screen_clicked)
        self.screen_menu = QMenu(self)
        self.screen_menu.setObjectName("screen-menu")
        self._screens: list[tuple[str, str]] = []
        self.devices_button = self._button("devices-button", "devices", None)
        self.device_menu = QMenu(self)
        self.device_menu.setObjectName("device-menu")
        self.devices_button.setMenu(self.device_menu)
        self.device_menu.aboutToShow.connect(self.devices_wanted.emit)  # a headset plugged in meanwhile
        self.devices_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self._device_lists: dict[str, tuple[list[tuple[str, str]], str | None]] = {}
        self._device_actions: dict[str, list[QAction]] = {}
        self.chat_button = self._button("chat-button", "chat", self.chat_toggled)
        self.participants_button = self._button(
            "participants-button", "people", self.participants_toggled)
        self.stats_button = self._button("stats-button", "stats", self.stats_toggled)
        self.hand_button = self._button("hand-button", "hand", self.hand_toggled)
        self.leave_button = self._button("leave-button", "leave", None)
        self.leave_button.clicked.connect(lambda: self.leave_requested.emit())

        layout.addStretch(1)
        for b in (self.mic_button, self.camera_button, self.screen_button, self.hand_button,
                  self.devices_button):
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

    def set_devices(self, kind: str, devices: Sequence[tuple[str, str]], current: str | None) -> None:
        """The ``(id, name)`` choices of one section of the device menu, ``current`` checked."""
        self._device_lists[kind] = (list(devices), current)
        self.device_menu.clear()
        self._device_actions = {}
        for section, title in DEVICE_KINDS:
            if section not in self._device_lists:
                continue
            choices, chosen = self._device_lists[section]
            self.device_menu.addSection(title)
            group = QActionGroup(self.device_menu)
            actions = []
            for device_id, name in choices:
                action = self.device_menu.addAction(name)
                action.setCheckable(True)
                action.setData(device_id)
                action.setChecked(device_id == chosen)
                action.setActionGroup(group)
                action.triggered.connect(
                    lambda _=False, k=section, d=device_id: self.device_chosen.emit(k, d))
                actions.append(action)
            self._device_actions[section] = actions

    def set_current_device(self, kind: str, device_id: str) -> None:
        """Check ``device_id`` in its section (after a switch succeeded or failed)."""
        if kind in self._device_lists:
            self._device_lists[kind] = (self._device_lists[kind][0], device_id)
        for action in self.device_actions(kind):
            with QSignalBlocker(action):
                action.setChecked(action.data() == device_id)

    def device_actions(self, kind: str) -> list[QAction]:
        """The menu's entries for ``kind`` (their ``data()`` is the device id)."""
        return list(self._device_actions.get(kind, []))

    def current_device(self, kind: str) -> str | None:
        checked = next((a for a in self.device_actions(kind) if a.isChecked()), None)
        return checked.data() if checked is not None else None

    def set_screens(self, screens: Sequence[tuple[str, str]]) -> None:
        """The ``(id, name)`` screens and windows the screen button offers."""
        self._screens = list(screens)
        self.screen_menu.clear()
        for device_id, name in self._screens:
            action = self.screen_menu.addAction(name)
            action.setData(device_id)
            action.triggered.connect(lambda _=False, d=device_id: self._choose_screen(d))

    # ------------------------------------------------------------------ internals

    def _on_screen_clicked(self) -> None:
        sharing = self.screen_button.isChecked()
        if sharing:
            self.devices_wanted.emit()  # windows open and close: list them as they are now
        if sharing and len(self._screens) > 1:  # ask what first; sharing starts on the choice
            self._set_checked(self.screen_button, False)
            self.screen_menu.popup(self.screen_button.mapToGlobal(QPoint(0, 0)))
            return
        if sharing and self._screens:
            self.screen_chosen.emit(self._screens[0][0])
        self.screen_toggled.emit(sharing)

    def _choose_screen(self, device_id: str) -> None:
        self.screen_chosen.emit(device_id)
        self.screen_toggled.emit(True)

    def _button(self, name: str, icon_name: str, signal: SignalInstance | None) -> QToolButton:
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
        self._describe(self.devices_button, "Camera, microphone and speaker")
        hand = QKeySequence(HAND_SHORTCUT).toString(QKeySequence.SequenceFormat.NativeText)
        self._describe(self.hand_button,
                       f"{'Lower' if self.hand_button.isChecked() else 'Raise'} hand ({hand})")

    @staticmethod
    def _describe(button: QToolButton, text: str) -> None:
        button.setToolTip(text)
        button.setAccessibleName(text)
