"""The app against a REAL in-process room server and real bots (``app.bot.Bot``), offscreen.

Each test starts ``start_server(port=0, dev=True)``, a MainWindow driven by ``ui.session.Session``
and a bot or two, all on one qasync loop (the ``run_live`` harness of tests/ui/uilive.py).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from app.bot import Bot
from core.media.faults import outgoing_loss
from core.media.sources import SyntheticVideoSource
from core.token import AccessToken
from core.track import LocalVideoTrack
from server.app import start_server
from ui.join import JoinRequest
from ui.tile import BACKGROUND, ParticipantTile
from uilive import ROOM, SIZE, Live

pytestmark = [pytest.mark.ui, pytest.mark.media]

# ---------------------------------------------------------------------- pixels


def _rgb(tile: ParticipantTile) -> tuple[np.ndarray, Any]:
    """The tile's video area as an RGB array (and the rect it came from)."""
    rect = tile.video_rect()
    assert not rect.isEmpty(), "the tile shows no video"
    image = tile.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    bpl = image.bytesPerLine()
    data = np.frombuffer(image.constBits(), dtype=np.uint8).reshape(image.height(), bpl)
    rgb = data[:, : image.width() * 3].reshape(image.height(), image.width(), 3)
    dpr = image.devicePixelRatio()
    x, y = round(rect.x() * dpr), round(rect.y() * dpr)
    w, h = round(rect.width() * dpr), round(rect.height() * dpr)
    return rgb[y: y + h, x: x + w].astype(np.float64), rect


