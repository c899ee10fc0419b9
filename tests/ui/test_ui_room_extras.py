"""What Meet, Zoom and Jitsi users expect in the room (issue 10, item 8): leave confirmation,
pin, full screen, chat pop-ups, the shortcuts sheet, a red muted mic and a red Leave.
A real styled MainWindow, offscreen; keys are real key events through Qt's shortcut map."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QLabel

from ui.main_window import MainWindow
from ui.room_view import SHORTCUTS

pytestmark = pytest.mark.ui

CTRL, SHIFT, ALT = (Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier,
                    Qt.KeyboardModifier.AltModifier)


@pytest.fixture
def window(qtbot) -> MainWindow:
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1024, 640)
    w.show()
    w.show_room("standup")
    view = w.room_view
    view.add_participant("PA0", "me#abcd", local=True)
    view.add_participant("PA1", "ada#k2x9")
    view.add_participant("PA2", "grace")
    w.activateWindow()
    qtbot.waitActive(w)
    return w


def key(qtbot, window: MainWindow, k: Qt.Key, mods=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(window.room_view.grid, k, mods)


def test_leave_asks_first(qtbot, window) -> None:
    view = window.room_view
    with qtbot.assertNotEmitted(view.leave_confirmed):
        qtbot.mouseClick(view.controls.leave_button, Qt.MouseButton.LeftButton)
    assert view.leave_confirm.isVisible() and view.leave_confirm_button.text() == "Leave"
    qtbot.mouseClick(view.leave_stay_button, Qt.MouseButton.LeftButton)
    assert not view.leave_confirm.isVisible()
    key(qtbot, window, Qt.Key.Key_L, CTRL | SHIFT)
    assert view.leave_asked
    key(qtbot, window, Qt.Key.Key_Escape)
    assert not view.leave_asked
    view.ask_leave()
    with qtbot.waitSignal(view.leave_confirmed, timeout=1000):
        qtbot.mouseClick(view.leave_confirm_button, Qt.MouseButton.LeftButton)
    assert not view.leave_asked


def _largest(window: MainWindow) -> str:
    geometries = window.room_view.grid.tile_geometries()
    return str(max(geometries, key=lambda k: geometries[k].width() * geometries[k].height()))


def test_pin_a_tile_keeps_it_large_whoever_speaks(qtbot, window) -> None:
    view = window.room_view
    grace = view.tile("PA2")
    qtbot.mouseDClick(grace, Qt.MouseButton.LeftButton)
    assert view.pinned == "PA2" and view.layout_mode == "speaker" and _largest(window) == "PA2"
    assert grace.pinned and grace.findChild(QLabel, "tile-pinned").isVisible()
    assert not view.tile("PA1").pinned
    from uilive import save_artifact

    save_artifact(window, "speaker-pinned.png")
    view.set_dominant_speaker("PA1")  # ada talks: grace stays featured
    assert _largest(window) == "PA2"
    qtbot.mouseDClick(grace, Qt.MouseButton.LeftButton)  # unpin: the speaker view follows ada
    assert view.pinned is None and _largest(window) == "PA1" and not grace.pinned
    key(qtbot, window, Qt.Key.Key_P, CTRL | ALT)  # pin the speaker
    assert view.pinned == "PA1"
    view.remove_participant("PA1")  # a pinned participant who leaves unpins
    assert view.pinned is None


def test_full_screen_with_f11_and_the_button(qtbot, window) -> None:
    view = window.room_view
    key(qtbot, window, Qt.Key.Key_F11)
    qtbot.waitUntil(lambda: bool(window.windowState() & Qt.WindowState.WindowFullScreen), timeout=2000)
    assert view.fullscreen_button.text() == "Exit full screen"
    qtbot.mouseClick(view.fullscreen_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.windowState() & Qt.WindowState.WindowFullScreen, timeout=2000)
    assert view.fullscreen_button.text() == "Full screen"


def test_chat_pops_up_while_the_panel_is_closed(qtbot, window) -> None:
    view = window.room_view
    view.add_chat_message("Ada", "can you see my screen?")
    assert view.chat_popup.isVisible() and view.chat_popup.text() == "Ada: can you see my screen?"
    assert view.controls.chat_unread == 1
    qtbot.mouseClick(view.chat_popup, Qt.MouseButton.LeftButton)
    assert view.chat.isVisible() and not view.chat_popup.isVisible() and view.controls.chat_unread == 0
    view.add_chat_message("Ada", "great")  # the panel is open: no pop-up
    assert not view.chat_popup.isVisible()
    key(qtbot, window, Qt.Key.Key_C, CTRL | ALT)
    assert not view.chat.isVisible()
    view.add_chat_message("You", "mine", local=True)  # your own lines never pop up
    assert not view.chat_popup.isVisible()


def test_shortcuts_sheet_lists_every_room_shortcut_and_each_exists(qtbot, window) -> None:
    view = window.room_view
    key(qtbot, window, Qt.Key.Key_F1)
    assert view.help_sheet.isVisible()
    text = view.help_sheet.text()
    bound = {s.key().toString() for s in window.findChildren(QShortcut)}
    for keys, what in SHORTCUTS:
        assert what in text and QKeySequence(keys).toString(QKeySequence.SequenceFormat.NativeText) in text
        assert QKeySequence(keys).toString() in bound, f"{keys} is listed but bound to nothing"
    key(qtbot, window, Qt.Key.Key_Escape)
    assert not view.help_sheet.isVisible()
    qtbot.mouseClick(view.help_button, Qt.MouseButton.LeftButton)
    assert view.help_sheet.isVisible()


def _is_red(window: MainWindow, button) -> bool:
    image = window.grab().toImage()
    centre = button.mapTo(window, QPoint(button.width() // 2, 3))  # the button's face, above the icon
    dpr = image.devicePixelRatio()
    c = image.pixelColor(round(centre.x() * dpr), round(centre.y() * dpr))
    return c.red() > 180 and c.green() < 90 and c.blue() < 90


def test_muted_mic_and_leave_are_red(qtbot, window, tmp_path) -> None:
    controls = window.room_view.controls
    assert not _is_red(window, controls.mic_button)
    window.room_view.set_audio_muted("PA0", True)
    assert controls.mic_muted and _is_red(window, controls.mic_button)
    assert _is_red(window, controls.leave_button)
    window.room_view.add_chat_message("Ada", "hello!")
    window.room_view.ask_leave()
    window.save_screenshot(tmp_path / "room.png")
