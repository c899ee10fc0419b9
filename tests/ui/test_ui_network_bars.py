from __future__ import annotations

import pytest
from PySide6.QtGui import QColor

from ui.network_bars import BAR_COUNT, NetworkQualityBars, level_color

pytestmark = pytest.mark.ui


def filled_bars(bars: NetworkQualityBars) -> list[bool]:
    """Per bar: is its bottom pixel row painted in the level colour?"""
    img = bars.grab().toImage()
    color = level_color(bars.level or 0)
    slot = bars.width() / BAR_COUNT
    out = []
    for i in range(BAR_COUNT):
        c = img.pixelColor(int(slot * i + slot / 2 - 1), bars.height() - 3)
        out.append(abs(c.red() - color.red()) < 8 and abs(c.green() - color.green()) < 8
                   and abs(c.blue() - color.blue()) < 8)
    return out


@pytest.fixture
def bars(qtbot) -> NetworkQualityBars:
    b = NetworkQualityBars()
    qtbot.addWidget(b)
    b.resize(50, 20)
    return b


@pytest.mark.parametrize("level", [1, 2, 3, 4, 5])
def test_level_fills_that_many_bars(bars, level):
    bars.set_level(level)
    assert bars.level == level
    assert filled_bars(bars) == [i < level for i in range(BAR_COUNT)]
    assert str(level) in bars.toolTip()


def test_colour_by_level():
    assert level_color(1) == QColor("#e5484d")
    assert level_color(5) != level_color(1)
    assert level_color(3) != level_color(5)
    assert level_color(2) != level_color(3)


def test_clamped_and_unknown(bars):
    bars.set_level(-3)
    assert bars.level == 0
    assert filled_bars(bars) == [False] * BAR_COUNT
    bars.set_level(12)
    assert bars.level == 5
    bars.set_level(None)
    assert bars.level is None
    assert "unknown" in bars.toolTip()
