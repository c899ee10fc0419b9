"""RoomView: the in-call screen (tiles, controls, chat, participants, stats, banners).

It is the one façade the bridge drives: plain values in (``add_participant``,
``set_audio_muted``, ``set_frame`` …), user actions out through the child
widgets' signals (``controls.mic_toggled``, ``controls.leave_requested``,
``chat.message_submitted`` …). Local mute/pause buttons change their own checked
state when clicked; the bridge confirms with ``set_audio_muted(local_sid, …)``
(which also syncs the button) once the SDK has acted. Showing and hiding the
chat, participants and stats panels is handled here (only one side panel at a
time); the bridge may also listen to ``controls.stats_toggled`` to poll stats only
while they are shown.

Keys are participant sids; a screen share can be shown as its own tile under any
other key (e.g. ``f"{sid}:screen"``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.identity import display_name
from ui.chat import ChatPanel
from ui.controls import ControlBar
from ui.grid import LayoutMode, TileGrid
from ui.messages import describe
from ui.participants_panel import ParticipantsPanel
from ui.stats_overlay import StatsOverlay, StatsRow
from ui.tile import ParticipantTile

if TYPE_CHECKING:
    import av

__all__ = ["RoomView"]

SIDE_PANEL_WIDTH = 300
INVITE_COPIED_MS = 2500
CHAT_POPUP_MS = 5000

#: Every shortcut of the room, as the help sheet (F1) lists them.
SHORTCUTS: tuple[tuple[str, str], ...] = (
    ("Ctrl+D", "Mute or unmute your microphone"),
    ("Ctrl+E", "Turn your camera off or on"),
    ("Ctrl+Alt+H", "Raise or lower your hand"),
    ("Ctrl+Alt+C", "Show or hide the chat"),
    ("Ctrl+Alt+P", "Pin the speaker (or unpin)"),
    ("Ctrl+I", "Copy the invite link"),
    ("F11", "Full screen (or back)"),
    ("Ctrl+Shift+L", "Leave the meeting (asks first)"),
    ("F1", "Show these shortcuts"),
)


class RoomView(QWidget):
    """objectNames: ``room-view``, ``room-title``, ``invite-button``, ``layout-button``, ``reconnecting-banner``,
    ``room-error``, ``stage``, ``tile-grid``, ``stats-overlay``, ``chat-panel``,
    ``participants-panel``, ``control-bar`` (and every child's own); ``fullscreen-button``,
    ``help-button``, the pop-ups ``leave-confirm`` (``leave-stay-button``,
    ``leave-confirm-button``), ``chat-popup`` and ``shortcuts-help``. Double-click a tile (or
    Ctrl+Alt+P for the speaker) to pin it: the speaker view then features it whoever talks."""

    leave_confirmed = Signal()
    fullscreen_toggled = Signal()
    chat: ChatPanel  # (made further down __init__ than the shortcuts that use them)
    help_sheet: QLabel

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("room-view")
        self._local_sid: str | None = None
        self._tiles: dict[str, ParticipantTile] = {}

        self.title = QLabel(self)
        self.title.setObjectName("room-title")
        self.layout_button = QPushButton("Speaker view", self)
        self.layout_button.setObjectName("layout-button")
        self.layout_button.setCheckable(True)
        self.layout_button.setToolTip("Switch between grid and speaker view")
        self.layout_button.toggled.connect(
            lambda on: self.set_layout("speaker" if on else "grid"))

        self._invite_link = ""
        self.invite_button = QPushButton("Copy invite link", self)
        self.invite_button.setObjectName("invite-button")
        self.invite_button.setToolTip("Copy a link others can open to join this room (Ctrl+I)")
        self.invite_button.clicked.connect(self.copy_invite_link)
        self.invite_button.setEnabled(False)
        self._invite_reset = QTimer(self)
        self._invite_reset.setSingleShot(True)
        self._invite_reset.timeout.connect(lambda: self.invite_button.setText("Copy invite link"))
        self._key("Ctrl+I", self.copy_invite_link)
        self._key("F11", self.fullscreen_toggled.emit)
        self._key("Ctrl+Shift+L", self.ask_leave)
        self._key("Ctrl+Alt+C", lambda: self.set_chat_visible(self.chat.isHidden()))
        self._key("Ctrl+Alt+P", self._pin_speaker)
        self._key("F1", lambda: self.show_shortcuts(self.help_sheet.isHidden()))
        self._key("Ctrl+/", lambda: self.show_shortcuts(self.help_sheet.isHidden()))
        self._key("Escape", self._escape)

        self.fullscreen_button = QPushButton("Full screen", self)
        self.fullscreen_button.setObjectName("fullscreen-button")
        self.fullscreen_button.setToolTip("Full screen (F11)")
        self.fullscreen_button.clicked.connect(self.fullscreen_toggled)
        self.help_button = QPushButton("?", self)
        self.help_button.setObjectName("help-button")
        self.help_button.setToolTip("Keyboard shortcuts (F1)")
        self.help_button.clicked.connect(lambda: self.show_shortcuts(self.help_sheet.isHidden()))
        self._pinned: str | None = None

        self.reconnecting_banner = QLabel("Reconnecting…", self)
        self.reconnecting_banner.setObjectName("reconnecting-banner")
        self.reconnecting_banner.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.reconnecting_banner.hide()

        self.error_banner = QLabel(self)
        self.error_banner.setObjectName("room-error")
        self.error_banner.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.error_banner.setWordWrap(True)
        self.error_banner.hide()

        self.grid = TileGrid(self)
        self.stats = StatsOverlay(self)
        self.stats.hide()
        stage = QWidget(self)
        stage.setObjectName("stage")
        stage_layout = QGridLayout(stage)
        stage_layout.setContentsMargins(8, 8, 8, 8)
        stage_layout.addWidget(self.grid, 0, 0)
        stage_layout.addWidget(self.stats, 0, 0,
                               Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.stats.raise_()

        self.leave_confirm = QFrame(stage)
        self.leave_confirm.setObjectName("leave-confirm")
        question = QLabel("Leave the meeting?", self.leave_confirm)
        question.setObjectName("leave-question")
        self.leave_stay_button = QPushButton("Stay", self.leave_confirm)
        self.leave_stay_button.setObjectName("leave-stay-button")
        self.leave_stay_button.clicked.connect(lambda: self.leave_confirm.hide())
        self.leave_confirm_button = QPushButton("Leave", self.leave_confirm)
        self.leave_confirm_button.setObjectName("leave-confirm-button")
        self.leave_confirm_button.clicked.connect(self._confirm_leave)
        confirm_row = QHBoxLayout(self.leave_confirm)
        confirm_row.setContentsMargins(16, 12, 16, 12)
        confirm_row.addWidget(question)
        confirm_row.addSpacing(12)
        confirm_row.addWidget(self.leave_stay_button)
        confirm_row.addWidget(self.leave_confirm_button)
        self.leave_confirm.hide()
        stage_layout.addWidget(self.leave_confirm, 0, 0, Qt.AlignmentFlag.AlignCenter)

        self.chat_popup = QPushButton(stage)
        self.chat_popup.setObjectName("chat-popup")
        self.chat_popup.setToolTip("Open the chat")
        self.chat_popup.clicked.connect(lambda: self.set_chat_visible(True))
        self.chat_popup.hide()
        self._chat_popup_timer = QTimer(self)
        self._chat_popup_timer.setSingleShot(True)
        self._chat_popup_timer.timeout.connect(self.chat_popup.hide)
        stage_layout.addWidget(self.chat_popup, 0, 0,
                               Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignRight)

        self.help_sheet = QLabel(stage)
        self.help_sheet.setObjectName("shortcuts-help")
        self.help_sheet.setTextFormat(Qt.TextFormat.RichText)
        rows = "".join(f"<tr><td><b>{QKeySequence(keys).toString(QKeySequence.SequenceFormat.NativeText)}"
                       f"</b>&nbsp;&nbsp;</td><td>{what}</td></tr>" for keys, what in SHORTCUTS)
        self.help_sheet.setText(f"<h3>Keyboard shortcuts</h3><table cellspacing='4'>{rows}</table>"
                                "<p>Double-click a tile to pin it. Esc closes this.</p>")
        self.help_sheet.hide()
        stage_layout.addWidget(self.help_sheet, 0, 0, Qt.AlignmentFlag.AlignCenter)

        self.chat = ChatPanel(self)
        self.chat.setFixedWidth(SIDE_PANEL_WIDTH)
        self.chat.hide()
        self.participants = ParticipantsPanel(self)
        self.participants.setFixedWidth(SIDE_PANEL_WIDTH)
        self.participants.hide()

        self.controls = ControlBar(self)
        self.controls.leave_requested.connect(self.ask_leave)
        self.controls.chat_toggled.connect(self.set_chat_visible)
        self.controls.participants_toggled.connect(self.set_participants_visible)
        self.controls.stats_toggled.connect(self.set_stats_visible)

        top = QHBoxLayout()
        top.setContentsMargins(12, 6, 12, 0)
        top.addWidget(self.title, 1)
        top.addWidget(self.invite_button)
        top.addWidget(self.layout_button)
        top.addWidget(self.fullscreen_button)
        top.addWidget(self.help_button)

        body = QHBoxLayout()
        body.setContentsMargins(0, 0, 0, 0)
        body.setSpacing(0)
        body.addWidget(stage, 1)
        body.addWidget(self.chat)
        body.addWidget(self.participants)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(top)
        layout.addWidget(self.reconnecting_banner)
        layout.addWidget(self.error_banner)
        layout.addLayout(body, 1)
        layout.addWidget(self.controls)

    # ------------------------------------------------------------------ participants

    @property
    def local_sid(self) -> str | None:
        return self._local_sid

    def participant_sids(self) -> list[str]:
        return list(self._tiles)

    def tile(self, sid: str) -> ParticipantTile | None:
        return self._tiles.get(sid)

    def add_participant(self, sid: str, identity: str, name: str | None = None,
                        local: bool = False) -> ParticipantTile:
        """Add a tile (and a participants-panel row); returns the tile. Idempotent per sid.

        Without ``name`` the tile shows :func:`ui.identity.display_name` of ``identity``."""
        existing = self._tiles.get(sid)
        if existing is not None:
            return existing
        tile = ParticipantTile(identity, name or display_name(identity), local=local)
        self._tiles[sid] = tile
        if local:
            self._local_sid = sid
        self.grid.add_tile(sid, tile)
        tile.installEventFilter(self)
        self.participants.add_participant(sid, tile.name, local=local)
        return tile

    def remove_participant(self, sid: str) -> None:
        tile = self._tiles.pop(sid, None)
        if tile is None:
            return
        if self._pinned == sid:
            self.pin(None)
        self.grid.remove_tile(sid)
        self.participants.remove_participant(sid)
        if sid == self._local_sid:
            self._local_sid = None
        tile.deleteLater()

    def clear(self) -> None:
        """Remove everyone and reset transient state (after leaving)."""
        for popup in (self.leave_confirm, self.chat_popup, self.help_sheet):
            popup.hide()
        for sid in list(self._tiles):
            self.remove_participant(sid)
        self.chat.clear()
        self.controls.set_chat_unread(0)
        self.stats.set_rows([])
        self.show_reconnecting(False)
        self.clear_error()

    def set_participant_name(self, sid: str, name: str) -> None:
        if (tile := self._tiles.get(sid)) is not None:
            tile.set_name(name)
            self.participants.set_name(sid, tile.name)

    def set_audio_muted(self, sid: str, muted: bool) -> None:
        if (tile := self._tiles.get(sid)) is not None:
            tile.set_audio_muted(muted)
            self.participants.set_audio_muted(sid, muted)
            if sid == self._local_sid:
                self.controls.set_mic_muted(muted)

    def set_hand_raised(self, sid: str, raised: bool) -> None:
        """The raised-hand mark on ``sid``'s tile (and the Hand button for your own)."""
        if (tile := self._tiles.get(sid)) is not None:
            tile.set_hand_raised(raised)
            if sid == self._local_sid:
                self.controls.set_hand_raised(raised)

    def set_video_paused(self, sid: str, paused: bool) -> None:
        if (tile := self._tiles.get(sid)) is not None:
            tile.set_video_paused(paused)
            self.participants.set_video_paused(sid, paused)
            if sid == self._local_sid:
                self.controls.set_camera_paused(paused)

    def set_video_frozen(self, key: str, frozen: bool) -> None:
        """The tile's "Reconnecting…" mark: its video is enabled but nothing arrives."""
        if (tile := self._tiles.get(key)) is not None:
            tile.set_video_frozen(frozen)

    def set_network_quality(self, sid: str, level: int | None) -> None:
        if (tile := self._tiles.get(sid)) is not None:
            tile.set_network_quality(level)

    def set_dominant_speaker(self, sid: str | None) -> None:
        """Highlight ``sid``'s tile (None: nobody); the speaker view follows it."""
        for key, tile in self._tiles.items():
            tile.set_dominant(key == sid)
        self.grid.set_dominant(sid)

    def set_frame(self, sid: str, frame: av.VideoFrame) -> None:
        if (tile := self._tiles.get(sid)) is not None:
            tile.set_frame(frame)

    def clear_video(self, sid: str) -> None:
        if (tile := self._tiles.get(sid)) is not None:
            tile.clear_video()

    # ------------------------------------------------------------------ room-wide

    @property
    def layout_mode(self) -> LayoutMode:
        return self.grid.layout_mode

    def set_layout(self, mode: LayoutMode) -> None:
        self.grid.set_layout(mode)
        self.layout_button.blockSignals(True)
        self.layout_button.setChecked(mode == "speaker")
        self.layout_button.setText("Grid view" if mode == "speaker" else "Speaker view")
        self.layout_button.blockSignals(False)

    # ------------------------------------------------------------------ pin, leave, help

    @property
    def pinned(self) -> str | None:
        return self._pinned

    def pin(self, sid: str | None) -> None:
        """Pin ``sid`` (None: unpin): the speaker view features it, whoever is speaking."""
        sid = sid if sid in self._tiles else None
        for key, tile in self._tiles.items():
            tile.set_pinned(key == sid)
            tile.setToolTip("Pinned: double-click to unpin" if key == sid else "Double-click to pin")
        self._pinned = sid
        self.grid.set_pinned(sid)
        if sid is not None:
            self.set_layout("speaker")

    def toggle_pin(self, sid: str) -> None:
        self.pin(None if self._pinned == sid else sid)

    def _pin_speaker(self) -> None:
        if self._pinned is not None:
            self.pin(None)
        else:
            speaker = self.grid.dominant or self.grid.featured  # grid keys are tile sids
            self.pin(speaker if isinstance(speaker, str) else None)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.MouseButtonDblClick:
            for sid, tile in self._tiles.items():
                if tile is watched:
                    self.toggle_pin(sid)
                    return True
        return super().eventFilter(watched, event)

    def ask_leave(self) -> None:
        """Leave asks first (Stay / Leave); Enter leaves, Esc stays."""
        self.leave_confirm.show()
        self.leave_confirm.raise_()
        self.leave_confirm_button.setFocus()

    @property
    def leave_asked(self) -> bool:
        return not self.leave_confirm.isHidden()

    def _confirm_leave(self) -> None:
        self.leave_confirm.hide()
        self.leave_confirmed.emit()

    def show_shortcuts(self, visible: bool = True) -> None:
        self.help_sheet.setVisible(visible)
        if visible:
            self.help_sheet.raise_()

    def _escape(self) -> None:
        for popup in (self.leave_confirm, self.help_sheet):
            popup.hide()

    def set_fullscreen(self, full: bool) -> None:
        """Reflect the window's state on the button (the window decides)."""
        self.fullscreen_button.setText("Exit full screen" if full else "Full screen")

    def _key(self, keys: str, slot: Callable[[], object]) -> QShortcut:
        shortcut = QShortcut(QKeySequence(keys), self)
        shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
        shortcut.activated.connect(slot)
        return shortcut

    @property
    def invite_link(self) -> str:
        return self._invite_link

    def set_invite_link(self, link: str) -> None:
        """The link "Copy invite link" copies ("" disables the button)."""
        self._invite_link = link
        self.invite_button.setEnabled(bool(link))
        self.invite_button.setText("Copy invite link")

    def copy_invite_link(self) -> bool:
        """Put the invite link on the clipboard; the button says so for a moment."""
        if not self._invite_link:
            return False
        QGuiApplication.clipboard().setText(self._invite_link)
        self.invite_button.setText("Link copied ✓")
        self._invite_reset.start(INVITE_COPIED_MS)  # owned by the view: never outlives the button
        return True

    def set_room_name(self, name: str) -> None:
        self.title.setText(name)

    @property
    def reconnecting(self) -> bool:
        return not self.reconnecting_banner.isHidden()

    def show_reconnecting(self, reconnecting: bool) -> None:
        self.reconnecting_banner.setVisible(bool(reconnecting))

    def show_error(self, code: int | None, message: str) -> None:
        """The human message (:mod:`ui.messages`); the code and raw message in its tooltip and
        in small print after it."""
        shown = describe(code, message)
        self.error_banner.setText(f"{shown.text}  ·  {shown.detail}" if shown.detail else shown.text)
        self.error_banner.setToolTip(shown.detail)
        self.error_banner.show()

    def clear_error(self) -> None:
        self.error_banner.clear()
        self.error_banner.hide()

    def add_chat_message(self, sender: str, text: str, local: bool = False,
                         timestamp: datetime | None = None) -> None:
        self.chat.add_message(sender, text, local, timestamp)
        if not local and self.chat.isHidden():
            self.controls.set_chat_unread(self.controls.chat_unread + 1)
            shown = text if len(text) <= 80 else text[:79] + "…"
            self.chat_popup.setText(f"{sender}: {shown}")
            self.chat_popup.adjustSize()
            self.chat_popup.show()
            self.chat_popup.raise_()
            self._chat_popup_timer.start(CHAT_POPUP_MS)

    def set_stats_rows(self, rows: Iterable[StatsRow | Mapping[str, Any]]) -> None:
        self.stats.set_rows(rows)

    # ------------------------------------------------------------------ panels

    def set_chat_visible(self, visible: bool) -> None:
        if visible:
            self.chat_popup.hide()
            self.set_participants_visible(False)
            self.controls.set_chat_unread(0)
        self.chat.setVisible(visible)
        self.controls.set_chat_open(visible)
        if visible:
            self.chat.input.setFocus()

    def set_participants_visible(self, visible: bool) -> None:
        if visible:
            self.set_chat_visible(False)
        self.participants.setVisible(visible)
        self.controls.set_participants_open(visible)

    def set_stats_visible(self, visible: bool) -> None:
        self.stats.setVisible(visible)
        if visible:
            self.stats.raise_()
        self.controls.set_stats_open(visible)
