from __future__ import annotations

import asyncio

import pytest
import qasync
from PySide6.QtGui import QImage

from ui.main_window import MainWindow

pytestmark = pytest.mark.ui


@pytest.fixture
def window(qtbot) -> MainWindow:
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1024, 640)
    w.show()
    return w


def test_switch_screens(window):
    assert window.current_screen == "join"
    assert window.join_screen.isVisible() and not window.room_view.isVisible()
    window.show_room("standup")
    assert window.current_screen == "room" and window.room_view.isVisible()
    assert window.room_view.title.text() == "standup" and "standup" in window.windowTitle()
    window.join_screen.set_busy(True)
    window.show_join()
    assert window.current_screen == "join" and not window.join_screen.busy


def test_stylesheet_loaded(window):
    assert "#leave-button" in window.styleSheet()


def test_save_screenshot(window, tmp_path, make_frame):
    window.show_room("standup")
    room = window.room_view
    room.add_participant("PA0", "me", "Me", local=True)
    room.add_participant("PA1", "ada", "Ada")
    room.set_frame("PA1", make_frame(320, 240))
    room.set_audio_muted("PA0", True)
    path = tmp_path / "shots" / "room.png"
    assert window.save_screenshot(path)
    image = QImage(str(path))
    assert not image.isNull() and (image.width(), image.height()) == (1024, 640)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert room.tile("PA1").painted_frames == 1


def test_closing_signal(qtbot, window):
    with qtbot.waitSignal(window.closing, timeout=1000):
        window.close()


def test_frames_from_asyncio_under_qasync(qapp, qtbot, make_frame, near_color):
    """set_frame from coroutines on the qasync loop: paints happen, stale frames drop."""
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(800, 500)
    window.show()
    window.show_room("r")
    tile = window.room_view.add_participant("PA1", "ada", "Ada")
    blue = make_frame(320, 240, (0, 0, 255), (0, 0, 255))
    red = make_frame(320, 240, (255, 0, 0), (255, 0, 0))

    async def feed() -> None:
        for _i in range(40):
            for _ in range(3):  # bursts: three frames between two loop turns
                tile.set_frame(blue)
            await asyncio.sleep(0.002)
        before = tile.painted_frames
        tile.set_frame(red)
        while tile.painted_frames == before:  # poll inside the loop (qtbot.waitUntil can't)
            await asyncio.sleep(0.005)

    try:
        loop.run_until_complete(asyncio.wait_for(feed(), 5))
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    assert tile.received_frames == 121
    assert 1 <= tile.painted_frames <= 41  # at most one paint per loop turn
    c = tile.video_rect().center()
    assert near_color(tile.grab().toImage().pixelColor(c.x(), c.y()), (255, 0, 0))


def test_room_shortcuts_only_in_room_screen(qtbot, window):
    from PySide6.QtCore import Qt

    window.activateWindow()
    qtbot.waitActive(window)
    controls = window.room_view.controls
    with qtbot.assertNotEmitted(controls.mic_toggled):
        qtbot.keyClick(window.join_screen.name_input, Qt.Key.Key_D,
                       Qt.KeyboardModifier.ControlModifier)
    window.show_room("r")
    with qtbot.waitSignal(controls.mic_toggled, timeout=1000) as blocker:
        qtbot.keyClick(window.room_view.grid, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    assert blocker.args == [True]
