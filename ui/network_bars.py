"""Network-quality bars: five rising bars, ``level`` of them filled (Twilio's 0–5 scale).

The bars are rendered into a pixmap when the level or size changes; painting is
QLabel's C++ drawPixmap, so a tile repainted at 30 fps pays almost nothing for them.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPixmap, QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

from ui.canvas import transparent_canvas

__all__ = ["BAR_COUNT", "NetworkQualityBars", "level_color", "render_bars"]

BAR_COUNT = 5
EMPTY_COLOR = QColor(255, 255, 255, 70)
_COLORS = {
    0: "#e5484d",  # no connectivity: red baseline, no bar filled
    1: "#e5484d",
    2: "#f5a524",
    3: "#f5d90a",
    4: "#46c35f",
    5: "#46c35f",
}


def level_color(level: int) -> QColor:
    """The fill colour for ``level`` (0–5): red, orange, yellow, green."""
    return QColor(_COLORS[max(0, min(BAR_COUNT, level))])


def render_bars(level: int, width: int, height: int, dpr: float = 1.0) -> QPixmap:
    """Five rising bars, ``level`` filled in the level's colour, on transparency."""
    pixmap, painter = transparent_canvas(width, height, dpr)
    gap = max(1.0, width / (BAR_COUNT * 4))
    bar_w = (width - gap * (BAR_COUNT - 1)) / BAR_COUNT
    fill = level_color(level)
    for i in range(BAR_COUNT):
        bar_h = height * (i + 1) / BAR_COUNT
        painter.setBrush(fill if i < level else EMPTY_COLOR)
        painter.drawRoundedRect(QRectF(i * (bar_w + gap), height - bar_h, bar_w, bar_h), 1, 1)
    if level == 0:
        painter.setBrush(fill)
        painter.drawRect(QRectF(0, height - 2, width, 2))
    painter.end()
    return pixmap


class NetworkQualityBars(QLabel):
    """Shows ``level`` of five bars in the level's colour; shows nothing when unknown.

    Level 0 (no connectivity) draws five empty bars over a red baseline, so it is
    distinguishable from "unknown" (``None``), which draws nothing.
    objectName ``network-bars`` (tiles rename theirs ``tile-network-bars``).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("network-bars")
        self._level: int | None = None
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._refresh()

    @property
    def level(self) -> int | None:
        return self._level

    def set_level(self, level: int | None) -> None:
        """Set the level (clamped to 0–5) or ``None`` for unknown."""
        if level is not None:
            level = max(0, min(BAR_COUNT, int(level)))
        if level != self._level:
            self._level = level
            self._refresh()

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(24, 16)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(10, 6)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._refresh()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802
        super().changeEvent(event)
        if event.type() == QEvent.Type.DevicePixelRatioChange:
            self._refresh()

    def _refresh(self) -> None:
        text = ("Network quality unknown" if self._level is None
                else f"Network quality {self._level}/{BAR_COUNT}")
        self.setToolTip(text)
        self.setAccessibleName(text)
        if self._level is None:
            self.clear()
        else:
            self.setPixmap(render_bars(self._level, self.width(), self.height(),
                                       self.devicePixelRatioF()))
