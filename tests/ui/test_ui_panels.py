from __future__ import annotations

from datetime import datetime

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit, QListWidget, QPushButton, QTableWidget, QTreeWidget

from ui.chat import ChatPanel
from ui.participants_panel import ParticipantsPanel
from ui.stats_overlay import COLUMNS, StatsOverlay, StatsRow, format_bitrate

pytestmark = pytest.mark.ui


@pytest.fixture
def chat(qtbot) -> ChatPanel:
    c = ChatPanel()
    qtbot.addWidget(c)
    c.show()
    return c


def test_chat_submit_by_enter_and_button(qtbot, chat):
    line = chat.findChild(QLineEdit, "chat-input")
    send = chat.findChild(QPushButton, "chat-send")
    assert not send.isEnabled()
    qtbot.keyClicks(line, "  hello  ")
    assert send.isEnabled()
    with qtbot.waitSignal(chat.message_submitted, timeout=1000) as blocker:
        qtbot.keyClick(line, Qt.Key.Key_Return)
    assert blocker.args == ["hello"] and line.text() == ""
    qtbot.keyClicks(line, "second")
    with qtbot.waitSignal(chat.message_submitted, timeout=1000) as blocker:
        qtbot.mouseClick(send, Qt.MouseButton.LeftButton)
    assert blocker.args == ["second"]
    assert chat.messages() == []  # no echo: the caller adds sent messages


def test_chat_blank_or_disabled_not_sent(qtbot, chat):
    line = chat.findChild(QLineEdit, "chat-input")
    with qtbot.assertNotEmitted(chat.message_submitted):
        qtbot.keyClicks(line, "   ")
        qtbot.keyClick(line, Qt.Key.Key_Return)
        chat.set_input_enabled(False)
        line.setText("x")
        chat.submit()


def test_chat_add_message(chat):
    when = datetime(2026, 12, 1, 9, 30)
    chat.add_message("Ada", "hi all", timestamp=when)
    chat.add_message("Me", "hello", local=True, timestamp=when)
    items = chat.findChild(QListWidget, "chat-list")
    assert items.count() == 2
    assert items.item(0).text() == "Ada  ·  09:30\nhi all"
    assert items.item(1).text().startswith("You")
    assert [m.local for m in chat.messages()] == [False, True]
    chat.clear()
    assert items.count() == 0


def test_participants_panel(qtbot):
    panel = ParticipantsPanel()
    qtbot.addWidget(panel)
    panel.add_participant("PA1", "Ada")
    panel.add_participant("PA0", "Me", local=True)
    panel.add_participant("PA2", "Grace")
    tree = panel.findChild(QTreeWidget, "participants-list")
    assert panel.sids() == ["PA0", "PA1", "PA2"]  # local first
    assert tree.topLevelItem(0).text(0) == "Me (you)"
    assert panel.findChild(object, "participants-count").text() == "Participants (3)"
    panel.set_audio_muted("PA1", True)
    panel.set_video_paused("PA2", True)
    assert panel.entry("PA1").audio_muted and not panel.entry("PA1").video_paused
    assert tree.topLevelItem(1).toolTip(1) == "Microphone muted"
    assert tree.topLevelItem(2).toolTip(2) == "Camera paused"
    panel.remove_participant("PA1")
    assert panel.sids() == ["PA0", "PA2"] and len(panel) == 2
    panel.set_audio_muted("gone", True)  # unknown sids are ignored


def test_stats_overlay_rows(qtbot):
    overlay = StatsOverlay()
    qtbot.addWidget(overlay)
    assert overlay.objectName() == "stats-overlay"
    overlay.set_rows([
        StatsRow("Ada", "camera", "video", "recv", 640, 480, 29.7, 812_000, 0.4, 12.3),
        {"participant": "Me", "track": "mic", "kind": "audio", "direction": "send",
         "bitrate_bps": 32_000, "rtt_ms": None},
    ])
    table = overlay.findChild(QTableWidget, "stats-table")
    assert table.rowCount() == 2 and table.columnCount() == len(COLUMNS)
    row = [table.item(0, c).text() for c in range(len(COLUMNS))]
    assert row == ["Ada", "camera (video)", "↓", "640×480", "30", "812 kbps", "0.4 %", "12 ms"]
    assert overlay.rows()[1] == ("Me", "mic (audio)", "↑", "", "", "32 kbps", "—", "—")
    overlay.set_rows([])
    assert table.rowCount() == 0


def test_format_bitrate():
    assert format_bitrate(None) == "—"
    assert format_bitrate(900) == "900 bps"
    assert format_bitrate(2_500_000) == "2.50 Mbps"
