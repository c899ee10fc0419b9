from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QToolButton

from ui.controls import ControlBar

pytestmark = pytest.mark.ui

CHECKABLE = [
    ("mic-button", "mic_toggled"),
    ("camera-button", "camera_toggled"),
    ("screen-button", "screen_toggled"),
    ("chat-button", "chat_toggled"),
    ("participants-button", "participants_toggled"),
    ("stats-button", "stats_toggled"),
]


@pytest.fixture
def bar(qtbot) -> ControlBar:
    b = ControlBar()
    qtbot.addWidget(b)
    b.show()
    return b


@pytest.mark.parametrize("name,signal", CHECKABLE)
def test_click_emits_toggle(qtbot, bar, name, signal):
    button = bar.findChild(QToolButton, name)
    assert button is not None and button.isCheckable()
    with qtbot.waitSignal(getattr(bar, signal), timeout=1000) as blocker:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert blocker.args == [True]
    with qtbot.waitSignal(getattr(bar, signal), timeout=1000) as blocker:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert blocker.args == [False]


def test_leave(qtbot, bar):
    with qtbot.waitSignal(bar.leave_requested, timeout=1000):
        qtbot.mouseClick(bar.findChild(QToolButton, "leave-button"), Qt.MouseButton.LeftButton)


def test_setters_reflect_state_without_emitting(qtbot, bar):
    setters = {
        "mic_toggled": (bar.set_mic_muted, "mic_muted"),
        "camera_toggled": (bar.set_camera_paused, "camera_paused"),
        "screen_toggled": (bar.set_screen_sharing, "screen_sharing"),
        "chat_toggled": (bar.set_chat_open, "chat_open"),
        "participants_toggled": (bar.set_participants_open, "participants_open"),
        "stats_toggled": (bar.set_stats_open, "stats_open"),
    }
    for signal, (setter, prop) in setters.items():
        with qtbot.assertNotEmitted(getattr(bar, signal)):
            setter(True)
            assert getattr(bar, prop) is True
            setter(False)
            assert getattr(bar, prop) is False


def test_mic_and_camera_tooltips_follow_state_and_name_shortcuts(bar):
    assert "Ctrl+D" in bar.mic_button.toolTip() and "Mute" in bar.mic_button.toolTip()
    assert "Ctrl+E" in bar.camera_button.toolTip()
    bar.set_mic_muted(True)
    assert bar.mic_button.toolTip().startswith("Unmute")
    bar.set_camera_paused(True)
    assert bar.camera_button.toolTip().startswith("Turn on")


def test_keyboard_shortcuts(qtbot, bar):
    bar.activateWindow()
    qtbot.waitActive(bar)
    with qtbot.waitSignal(bar.mic_toggled, timeout=1000) as blocker:
        qtbot.keyClick(bar, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    assert blocker.args == [True] and bar.mic_muted
    with qtbot.waitSignal(bar.camera_toggled, timeout=1000) as blocker:
        qtbot.keyClick(bar, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert blocker.args == [True] and bar.camera_paused
    with qtbot.waitSignal(bar.mic_toggled, timeout=1000) as blocker:
        qtbot.keyClick(bar.camera_button, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    assert blocker.args == [False]


def test_chat_unread_badge_and_disabled_screen_share(qtbot, bar):
    bar.set_chat_unread(3)
    assert bar.chat_unread == 3 and bar.chat_button.text() == "3"
    assert "3 unread" in bar.chat_button.toolTip()
    bar.set_chat_unread(0)
    assert bar.chat_button.text() == ""
    bar.set_screen_share_available(False)
    assert not bar.screen_button.isEnabled()
    with qtbot.assertNotEmitted(bar.screen_toggled):
        qtbot.mouseClick(bar.screen_button, Qt.MouseButton.LeftButton)
