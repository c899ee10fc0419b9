"""Real devices in the app: the join screen lists them by name and picks a real one first; the
in-call device menu switches camera, microphone and speaker without republishing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PySide6.QtCore import Qt

import pulseserver
import xserver
from core import LocalVideoTrack
from core.media import devices
from recorded import Chroma, record_clip
from uilive import Live, save_artifact


def _video_of(live: Live, bot: Any) -> Any:
    me = live.me_as_seen_by(bot)
    if me is None:
        return None
    return next((pub.track for pub in me.video_tracks.values() if pub.track is not None), None)


def _audio_sid(live: Live, bot: Any) -> str | None:
    me = live.me_as_seen_by(bot)
    return next((pub.track_sid for pub in me.audio_tracks.values()), None) if me is not None else None


def test_device_menu_switches_camera_microphone_and_speaker(
        run_live: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    red = record_clip(tmp_path / "red-camera.mp4", (82, 90, 240), size=(160, 120))
    monkeypatch.setenv("CONFAB_CAMERA_FILES", str(red))
    pulse = pulseserver.PulseServer(tmp_path / "pulse", ["desk_speakers", "headset"]) \
        if pulseserver.available() else None
    if pulse is not None:
        for key, value in pulse.env().items():
            monkeypatch.setenv(key, value)

    async def scenario(live: Live) -> None:
        join = live.window.join_screen
        cameras = [join.camera_picker.itemText(i) for i in range(join.camera_picker.count())]
        assert cameras == ["Recording red-camera.mp4", "Synthetic camera"]
        assert join.camera_picker.currentText() == "Recording red-camera.mp4"  # the real one first
        if pulse is not None:
            assert join.speaker_picker.currentText() == "Desk speakers"
            assert join.mic_picker.currentText() == "Monitor of Desk speakers"
        await live.until(lambda: join.preview.painted_frames > 0, what="a preview frame")
        save_artifact(live.window, "join-devices.png")

        ada = await live.bot("ada")
        assert await live.join("Me")
        remote = await live.until(lambda: _video_of(live, ada), what="ada to get my camera")
        seen = Chroma()
        remote.add_sink(seen)
        await live.until(lambda: seen.v > 220, what="ada to see the red recording", timeout=15)
        sid, audio_sid = remote.sid, _audio_sid(live, ada)
        controls = live.window.room_view.controls
        assert controls.current_device("videoinput") == f"file:{red}"

        cameras_menu = controls.device_actions("videoinput")
        assert [a.text() for a in cameras_menu] == cameras
        blue = record_clip(tmp_path / "blue-camera.mp4", (41, 240, 110), size=(160, 120))
        monkeypatch.setenv("CONFAB_CAMERA_FILES", f"{red}:{blue}")  # a camera plugged in during the call
        controls.device_menu.aboutToShow.emit()
        assert [a.text() for a in controls.device_actions("videoinput")] == [
            "Recording red-camera.mp4", "Recording blue-camera.mp4", "Synthetic camera"]
        assert controls.current_device("videoinput") == f"file:{red}"
        cameras_menu = [a for a in controls.device_actions("videoinput") if a.text() in cameras]
        cameras_menu[1].trigger()  # the synthetic camera
        await live.until(lambda: 0 < seen.v < 200, what="ada to see the other camera", timeout=15)
        assert _video_of(live, ada).sid == sid and controls.current_device("videoinput") == "synthetic:camera"

        async def choose(kind: str, device_id: str, in_use: Any) -> None:
            entry = next(a for a in controls.device_actions(kind) if a.data() == device_id)
            entry.trigger()
            await live.until(in_use, what=f"the switch to {device_id}")
            assert controls.current_device(kind) == device_id

        mic = live.session.mic_track
        assert mic is not None
        await choose("audioinput", "synthetic:speech",
                     lambda: getattr(mic.media_stream_track, "signal", None) == "speech")
        assert _audio_sid(live, ada) == audio_sid  # the same published track
        if pulse is not None:
            bridge = live.session.bridge
            assert bridge is not None
            await choose("audiooutput", "pulse:headset",
                         lambda: getattr(bridge._output, "device", None) == "headset")

    try:
        run_live(scenario)
    finally:
        if pulse is not None:
            pulse.close()


def test_join_screen_capture_is_atomic(qtbot: Any, tmp_path: Path) -> None:
    from ui.main_window import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(640, 400)
    target = tmp_path / "shot.png"
    assert window.save_screenshot(target)
    assert [p.name for p in tmp_path.iterdir()] == ["shot.png"]  # no partial file left behind
    with av.open(str(target)) as image:
        frame = next(image.decode(video=0))
    assert frame.width >= 640 and frame.height >= 400 and np.asarray(frame.to_ndarray()).any()


@pytest.mark.skipif(not xserver.available(), reason="needs Xvfb and libX11")
def test_screen_picker_shares_the_chosen_window(
        run_live: Any, qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    display = xserver.Xvfb((320, 240))
    monkeypatch.setenv("DISPLAY", display.display)  # x11grab's display; Qt itself stays offscreen
    display.paint_root((255, 128, 0))
    display.window("Slides", (0, 128, 128), (20, 20, 160, 120))

    async def scenario(live: Live) -> None:
        ada = await live.bot("ada")
        assert await live.join("Me")
        controls = live.window.room_view.controls
        names = [a.text() for a in controls.screen_menu.actions()]
        assert names == ["Entire screen (320x240)", "Window: Slides (160x120)", "Synthetic screen"]
        qtbot.mouseClick(controls.screen_button, Qt.MouseButton.LeftButton)
        assert controls.screen_menu.isVisible() and not controls.screen_sharing  # asks first
        controls.screen_menu.actions()[1].trigger()
        controls.screen_menu.hide()
        me = await live.until(lambda: live.me_as_seen_by(ada), what="ada to see us")
        shared = await live.until(lambda: next((p.track for p in me.video_tracks.values()
                                                if p.track_name == "screen" and p.track is not None), None),
                                  what="ada to subscribe to our screen")
        seen = Chroma()
        shared.add_sink(seen)
        frames: list[Any] = []
        shared.add_sink(frames.append)
        await live.until(lambda: frames and frames[-1].width == 160, what="the window's frames", timeout=15)
        teal_v = 128 + (0.439 * 0 - 0.368 * 128 - 0.071 * 128) * 219 / 255  # BT.601 V of (0,128,128)
        assert abs(seen.v - teal_v) < 12 and controls.screen_sharing
        tile = live.window.room_view.tile(f"{live.local_sid}:screen")
        assert tile is not None
        await live.until(lambda: tile.painted_frames > 0, what="our screen self-view")
        save_artifact(live.window, "screen-share-local.png")
        qtbot.mouseClick(controls.screen_button, Qt.MouseButton.LeftButton)  # stop

        # Ada shares the whole X screen; we see it as its own tile, as any remote would.
        assert ada.room is not None
        screen = devices.open_screen(f"x11grab:{display.display}", 320, 240, 5)
        hers = LocalVideoTrack(screen, name="screen")
        await ada.room.local_participant.publish_track(hers)
        try:
            key = f"{ada.room.local_participant.sid}:screen"
            remote_tile = await live.until(lambda: live.window.room_view.tile(key), what="ada's screen tile")
            await live.until(lambda: remote_tile.painted_frames > 2, what="ada's screen painted", timeout=15)
            save_artifact(live.window, "screen-share-remote-in-app.png")
        finally:
            hers.stop()

    try:
        run_live(scenario)
    finally:
        display.close()
