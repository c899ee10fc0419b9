"""JoinScreen: where to connect, as whom, with which devices; emits a JoinRequest.

Pasting an invite link into the token field fills server and room and keeps only
the token there (see :mod:`ui.invite`); a token's (unverified) grants replace the
room and name fields, remembered or not: the token decides both. Device lists come from the caller as
``(id, name)`` pairs (the SDK's ``core.media`` lists, real devices first).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import av
from PySide6.QtCore import QSignalBlocker, Qt, Signal, SignalInstance
from PySide6.QtGui import QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.identity import display_name
from ui.invite import InviteError, looks_like_token, parse_invite, token_hints
from ui.messages import describe
from ui.tile import ParticipantTile

__all__ = ["DEFAULT_SERVER", "Device", "JoinRequest", "JoinScreen", "normalize_server"]

DEFAULT_SERVER = "http://127.0.0.1:7880"
Device = tuple[str, str]  # (id, human-readable name)
_METER_STEPS = 1000


@dataclass(frozen=True, slots=True)
class JoinRequest:
    server: str
    room: str | None
    name: str | None
    token: str | None
    camera_id: str | None
    mic_id: str | None
    speaker_id: str | None


def normalize_server(text: str) -> str:
    """A server as typed or saved (``127.0.0.1:7880``, ``ws://h:1/``) as the form wants it:
    an http(s) base URL without a trailing slash; text that is no address is returned trimmed."""
    text = text.strip().rstrip("/")
    if "://" not in text and re.fullmatch(r"[\w.\-]+(:\d+)?|\[[0-9a-fA-F:.]+\](:\d+)?", text):
        text = "http://" + text  # a bare host[:port], as typed or as saved by an old version
    for ws, http in (("wss://", "https://"), ("ws://", "http://")):
        if text.startswith(ws):
            text = http + text[len(ws):]
    if text.endswith("/signaling"):
        text = text[: -len("/signaling")]
    return text


class JoinScreen(QWidget):
    """objectNames: ``join-screen``, ``server-input``, ``room-input``, ``name-input``,
    ``token-input``, ``camera-picker``, ``mic-picker``, ``speaker-picker``,
    ``camera-preview``, ``mic-meter``, ``join-button``, ``cancel-button`` (while connecting),
    ``join-error`` (the human message) and ``join-error-detail`` (its code, in small print)."""

    join_requested = Signal(object)  # JoinRequest
    camera_changed = Signal(str)  # device id, on user choice (to switch the preview)
    mic_changed = Signal(str)
    speaker_changed = Signal(str)
    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("join-screen")
        self._busy = False

        title = QLabel("Join a room", self)
        title.setObjectName("join-title")

        self.server_input = self._line("server-input", "http://host:port")
        self.server_input.setText(DEFAULT_SERVER)
        self.room_input = self._line("room-input", "Room name")
        self.name_input = self._line("name-input", "Your name")
        self.token_input = self._line("token-input", "Optional: invite link or access token")
        self.token_input.textEdited.connect(self._on_token_edited)
        self.name_input.textChanged.connect(self._on_name_changed)

        self.camera_picker = self._combo("camera-picker", self.camera_changed)
        self.mic_picker = self._combo("mic-picker", self.mic_changed)
        self.speaker_picker = self._combo("speaker-picker", self.speaker_changed)

        self.join_button = QPushButton("Join", self)
        self.join_button.setObjectName("join-button")
        self.join_button.setDefault(True)
        self.join_button.clicked.connect(self.request_join)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setObjectName("cancel-button")
        self.cancel_button.setToolTip("Stop connecting (Esc)")
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.cancel_button.hide()
        cancel_key = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        cancel_key.activated.connect(lambda: self.cancel_requested.emit() if self._busy else None)
        for line in (self.server_input, self.room_input, self.name_input, self.token_input):
            line.returnPressed.connect(self.request_join)

        self.error_label = QLabel(self)
        self.error_label.setObjectName("join-error")
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.hide()
        self.error_detail = QLabel(self)
        self.error_detail.setObjectName("join-error-detail")
        self.error_detail.setWordWrap(True)
        self.error_detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_detail.hide()

        self.preview = ParticipantTile("preview", "You", mirrored=True, parent=self)
        self.preview.setObjectName("camera-preview")
        self.preview.setMinimumSize(320, 180)

        self.mic_meter = QProgressBar(self)
        self.mic_meter.setObjectName("mic-meter")
        self.mic_meter.setRange(0, _METER_STEPS)
        self.mic_meter.setTextVisible(False)
        self.mic_meter.setFixedHeight(8)
        self.mic_meter.setAccessibleName("Microphone level")

        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.addRow("Server", self.server_input)
        form.addRow("Room", self.room_input)
        form.addRow("Name", self.name_input)
        form.addRow("Invite / token", self.token_input)
        form.addRow("Camera", self.camera_picker)
        form.addRow("Microphone", self.mic_picker)
        form.addRow("Speaker", self.speaker_picker)
        self._fields = (self.server_input, self.room_input, self.name_input, self.token_input,
                        self.camera_picker, self.mic_picker, self.speaker_picker)

        left = QVBoxLayout()
        left.addWidget(title)
        left.addLayout(form)
        left.addWidget(self.error_label)
        left.addWidget(self.error_detail)
        buttons = QHBoxLayout()
        buttons.addWidget(self.join_button, 1)
        buttons.addWidget(self.cancel_button)
        left.addLayout(buttons)
        left.addStretch(1)

        right = QVBoxLayout()
        right.addWidget(self.preview, 1)
        meter_row = QHBoxLayout()
        meter_row.addWidget(QLabel("Mic", self))
        meter_row.addWidget(self.mic_meter, 1)
        right.addLayout(meter_row)

        card = QFrame(self)
        card.setObjectName("join-card")
        row = QHBoxLayout(card)
        row.setContentsMargins(24, 24, 24, 24)
        row.setSpacing(24)
        row.addLayout(left, 1)
        row.addLayout(right, 1)

        outer = QVBoxLayout(self)
        outer.addStretch(1)
        centre = QHBoxLayout()
        centre.addStretch(1)
        centre.addWidget(card, 4)
        centre.addStretch(1)
        outer.addLayout(centre)
        outer.addStretch(1)

    # ------------------------------------------------------------------ devices

    def set_cameras(self, devices: Sequence[Device], selected: str | None = None) -> None:
        self._fill(self.camera_picker, devices, selected)

    def set_microphones(self, devices: Sequence[Device], selected: str | None = None) -> None:
        self._fill(self.mic_picker, devices, selected)

    def set_speakers(self, devices: Sequence[Device], selected: str | None = None) -> None:
        self._fill(self.speaker_picker, devices, selected)

    # ------------------------------------------------------------------ preview, meter

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        # Styled (polished) fields keep their height: an error message below never squeezes them.
        for field in self._fields:
            field.setMinimumHeight(field.sizeHint().height())
        super().showEvent(event)

    def set_preview_frame(self, frame: object) -> None:
        """Latest camera frame (an ``av.VideoFrame``) for the preview."""
        if isinstance(frame, av.VideoFrame):
            self.preview.set_frame(frame)

    def clear_preview(self) -> None:
        self.preview.clear_video()

    @property
    def mic_level(self) -> float:
        return self.mic_meter.value() / _METER_STEPS

    def set_mic_level(self, level: float) -> None:
        """Microphone level, 0 (silence) to 1 (full scale); clamped."""
        level = min(1.0, max(0.0, float(level))) if level == level else 0.0  # NaN → 0
        self.mic_meter.setValue(round(level * _METER_STEPS))

    # ------------------------------------------------------------------ state

    @property
    def busy(self) -> bool:
        return self._busy

    def set_busy(self, busy: bool) -> None:
        """While connecting: inputs and Join disabled, the button says so."""
        self._busy = bool(busy)
        for w in (self.server_input, self.room_input, self.name_input, self.token_input,
                  self.join_button):
            w.setEnabled(not self._busy)
        for combo in (self.camera_picker, self.mic_picker, self.speaker_picker):
            combo.setEnabled(not self._busy and combo.count() > 0)
        self.join_button.setText("Connecting…" if self._busy else "Join")
        self.cancel_button.setVisible(self._busy)
        if self._busy:
            self.clear_error()

    def show_error(self, code: int | None, message: str, *, server: str | None = None) -> None:
        """The human message for ``code``/``message`` (:mod:`ui.messages`), the code in small print."""
        shown = describe(code, message, server=server or normalize_server(self.server_input.text()))
        self.error_label.setText(shown.text)
        self.error_label.show()
        self.error_detail.setText(shown.detail)
        self.error_detail.setVisible(bool(shown.detail))

    def clear_error(self) -> None:
        for label in (self.error_label, self.error_detail):
            label.clear()
            label.hide()

    @property
    def error_text(self) -> str:
        return self.error_label.text() if not self.error_label.isHidden() else ""

    @property
    def error_detail_text(self) -> str:
        return self.error_detail.text() if not self.error_detail.isHidden() else ""

    def set_values(self, *, server: str | None = None, room: str | None = None,
                   name: str | None = None, token: str | None = None) -> None:
        """Pre-fill fields (saved settings, command line); None leaves a field as is."""
        if server is not None:
            server = normalize_server(server)
        for line, value in ((self.server_input, server), (self.room_input, room),
                            (self.name_input, name), (self.token_input, token)):
            if value is not None:
                line.setText(value)

    def apply_invite(self, text: str) -> None:
        """Fill the form from an invite link or token; raises InviteError when invalid."""
        invite = parse_invite(text)
        if invite.server:
            self.server_input.setText(invite.server)
        if invite.room:
            self.room_input.setText(invite.room)
        self.token_input.setText(invite.token or "")
        if invite.token:
            self._prefill_from_token(invite.token)

    def request(self) -> JoinRequest:
        """The form as a JoinRequest; raises ValueError with a user-facing message."""
        server = normalize_server(self.server_input.text())
        parts = urlsplit(server)
        if parts.scheme not in ("http", "https", "ws", "wss") or not parts.netloc:
            raise ValueError("Enter the server as http://host:port")
        token_text = self.token_input.text().strip()
        token: str | None = None
        room = self.room_input.text().strip() or None
        if token_text:
            try:
                invite = parse_invite(token_text)
            except InviteError as exc:
                raise ValueError(f"Invite link or token not understood: {exc}") from None
            token = invite.token
            # What the link or token says wins over a remembered room (else 20106).
            hints = token_hints(token) if token else None
            room = (hints.room if hints else None) or invite.room or room
            if invite.server:
                server = invite.server
        name = self.name_input.text().strip() or None
        if token is None and (room is None or name is None):
            raise ValueError("Enter a room and your name, or paste an invite link")
        return JoinRequest(
            server=server, room=room, name=name, token=token,
            camera_id=self.camera_picker.currentData(),
            mic_id=self.mic_picker.currentData(),
            speaker_id=self.speaker_picker.currentData(),
        )

    def request_join(self) -> None:
        """Validate and emit ``join_requested`` (or show why not)."""
        if self._busy:
            return
        try:
            request = self.request()
        except ValueError as exc:
            self.show_error(None, str(exc))
            return
        self.clear_error()
        self.join_requested.emit(request)

    # ------------------------------------------------------------------ internals

    def _line(self, name: str, placeholder: str) -> QLineEdit:
        line = QLineEdit(self)
        line.setObjectName(name)
        line.setPlaceholderText(placeholder)
        line.setClearButtonEnabled(True)
        return line

    def _combo(self, name: str, signal: SignalInstance) -> QComboBox:
        combo = QComboBox(self)
        combo.setObjectName(name)
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(16)
        combo.activated.connect(lambda i: signal.emit(combo.itemData(i) or ""))
        combo.setEnabled(False)  # until a device list arrives
        return combo

    def _fill(self, combo: QComboBox, devices: Sequence[Device], selected: str | None) -> None:
        previous = combo.currentData()
        with QSignalBlocker(combo):
            combo.clear()
            for device_id, label in devices:
                combo.addItem(label, device_id)
            for wanted in (selected, previous):
                index = combo.findData(wanted) if wanted is not None else -1
                if index >= 0:
                    combo.setCurrentIndex(index)
                    break
        combo.setEnabled(bool(devices) and not self._busy)

    def _on_token_edited(self, text: str) -> None:
        text = text.strip()
        if not text:
            return
        if looks_like_token(text):
            self._prefill_from_token(text)
            return
        with contextlib.suppress(InviteError):  # reported on Join; the user may still be typing
            self.apply_invite(text)

    def _prefill_from_token(self, token: str) -> None:
        hints = token_hints(token)
        if hints is None:
            return
        # The token decides the room and who you are: it replaces remembered values.
        if hints.room:
            self.room_input.setText(hints.room)
        if hints.identity:
            self.name_input.setText(display_name(hints.identity))

    def _on_name_changed(self, text: str) -> None:
        self.preview.set_name(text.strip() or "You")
