"""TileGrid: places participant tiles in a near-square grid or a speaker view.

Geometry is computed by pure functions (:func:`grid_shape`, :func:`grid_rects`,
:func:`speaker_rects`) so it can be tested without painting. Tiles fill their
cells; each tile letterboxes its own video.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterator
from typing import Literal

from PySide6.QtCore import QRect, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

__all__ = ["LayoutMode", "TileGrid", "grid_rects", "grid_shape", "speaker_rects"]

LayoutMode = Literal["grid", "speaker"]
SPACING = 8
STRIP_FRACTION = 0.2  # of the height, for the speaker view's strip
STRIP_MIN = 72
STRIP_ASPECT = 16 / 9


def grid_shape(n: int) -> tuple[int, int]:
    """(columns, rows): 1→1×1, 2→2×1, 3-4→2×2, 5-6→3×2, 7-9→3×3, 10-12→4×3 …"""
    if n <= 0:
        return (0, 0)
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    return (cols, rows)


def grid_rects(n: int, area: QRect, spacing: int = SPACING) -> list[QRect]:
    """``n`` equal cells filling ``area`` row by row; an incomplete last row is centred."""
    cols, rows = grid_shape(n)
    if n == 0:
        return []
    cell_w = max(1, (area.width() - spacing * (cols - 1)) // cols)
    cell_h = max(1, (area.height() - spacing * (rows - 1)) // rows)
    used_h = rows * cell_h + spacing * (rows - 1)
    top = area.y() + (area.height() - used_h) // 2
    rects: list[QRect] = []
    for i in range(n):
        row, col = divmod(i, cols)
        in_row = min(cols, n - row * cols)
        row_w = in_row * cell_w + spacing * (in_row - 1)
        left = area.x() + (area.width() - row_w) // 2
        rects.append(QRect(left + col * (cell_w + spacing), top + row * (cell_h + spacing),
                           cell_w, cell_h))
    return rects


def speaker_rects(n: int, area: QRect, spacing: int = SPACING) -> list[QRect]:
    """The first rect is the speaker (large, on top); the other ``n - 1`` share a strip below.

    Strip tiles are 16:9 (narrower when that many do not fit) and centred.
    """
    if n == 0:
        return []
    if n == 1:
        return [QRect(area)]
    strip_h = max(STRIP_MIN, round(area.height() * STRIP_FRACTION))
    strip_h = min(strip_h, max(1, area.height() // 2))
    main_h = max(1, area.height() - strip_h - spacing)
    rects = [QRect(area.x(), area.y(), area.width(), main_h)]
    k = n - 1
    tile_w = round(strip_h * STRIP_ASPECT)
    fit_w = (area.width() - spacing * (k - 1)) // k
    tile_w = max(1, min(tile_w, fit_w))
    row_w = k * tile_w + spacing * (k - 1)
    left = area.x() + (area.width() - row_w) // 2
    y = area.y() + main_h + spacing
    for i in range(k):
        rects.append(QRect(left + i * (tile_w + spacing), y, tile_w, strip_h))
    return rects


class TileGrid(QWidget):
    """Holds tiles keyed by participant sid (insertion order) and lays them out.

    ``set_layout("speaker")`` enlarges the dominant tile (or, with none known, the
    last one that was dominant, else the first tile) above a strip of the others.
    The grid only places tiles; highlighting the dominant tile is the tile's job.
    """

    layout_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("tile-grid")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._tiles: dict[Hashable, QWidget] = {}
        self._mode: LayoutMode = "grid"
        self._dominant: Hashable | None = None
        self._featured: Hashable | None = None  # who the speaker view shows large
        self._pinned: Hashable | None = None  # a pinned tile is featured whoever speaks

    # ------------------------------------------------------------------ tiles

    def add_tile(self, key: Hashable, tile: QWidget) -> None:
        """Add (or replace) the tile for ``key`` and re-lay."""
        old = self._tiles.pop(key, None)
        if old is not None and old is not tile:
            old.hide()
            old.setParent(None)
        tile.setParent(self)
        self._tiles[key] = tile
        tile.show()
        self._relayout()

    def remove_tile(self, key: Hashable) -> QWidget | None:
        """Take the tile out (unparented, not deleted) and re-lay; None if unknown."""
        tile = self._tiles.pop(key, None)
        if tile is None:
            return None
        tile.hide()
        tile.setParent(None)
        if self._dominant == key:
            self._dominant = None
        if self._featured == key:
            self._featured = None
        self._relayout()
        return tile

    def tile(self, key: Hashable) -> QWidget | None:
        return self._tiles.get(key)

    def keys(self) -> list[Hashable]:
        return list(self._tiles)

    def __len__(self) -> int:
        return len(self._tiles)

    def __iter__(self) -> Iterator[Hashable]:
        return iter(list(self._tiles))

    def __contains__(self, key: object) -> bool:
        return key in self._tiles

    # ------------------------------------------------------------------ layout

    @property
    def layout_mode(self) -> LayoutMode:
        return self._mode

    @property
    def dominant(self) -> Hashable | None:
        return self._dominant

    @property
    def pinned(self) -> Hashable | None:
        return self._pinned if self._pinned in self._tiles else None

    def set_pinned(self, key: Hashable | None) -> None:
        """Feature ``key`` in speaker view until unpinned (None), whoever is dominant."""
        self._pinned = key if key in self._tiles else None
        self._relayout()

    @property
    def featured(self) -> Hashable | None:
        """The key shown large in speaker view (None in an empty grid): the pinned tile, else
        the last dominant speaker, else the first tile."""
        if self.pinned is not None:
            return self._pinned
        if self._featured in self._tiles:
            return self._featured
        return next(iter(self._tiles), None)

    def set_layout(self, mode: LayoutMode) -> None:
        if mode not in ("grid", "speaker"):
            raise ValueError(f"unknown layout {mode!r}")
        if mode != self._mode:
            self._mode = mode
            self._relayout()

    def set_dominant(self, key: Hashable | None) -> None:
        """The dominant speaker (None: nobody speaks now; speaker view keeps the last one)."""
        self._dominant = key if key in self._tiles else None
        if self._dominant is not None and self._dominant != self._featured:
            self._featured = self._dominant
            if self._mode == "speaker" and self.pinned is None:
                self._relayout()

    def tile_geometries(self) -> dict[Hashable, QRect]:
        return {key: tile.geometry() for key, tile in self._tiles.items()}

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._relayout()

    def _relayout(self) -> None:
        keys = list(self._tiles)
        area = self.rect()
        if self._mode == "speaker" and keys:
            featured = self.featured
            keys.remove(featured)
            keys.insert(0, featured)
            rects = speaker_rects(len(keys), area)
        else:
            rects = grid_rects(len(keys), area)
        for key, rect in zip(keys, rects, strict=True):
            self._tiles[key].setGeometry(rect)
        self.layout_changed.emit()
