from __future__ import annotations

import itertools

import pytest
from PySide6.QtCore import QRect
from PySide6.QtWidgets import QWidget

from ui.grid import TileGrid, grid_rects, grid_shape, speaker_rects

pytestmark = pytest.mark.ui

AREA = QRect(0, 0, 960, 600)


@pytest.mark.parametrize("n,shape", [
    (0, (0, 0)), (1, (1, 1)), (2, (2, 1)), (3, (2, 2)), (4, (2, 2)), (5, (3, 2)),
    (6, (3, 2)), (7, (3, 3)), (9, (3, 3)), (10, (4, 3)), (12, (4, 3)), (13, (4, 4)),
])
def test_grid_shape(n, shape):
    assert grid_shape(n) == shape


@pytest.fixture
def grid(qtbot) -> TileGrid:
    g = TileGrid()
    qtbot.addWidget(g)
    g.resize(AREA.size())
    g.show()
    return g


def fill(grid: TileGrid, n: int) -> None:
    for i in range(n):
        grid.add_tile(f"PA{i}", QWidget())


def check_no_overlap_inside(rects: list[QRect], area: QRect) -> None:
    for r in rects:
        assert area.contains(r), (r, area)
        assert r.width() > 0 and r.height() > 0
    for a, b in itertools.combinations(rects, 2):
        assert not a.intersects(b), (a, b)


@pytest.mark.parametrize("n", [1, 2, 4, 5, 9])
def test_grid_geometries(grid, n):
    fill(grid, n)
    rects = list(grid.tile_geometries().values())
    assert len(rects) == n
    check_no_overlap_inside(rects, grid.rect())
    cols, rows = grid_shape(n)
    assert len({r.y() for r in rects}) == rows
    assert max(sum(1 for r in rects if r.y() == y) for y in {r.y() for r in rects}) == cols
    # equal cells that use the area: near-square grid, not a strip
    assert len({(r.width(), r.height()) for r in rects}) == 1
    used = sum(r.width() * r.height() for r in rects)
    assert used >= 0.8 * (AREA.width() * AREA.height()) * n / (cols * rows)
    for r in rects:
        assert r.width() >= AREA.width() / cols - 10 and r.height() >= AREA.height() / rows - 10


def test_incomplete_last_row_is_centred():
    rects = grid_rects(5, AREA)
    bottom = [r for r in rects if r.y() == rects[-1].y()]
    assert len(bottom) == 2
    left_gap = bottom[0].left() - AREA.left()
    right_gap = AREA.right() - bottom[-1].right()
    assert abs(left_gap - right_gap) <= 2


def test_relayout_as_people_come_and_go(grid):
    fill(grid, 4)
    first = grid.tile("PA0")
    assert first.width() < AREA.width() * 0.6
    for key in ("PA1", "PA2", "PA3"):
        removed = grid.remove_tile(key)
        assert removed is not None and removed.parent() is None
    assert grid.keys() == ["PA0"]
    assert first.geometry() == grid.rect()
    assert grid.remove_tile("nobody") is None


def test_replace_tile_for_same_key(grid):
    a, b = QWidget(), QWidget()
    grid.add_tile("PA0", a)
    grid.add_tile("PA0", b)
    assert len(grid) == 1 and grid.tile("PA0") is b and a.parent() is None


def test_speaker_view_enlarges_dominant(grid):
    fill(grid, 5)
    grid.set_layout("speaker")
    grid.set_dominant("PA3")
    geo = grid.tile_geometries()
    check_no_overlap_inside(list(geo.values()), grid.rect())
    big = geo["PA3"]
    others = [g for k, g in geo.items() if k != "PA3"]
    assert all(big.width() * big.height() > 8 * g.width() * g.height() for g in others)
    assert all(g.top() > big.bottom() for g in others)  # the strip is below
    assert len({g.y() for g in others}) == 1
    # nobody speaking: the last speaker stays large
    grid.set_dominant(None)
    assert grid.tile_geometries()["PA3"] == big
    grid.set_dominant("PA1")
    assert grid.tile_geometries()["PA1"].width() == AREA.width()
    # the dominant speaker leaves: someone else is featured
    grid.remove_tile("PA1")
    assert grid.featured == "PA0"
    grid.set_layout("grid")
    rects = list(grid.tile_geometries().values())
    assert len({(r.width(), r.height()) for r in rects}) == 1


def test_speaker_view_many_tiles_fit():
    rects = speaker_rects(30, AREA)
    check_no_overlap_inside(rects, AREA)
    assert speaker_rects(1, AREA) == [AREA]


def test_bad_layout_name(grid):
    with pytest.raises(ValueError):
        grid.set_layout("mosaic")
