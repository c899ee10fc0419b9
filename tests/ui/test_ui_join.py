from __future__ import annotations

import base64
import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit, QProgressBar, QPushButton, QWidget

from ui.join import DEFAULT_SERVER, JoinRequest, JoinScreen
from ui.tile import ParticipantTile

pytestmark = pytest.mark.ui

CAMERAS = [("synthetic:pattern", "Test pattern"), ("/dev/video0", "USB camera")]
MICS = [("synthetic:tone", "Test tone"), ("hw:1", "Headset")]
SPEAKERS = [("null", "No output"), ("hw:2", "Speakers")]


def token(identity: str, room: str | None) -> str:
    def b64(o: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(o).encode()).rstrip(b"=").decode()
    video = {"room": room} if room else {}
    return f"{b64({'alg': 'HS256'})}.{b64({'grants': {'identity': identity, 'video': video}})}.c2ln"


@pytest.fixture
def join(qtbot) -> JoinScreen:
    j = JoinScreen()
    qtbot.addWidget(j)
    j.set_cameras(CAMERAS)
    j.set_microphones(MICS)
    j.set_speakers(SPEAKERS, selected="hw:2")
    j.show()
    return j


def field(join: JoinScreen, name: str) -> QLineEdit:
    w = join.findChild(QLineEdit, name)
    assert w is not None, name
    return w


def test_object_names(join):
    for name in ("server-input", "room-input", "name-input", "token-input", "camera-picker",
                 "mic-picker", "speaker-picker", "camera-preview", "mic-meter", "join-button",
                 "join-error"):
        assert join.findChild(QWidget, name) is not None, name
    assert field(join, "server-input").text() == DEFAULT_SERVER


def test_join_emits_request_with_entered_values(qtbot, join):
    qtbot.keyClicks(field(join, "room-input"), "standup")
    qtbot.keyClicks(field(join, "name-input"), "Ada")
    join.findChild(QComboBox, "camera-picker").setCurrentIndex(1)
    join.findChild(QComboBox, "mic-picker").setCurrentIndex(0)
    with qtbot.waitSignal(join.join_requested, timeout=1000) as blocker:
        qtbot.mouseClick(join.findChild(QPushButton, "join-button"), Qt.MouseButton.LeftButton)
    assert blocker.args == [JoinRequest(
        server=DEFAULT_SERVER, room="standup", name="Ada", token=None,
        camera_id="/dev/video0", mic_id="synthetic:tone", speaker_id="hw:2")]


def test_return_key_joins(qtbot, join):
    join.set_values(room="r", name="n")
    with qtbot.waitSignal(join.join_requested, timeout=1000):
        qtbot.keyClick(field(join, "name-input"), Qt.Key.Key_Return)


def test_missing_fields_show_error_and_do_not_emit(qtbot, join):
    with qtbot.assertNotEmitted(join.join_requested):
        join.findChild(QPushButton, "join-button").click()
    assert "room" in join.error_text.lower()
    join.set_values(server="not a url", room="r", name="n")
    with qtbot.assertNotEmitted(join.join_requested):
        join.request_join()
    assert "server" in join.error_text.lower()


def test_show_error_in_words_with_the_code_in_small_print(join):
    join.show_error(20107, "Invalid Access Token signature")
    label, detail = join.findChild(QLabel, "join-error"), join.findChild(QLabel, "join-error-detail")
    assert label.isVisible() and detail.isVisible()
    assert "20107" not in label.text() and "token" in label.text()
    assert detail.text() == "Error 20107 · Invalid Access Token signature"
    join.show_error(None, "Server unreachable")
    assert label.text() == "Server unreachable" and not detail.isVisible()
    join.set_busy(True)
    assert not label.isVisible() and not detail.isVisible()


def test_busy_disables_form(qtbot, join):
    join.set_values(room="r", name="n")
    join.set_busy(True)
    button = join.findChild(QPushButton, "join-button")
    assert join.busy and not button.isEnabled() and "Connecting" in button.text()
    assert not field(join, "room-input").isEnabled()
    assert not join.findChild(QComboBox, "camera-picker").isEnabled()
    with qtbot.assertNotEmitted(join.join_requested):
        join.request_join()
    join.set_busy(False)
    assert button.isEnabled() and button.text() == "Join"
    assert join.findChild(QComboBox, "camera-picker").isEnabled()


def test_pasted_invite_link_fills_form(qtbot, join):
    tok = token("grace", "standup")
    line = field(join, "token-input")
    line.setFocus()
    line.insert(f"confab://join?server=http://10.0.0.5:9000&room=standup&token={tok}")
    line.textEdited.emit(line.text())  # what a paste by the user emits
    assert field(join, "server-input").text() == "http://10.0.0.5:9000"
    assert field(join, "room-input").text() == "standup"
    assert line.text() == tok
    assert field(join, "name-input").text() == "grace"  # pre-filled from the token
    with qtbot.waitSignal(join.join_requested, timeout=1000) as blocker:
        join.request_join()
    req = blocker.args[0]
    assert (req.server, req.room, req.token) == ("http://10.0.0.5:9000", "standup", tok)


def test_bare_token_is_enough(qtbot, join):
    tok = token("bob", None)
    join.apply_invite(tok)
    with qtbot.waitSignal(join.join_requested, timeout=1000) as blocker:
        join.request_join()
    assert blocker.args[0].token == tok and blocker.args[0].name == "bob"
    assert blocker.args[0].room is None


