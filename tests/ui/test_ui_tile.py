from __future__ import annotations

import pytest
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel, QWidget

import ui.tile as tile_module
from ui.network_bars import NetworkQualityBars
from ui.tile import BACKGROUND, HIGHLIGHT, ParticipantTile, disc_color, initials_of

pytestmark = pytest.mark.ui

RED, BLUE, GREEN = (255, 0, 0), (0, 0, 255), (0, 255, 0)


@pytest.fixture
def tile(qtbot) -> ParticipantTile:
    t = ParticipantTile("alice", "Alice Liddell")
    qtbot.addWidget(t)
    t.resize(320, 240)
    t.show()
    return t


def rgb(c: QColor) -> tuple[int, int, int]:
    return (c.red(), c.green(), c.blue())


def test_frame_fills_tile_with_pattern(tile, make_frame, near_color):
    tile.set_frame(make_frame(320, 240))
    img = tile.grab().toImage()
    assert tile.painted_frames == 1
    for x in (20, 80, 140):
        assert near_color(img.pixelColor(x, 100), RED), rgb(img.pixelColor(x, 100))
    for x in (180, 240, 300):
        assert near_color(img.pixelColor(x, 100), BLUE), rgb(img.pixelColor(x, 100))
    assert tile.video_rect().size().toTuple() == (320, 240)


def test_downscaled_frame_keeps_pattern(tile, make_frame, near_color):
    tile.set_frame(make_frame(1280, 960))
    img = tile.grab().toImage()
    assert near_color(img.pixelColor(60, 120), RED)
    assert near_color(img.pixelColor(260, 120), BLUE)


def test_wide_frame_letterboxed_in_tall_tile(qtbot, make_frame, near_color):
    t = ParticipantTile("bob", "Bob")
    qtbot.addWidget(t)
    t.resize(200, 300)
    t.set_frame(make_frame(320, 90))  # 32:9 into 2:3
    img = t.grab().toImage()
    video = t.video_rect()
    assert video.width() == 200
    assert 54 <= video.height() <= 58  # 200 * 90 / 320 = 56.25, even-rounded
    assert abs(video.center().y() - 150) <= 1
    mid = video.center().y()
    assert near_color(img.pixelColor(40, mid), RED)
    assert near_color(img.pixelColor(160, mid), BLUE)
    # bars above and below: the tile background, no stretched video
    for y in (30, video.top() - 6, video.bottom() + 6, 240):
        assert near_color(img.pixelColor(40, y), rgb(BACKGROUND), tol=4), y
        assert near_color(img.pixelColor(160, y), rgb(BACKGROUND), tol=4), y


def test_tall_frame_pillarboxed_in_wide_tile(qtbot, make_frame, near_color):
    t = ParticipantTile("carol")
    qtbot.addWidget(t)
    t.resize(400, 200)
    t.set_frame(make_frame(240, 320))
    img = t.grab().toImage()
    video = t.video_rect()
    assert video.height() == 200 and video.width() == 150
    assert near_color(img.pixelColor(video.left() + 10, 100), RED)
    assert near_color(img.pixelColor(video.right() - 10, 100), BLUE)
    assert near_color(img.pixelColor(20, 100), rgb(BACKGROUND), tol=4)
    assert near_color(img.pixelColor(380, 100), rgb(BACKGROUND), tol=4)


def test_latest_frame_wins_and_stale_frames_are_dropped(tile, make_frame, near_color):
    for _ in range(9):
        tile.set_frame(make_frame(320, 240))
    tile.set_frame(make_frame(320, 240, GREEN, GREEN))
    img = tile.grab().toImage()
    assert tile.received_frames == 10
    assert tile.painted_frames == 1
    assert near_color(img.pixelColor(80, 100), GREEN)


def test_conversion_once_per_frame_and_size(tile, make_frame, monkeypatch):
    calls: list[tuple[int, int]] = []
    real = tile_module.to_rgb

    def counting(frame, w, h, **kw):
        calls.append((w, h))
        return real(frame, w, h, **kw)

    monkeypatch.setattr(tile_module, "to_rgb", counting)
    tile.set_frame(make_frame(640, 480))
    tile.repaint()
    tile.repaint()  # no new frame: the converted image is reused
    assert calls == [(320, 240)]
    assert tile.painted_frames == 1 and tile.paint_count >= 2
    tile.resize(160, 120)
    tile.repaint()
    assert calls[-1] == (160, 120)
    assert tile.painted_frames == 1  # same frame, new size: not a new painted frame


def test_small_frame_is_scaled_up_by_the_painter(tile, make_frame, near_color, monkeypatch):
    calls: list[tuple[int, int]] = []
    real = tile_module.to_rgb
    monkeypatch.setattr(tile_module, "to_rgb",
                        lambda f, w, h, **kw: calls.append((w, h)) or real(f, w, h, **kw))
    tile.set_frame(make_frame(160, 120))
    img = tile.grab().toImage()
    assert calls == [(160, 120)]  # converted at source size, no swscale upscale
    assert tile.video_rect().size().toTuple() == (320, 240)
    assert near_color(img.pixelColor(40, 100), RED) and near_color(img.pixelColor(150, 100), RED)
    assert near_color(img.pixelColor(170, 100), BLUE) and near_color(img.pixelColor(300, 100), BLUE)


