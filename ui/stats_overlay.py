"""StatsOverlay: a translucent table of per-track statistics, floated over the tiles.

Rows are plain values (``StatsRow`` or a dict with the same keys); units are in
the field names so nobody guesses: ``bitrate_bps`` (bits/s), ``loss_percent``
(0–100), ``rtt_ms``. Missing values show as "—".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

__all__ = [
    "COLUMNS",
    "StatsOverlay",
    "StatsRow",
    "format_bitrate",
    "format_row",
]

COLUMNS = ("Participant", "Track", "Dir", "Resolution", "FPS", "Bitrate", "Loss", "RTT")
_DASH = "—"
_TABLE_STYLE = """
QTableWidget { background: transparent; border: none; color: #e8eaed; gridline-color: transparent; }
QTableWidget::item { padding: 0 6px; }
QHeaderView { background: transparent; border: none; }
QHeaderView::section { background: transparent; color: #9aa0a6; border: none; padding: 0 6px;
                       font-weight: bold; }
"""


@dataclass(frozen=True, slots=True)
class StatsRow:
    participant: str
    track: str
    kind: str = "video"  # "video" | "audio" | "data"
    direction: str = "recv"  # "send" | "recv"
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    bitrate_bps: float | None = None
    loss_percent: float | None = None
    rtt_ms: float | None = None


def format_bitrate(bps: float | None) -> str:
    if bps is None:
        return _DASH
    if bps >= 1_000_000:
        return f"{bps / 1_000_000:.2f} Mbps"
    if bps >= 1_000:
        return f"{bps / 1_000:.0f} kbps"
    return f"{bps:.0f} bps"


def format_row(row: StatsRow | Mapping[str, Any]) -> tuple[str, ...]:
    """The table cells for one row, in ``COLUMNS`` order."""
    data: Mapping[str, Any] = dataclasses.asdict(row) if isinstance(row, StatsRow) else row
    width, height = data.get("width"), data.get("height")
    kind = data.get("kind") or "video"
    resolution = f"{int(width)}×{int(height)}" if width and height else _DASH
    fps = data.get("fps")
    loss = data.get("loss_percent")
    rtt = data.get("rtt_ms")
    direction = {"send": "↑", "recv": "↓"}.get(str(data.get("direction", "")), _DASH)
    return (
        str(data.get("participant") or _DASH),
        f"{data.get('track') or kind} ({kind})" if data.get("track") else str(kind),
        direction,
        resolution if kind == "video" else "",
        (f"{float(fps):.0f}" if fps is not None else _DASH) if kind == "video" else "",
        format_bitrate(data.get("bitrate_bps")),
        f"{float(loss):.1f} %" if loss is not None else _DASH,
        f"{float(rtt):.0f} ms" if rtt is not None else _DASH,
    )


class StatsOverlay(QWidget):
    """objectNames: ``stats-overlay`` (this) and ``stats-table``; see ``set_rows``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("stats-overlay")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self._table = QTableWidget(0, len(COLUMNS), self)
        self._table.setObjectName("stats-table")
        self._table.setHorizontalHeaderLabels(list(COLUMNS))
        self._table.verticalHeader().hide()
        self._table.setShowGrid(False)
        self._table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self._table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self._table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self._table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        self._table.verticalHeader().setDefaultSectionSize(20)
        self._table.setStyleSheet(_TABLE_STYLE)
        self._table.viewport().setAutoFillBackground(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addWidget(self._table)
        self._rows: list[tuple[str, ...]] = []

    def set_rows(self, rows: Iterable[StatsRow | Mapping[str, Any]]) -> None:
        """Replace the table with ``rows`` (StatsRow or dicts with its field names)."""
        self._rows = [format_row(r) for r in rows]
        self._table.setRowCount(len(self._rows))
        for r, cells in enumerate(self._rows):
            for c, text in enumerate(cells):
                item = self._table.item(r, c)
                if item is None:
                    item = QTableWidgetItem()
                    self._table.setItem(r, c, item)
                item.setText(text)
                if c >= 4:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
        self.updateGeometry()
        self.adjustSize()

    def rows(self) -> list[tuple[str, ...]]:
        """The displayed cells, row by row (for tests and QA)."""
        return list(self._rows)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        header = self._table.horizontalHeader()
        width = header.length() + 16 + 4
        height = header.height() + 20 * max(1, len(self._rows)) + 12 + 4
        return QSize(max(width, 200), min(height, 400))

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(16, 18, 22, 200))
        painter.drawRoundedRect(QRectF(self.rect()), 8, 8)
        painter.end()
