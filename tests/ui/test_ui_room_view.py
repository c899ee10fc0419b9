from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QToolButton, QWidget

from ui.room_view import RoomView

pytestmark = pytest.mark.ui


@pytest.fixture
def room(qtbot) -> RoomView:
    r = RoomView()
    qtbot.addWidget(r)
    r.resize(1000, 700)
    r.show()
    r.add_participant("PA0", "me", "Me", local=True)
    r.add_participant("PA1", "ada", "Ada Lovelace")
    r.add_participant("PA2", "grace", "Grace Hopper")
    return r


def test_participants_get_tiles_and_rows(room):
    assert room.participant_sids() == ["PA0", "PA1", "PA2"]
    assert room.local_sid == "PA0"
    assert room.findChild(QWidget, "tile-ada") is room.tile("PA1")
    assert room.tile("PA0").local and not room.tile("PA1").local
    assert room.participants.sids() == ["PA0", "PA1", "PA2"]
    assert room.add_participant("PA1", "ada") is room.tile("PA1")  # idempotent
    room.remove_participant("PA2")
    assert room.tile("PA2") is None and room.participants.sids() == ["PA0", "PA1"]
    assert room.grid.keys() == ["PA0", "PA1"]


def test_state_setters_reach_tile_panel_and_controls(qtbot, room):
    room.set_audio_muted("PA1", True)
    assert room.tile("PA1").audio_muted and room.participants.entry("PA1").audio_muted
    assert not room.controls.mic_muted  # a remote mute is not ours
    with qtbot.assertNotEmitted(room.controls.mic_toggled):
        room.set_audio_muted("PA0", True)
        room.set_video_paused("PA0", True)
    assert room.controls.mic_muted and room.controls.camera_paused
    room.set_network_quality("PA1", 2)
    assert room.tile("PA1").network_level == 2
    room.set_dominant_speaker("PA2")
    assert [room.tile(s).dominant for s in room.participant_sids()] == [False, False, True]
    room.set_dominant_speaker(None)
    assert not any(room.tile(s).dominant for s in room.participant_sids())
    room.set_participant_name("PA1", "Ada L.")
    assert room.tile("PA1").name == "Ada L." and room.participants.entry("PA1").name == "Ada L."


def test_frames_reach_tiles(room, make_frame):
    room.set_frame("PA1", make_frame(64, 48))
    room.set_frame("nobody", make_frame(64, 48))  # ignored
    assert room.tile("PA1").has_video
    room.clear_video("PA1")
    assert not room.tile("PA1").has_video


def test_reconnecting_banner_and_error(room):
    banner = room.findChild(QLabel, "reconnecting-banner")
    assert not banner.isVisible() and not room.reconnecting
    room.show_reconnecting(True)
    assert banner.isVisible() and room.reconnecting
    room.show_reconnecting(False)
    assert not banner.isVisible()
    room.show_error(53000, "Signaling connection error")
    err = room.findChild(QLabel, "room-error")
    assert err.isVisible() and err.text().startswith("Could not connect to the server.")
    assert err.text().endswith("Error 53000 · Signaling connection error")


def test_side_panels_toggle_one_at_a_time(qtbot, room):
    chat_button = room.findChild(QToolButton, "chat-button")
    people_button = room.findChild(QToolButton, "participants-button")
    qtbot.mouseClick(chat_button, Qt.MouseButton.LeftButton)
    assert room.chat.isVisible() and not room.participants.isVisible()
    qtbot.mouseClick(people_button, Qt.MouseButton.LeftButton)
    assert room.participants.isVisible() and not room.chat.isVisible()
    assert not chat_button.isChecked() and people_button.isChecked()
    qtbot.mouseClick(people_button, Qt.MouseButton.LeftButton)
    assert not room.participants.isVisible()


def test_stats_overlay_toggle(qtbot, room):
    overlay = room.findChild(QWidget, "stats-overlay")
    assert not overlay.isVisible()
    qtbot.mouseClick(room.findChild(QToolButton, "stats-button"), Qt.MouseButton.LeftButton)
    assert overlay.isVisible()
    room.set_stats_rows([{"participant": "Ada", "track": "cam", "width": 640, "height": 480}])
    assert overlay.rows()[0][3] == "640×480"


def test_chat_unread_count(room):
    room.add_chat_message("Ada", "hello")
    room.add_chat_message("Me", "hi", local=True)
    room.add_chat_message("Grace", "hey")
    assert room.controls.chat_unread == 2
    room.set_chat_visible(True)
    assert room.controls.chat_unread == 0 and room.controls.chat_open
    room.add_chat_message("Ada", "seen")
    assert room.controls.chat_unread == 0
    assert len(room.chat.messages()) == 4


def test_layout_switch(qtbot, room):
    button = room.findChild(QWidget, "layout-button")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert room.layout_mode == "speaker"
    room.set_dominant_speaker("PA2")
    qtbot.wait(1)
    big = room.tile("PA2").geometry()
    assert all(big.width() > 2 * room.tile(s).width() for s in ("PA0", "PA1"))
    room.set_layout("grid")
    assert not button.isChecked()


def test_clear(room):
    room.add_chat_message("Ada", "x")
    room.show_reconnecting(True)
    room.clear()
    assert room.participant_sids() == [] and room.local_sid is None
    assert room.chat.messages() == [] and not room.reconnecting