def test_bad_token_text_is_reported(qtbot, join):
    join.set_values(token="confab://nonsense")
    with qtbot.assertNotEmitted(join.join_requested):
        join.request_join()
    assert "not understood" in join.error_text


def test_device_lists_keep_selection_and_emit_on_user_choice(qtbot, join):
    picker = join.findChild(QComboBox, "camera-picker")
    assert [picker.itemData(i) for i in range(picker.count())] == [d for d, _ in CAMERAS]
    picker.setCurrentIndex(1)
    join.set_cameras([*CAMERAS, ("new", "New camera")])  # a device appeared
    assert picker.currentData() == "/dev/video0"
    with qtbot.assertNotEmitted(join.camera_changed):
        join.set_cameras([*CAMERAS, ("new", "New camera")], selected="new")
    with qtbot.waitSignal(join.camera_changed, timeout=1000) as blocker:
        qtbot.keyClick(picker, Qt.Key.Key_Up)  # the user picks the previous entry
    assert blocker.args == ["/dev/video0"]
    join.set_cameras([])
    assert not picker.isEnabled()


def test_mic_meter_and_preview(join, make_frame, near_color):
    meter = join.findChild(QProgressBar, "mic-meter")
    join.set_mic_level(0.5)
    assert join.mic_level == pytest.approx(0.5) and meter.value() == meter.maximum() // 2
    join.set_mic_level(3.0)
    assert join.mic_level == 1.0
    join.set_mic_level(-1)
    assert join.mic_level == 0.0
    join.set_mic_level(float("nan"))
    assert join.mic_level == 0.0
    preview = join.findChild(ParticipantTile, "camera-preview")
    preview.resize(320, 240)
    join.set_preview_frame(make_frame(320, 240))
    img = preview.grab().toImage()
    assert preview.mirrored and preview.painted_frames == 1
    assert near_color(img.pixelColor(80, 120), (0, 0, 255))  # self-view is mirrored
    join.clear_preview()
    assert not preview.has_video


def test_remembered_room_and_name_give_way_to_a_pasted_token(qtbot, join):
    """Item 5: a remembered room plus a pasted token for another room used to give 20106."""
    join.set_values(server="http://127.0.0.1:7880", room="yesterday", name="Old Name")
    tok = token("grace#k2x9", "standup")
    line = field(join, "token-input")
    line.setText(tok)
    line.textEdited.emit(tok)  # what a paste by the user emits
    assert field(join, "room-input").text() == "standup"
    assert field(join, "name-input").text() == "grace"  # the display name, not the identity
    field(join, "room-input").setText("yesterday")  # even when the room field is edited back
    with qtbot.waitSignal(join.join_requested, timeout=1000) as blocker:
        join.request_join()
    assert (blocker.args[0].room, blocker.args[0].token) == ("standup", tok)


def test_web_invite_link_replaces_a_remembered_server_and_room(qtbot, join):
    join.set_values(server="http://old-host:7880", room="yesterday", name="Ada")
    line = field(join, "token-input")
    line.setText("http://10.0.0.9:7880/join/standup")
    line.textEdited.emit(line.text())
    with qtbot.waitSignal(join.join_requested, timeout=1000) as blocker:
        join.request_join()
    req = blocker.args[0]
    assert (req.server, req.room, req.name, req.token) == ("http://10.0.0.9:7880", "standup", "Ada", None)


@pytest.mark.parametrize(("saved", "expected"), [
    ("127.0.0.1:7880", "http://127.0.0.1:7880"),      # saved from the command line without a scheme
    ("localhost", "http://localhost"),
    ("[::1]:7880", "http://[::1]:7880"),
    ("ws://h:1/signaling", "http://h:1"),
    ("https://meet.example.org/", "https://meet.example.org"),
])
def test_a_server_without_a_scheme_is_accepted(qtbot, join, saved, expected):
    join.set_values(server=saved, room="r", name="n")
    assert field(join, "server-input").text() == expected
    field(join, "server-input").setText(saved)  # typed that way, too
    with qtbot.waitSignal(join.join_requested, timeout=1000) as blocker:
        join.request_join()
    assert blocker.args[0].server == expected


def test_cancel_button_only_while_connecting(qtbot, join):
    cancel = join.findChild(QPushButton, "cancel-button")
    assert cancel is not None and not cancel.isVisible()
    join.set_busy(True)
    assert cancel.isVisible() and cancel.isEnabled()
    with qtbot.waitSignal(join.cancel_requested, timeout=1000):
        qtbot.mouseClick(cancel, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(join.cancel_requested, timeout=1000):
        qtbot.keyClick(join, Qt.Key.Key_Escape)
    join.set_busy(False)
    assert not cancel.isVisible()
    with qtbot.assertNotEmitted(join.cancel_requested):
        qtbot.keyClick(join, Qt.Key.Key_Escape)


def test_a_long_error_never_squeezes_the_fields(qtbot) -> None:
    from ui.main_window import MainWindow

    window = MainWindow()  # the app's stylesheet: padded fields
    qtbot.addWidget(window)
    window.resize(960, 600)
    window.show()
    join = window.join_screen
    join.show_error(53000, "Signaling connection error: Cannot connect to host 127.0.0.1:34795 ssl:default "
                    "[[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)]",
                    server="https://127.0.0.1:34795")
    qtbot.wait(50)
    fields = [join.server_input, join.room_input, join.token_input, join.camera_picker, join.speaker_picker]
    assert all(f.height() >= f.sizeHint().height() for f in fields), [(f.height(), f.sizeHint().height())
                                                                     for f in fields]
