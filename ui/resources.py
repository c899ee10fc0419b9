"""Locate and load the files in ``resources/`` (stylesheet, SVG icons).

Lookup order:

1. ``$CONFAB_RESOURCES`` when set (a directory holding ``style.qss`` and ``icons/``);
2. ``sys._MEIPASS/resources`` in a PyInstaller bundle (add it with
   ``--add-data resources:resources``);
3. ``resources/`` next to the ``ui`` package (a source checkout or editable install).
"""

from __future__ import annotations

import os
import sys
from functools import cache
from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

__all__ = [
    "ICON_NAMES",
    "icon",
    "icon_path",
    "icon_pixmap",
    "load_stylesheet",
    "resources_dir",
]

ICON_NAMES = (
    "mic", "mic-off", "camera", "camera-off", "screen", "chat", "people", "stats", "leave", "hand", "pin",
    "devices",
)


def resources_dir() -> Path:
    """The directory holding ``style.qss`` and ``icons/``."""
    override = os.environ.get("CONFAB_RESOURCES")
    if override:
        return Path(override)
    meipass = getattr(sys, "_MEIPASS", None)
    if meipass:
        return Path(meipass) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def icon_path(name: str) -> Path:
    """Path of ``icons/<name>.svg``; raises FileNotFoundError when missing."""
    path = resources_dir() / "icons" / f"{name}.svg"
    if not path.is_file():
        raise FileNotFoundError(path)
    return path


@cache
def icon(name: str) -> QIcon:
    """A QIcon for ``icons/<name>.svg`` (cached; needs a QGuiApplication)."""
    return QIcon(str(icon_path(name)))


def icon_pixmap(name: str, size: int, device_pixel_ratio: float = 1.0) -> QPixmap:
    """``icons/<name>.svg`` rendered into a transparent square pixmap of ``size`` px."""
    px = max(1, round(size * device_pixel_ratio))
    pixmap = QPixmap(QSize(px, px))
    pixmap.fill(Qt.GlobalColor.transparent)
    renderer = QSvgRenderer(str(icon_path(name)))
    painter = QPainter(pixmap)
    renderer.render(painter)
    painter.end()
    pixmap.setDevicePixelRatio(device_pixel_ratio)
    return pixmap


def load_stylesheet() -> str:
    """The text of ``style.qss`` ('' when it is missing, so a broken bundle still runs)."""
    path = resources_dir() / "style.qss"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""
