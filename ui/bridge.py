"""RoomBridge: one ``core.Room`` seen through Qt signals with plain arguments.

Widgets never touch the SDK: the bridge listens to the Room (and its participants and local
tracks) and re-emits each event as a ``Signal`` carrying sids, identities, kinds, flags and
ints; the user-action side (mute, pause, chat, screen share, leave, stats) is a handful of
methods. Everything runs on the asyncio loop, which under qasync is the Qt thread, so signals
are delivered synchronously.

Video reaches the UI as ``video_frame(key, frame)`` (an ``av.VideoFrame``) from a sink on each
video track; the SDK's fan-out hands every sink only the newest frame and the tile keeps only
the newest one too, so nothing queues. ``key`` is the tile the frame belongs to: the
participant sid for a camera, ``"<sid>:screen"`` for a track named ``"screen"``
(:func:`tile_key`), for remote and local participants alike.

Call :meth:`start` after connecting to the signals: it replays the current state (participants
already in the room, tracks already subscribed, mute states, network levels) as if it had just
happened, then follows the Room.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from core.errors import TwilioError
from core.join import connect
from core.media import devices
from core.publication import LocalTrackPublication, RemoteTrackPublication
from core.room import Room
from core.track import LocalAudioTrack, LocalDataTrack, LocalVideoTrack
from ui.stats_overlay import StatsRow
from ui.stats_tracker import StatsTracker

__all__ = [
    "CAMERA_TRACK_NAME",
    "CHAT_TRACK_NAME",
    "MIC_TRACK_NAME",
    "SCREEN_TRACK_NAME",
    "RoomBridge",
    "tile_key",
]

log = logging.getLogger(__name__)

CHAT_TRACK_NAME = "chat"
SCREEN_TRACK_NAME = "screen"
CAMERA_TRACK_NAME = "camera"
MIC_TRACK_NAME = "microphone"
# When a raised hand is said again to someone who just connected (ms after participantConnected).
HAND_RESEND_MS = (500, 1500, 4000)


def tile_key(participant_sid: str, track_name: str | None = None) -> str:
    """The tile a video track paints: ``sid`` for a camera, ``"sid:screen"`` for a screen share."""
    return f"{participant_sid}:{SCREEN_TRACK_NAME}" if track_name == SCREEN_TRACK_NAME else participant_sid


def _error_args(error: BaseException | None) -> tuple[int, str]:
    """(code, message) of an SDK error; (0, "") for none (Twilio codes are never 0)."""
    if error is None:
        return 0, ""
    if isinstance(error, TwilioError):
        return error.code, error.message
    return 0, str(error) or type(error).__name__


class RoomBridge(QObject):
    """Owns one connected Room (and the local tracks handed to it) for the UI."""

    participant_connected = Signal(str, str)  # sid, identity
    participant_disconnected = Signal(str, str)  # sid, identity
    participant_reconnecting = Signal(str)  # sid
    participant_reconnected = Signal(str)  # sid
    track_subscribed = Signal(str, str, str, str, bool)  # participant sid, track sid, kind, name, enabled
    track_unsubscribed = Signal(str, str, str, str)  # participant sid, track sid, kind, name
    track_enabled = Signal(str, str, str, str)  # participant sid, track sid, kind, name
    track_disabled = Signal(str, str, str, str)
    track_dimensions_changed = Signal(str, str, int, int)  # participant sid, track sid, width, height
    video_frame = Signal(str, object)  # tile key (see tile_key), av.VideoFrame
    video_frozen_changed = Signal(str, bool)  # tile key, frozen (no video arriving: reconnecting)
    dominant_speaker_changed = Signal(str)  # participant sid, "" for nobody
    network_quality_changed = Signal(str, int)  # participant sid (local too), level 0..5
    chat_message = Signal(str, str, str)  # participant sid, identity, text
    hand_raised_changed = Signal(str, bool)  # participant sid (yours too), raised
    mic_muted_changed = Signal(bool)
    camera_paused_changed = Signal(bool)
    screen_share_changed = Signal(bool)
    device_changed = Signal(str, str)  # kind (videoinput/audioinput/audiooutput), device id now in use
    reconnecting = Signal(int, str)  # error code, message
    reconnected = Signal()
    disconnected = Signal(int, str)  # error code, message; (0, "") after leave() or a clean end
    error = Signal(int, str)  # a user action failed (the room goes on)

    def __init__(
        self,
        room: Room,
        *,
        audio_track: LocalAudioTrack | None = None,
        video_track: LocalVideoTrack | None = None,
        chat_track: LocalDataTrack | None = None,
        owned_tracks: Iterable[Any] = (),
        screen_device: str | None = None,
        screen_size: tuple[int, int] = (1280, 720),
        screen_fps: float = 15,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._room = room
        local = room.local_participant
        published = [pub.track for pub in local.tracks.values() if isinstance(pub, LocalTrackPublication)]
        self._audio = audio_track or next((t for t in published if isinstance(t, LocalAudioTrack)), None)
        self._video = video_track or next(
            (t for t in published if isinstance(t, LocalVideoTrack) and t.name != SCREEN_TRACK_NAME), None)
        self._chat = chat_track or next(
            (t for t in published if isinstance(t, LocalDataTrack) and t.name == CHAT_TRACK_NAME), None)
        self._owned = [t for t in owned_tracks if t is not None]
        self._hand_raised = False
        self._screen_device = screen_device
        self._screen_size = screen_size
        self._screen_fps = screen_fps
        self._screen: LocalVideoTrack | None = None
        self._listeners: list[tuple[Any, str, Callable[..., Any]]] = []
        self._sinks: dict[str, tuple[Any, Callable[[Any], None]]] = {}  # track sid/id -> (track, sink)
        self._participant_listeners: dict[str, list[tuple[Any, str, Callable[..., Any]]]] = {}
        self._output: Any = None
        self._stats = StatsTracker()
        self._started = False
        self._closed = False

    # ------------------------------------------------------------------ construction

    @classmethod
    async def join(
        cls,
        url: str,
        token: str,
        *,
        room_name: str | None = None,
        audio_track: LocalAudioTrack | None = None,
        video_track: LocalVideoTrack | None = None,
        parent: QObject | None = None,
        bridge_options: Mapping[str, Any] | None = None,
        **connect_options: Any,
    ) -> RoomBridge:
        """Connect with these tracks plus a ``"chat"`` data track; the bridge then owns them all.

        Raises the SDK's TwilioError (bad token 201xx, room full 53105, unreachable 53000 …);
        the tracks are left running then, for the caller to reuse or stop.
        """
        chat = LocalDataTrack(CHAT_TRACK_NAME)
        tracks: list[Any] = [t for t in (audio_track, video_track) if t is not None] + [chat]
        options: dict[str, Any] = {"dominant_speaker": True, "network_quality": {"local": 1, "remote": 1}}
        options.update(connect_options)
        room = await connect(token, url=url, name=room_name, tracks=tracks, **options)
        return cls(room, audio_track=audio_track, video_track=video_track, chat_track=chat,
                   owned_tracks=[audio_track, video_track], parent=parent, **(bridge_options or {}))

    # ------------------------------------------------------------------ state (read)

    @property
    def room(self) -> Room:
        return self._room

    @property
    def room_name(self) -> str:
        return self._room.name or self._room.sid or ""

    @property
    def local_sid(self) -> str:
        return self._room.local_participant.sid or ""

    @property
    def local_identity(self) -> str:
        return self._room.local_participant.identity or ""

    @property
    def connected(self) -> bool:
        return self._room.state != "disconnected" and not self._closed

    @property
    def mic_muted(self) -> bool:
        return self._audio is None or not self._audio.is_enabled

    @property
    def camera_paused(self) -> bool:
        return self._video is None or not self._video.is_enabled

    @property
    def screen_sharing(self) -> bool:
        return self._screen is not None

    @property
    def has_chat(self) -> bool:
        return self._chat is not None

    def participants(self) -> dict[str, str]:
        """Remote participant sid -> identity."""
        return {sid: p.identity or "" for sid, p in self._room.participants.items()}

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Replay the current room state as signals, then follow the Room (once)."""
        if self._started:
            return
        self._started = True
        room, local = self._room, self._room.local_participant
        self._listen(room, "participantConnected", self._on_participant_connected)
        self._listen(room, "participantDisconnected", self._on_participant_disconnected)
        self._listen(room, "participantReconnecting", lambda p: self.participant_reconnecting.emit(p.sid))
        self._listen(room, "participantReconnected", lambda p: self.participant_reconnected.emit(p.sid))
        self._listen(room, "trackSubscribed", self._on_track_subscribed)
        self._listen(room, "trackUnsubscribed", self._on_track_unsubscribed)
        self._listen(room, "trackEnabled", lambda t, p: self.track_enabled.emit(p.sid, t.sid, t.kind, t.name))
        self._listen(room, "trackDisabled", lambda t, p: self.track_disabled.emit(p.sid, t.sid, t.kind, t.name))
        self._listen(room, "trackDimensionsChanged", self._on_track_dimensions)
        self._listen(room, "trackMessage", self._on_track_message)
        self._listen(room, "dominantSpeakerChanged",
                     lambda p: self.dominant_speaker_changed.emit(p.sid if p is not None else ""))
        self._listen(room, "reconnecting", lambda error: self.reconnecting.emit(*_error_args(error)))
        self._listen(room, "reconnected", lambda: self.reconnected.emit())
        self._listen(room, "disconnected", self._on_disconnected)
        self._listen(local, "trackEnabled", lambda t: self._on_local_enabled(t, True))
        self._listen(local, "trackDisabled", lambda t: self._on_local_enabled(t, False))
        self._listen(local, "networkQualityLevelChanged",
                     lambda level: self.network_quality_changed.emit(self.local_sid, int(level)))

        if room.state == "disconnected":
            self._on_disconnected(room, getattr(room._signaling, "error", None))
            return
        if self._video is not None:
            self._add_sink(self._video.id, self._video, tile_key(self.local_sid))
        self.mic_muted_changed.emit(self.mic_muted)
        self.camera_paused_changed.emit(self.camera_paused)
        if local.network_quality_level is not None:
            self.network_quality_changed.emit(self.local_sid, int(local.network_quality_level))
        for participant in room.participants.values():
            self._on_participant_connected(participant)
            for pub in participant.tracks.values():
                if isinstance(pub, RemoteTrackPublication) and pub.track is not None:
                    self._on_track_subscribed(pub.track, participant)
        speaker = room.dominant_speaker
        if speaker is not None:
            self.dominant_speaker_changed.emit(speaker.sid)

    def leave(self) -> None:
        """Disconnect (idempotent); ``disconnected(0, "")`` follows right away."""
        if self._room.state != "disconnected":
            self._room.disconnect()
        if not self._closed:  # never started: tidy up without the Room's event
            self._teardown()

    # ------------------------------------------------------------------ user actions

    def set_mic_muted(self, muted: bool) -> None:
        """Disable (mute) or enable the microphone track; ``mic_muted_changed`` confirms."""
        if self._audio is None or not self.connected:
            self.mic_muted_changed.emit(self.mic_muted)
            return
        self._audio.enable(not muted)

    def set_camera_paused(self, paused: bool) -> None:
        """Disable (pause) or enable the camera track; ``camera_paused_changed`` confirms."""
        if self._video is None or not self.connected:
            self.camera_paused_changed.emit(self.camera_paused)
            return
        self._video.enable(not paused)

    def send_chat(self, text: str) -> bool:
        """Send ``text`` on the ``"chat"`` data track; False when there is none or we left."""
        if self._chat is None or not self.connected or not text:
            return False
        try:
            self._chat.send(text)
        except (TypeError, ValueError) as exc:
            self.error.emit(0, f"Message not sent: {exc}")
            return False
        return True

    @property
    def hand_raised(self) -> bool:
        return self._hand_raised

    def set_hand_raised(self, raised: bool) -> bool:
        """Raise or lower your hand: a binary JSON message on the chat track (text stays chat)."""
        if self._chat is None or not self.connected:
            return False
        self._hand_raised = bool(raised)
        self._send_hand()
        self.hand_raised_changed.emit(self.local_sid, self._hand_raised)
        return True

    def _resend_hand(self) -> None:
        if self._hand_raised:
            self._send_hand()

    def _send_hand(self) -> None:
        if self._chat is not None and self.connected:
            try:
                self._chat.send(json.dumps({"confab": "hand", "raised": self._hand_raised}).encode())
            except (TypeError, ValueError) as exc:
                log.warning("raised hand not sent: %s", exc)

    def start_screen_share(self, device_id: str | None = None) -> None:
        """Publish a video track named ``"screen"`` of this screen or window (an id of
        ``list_screens()``; None: the bridge's default); ``screen_share_changed(True)`` once published."""
        if self._screen is not None or not self.connected:
            self.screen_share_changed.emit(self.screen_sharing)
            return
        width, height = self._screen_size
        try:
            source = devices.open_screen(device_id or self._screen_device, width, height, self._screen_fps)
        except devices.DeviceError as exc:
            self.screen_share_changed.emit(False)
            self.error.emit(0, f"Cannot share the screen: {exc}")
            return
        track = LocalVideoTrack(source, name=SCREEN_TRACK_NAME)
        self._screen = track
        future = self._room.local_participant.publish_track(track)
        future.add_done_callback(lambda f: self._on_screen_published(track, f))

    def stop_screen_share(self) -> None:
        """Unpublish and stop the screen track; ``screen_share_changed(False)``."""
        track, self._screen = self._screen, None
        if track is None:
            self.screen_share_changed.emit(False)
            return
        self._remove_sink(track.id)
        if self._room.state != "disconnected":
            self._room.local_participant.unpublish_track(track)
        track.stop()
        self.screen_share_changed.emit(False)

    async def switch_device(self, kind: str, device_id: str) -> bool:
        """Use another camera or microphone (``LocalTrack.restart``: same track, no republish)
        or speaker; ``device_changed(kind, id)`` tells which one is in use afterwards."""
        if kind == "audiooutput":
            self.set_audio_output(device_id)
            self.device_changed.emit(kind, device_id)
            return True
        track = self._video if kind == "videoinput" else self._audio
        if track is None or not self.connected:
            return False
        before = (getattr(track, "_constraints", None) or {}).get("device")
        try:
            await track.restart({"device": device_id})
        except (devices.DeviceError, TypeError, OSError) as exc:
            self.error.emit(0, f"Cannot switch to {device_id}: {exc}")
            self.device_changed.emit(kind, before or "")
            return False
        self.device_changed.emit(kind, device_id)
        return True

    def set_audio_output(self, device_id: str | None) -> None:
        """Play remote audio on this output (None/the null output: nowhere). Best effort."""
        old, self._output = self._output, None
        try:
            self._output = devices.open_audio_output(device_id)
        except devices.DeviceError as exc:
            self.error.emit(0, f"Cannot use the speaker: {exc}")
        for participant in self._room.participants.values():
            for pub in participant.audio_tracks.values():
                if isinstance(pub, RemoteTrackPublication):
                    self._route_audio(pub.track)
        if old is not None and hasattr(old, "close"):
            old.close()

    async def stats_rows(self) -> list[StatsRow]:
        """One row per track and direction: size, fps, bitrate (since the last call), loss, RTT."""
        if not self.connected:
            return []
        reports = await self._room.get_stats()
        return self._stats.rows(reports, self._track_labels())

    # ------------------------------------------------------------------ Room events

    def _on_participant_connected(self, participant: Any) -> None:
        if self._hand_raised:  # someone new: tell them your hand is up
            self._send_hand()
            # A message reaches only who already subscribes to the chat track: the newcomer's
            # data channel opens a moment after they connect, so say it again meanwhile.
            for delay_ms in HAND_RESEND_MS:
                QTimer.singleShot(delay_ms, self, self._resend_hand)
        sid = participant.sid
        listeners: list[tuple[Any, str, Callable[..., Any]]] = []

        def on_level(level: Any) -> None:
            self.network_quality_changed.emit(sid, int(level))

        participant.on("networkQualityLevelChanged", on_level)
        listeners.append((participant, "networkQualityLevelChanged", on_level))
        self._participant_listeners[sid] = listeners
        self.participant_connected.emit(sid, participant.identity or "")
        if participant.network_quality_level is not None:
            self.network_quality_changed.emit(sid, int(participant.network_quality_level))

    def _on_participant_disconnected(self, participant: Any) -> None:
        for pub in participant.tracks.values():
            self._remove_sink(pub.track_sid)
        for emitter, event, fn in self._participant_listeners.pop(participant.sid, []):
            emitter.remove_listener(event, fn)
        self.participant_disconnected.emit(participant.sid, participant.identity or "")

    def _on_track_subscribed(self, track: Any, participant: Any) -> None:
        if track.kind == "video":
            key = tile_key(participant.sid, track.name)
            self._add_sink(track.sid, track, key)
            frozen = self.video_frozen_changed
            self._listen(track, "frozen", lambda t: frozen.emit(key, True))
            self._listen(track, "unfrozen", lambda t: frozen.emit(key, False))
        elif track.kind == "audio":
            self._route_audio(track)
        self.track_subscribed.emit(participant.sid, track.sid, track.kind, track.name,
                                   bool(getattr(track, "is_enabled", True)))

    def _on_track_unsubscribed(self, track: Any, participant: Any) -> None:
        self._remove_sink(track.sid)
        self.track_unsubscribed.emit(participant.sid, track.sid, track.kind, track.name)

    def _on_track_dimensions(self, track: Any, participant: Any) -> None:
        size = track.dimensions
        if size is not None:
            self.track_dimensions_changed.emit(participant.sid, track.sid, size.width, size.height)

    def _on_track_message(self, data: str | bytes, track: Any, participant: Any) -> None:
        if track.name != CHAT_TRACK_NAME:
            return
        if not isinstance(data, str):  # binary: a control message (a raised hand), never chat
            try:
                message = json.loads(bytes(data))
            except ValueError:
                message = None
            if isinstance(message, dict) and message.get("confab") == "hand":
                self.hand_raised_changed.emit(participant.sid, message.get("raised") is True)
                return
        text = data if isinstance(data, str) else bytes(data).decode("utf-8", errors="replace")
        self.chat_message.emit(participant.sid, participant.identity or "", text)

    def _on_local_enabled(self, track: Any, enabled: bool) -> None:
        if track is self._audio:
            self.mic_muted_changed.emit(not enabled)
        elif track is self._video:
            self.camera_paused_changed.emit(not enabled)

    def _on_screen_published(self, track: LocalVideoTrack, future: Any) -> None:
        if future.cancelled() or track is not self._screen:
            return
        error = future.exception()
        if error is not None:
            self._screen = None
            track.stop()
            self.screen_share_changed.emit(False)
            code, message = _error_args(error)
            self.error.emit(code, f"Cannot share the screen: {message}")
            return
        self._add_sink(track.id, track, tile_key(self.local_sid, SCREEN_TRACK_NAME))
        self.screen_share_changed.emit(True)

    def _on_disconnected(self, room: Any, error: BaseException | None) -> None:
        if self._closed:
            return
        self._teardown()
        self.disconnected.emit(*_error_args(error))

    # ------------------------------------------------------------------ internals

    def _listen(self, emitter: Any, event: str, fn: Callable[..., Any]) -> None:
        emitter.on(event, fn)
        self._listeners.append((emitter, event, fn))

    def _add_sink(self, key_id: str, track: Any, key: str) -> None:
        self._remove_sink(key_id)
        signal = self.video_frame

        def sink(frame: Any) -> None:
            signal.emit(key, frame)

        try:
            track.add_sink(sink)
        except Exception:  # no video is better than no room (logged)
            log.exception("cannot add a video sink to %r", track)
            return
        self._sinks[key_id] = (track, sink)

    def _remove_sink(self, key_id: str) -> None:
        entry = self._sinks.pop(key_id, None)
        if entry is None:
            return
        track, sink = entry
        try:
            track.remove_sink(sink)
        except Exception:  # the media may be gone already (logged)
            log.debug("removing a sink from %r failed", track, exc_info=True)

    def _route_audio(self, track: Any) -> None:
        media = getattr(track, "media_stream_track", None)
        set_output = getattr(media, "set_output", None)
        if callable(set_output):
            set_output(self._output)

    def _track_labels(self) -> dict[str, tuple[str, str, str]]:
        """Track sid -> (participant label, track name, direction)."""
        labels: dict[str, tuple[str, str, str]] = {}
        for pub in self._room.local_participant.tracks.values():
            labels[pub.track_sid] = ("You", pub.track_name, "send")
        for participant in self._room.participants.values():
            for pub in participant.tracks.values():
                labels[pub.track_sid] = (participant.identity or participant.sid or "?", pub.track_name, "recv")
        return labels

    def _teardown(self) -> None:
        self._closed = True
        for key_id in list(self._sinks):
            self._remove_sink(key_id)
        for emitter, event, fn in self._listeners:
            emitter.remove_listener(event, fn)
        self._listeners.clear()
        for listeners in self._participant_listeners.values():
            for emitter, event, fn in listeners:
                emitter.remove_listener(event, fn)
        self._participant_listeners.clear()
        screen, self._screen = self._screen, None
        for track in [*self._owned, screen]:
            if track is not None and not track.is_stopped:
                track.stop()
        if self._output is not None and hasattr(self._output, "close"):
            self._output.close()
        self._output = None
