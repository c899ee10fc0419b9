"""ParticipantsPanel: everyone in the room with their microphone and camera state."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ui.resources import icon

__all__ = ["ParticipantEntry", "ParticipantsPanel"]

_NAME, _MIC, _CAMERA = range(3)


@dataclass(slots=True)
class ParticipantEntry:
    sid: str
    name: str
    local: bool = False
    audio_muted: bool = False
    video_paused: bool = False


class ParticipantsPanel(QWidget):
    """objectNames: ``participants-panel``, ``participants-count``, ``participants-list``.

    Rows are keyed by participant sid, the local participant first.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("participants-panel")
        self._entries: dict[str, ParticipantEntry] = {}
        self._items: dict[str, QTreeWidgetItem] = {}

        self._count = QLabel(self)
        self._count.setObjectName("participants-count")

        self._tree = QTreeWidget(self)
        self._tree.setObjectName("participants-list")
        self._tree.setColumnCount(3)
        self._tree.setHeaderHidden(True)
        self._tree.setRootIsDecorated(False)
        self._tree.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self._tree.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        header = self._tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(_NAME, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(_MIC, QHeaderView.ResizeMode.Fixed)
        header.setSectionResizeMode(_CAMERA, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(_MIC, 28)
        header.resizeSection(_CAMERA, 28)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self._count)
        layout.addWidget(self._tree, 1)
        self._refresh_count()

    # ------------------------------------------------------------------ queries

    def sids(self) -> list[str]:
        items = (self._tree.topLevelItem(i) for i in range(self._tree.topLevelItemCount()))
        return [item.data(_NAME, Qt.ItemDataRole.UserRole) for item in items if item is not None]

    def entry(self, sid: str) -> ParticipantEntry | None:
        return self._entries.get(sid)

    def __len__(self) -> int:
        return len(self._entries)

    # ------------------------------------------------------------------ updates

    def add_participant(self, sid: str, name: str, local: bool = False) -> None:
        if sid in self._entries:
            self.set_name(sid, name)
            return
        self._entries[sid] = ParticipantEntry(sid, name, local)
        item = QTreeWidgetItem()
        item.setData(_NAME, Qt.ItemDataRole.UserRole, sid)
        self._items[sid] = item
        if local:
            self._tree.insertTopLevelItem(0, item)
        else:
            self._tree.addTopLevelItem(item)
        self._refresh_item(sid)
        self._refresh_count()

    def remove_participant(self, sid: str) -> None:
        item = self._items.pop(sid, None)
        self._entries.pop(sid, None)
        if item is not None:
            self._tree.takeTopLevelItem(self._tree.indexOfTopLevelItem(item))
        self._refresh_count()

    def clear(self) -> None:
        self._entries.clear()
        self._items.clear()
        self._tree.clear()
        self._refresh_count()

    def set_name(self, sid: str, name: str) -> None:
        if sid in self._entries:
            self._entries[sid].name = name
            self._refresh_item(sid)

    def set_audio_muted(self, sid: str, muted: bool) -> None:
        if sid in self._entries:
            self._entries[sid].audio_muted = bool(muted)
            self._refresh_item(sid)

    def set_video_paused(self, sid: str, paused: bool) -> None:
        if sid in self._entries:
            self._entries[sid].video_paused = bool(paused)
            self._refresh_item(sid)

    # ------------------------------------------------------------------ internals

    def _refresh_item(self, sid: str) -> None:
        entry, item = self._entries[sid], self._items[sid]
        item.setText(_NAME, entry.name + (" (you)" if entry.local else ""))
        item.setIcon(_MIC, icon("mic-off" if entry.audio_muted else "mic"))
        item.setToolTip(_MIC, "Microphone muted" if entry.audio_muted else "Microphone on")
        item.setIcon(_CAMERA, icon("camera-off" if entry.video_paused else "camera"))
        item.setToolTip(_CAMERA, "Camera paused" if entry.video_paused else "Camera on")

    def _refresh_count(self) -> None:
        self._count.setText(f"Participants ({len(self._entries)})")
