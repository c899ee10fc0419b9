"""A transparent, HiDPI-aware pixmap with an antialiased painter, for pre-drawn overlays."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPainter, QPixmap

__all__ = ["transparent_canvas"]


def transparent_canvas(width: float, height: float, dpr: float = 1.0) -> tuple[QPixmap, QPainter]:
    """A ``width``×``height`` (logical px) transparent pixmap and a painter on it, no pen set.
    The caller draws, then calls ``painter.end()``."""
    pixmap = QPixmap(max(1, round(width * dpr)), max(1, round(height * dpr)))
    pixmap.setDevicePixelRatio(dpr)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    return pixmap, painter