def test_initials_without_video(tile, near_color):
    img = tile.grab().toImage()
    assert not tile.has_video and tile.video_rect().isNull()
    assert tile.initials == "AL"
    centre = img.pixelColor(160, 120 - 30)  # on the disc, above the letters
    assert near_color(centre, rgb(disc_color("alice")), tol=4)
    assert not near_color(centre, RED) and not near_color(centre, BLUE)
    assert tile.painted_frames == 0


@pytest.mark.parametrize("name,expected", [
    ("Ada Lovelace", "AL"), ("grace", "G"), ("jean-luc picard", "JP"), ("", "?"),
    ("  ", "?"), ("mary_ann_evans", "ME"), ("émile zola", "ÉZ"),
])
def test_initials_of(name, expected):
    assert initials_of(name) == expected


def test_clear_video_shows_initials(tile, make_frame, near_color):
    tile.set_frame(make_frame(320, 240))
    tile.grab()
    tile.clear_video()
    img = tile.grab().toImage()
    assert not tile.has_video
    assert not near_color(img.pixelColor(80, 100), RED)


def test_video_paused_mark_and_initials(tile, make_frame, near_color):
    mark = tile.findChild(QLabel, "tile-camera-paused")
    assert mark is not None and not mark.isVisible()
    tile.set_frame(make_frame(320, 240))
    tile.set_video_paused(True)
    tile.set_frame(make_frame(320, 240))  # late frame while paused: ignored
    img = tile.grab().toImage()
    assert tile.video_paused and not tile.has_video
    assert mark.isVisible()
    assert not near_color(img.pixelColor(80, 100), RED)
    # the mark is painted: its centre is not the tile background
    c = mark.geometry().center()
    assert not near_color(img.pixelColor(c.x(), c.y()), rgb(BACKGROUND), tol=4)
    tile.set_video_paused(False)
    assert not mark.isVisible()
    tile.set_frame(make_frame(320, 240))
    assert near_color(tile.grab().toImage().pixelColor(80, 100), RED)


def test_mic_muted_mark(tile, make_frame, near_color):
    mark = tile.findChild(QLabel, "tile-mic-muted")
    name = tile.findChild(QLabel, "tile-name")
    tile.set_frame(make_frame(320, 240, GREEN, GREEN))
    x_before = name.x()
    tile.set_audio_muted(True)
    assert tile.audio_muted and mark.isVisible()
    assert name.x() > x_before  # the name moves right of the mark
    img = tile.grab().toImage()
    c = mark.geometry().center()
    assert not near_color(img.pixelColor(c.x(), c.y()), GREEN)
    tile.set_audio_muted(False)
    assert not tile.audio_muted and not mark.isVisible()
    assert name.x() == x_before


def test_network_bars_follow_level(tile):
    bars = tile.findChild(NetworkQualityBars, "tile-network-bars")
    assert tile.network_level is None and not bars.isVisible()
    tile.set_network_quality(3)
    assert tile.network_level == 3 and bars.isVisible()
    tile.set_network_quality(9)
    assert tile.network_level == 5
    tile.set_network_quality(None)
    assert tile.network_level is None and not bars.isVisible()


def test_dominant_highlight_border(tile, make_frame, near_color):
    tile.set_frame(make_frame(320, 240))
    assert near_color(tile.grab().toImage().pixelColor(1, 120), RED)
    tile.set_dominant(True)
    assert tile.dominant
    img = tile.grab().toImage()
    for x, y in ((1, 120), (318, 120), (160, 1), (160, 238)):
        assert near_color(img.pixelColor(x, y), rgb(HIGHLIGHT), tol=4), (x, y)
    tile.set_dominant(False)
    assert near_color(tile.grab().toImage().pixelColor(1, 120), RED)


def test_local_tile_is_mirrored_with_flag(qtbot, make_frame, near_color):
    t = ParticipantTile("me", "Me", local=True)
    qtbot.addWidget(t)
    t.resize(320, 240)
    t.show()
    assert t.local and t.mirrored
    assert t.findChild(QLabel, "tile-local").isVisible()
    t.set_frame(make_frame(320, 240))
    img = t.grab().toImage()
    assert near_color(img.pixelColor(80, 120), BLUE)  # mirror image: left and right swap
    assert near_color(img.pixelColor(240, 120), RED)
    t.set_mirrored(False)
    assert near_color(t.grab().toImage().pixelColor(80, 120), RED)


def test_remote_tile_has_no_local_flag(tile):
    assert not tile.local and not tile.mirrored
    assert not tile.findChild(QLabel, "tile-local").isVisible()


def test_object_names_and_name(tile):
    assert tile.objectName() == "tile-alice"
    for name in ("tile-name", "tile-mic-muted", "tile-camera-paused", "tile-network-bars",
                 "tile-local"):
        assert tile.findChild(QWidget, name) is not None, name
    label = tile.findChild(QLabel, "tile-name")
    assert tile.displayed_name == label.accessibleName() == "Alice Liddell"
    width = label.width()
    tile.set_name("Alice Pleasance Liddell")
    assert tile.displayed_name == "Alice Pleasance Liddell"
    assert tile.name == "Alice Pleasance Liddell" and label.width() > width
    assert tile.initials == "AL"
    tile.resize(110, 80)
    assert tile.displayed_name.endswith("…")  # elided, full name in the tooltip
    assert label.accessibleName() == tile.displayed_name
    assert label.toolTip() == "Alice Pleasance Liddell"
    assert label.geometry().right() <= tile.width()
