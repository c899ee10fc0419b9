"""Meetings as a person meets them, against a REAL server and real bots (tests/ui/uilive.py):
namesakes, a token's identity, human error messages, Cancel while connecting, Rejoin."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from uilive import ROOM, Live, save_artifact

pytestmark = [pytest.mark.ui, pytest.mark.media]


def test_a_namesake_joins_without_removing_anyone(run_live: Any, qtbot: Any) -> None:
    async def scenario(live: Live) -> None:
        ada = await live.bot("Ada")  # an "Ada" is in the room already
        assert await live.join("Ada")  # and you type "Ada" too
        view = live.window.room_view
        mine = view.tile(live.local_sid)
        assert mine is not None and mine.name == "Ada"
        their_tile = await live.until(lambda: live.tile_of(ada), what="the other Ada's tile")
        assert their_tile.name == "Ada"
        me = await live.until(lambda: live.me_as_seen_by(ada), what="the other Ada to see you")
        assert me.identity != "Ada" and me.identity.startswith("Ada#")
        await asyncio.sleep(0.5)  # a duplicate identity would have thrown her out by now (53205)
        assert ada.room is not None and ada.room.state == "connected"
        assert live.session.bridge is not None and live.window.current_screen == "room"
        entries = [view.participants.entry(sid) for sid in view.participants.sids()]
        assert sorted((e.name, e.local) for e in entries if e is not None) == [("Ada", False), ("Ada", True)]

    run_live(scenario)


def test_your_tile_shows_the_token_identity_not_the_name_field(run_live: Any, qtbot: Any) -> None:
    async def scenario(live: Live) -> None:
        token = live.server.token("carol", ROOM)
        join = live.window.join_screen
        join.set_values(server=live.server.url, room="a-remembered-room", name="Zed")
        join.token_input.setText(token)
        join.token_input.textEdited.emit(token)  # as a paste does
        assert join.room_input.text() == ROOM and join.name_input.text() == "carol"
        join.name_input.setText("Zed")  # whatever the field says, the token decides who you are
        qtbot.mouseClick(join.join_button, Qt.MouseButton.LeftButton)
        await live.until(lambda: live.session.bridge is not None, what="joining with the token")
        tile = live.window.room_view.tile(live.local_sid)
        assert tile is not None and tile.name == "carol"

    run_live(scenario)


def test_errors_in_words_and_the_form_stays_usable(run_live: Any, qtbot: Any) -> None:
    async def scenario(live: Live) -> None:
        join = live.window.join_screen
        closed = "http://127.0.0.1:1"  # nothing listens on port 1
        assert not await live.join("Me", server=closed)
        assert join.error_text == f"Nothing is answering at {closed}. Is the server running, and is the port right?"
        assert "Connect call failed" not in join.error_text and "Cannot reach" in join.error_detail_text
        assert not await live.join("Me", token=live.server.token("me", ROOM),
                                   server="https://" + live.server.url.removeprefix("http://"))
        assert join.error_text.endswith("does not use a secure connection: try http:// instead of https://.")
        assert join.error_detail_text.startswith("Error 53000 · ")
        assert not join.busy and join.join_button.isEnabled() and live.window.current_screen == "join"
        save_artifact(live.window, "join-error.png")
        assert await live.join("Me")  # after all that, joining works
        assert live.window.current_screen == "room"

    run_live(scenario)


def test_cancel_while_connecting_to_a_server_that_never_answers(run_live: Any, qtbot: Any) -> None:
    async def scenario(live: Live) -> None:
        held: list[asyncio.StreamWriter] = []
        silent = await asyncio.start_server(lambda r, w: held.append(w), "127.0.0.1", 0)  # accepts, never answers
        port = silent.sockets[0].getsockname()[1]
        try:
            join = live.window.join_screen
            join.set_values(server=f"http://127.0.0.1:{port}", room="", name="")
            join.token_input.setText(live.server.token("me", ROOM))
            qtbot.mouseClick(join.join_button, Qt.MouseButton.LeftButton)
            await live.until(lambda: live.session.connecting, what="connecting")
            await live.until(lambda: held, what="the silent server to be reached")
            assert join.busy and join.cancel_button.isVisible() and join.join_button.text() == "Connecting…"
            started = asyncio.get_running_loop().time()
            qtbot.mouseClick(join.cancel_button, Qt.MouseButton.LeftButton)
            await live.until(lambda: not join.busy, timeout=2, what="Cancel to stop connecting")
            assert asyncio.get_running_loop().time() - started < 2  # not the SDK's 15 s give-up
            assert not join.cancel_button.isVisible() and join.error_text == ""
            assert live.session.bridge is None and live.window.current_screen == "join"
        finally:
            silent.close()
            for writer in held:
                writer.close()
        join.set_values(server=live.server.url)
        join.token_input.setText(live.server.token("me", ROOM))
        qtbot.mouseClick(join.join_button, Qt.MouseButton.LeftButton)
        await live.until(lambda: live.session.bridge is not None, what="joining after Cancel")

    run_live(scenario)


def test_meeting_ended_page_and_rejoin(run_live: Any, qtbot: Any) -> None:
    async def scenario(live: Live) -> None:
        ada = await live.bot("ada")
        assert await live.join("Me")
        # End the room through the REST API, as an operator would.
        status, body = await live.rest(f"Rooms/{ROOM}", {"Status": "completed"})
        assert status == 200, body
        ended = live.window.ended_screen
        await live.until(lambda: live.window.current_screen == "ended", what="the ended page")
        assert ended.kind == "ended" and ended.rejoin_button.isVisible()
        assert ended.room_label.text() == ROOM
        save_artifact(live.window, "meeting-ended.png")
        await live.until(lambda: ada.room is None or ada.room.state == "disconnected", what="ada to go")
        qtbot.mouseClick(ended.rejoin_button, Qt.MouseButton.LeftButton)
        await live.until(lambda: live.session.bridge is not None, what="rejoining")
        assert live.window.current_screen == "room" and live.window.room_view.title.text() == ROOM

    run_live(scenario)


def test_copy_invite_link_and_join_with_it(run_live: Any, qtbot: Any) -> None:
    async def scenario(live: Live) -> None:
        from PySide6.QtGui import QGuiApplication

        assert await live.join("Host")
        view = live.window.room_view
        QGuiApplication.clipboard().setText("")
        qtbot.mouseClick(view.invite_button, Qt.MouseButton.LeftButton)
        link = QGuiApplication.clipboard().text()
        assert link == f"{live.server.url}/join/{ROOM}" and view.invite_button.text() == "Link copied ✓"
        async with aiohttp.ClientSession() as http:  # what the guest's browser gets
            async with http.get(link) as resp:
                assert resp.status == 200 and "Open in Confab" in await resp.text()
        qtbot.mouseClick(view.controls.leave_button, Qt.MouseButton.LeftButton)
        qtbot.mouseClick(view.leave_confirm_button, Qt.MouseButton.LeftButton)
        qtbot.mouseClick(live.window.ended_screen.home_button, Qt.MouseButton.LeftButton)
        join = live.window.join_screen  # a guest pastes the link over remembered settings
        join.set_values(server="http://old-server:7880", room="yesterday", name="Guest")
        join.token_input.setText(link)
        join.token_input.textEdited.emit(link)
        assert (join.server_input.text(), join.room_input.text()) == (live.server.url, ROOM)
        qtbot.mouseClick(join.join_button, Qt.MouseButton.LeftButton)
        await live.until(lambda: live.session.bridge is not None, what="joining from the link")
        assert live.session.bridge.room_name == ROOM  # type: ignore[union-attr]  # the session is in a room at this point

    run_live(scenario)


def test_raise_hand_both_ways(run_live: Any, qtbot: Any) -> None:
    async def scenario(live: Live) -> None:
        import json

        ada = await live.bot("ada")
        assert await live.join("Me")
        view = live.window.room_view
        ada_tile = await live.until(lambda: live.tile_of(ada), what="ada's tile")
        got: list[Any] = []
        assert ada.room is not None and ada.data is not None
        ada.room.on("trackMessage", lambda data, track, p: got.append(data))
        await asyncio.sleep(1.0)  # the data channels open after the tiles appear
        qtbot.mouseClick(view.controls.hand_button, Qt.MouseButton.LeftButton)  # you raise your hand
        mine = view.tile(live.local_sid)
        assert mine is not None and mine.hand_raised and view.controls.hand_raised
        mark = mine.findChild(QLabel, "tile-hand-raised")
        assert mark is not None and mark.isVisible()
        await live.until(lambda: got, what="ada to receive the raised hand")
        assert json.loads(bytes(got[-1])) == {"confab": "hand", "raised": True}
        assert view.chat.messages() == []  # a control message, never a chat line
        ada.data.send(json.dumps({"confab": "hand", "raised": True}).encode())  # ada raises hers
        await live.until(lambda: ada_tile.hand_raised, what="ada's raised hand")
        assert "hand raised" in ada_tile.accessibleName()
        save_artifact(live.window, "raised-hand.png")
        ada.data.send(json.dumps({"confab": "hand", "raised": False}).encode())
        await live.until(lambda: not ada_tile.hand_raised, what="ada's hand down")
        qtbot.keyClick(view.grid, Qt.Key.Key_H, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier)
        assert not mine.hand_raised

    run_live(scenario)


def test_a_hand_raised_before_someone_joins_is_seen_by_the_newcomer(run_live: Any, qtbot: Any) -> None:
    async def scenario(live: Live) -> None:
        import json

        assert await live.join("Me")
        view = live.window.room_view
        qtbot.mouseClick(view.controls.hand_button, Qt.MouseButton.LeftButton)  # alone in the room
        assert view.controls.hand_raised
        grace = await live.bot("grace")  # joins after the hand went up
        got: list[Any] = []
        assert grace.room is not None
        grace.room.on("trackMessage", lambda data, track, p: got.append(data))
        await live.until(lambda: got, what="grace to learn that my hand is up", timeout=10)
        assert json.loads(bytes(got[-1])) == {"confab": "hand", "raised": True}

    run_live(scenario)
