"""Session: the controller between MainWindow and the SDK (through a RoomBridge).

Join screen: device pickers from ``core.media.devices``, a live preview of the chosen camera
(its local track's sink) and a microphone meter (its ``level``, polled 10×/s). Join: a token
from the form, or one asked from the server's ``POST /dev/token`` (a ``confab-server --dev``)
for a room and a name; errors show on the join screen as human messages with the code in small
print, and Cancel (or Esc) stops a join that is still connecting. A name typed into the form
joins as a unique identity (:func:`ui.identity.unique_identity`), so a namesake already in the
room is never thrown out; every tile shows :func:`ui.identity.display_name` of an identity,
your own tile included (a token's identity, whatever the Name field says). In the room every
bridge signal lands on the RoomView and every control goes to the bridge; leaving (or being
disconnected) shows the ended screen, whose Rejoin joins the same room again.

Everything here needs a running asyncio loop (qasync): call :meth:`Session.start` from a
coroutine or once the loop runs.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from core.dev_token import DevTokenError, fetch_dev_token
from core.errors import TwilioError
from core.identity import display_name, unique_identity
from core.local_tracks import create_local_audio_track, create_local_video_track
from core.media import devices
from core.track import LocalAudioTrack, LocalVideoTrack
from ui.bridge import SCREEN_TRACK_NAME, RoomBridge, tile_key
from ui.invite import InviteError, format_web_invite
from ui.join import JoinRequest
from ui.main_window import MainWindow

__all__ = ["DevTokenError", "Session", "fetch_dev_token"]

log = logging.getLogger(__name__)

METER_INTERVAL_MS = 100
STATS_INTERVAL_S = 1.0
LEVEL_SCALE = 32767
ERROR_BANNER_MS = 8000


class Session(QObject):
    """Drives one MainWindow: join screen ↔ room view. One room at a time."""

    joined = Signal(object)  # the JoinRequest that worked
    left = Signal(int, str)  # error code (0: we left or it ended cleanly), message

    def __init__(
        self,
        window: MainWindow,
        *,
        camera_size: tuple[int, int] = (640, 480),
        camera_fps: float = 24,
        screen_size: tuple[int, int] = (1280, 720),
        screen_fps: float = 15,
        connect_options: dict[str, Any] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.window = window
        self.camera_size = camera_size
        self.camera_fps = camera_fps
        self.screen_size = screen_size
        self.screen_fps = screen_fps
        self.connect_options = dict(connect_options or {})
        self.bridge: RoomBridge | None = None
        self._camera: LocalVideoTrack | None = None
        self._mic: LocalAudioTrack | None = None
        self._camera_id: str | None = None
        self._mic_id: str | None = None
        self._speaker_id: str | None = None
        self._camera_device: str | None = None  # what the open tracks were made from
        self._mic_device: str | None = None
        self._identities: dict[str, str] = {}
        self._display_name = ""
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stats_task: asyncio.Task[None] | None = None
        self._joining = False
        self._connecting: asyncio.Future[Any] | None = None
        self._cancelled = False
        self._last_request: JoinRequest | None = None
        self._started = False
        self._closed = False

        self._meter = QTimer(self)
        self._meter.setInterval(METER_INTERVAL_MS)
        self._meter.timeout.connect(self._poll_meter)

        join, room = window.join_screen, window.room_view
        join.join_requested.connect(self._on_join_requested)
        join.camera_changed.connect(self._on_camera_changed)
        join.mic_changed.connect(self._on_mic_changed)
        join.speaker_changed.connect(self._on_speaker_changed)
        join.cancel_requested.connect(self.cancel_join)
        ended = window.ended_screen
        ended.rejoin_requested.connect(self.rejoin)
        ended.home_requested.connect(window.show_join)
        controls = room.controls
        controls.mic_toggled.connect(self._on_mic_toggled)
        controls.camera_toggled.connect(self._on_camera_toggled)
        controls.screen_toggled.connect(self._on_screen_toggled)
        controls.stats_toggled.connect(self._on_stats_toggled)
        controls.hand_toggled.connect(self._on_hand_toggled)
        controls.device_chosen.connect(self._on_device_chosen)
        controls.screen_chosen.connect(self._on_screen_chosen)
        controls.devices_wanted.connect(lambda: self._fill_device_menu() if self.bridge is not None else None)
        self._screen_id: str | None = None
        room.leave_confirmed.connect(self.leave)  # the Leave button asks first (RoomView.ask_leave)
        room.chat.message_submitted.connect(self._on_chat_submitted)

    # ------------------------------------------------------------------ state

    @property
    def in_room(self) -> bool:
        return self.bridge is not None

    @property
    def camera_track(self) -> LocalVideoTrack | None:
        """The camera track of the preview (before joining) or of the room."""
        return self._camera

    @property
    def mic_track(self) -> LocalAudioTrack | None:
        return self._mic

    # ------------------------------------------------------------------ lifecycle

    def start(self, *, camera_id: str | None = None, mic_id: str | None = None,
              speaker_id: str | None = None) -> None:
        """Fill the device pickers (preferring these ids) and start the preview and meter."""
        if self._started:
            return
        self._started = True
        join = self.window.join_screen
        cameras = devices.list_video_inputs()
        mics = devices.list_audio_inputs()
        speakers = devices.list_audio_outputs()
        self._camera_id = _pick(cameras, camera_id)
        self._mic_id = _pick(mics, mic_id)
        self._speaker_id = _pick(speakers, speaker_id)
        join.set_cameras([(d.id, d.name) for d in cameras], self._camera_id)
        join.set_microphones([(d.id, d.name) for d in mics], self._mic_id)
        join.set_speakers([(d.id, d.name) for d in speakers], self._speaker_id)
        self._open_preview()

    async def join(self, request: JoinRequest) -> bool:
        """Connect as the form says; True when in the room, False (error shown) otherwise."""
        if self._joining or self.bridge is not None or self._closed:
            return False
        self._joining = True
        join = self.window.join_screen
        join.set_busy(True)
        try:
            self._camera_id = request.camera_id or self._camera_id
            self._mic_id = request.mic_id or self._mic_id
            self._speaker_id = request.speaker_id or self._speaker_id
            self._open_preview()
            self._cancelled = False
            self._connecting = asyncio.ensure_future(self._connect(request))
            bridge = await self._connecting
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not self._cancelled or (task is not None and task.cancelling()):
                raise  # not our Cancel: whoever cancelled this coroutine wants it to stop
            self._join_failed(None, "")
            return False
        except TwilioError as err:
            self._join_failed(err.code, err.message, request.server)
            return False
        except DevTokenError as err:
            self._join_failed(None, str(err), request.server)
            return False
        except Exception as err:
            log.exception("joining failed")
            self._join_failed(None, f"Could not join: {err}", request.server)
            return False
        finally:
            self._joining = False
            self._connecting = None
        if self._closed:
            bridge.leave()
            return False
        self._enter_room(bridge, request)
        self.joined.emit(request)
        return True

    async def _connect(self, request: JoinRequest) -> RoomBridge:
        token = request.token
        if token is None:
            # Never the bare name: a namesake in the room would be disconnected (53205).
            token = await fetch_dev_token(request.server, unique_identity(request.name or ""), request.room)
        self._stop_meter()
        return await RoomBridge.join(
            request.server, token, room_name=request.room, audio_track=self._mic,
            video_track=self._camera, parent=self,
            bridge_options={"screen_size": self.screen_size, "screen_fps": self.screen_fps},
            **self.connect_options)

    @property
    def connecting(self) -> bool:
        return self._connecting is not None and not self._connecting.done()

    def cancel_join(self) -> None:
        """Stop a join that is still connecting: back to a usable join screen, nothing shown."""
        if self.connecting:
            assert self._connecting is not None
            self._cancelled = True
            self._connecting.cancel()

    def rejoin(self) -> None:
        """Join the last room again, as the same request (from the ended screen)."""
        if self._last_request is None:
            self.window.show_join()
            return
        self.window.show_join()
        self._spawn(self.join(self._last_request))

    def leave(self) -> None:
        """Leave the room (the bridge's ``disconnected`` brings back the join screen)."""
        if self.bridge is not None:
            self.bridge.leave()

    async def close(self) -> None:
        """Leave, stop the preview tracks and wait for the tasks this session started."""
        self._closed = True
        self.leave()
        self._stop_meter()
        self._close_preview()
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.sleep(0.2)  # let bye go out and the peer connections close

    # ------------------------------------------------------------------ join screen

    def _open_preview(self) -> None:
        """(Re)open the camera and microphone tracks for the chosen devices."""
        join = self.window.join_screen
        if self._camera is not None and (self._camera.is_stopped or self._camera_id != self._camera_device):
            self._close_camera()
        if self._mic is not None and (self._mic.is_stopped or self._mic_id != self._mic_device):
            self._close_mic()
        if self._camera is None:
            try:
                width, height = self.camera_size
                self._camera = create_local_video_track(self._camera_id, name="camera", width=width,
                                                        height=height, fps=self.camera_fps)
                self._camera_device = self._camera_id
                self._camera.add_sink(self._preview_sink)
            except devices.DeviceError as exc:
                join.show_error(None, f"Camera not available: {exc}")
                self._camera = None
        if self._mic is None:
            try:
                self._mic = create_local_audio_track(self._mic_id, name="microphone")
                self._mic_device = self._mic_id
                self._mic.add_sink(_ignore)  # starts the source, so its level is measured
            except devices.DeviceError as exc:
                join.show_error(None, f"Microphone not available: {exc}")
                self._mic = None
        if self.bridge is None:
            self._meter.start()

    def _preview_sink(self, frame: Any) -> None:
        if self.bridge is None:
            self.window.join_screen.set_preview_frame(frame)

    def _close_camera(self) -> None:
        camera, self._camera = self._camera, None
        if camera is not None:
            camera.remove_sink(self._preview_sink)
            camera.stop()
        self.window.join_screen.clear_preview()

    def _close_mic(self) -> None:
        mic, self._mic = self._mic, None
        if mic is not None:
            mic.stop()
        self.window.join_screen.set_mic_level(0.0)

    def _close_preview(self) -> None:
        if self.bridge is None:  # in a room the bridge owns (and stops) the tracks
            self._close_camera()
            self._close_mic()

    def _stop_meter(self) -> None:
        self._meter.stop()
        self.window.join_screen.set_mic_level(0.0)

    def _poll_meter(self) -> None:
        level = self._mic.level if self._mic is not None else None
        self.window.join_screen.set_mic_level((level or 0) / LEVEL_SCALE)

    def _on_camera_changed(self, device_id: str) -> None:
        self._camera_id = device_id or None
        if self.bridge is None and not self._joining:
            self._open_preview()

    def _on_mic_changed(self, device_id: str) -> None:
        self._mic_id = device_id or None
        if self.bridge is None and not self._joining:
            self._open_preview()

    def _on_speaker_changed(self, device_id: str) -> None:
        self._speaker_id = device_id or None

    def _on_join_requested(self, request: JoinRequest) -> None:
        self._spawn(self.join(request))

    def _join_failed(self, code: int | None, message: str, server: str | None = None) -> None:
        join = self.window.join_screen
        join.set_busy(False)
        if code or message:
            join.show_error(code, message, server=server)
        if not self._closed:
            self._open_preview()

    # ------------------------------------------------------------------ room

    def _enter_room(self, bridge: RoomBridge, request: JoinRequest) -> None:
        self.bridge = bridge
        if self._camera is not None:
            self._camera.remove_sink(self._preview_sink)
        self.window.join_screen.clear_preview()
        view = self.window.room_view
        view.clear()
        self._identities = {}
        self._last_request = request
        self._display_name = display_name(bridge.local_identity)  # who the others see, too
        view.add_participant(bridge.local_sid, bridge.local_identity, local=True)
        view.chat.set_input_enabled(bridge.has_chat)
        view.controls.set_screen_sharing(False)
        view.set_stats_visible(False)

        bridge.participant_connected.connect(self._on_participant_connected)
        bridge.participant_disconnected.connect(self._on_participant_disconnected)
        bridge.participant_reconnecting.connect(self._on_participant_reconnecting)
        bridge.participant_reconnected.connect(self._on_participant_reconnected)
        bridge.track_subscribed.connect(self._on_track_subscribed)
        bridge.track_unsubscribed.connect(self._on_track_unsubscribed)
        bridge.track_enabled.connect(lambda psid, tsid, kind, name: self._set_track_state(psid, kind, name, True))
        bridge.track_disabled.connect(lambda psid, tsid, kind, name: self._set_track_state(psid, kind, name, False))
        bridge.video_frame.connect(view.set_frame)
        bridge.video_frozen_changed.connect(view.set_video_frozen)
        bridge.dominant_speaker_changed.connect(lambda sid: view.set_dominant_speaker(sid or None))
        bridge.network_quality_changed.connect(view.set_network_quality)
        bridge.chat_message.connect(
            lambda sid, identity, text: view.add_chat_message(display_name(identity), text))
        bridge.mic_muted_changed.connect(lambda muted: view.set_audio_muted(bridge.local_sid, muted))
        bridge.camera_paused_changed.connect(lambda paused: view.set_video_paused(bridge.local_sid, paused))
        bridge.screen_share_changed.connect(self._on_screen_share_changed)
        bridge.device_changed.connect(self._on_device_changed)
        bridge.hand_raised_changed.connect(view.set_hand_raised)
        bridge.reconnecting.connect(lambda code, message: view.show_reconnecting(True))
        bridge.reconnected.connect(lambda: view.show_reconnecting(False))
        bridge.disconnected.connect(self._on_disconnected)
        bridge.error.connect(self._on_bridge_error)

        self.window.show_room(bridge.room_name)
        # No token in it: yours is for you alone; the guest joins by name (a --dev server)
        # or pastes the link next to a token of their own.
        try:
            view.set_invite_link(format_web_invite(request.server, bridge.room_name))
        except InviteError:
            view.set_invite_link("")
        bridge.start()
        if self._speaker_id is not None:
            bridge.set_audio_output(self._speaker_id)
        self._fill_device_menu()

    def _fill_device_menu(self) -> None:
        """The in-call device menu and the screen picker, from what the machine has now."""
        controls = self.window.room_view.controls
        for kind, listed, current in (("videoinput", devices.list_video_inputs(), self._camera_id),
                                      ("audioinput", devices.list_audio_inputs(), self._mic_id),
                                      ("audiooutput", devices.list_audio_outputs(), self._speaker_id)):
            controls.set_devices(kind, [(d.id, d.name) for d in listed], _pick(listed, current))
        controls.set_screens([(d.id, d.name) for d in devices.list_screens()])

    def _on_device_chosen(self, kind: str, device_id: str) -> None:
        if self.bridge is not None:
            self._spawn(self.bridge.switch_device(kind, device_id))

    def _on_device_changed(self, kind: str, device_id: str) -> None:
        """A switch happened (or failed): remember what is in use, check it in the menu."""
        if kind == "videoinput":
            self._camera_id = self._camera_device = device_id or self._camera_id
        elif kind == "audioinput":
            self._mic_id = self._mic_device = device_id or self._mic_id
        else:
            self._speaker_id = device_id or self._speaker_id
        self.window.room_view.controls.set_current_device(kind, device_id)

    def _on_screen_chosen(self, device_id: str) -> None:
        self._screen_id = device_id

    def _on_bridge_error(self, code: int, message: str) -> None:
        view = self.window.room_view
        view.show_error(code or None, message)
        QTimer.singleShot(ERROR_BANNER_MS, view.clear_error)

    def _on_participant_connected(self, sid: str, identity: str) -> None:
        self._identities[sid] = identity
        self.window.room_view.add_participant(sid, identity)

    def _on_participant_disconnected(self, sid: str, identity: str) -> None:
        self._identities.pop(sid, None)
        view = self.window.room_view
        view.remove_participant(tile_key(sid, SCREEN_TRACK_NAME))
        view.remove_participant(sid)

    def _name_of(self, sid: str) -> str:
        return display_name(self._identities.get(sid, sid))

    def _on_participant_reconnecting(self, sid: str) -> None:
        self.window.room_view.set_participant_name(sid, f"{self._name_of(sid)} (reconnecting…)")

    def _on_participant_reconnected(self, sid: str) -> None:
        self.window.room_view.set_participant_name(sid, self._name_of(sid))

    def _on_track_subscribed(self, psid: str, tsid: str, kind: str, name: str, enabled: bool) -> None:
        view = self.window.room_view
        if kind == "video" and name == SCREEN_TRACK_NAME:
            identity = self._identities.get(psid, psid)
            tile = view.add_participant(tile_key(psid, name), f"{identity}-screen",
                                        f"{display_name(identity)} (screen)")
            tile.set_mirrored(False)
        self._set_track_state(psid, kind, name, enabled)

    def _on_track_unsubscribed(self, psid: str, tsid: str, kind: str, name: str) -> None:
        view = self.window.room_view
        if kind == "video":
            if name == SCREEN_TRACK_NAME:
                view.remove_participant(tile_key(psid, name))
            else:
                view.clear_video(psid)

    def _set_track_state(self, psid: str, kind: str, name: str, enabled: bool) -> None:
        view = self.window.room_view
        if kind == "audio":
            view.set_audio_muted(psid, not enabled)
        elif kind == "video":
            view.set_video_paused(tile_key(psid, name), not enabled)

    def _on_screen_share_changed(self, sharing: bool) -> None:
        bridge, view = self.bridge, self.window.room_view
        view.controls.set_screen_sharing(sharing)
        if bridge is None:
            return
        key = tile_key(bridge.local_sid, SCREEN_TRACK_NAME)
        if sharing:
            tile = view.add_participant(key, f"{bridge.local_identity}-screen",
                                        f"{self._display_name} (screen)")
            tile.set_mirrored(False)
        else:
            view.remove_participant(key)

    def _on_disconnected(self, code: int, message: str) -> None:
        bridge, self.bridge = self.bridge, None
        self._stop_stats()
        view = self.window.room_view
        view.clear()
        request = self._last_request
        self.window.show_ended(code, message, room=bridge.room_name if bridge is not None else None,
                               server=request.server if request is not None else None)
        if bridge is not None:
            bridge.deleteLater()
        self._camera = None  # stopped by the bridge
        self._mic = None
        if not self._closed:
            self._open_preview()
        self.left.emit(code, message)

    # ------------------------------------------------------------------ controls

    def _on_mic_toggled(self, muted: bool) -> None:
        if self.bridge is not None:
            self.bridge.set_mic_muted(muted)

    def _on_camera_toggled(self, paused: bool) -> None:
        if self.bridge is not None:
            self.bridge.set_camera_paused(paused)

    def _on_screen_toggled(self, sharing: bool) -> None:
        if self.bridge is None:
            return
        if sharing:
            self.bridge.start_screen_share(self._screen_id)
        else:
            self.bridge.stop_screen_share()

    def _on_hand_toggled(self, raised: bool) -> None:
        if self.bridge is None or not self.bridge.set_hand_raised(raised):
            self.window.room_view.controls.set_hand_raised(False)

    def _on_chat_submitted(self, text: str) -> None:
        view = self.window.room_view
        if self.bridge is not None and self.bridge.send_chat(text):
            view.add_chat_message(self._display_name, text, local=True)
        else:
            view.show_error(None, "Message not sent: not connected")

    def _on_stats_toggled(self, visible: bool) -> None:
        if visible and self.bridge is not None:
            if self._stats_task is None or self._stats_task.done():
                self._stats_task = self._spawn(self._poll_stats())
        else:
            self._stop_stats()

    def _stop_stats(self) -> None:
        task, self._stats_task = self._stats_task, None
        if task is not None:
            task.cancel()

    async def _poll_stats(self) -> None:
        view = self.window.room_view
        while self.bridge is not None and view.controls.stats_open:
            try:
                rows = await self.bridge.stats_rows()
            except Exception:
                log.exception("get_stats failed")
                rows = []
            if self.bridge is None or not view.controls.stats_open:
                return
            view.set_stats_rows(rows)
            await asyncio.sleep(STATS_INTERVAL_S)

    @property
    def stats_polling(self) -> bool:
        return self._stats_task is not None and not self._stats_task.done()

    # ------------------------------------------------------------------ internals

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


def _ignore(_frame: Any) -> None:
    pass


def _pick(available: list[devices.Device], wanted: str | None) -> str | None:
    """``wanted`` when it is still there, else the first device (a real one when present)."""
    ids = [d.id for d in available]
    if wanted in ids:
        return wanted
    return ids[0] if ids else None