def _chroma(rgb: np.ndarray) -> tuple[float, float]:
    """Median (U, V) of RGB pixels, BT.601 limited range (what libswscale's yuv420p->rgb inverts)."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    u = 128 + (-0.148 * r - 0.291 * g + 0.439 * b)
    v = 128 + (0.439 * r - 0.368 * g - 0.071 * b)
    return float(np.median(u)), float(np.median(v))


def _assert_paints_pattern_of(tile: ParticipantTile, bot: Bot) -> np.ndarray:
    rgb, _ = _rgb(tile)
    height = rgb.shape[0]
    body = rgb[height // 2:]  # below the stamp strip (neutral chroma) at the top
    assert body.std() > 10, "the video area is uniform"
    background = np.array([BACKGROUND.red(), BACKGROUND.green(), BACKGROUND.blue()], dtype=np.float64)
    assert np.abs(body - background).max(axis=-1).mean() > 30, "the video area is the initials background"
    source = bot.video.media_stream_track  # type: ignore[union-attr]  # Optional until the bot/session joined; joined here
    u, v = _chroma(body)
    expected_u, expected_v = source.chroma  # the background hue this bot's seed renders
    assert abs(u - expected_u) < 12 and abs(v - expected_v) < 12, ((u, v), source.chroma)
    return rgb


# ---------------------------------------------------------------------- tests


def test_tiles_follow_participants_and_paint_frames(run_live: Any, qtbot: Any) -> None:
    async def scenario(live: Live) -> None:
        ada = await live.bot("ada")  # already in the room: no participantConnected for her
        assert await live.join("Me")
        view = live.window.room_view
        assert live.window.current_screen == "room" and view.title.text() == ROOM
        local = view.tile(live.local_sid)
        assert local is not None and local.local
        ada_tile = await live.until(lambda: live.tile_of(ada), what="ada's tile")
        assert ada_tile.identity == "ada"
        await live.until(lambda: ada_tile.painted_frames >= 3, what="ada's frames to paint")
        first = _assert_paints_pattern_of(ada_tile, ada)
        painted = ada_tile.painted_frames
        await live.until(lambda: ada_tile.painted_frames >= painted + 3, what="more frames")
        second = _assert_paints_pattern_of(ada_tile, ada)
        assert first.shape == second.shape and np.abs(first - second).mean() > 1, "the video does not move"
        await live.until(lambda: local.painted_frames >= 2, what="the self-view")  # local track's add_sink
        # Media flows both ways: ada receives our camera too.
        await live.until(lambda: any(w.frames > 3 for w in ada.videos.values()), what="ada to get our video")

        bob = await live.bot("bob")
        bob_tile = await live.until(lambda: live.tile_of(bob), what="bob's tile")
        assert len(view.participants) == 3
        await live.until(lambda: bob_tile.painted_frames >= 2, what="bob's frames")
        _assert_paints_pattern_of(bob_tile, bob)
        bob_sid = bob.room.local_participant.sid  # type: ignore[union-attr]  # Optional until the bot/session joined; joined here
        await live.remove_bot(bob)
        await live.until(lambda: view.tile(bob_sid) is None, what="bob's tile to go")
        assert len(view.participants) == 2 and bob_sid not in view.participant_sids()

        # Leave: the calm "you left" page; ada sees us go; back to start, the camera preview runs again.
        my_sid = live.local_sid
        qtbot.mouseClick(view.controls.leave_button, Qt.MouseButton.LeftButton)
        assert live.window.current_screen == "room" and view.leave_asked  # Leave asks first
        qtbot.mouseClick(view.leave_confirm_button, Qt.MouseButton.LeftButton)
        ended = live.window.ended_screen
        assert live.window.current_screen == "ended" and live.session.bridge is None
        assert ended.kind == "left" and ended.title.text() == "You left the meeting."
        assert view.participant_sids() == []
        qtbot.mouseClick(ended.home_button, Qt.MouseButton.LeftButton)
        assert live.window.current_screen == "join" and live.window.join_screen.error_text == ""
        await live.until(lambda: my_sid not in ada.room.participants,
                         what="ada to see us leave")
        preview = live.window.join_screen.preview
        frames = preview.painted_frames
        await live.until(lambda: preview.painted_frames > frames, what="the preview again")

    run_live(scenario)


def test_remote_marks_and_the_reconnecting_banner(run_live: Any) -> None:
    async def scenario(live: Live) -> None:
        ada = await live.bot("ada")
        assert await live.join()
        tile = await live.until(lambda: live.tile_of(ada), what="ada's tile")
        panel = live.window.room_view.participants
        sid = ada.room.local_participant.sid  # type: ignore[union-attr]  # Optional until the bot/session joined; joined here
        await live.until(lambda: tile.has_video, what="ada's video")
        assert not tile.audio_muted and not tile.video_paused

        ada.audio.disable()  # type: ignore[union-attr]  # Optional until the bot/session joined; joined here
        await live.until(lambda: tile.audio_muted, what="the muted mark")
        assert panel.entry(sid).audio_muted  # type: ignore[union-attr]  # Optional until the bot/session joined; joined here
        ada.audio.enable()  # type: ignore[union-attr]  # Optional until the bot/session joined; joined here
        await live.until(lambda: not tile.audio_muted, what="the muted mark to go")

        ada.video.disable()  # type: ignore[union-attr]  # Optional until the bot/session joined; joined here
        await live.until(lambda: tile.video_paused, what="the paused mark")
        assert not tile.has_video and tile.video_rect().isEmpty()
        ada.video.enable()  # type: ignore[union-attr]  # Optional until the bot/session joined; joined here
        await live.until(lambda: not tile.video_paused, what="the paused mark to go")
        await live.until(lambda: tile.has_video, what="ada's video back")

        signaling = live.session.bridge.room._signaling  # type: ignore[union-attr]  # Optional until the bot/session joined; joined here
        # The signaling transport drops and comes back: the banner shows, then goes.
        signaling.transport_state("syncing")
        await live.until(lambda: live.window.room_view.reconnecting, what="the reconnecting banner")
        signaling.transport_state("connected")
        await live.until(lambda: not live.window.room_view.reconnecting, what="the banner to go")

    run_live(scenario)


def test_local_controls_reach_the_bot(run_live: Any, qtbot: Any) -> None:
    async def scenario(live: Live) -> None:
        ada = await live.bot("ada")
        seen: list[tuple[str, str]] = []
        ada.room.on("trackDisabled", lambda t, p: seen.append(("disabled", t.kind)))  # type: ignore[union-attr]  # Optional until the bot/session joined; joined here
        ada.room.on("trackEnabled", lambda t, p: seen.append(("enabled", t.kind)))  # type: ignore[union-attr]  # Optional until the bot/session joined; joined here
        assert await live.join()
        view, controls = live.window.room_view, live.window.room_view.controls
        me = await live.until(lambda: live.me_as_seen_by(ada), what="ada to see us")
        await live.until(lambda: all(pub.is_subscribed for pub in me.tracks.values()) and len(me.tracks) == 3,
                         what="ada to subscribe to our tracks")
        local = view.tile(live.local_sid)
        assert local is not None

        def my_audio_enabled() -> bool:
            return all(pub.is_track_enabled for pub in me.audio_tracks.values())

        qtbot.mouseClick(controls.mic_button, Qt.MouseButton.LeftButton)
        assert controls.mic_muted and local.audio_muted  # the SDK acted synchronously
        await live.until(lambda: ("disabled", "audio") in seen, what="ada's trackDisabled")
        assert not my_audio_enabled()

        live.window.activateWindow()  # shortcuts are window-wide: the window must be active
        await live.until(live.window.isActiveWindow, what="the window to be active")
        qtbot.keyClick(view.grid, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)  # Ctrl+D: unmute
        assert not controls.mic_muted and not local.audio_muted
        await live.until(lambda: ("enabled", "audio") in seen, what="ada's trackEnabled")
        assert my_audio_enabled()

        qtbot.keyClick(view.grid, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)  # Ctrl+E: camera off
        assert controls.camera_paused and local.video_paused
        await live.until(lambda: ("disabled", "video") in seen, what="ada's video trackDisabled")
        qtbot.mouseClick(controls.camera_button, Qt.MouseButton.LeftButton)
        assert not controls.camera_paused and not local.video_paused
        await live.until(lambda: ("enabled", "video") in seen, what="ada's video trackEnabled")

    run_live(scenario)


def test_chat_stats_and_screen_share(run_live: Any, qtbot: Any) -> None:
    async def scenario(live: Live) -> None:
        ada = await live.bot("ada")
        got: list[str] = []
        ada.room.on("trackMessage", lambda data, track, p: got.append(data))  # type: ignore[union-attr]  # Optional until the bot/session joined; joined here
        assert await live.join("Me")
        view, controls = live.window.room_view, live.window.room_view.controls
        me = await live.until(lambda: live.me_as_seen_by(ada), what="ada to see us")
        await live.until(lambda: any(pub.is_subscribed for pub in me.data_tracks.values()),
                         what="ada's chat subscription")

        # Chat both ways over the "chat" data tracks (sent until the channel is open at both ends).
        while not view.chat.messages():
            ada.data.send("hello from ada")  # type: ignore[union-attr]  # Optional until the bot/session joined; joined here
            await asyncio.sleep(0.2)
        message = view.chat.messages()[0]
        assert (message.sender, message.text, message.local) == ("ada", "hello from ada", False)
        assert controls.chat_unread >= 1
        qtbot.mouseClick(controls.chat_button, Qt.MouseButton.LeftButton)
        assert view.chat.isVisible() and controls.chat_unread == 0
        qtbot.keyClicks(view.chat.input, "hi ada")
        qtbot.keyClick(view.chat.input, Qt.Key.Key_Return)
        await live.until(lambda: "hi ada" in got, what="ada to get our message")
        assert view.chat.messages()[-1].local and view.chat.messages()[-1].text == "hi ada"

        # Stats: polled only while the overlay is open.
        assert not live.session.stats_polling
        qtbot.mouseClick(controls.stats_button, Qt.MouseButton.LeftButton)
        assert view.stats.isVisible() and live.session.stats_polling
        await live.until(lambda: any(r[0] == "ada" and r[3] == "160×120" for r in view.stats.rows()),
                         what="stats rows")
        await live.until(lambda: any(r[0] == "ada" and r[5].endswith("bps") for r in view.stats.rows()),
                         what="a bitrate (from the second poll)")
        rows = view.stats.rows()
        assert any(r[0] == "You" and r[2] == "↑" for r in rows) and any(r[2] == "↓" for r in rows)
        qtbot.mouseClick(controls.stats_button, Qt.MouseButton.LeftButton)
        await asyncio.sleep(0.05)
        assert not view.stats.isVisible() and not live.session.stats_polling

        # Screen share: a video track named "screen", its own tile here, subscribed by ada.
        def ada_screen() -> Any:
            return next((p for p in me.video_tracks.values() if p.track_name == "screen" and p.is_subscribed),
                        None)

        qtbot.mouseClick(controls.screen_button, Qt.MouseButton.LeftButton)
        screen_key = f"{live.local_sid}:screen"
        screen_tile = await live.until(lambda: view.tile(screen_key), what="our screen tile")
        assert controls.screen_sharing and not screen_tile.mirrored
        await live.until(ada_screen, what="ada to subscribe to our screen")
        await live.until(lambda: screen_tile.painted_frames >= 1, what="the screen self-view")
        qtbot.mouseClick(controls.screen_button, Qt.MouseButton.LeftButton)
        assert not controls.screen_sharing and view.tile(screen_key) is None
        await live.until(lambda: ada_screen() is None, what="ada to lose our screen")

        # Ada shares hers: a tile of its own, unmirrored, gone when she stops.
        ada_key = f"{ada.room.local_participant.sid}:screen"
        shared = LocalVideoTrack(SyntheticVideoSource(*SIZE, 5, label="ada's screen"), name="screen")
        await ada.room.local_participant.publish_track(shared)
        remote_screen = await live.until(lambda: view.tile(ada_key), what="ada's screen tile")
        assert remote_screen.name == "ada (screen)" and not remote_screen.mirrored
        await live.until(lambda: remote_screen.painted_frames >= 1, what="ada's screen frames")
        ada.room.local_participant.unpublish_track(shared)
        shared.stop()
        await live.until(lambda: view.tile(ada_key) is None, what="ada's screen tile to go")

    run_live(scenario)


def test_room_completed_returns_to_join_with_its_code(run_live: Any) -> None:
    async def scenario(live: Live) -> None:
        await live.bot("ada")
        assert await live.join()
        # End the room through the REST API, as an operator would.
        status, body = await live.rest(f"Rooms/{ROOM}", {"Status": "completed"})
        assert status == 200, body
        ended = live.window.ended_screen
        await live.until(lambda: live.window.current_screen == "ended", what="the ended page")
        # A normal end is a neutral page, not a red error.
        assert ended.kind == "ended" and ended.title.text() == "The meeting has ended."
        assert ended.detail.text() == "Error 53118 · Room completed"
        assert live.window.room_view.participant_sids() == []

    run_live(scenario)


def test_bad_token_shows_its_error_code(run_live: Any, qtbot: Any) -> None:
    async def scenario(live: Live) -> None:
        c = live.server.credentials
        forged = AccessToken(c.account_sid, c.api_key_sid, "not-the-secret-" * 3, identity="mallory",
                             room=ROOM).to_jwt()
        join = live.window.join_screen
        join.set_values(server=live.server.url, room="", name="")
        join.token_input.setText(forged)
        qtbot.mouseClick(join.join_button, Qt.MouseButton.LeftButton)
        await live.until(lambda: join.error_text, what="the join error")
        assert join.error_text.startswith("This invite or access token was not made by this server")
        assert join.error_detail_text == "Error 20107 · Invalid Access Token signature"
        assert live.window.current_screen == "join" and not join.busy and live.session.bridge is None
        frames = join.preview.painted_frames  # the preview and the meter survive a failed join
        await live.until(lambda: join.preview.painted_frames > frames, what="the preview to go on")
        await live.until(lambda: join.mic_level > 0.01, what="the microphone meter")  # the synthetic tone

    run_live(scenario)


def test_dev_token_refused_without_dev_mode(run_live: Any, tmp_path: Path) -> None:
    async def scenario(live: Live) -> None:
        strict = await start_server("127.0.0.1", 0, tmp_path / "strict")
        try:
            request = JoinRequest(server=strict.url, room=ROOM, name="Me", token=None,
                                  camera_id=None, mic_id=None, speaker_id=None)
            assert not await live.session.join(request)
            join = live.window.join_screen
            assert join.error_text == ("This server does not let anyone join by name. "
                                       "Paste an invite link or access token.")
            assert "does not hand out tokens" in join.error_detail_text
        finally:
            await strict.close()

    run_live(scenario)


async def _group_room(live: Live) -> None:
    """Make ROOM a group room (the forwarder: server-side dominant speaker and quality)."""
    status, body = await live.rest("Rooms", {"UniqueName": ROOM, "Type": "group"})
    assert status == 201, body


def test_dominant_speaker_highlight_and_quality_bars_end_to_end(run_live: Any) -> None:
    """Real audio levels and real loss, through the server, to the tiles."""
    async def scenario(live: Live) -> None:
        await _group_room(live)
        ada, grace = await live.bot("ada"), await live.bot("grace")
        for bot in (ada, grace):
            bot.audio_source.set_speaking(False)  # type: ignore[union-attr]  # Optional until the bot/session joined; joined here
        assert await live.join()
        live.session.bridge.set_mic_muted(True)  # type: ignore[union-attr]  # Optional until the bot/session joined; joined here
        tiles = {"ada": await live.until(lambda: live.tile_of(ada), what="ada's tile"),
                 "grace": await live.until(lambda: live.tile_of(grace), what="grace's tile")}
        # The highlight follows whoever speaks.
        for speaker, quiet in ((ada, grace), (grace, ada), (ada, grace)):
            speaker.audio_source.set_speaking(True)  # type: ignore[union-attr]  # Optional until the bot/session joined; joined here
            quiet.audio_source.set_speaking(False)  # type: ignore[union-attr]  # Optional until the bot/session joined; joined here
            name, other = speaker.args.identity, quiet.args.identity
            await live.until(lambda: tiles[name].dominant and not tiles[other].dominant, timeout=6,
                             what=f"the highlight on {name}")
        # The bars follow the loss injected on Ada's outgoing RTP, and come back.
        ada_tile = tiles["ada"]
        await live.until(lambda: (ada_tile.network_level or 0) >= 4, timeout=10, what="ada's bars at 4-5")
        loss = outgoing_loss(ada.room)
        loss.set_fraction(0.2)
        await live.until(lambda: ada_tile.network_level is not None and ada_tile.network_level <= 2,
                         timeout=12, what="ada's bars down with 20 % loss")
        loss.set_fraction(0.0)
        await live.until(lambda: (ada_tile.network_level or 0) >= 4, timeout=12, what="ada's bars back")

    run_live(scenario)


def test_a_remote_video_that_stops_arriving_is_marked_on_its_tile(run_live: Any) -> None:
    """Bridge → session → room view → tile: the frozen mark follows the media, not a timer."""
    async def scenario(live: Live) -> None:
        await _group_room(live)
        ada = await live.bot("ada")
        assert await live.join()
        tile = await live.until(lambda: live.tile_of(ada), what="ada's tile")
        await live.until(lambda: tile.has_video, timeout=10, what="ada's video")
        assert not tile.video_frozen
        loss = outgoing_loss(ada.room)
        loss.set_fraction(1.0)  # nothing of ada's reaches anyone
        await live.until(lambda: tile.video_frozen, timeout=8, what="ada's tile marked frozen")
        loss.set_fraction(0.0)
        await live.until(lambda: not tile.video_frozen, timeout=15, what="ada's mark gone")

    run_live(scenario)
