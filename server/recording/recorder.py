"""What the server records, live: per group room, its Recording Rules against its published tracks.

:class:`Recordings` listens to the registry's room events (track added/removed, participant
left, room ended) and to rule changes, and keeps one :class:`_Active` per recorded track: a
forwarder tap (``Forwarder.add_tap``) whose packets go, copied, to that recording's file on
the writer thread. Each recording is a ``recordings`` row in the store: ``processing`` while it
records, ``completed`` (duration, size) once its file is closed, ``failed`` when no media ever
came (or after a crash: ``Store.open``).

The room's recording state (RSP ``recording {revision, is_recording}``) is "some track is being
recorded" (as with Twilio, whose first recorded track starts it and a second one changes nothing):
every participant hears of each change. Recordings starting and ending are the room's
StatusCallback events ``recording-started``, ``recording-completed`` and ``recording-failed``.

``recording-media-lost``: a recorded track none of whose packets reached its file for
``media_lost_s`` (30 s, what twilio-video.js documents for Twilio's media servers) while enabled
(a disabled Confab track sends nothing; a browser's sends black frames or silence) is
``NO_MEDIA``; its next packet makes it ``OK`` again. Each change goes to the publisher in an RSP
``warning {states: {revision, tracks: {<track SID>: {recordings: state}}}}`` when the publisher
asked for it (``participant.media_warnings`` holds ``"recordings"``: ``notify_warnings``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core import protocol as p

from .. import sids
from ..rooms import PEER_TO_PEER_TYPES, RuleDict, rules_allow
from .rules import default_rules
from .trackfile import container_of
from .writer import FileWriter, Writer

if TYPE_CHECKING:
    from ..rooms import Participant, Room, RoomRegistry, Track
    from ..store import Record, Store

__all__ = ["MEDIA_LOST_S", "RECORDING", "Recordings"]

log = logging.getLogger(__name__)

RECORDING = "RT"
#: No media this long on a recorded track: ``recording-media-lost`` (Twilio's 30 s).
MEDIA_LOST_S = 30.0
_CODEC_NAMES = {"video/vp8": "VP8", "video/h264": "H264", "audio/opus": "OPUS"}


@dataclass(eq=False)
class _Active:
    """One track being recorded."""

    record: Record
    track: Track
    writer: FileWriter
    remove_tap: Any = None
    last_packet: float = field(default_factory=time.monotonic)
    started: bool = False
    lost: bool = False


@dataclass(eq=False)
class _RoomState:
    rules: list[RuleDict]
    date_created: float | None = None
    date_updated: float | None = None
    active: dict[str, _Active] = field(default_factory=dict)  # track SID → recording
    warning_revision: dict[str, int] = field(default_factory=dict)  # participant SID → revision


class Recordings:
    """The server's recordings (``ServerState.recordings``)."""

    def __init__(self, registry: RoomRegistry, store: Store, data_dir: Path, *,
                 media_lost_s: float = MEDIA_LOST_S, check_interval: float = 1.0,
                 restored_rules: Mapping[str, Record] | None = None) -> None:
        self.registry = registry
        self.store = store
        self.directory = Path(data_dir) / "recordings"
        self.media_lost_s = media_lost_s
        self.check_interval = check_interval
        self.writer = Writer()
        self._rooms: dict[str, _RoomState] = {}
        self._closing: set[asyncio.Future[Any]] = set()
        self._watch: asyncio.Task[None] | None = None
        self._stopped = False
        #: Rules set over REST in rooms the previous run left in progress (``Previous.recording_rules``).
        self._restored_rules = dict(restored_rules or {})
        registry.listeners.append(self._on_event)

    # --- rules ----------------------------------------------------------------------------

    def _state(self, room: Room) -> _RoomState:
        state = self._rooms.get(room.sid)
        if state is None:
            state = self._rooms[room.sid] = _RoomState([*default_rules(room.options.record_participants_on_connect)])
            saved = self._restored_rules.pop(room.sid, None)
            if saved is not None:  # the room is held again after a restart: its rules hold too
                state.rules, state.date_created, state.date_updated = (
                    saved["rules"], saved["date_created"], saved["date_updated"])
        return state

    def rules_of(self, room: Room) -> Record:
        state = self._state(room)
        return {"room_sid": room.sid, "rules": state.rules, "date_created": state.date_created,
                "date_updated": state.date_updated}

    def set_rules(self, room: Room, rules: list[RuleDict]) -> Record:
        """New rules for a live room: tracks start or stop recording now."""
        state = self._state(room)
        now = time.time()
        state.rules = rules
        state.date_created = state.date_created or now
        state.date_updated = now
        self.store.save_recording_rules(self.rules_of(room))
        self._refresh(room)
        return self.rules_of(room)

    def is_recording(self, room: Room) -> bool:
        """Some track of the room is being recorded (so the first recorded track starts it)."""
        state = self._rooms.get(room.sid)
        return state is not None and bool(state.active)

    # --- room events ------------------------------------------------------------------------

    def _on_event(self, event: str, room: Room, participant: Participant | None, track: Track | None) -> None:
        if room.type in PEER_TO_PEER_TYPES or self._stopped:
            return
        if event == "room-created":
            self._state(room)
            self.registry.set_recording(room, self.is_recording(room))
        elif event == "room-ended":
            state = self._rooms.pop(room.sid, None)
            for active in list(state.active.values()) if state else ():
                self._stop(active)
        elif event in ("track-added", "track-removed", "participant-disconnected"):
            self._refresh(room)

    def _refresh(self, room: Room) -> None:
        """Start what the rules record and is not recorded yet; stop what they no longer record."""
        state = self._state(room)
        live = {t.sid: t for q in room.participants.values() if q.active for t in q.tracks.values()
                if t.kind in ("audio", "video")}
        for sid, active in list(state.active.items()):
            if sid not in live or not rules_allow(state.rules, live[sid]):
                del state.active[sid]
                self._stop(active)
        if room.status == "in-progress":
            for sid, track in live.items():
                if sid not in state.active and rules_allow(state.rules, track):
                    self._start(room, state, track)
        self.registry.set_recording(room, self.is_recording(room))

    # --- one recording ----------------------------------------------------------------------

    def _start(self, room: Room, state: _RoomState, track: Track) -> None:
        add_tap = getattr(room.media, "add_tap", None)
        if add_tap is None:  # a group room on the mesh relay (group_media="mesh"): no media here
            return
        now = time.time()
        sid = sids.new_sid(RECORDING)
        container = container_of(track.kind)
        path = self.directory / room.sid / f"{sid}.{container}"
        record: Record = {
            "sid": sid, "account_sid": room.account_sid, "room_sid": room.sid,
            "participant_sid": track.participant.sid, "source_sid": track.sid, "track_name": track.name,
            "type": track.kind, "codec": None, "container_format": container, "status": "processing",
            "date_created": now, "date_updated": now, "duration": None, "size": None,
            "offset": int(max(0.0, now - room.date_created) * 1000), "path": str(path)}
        active = _Active(record, track, FileWriter(path))
        state.active[track.sid] = active
        self.store.save_recording(record)
        active.remove_tap = add_tap(track.participant.sid, track.id, self._tap(active))
        self._ensure_watch()
        self._callback("recording-started", active)
        log.info("recording %s: %s %s of %s", sid, track.kind, track.sid, track.participant.sid)

    def _tap(self, active: _Active) -> Any:
        writer = self.writer
        file = active.writer

        def tap(kind: str, mime: str, clock_rate: int, packet: Any, keyframe: bool) -> None:
            active.last_packet = time.monotonic()
            if not active.started:
                if kind == "video" and not keyframe:
                    return  # a file starts on a keyframe (the forwarder asked for one)
                active.started = True
                active.record["codec"] = _CODEC_NAMES.get(mime.lower(), mime.split("/")[-1].upper())
                self.store.save_recording(active.record)
            if active.lost:
                active.lost = False
                self._warn(active, "OK")
            writer.submit(file.write, kind, mime, clock_rate, bytes(packet), int(packet.pts or 0), keyframe)
        return tap

    def _stop(self, active: _Active) -> None:
        if active.remove_tap is not None:
            active.remove_tap()
            active.remove_tap = None
        future = asyncio.wrap_future(self.writer.submit(active.writer.close))
        self._closing.add(future)
        future.add_done_callback(lambda f: self._closed(active, f))

    def _closed(self, active: _Active, future: asyncio.Future[tuple[str, float, int]]) -> None:
        self._closing.discard(future)
        status, duration, size = ("failed", 0.0, 0) if future.cancelled() or future.exception() else future.result()
        record = active.record
        # Twilio: whole seconds, rounded; a recording shorter than a second lasts 1.
        record.update(status=status, duration=max(1, round(duration)) if status == "completed" else 0,
                      size=size, date_updated=time.time())
        self.store.save_recording(record)
        self._callback("recording-completed" if status == "completed" else "recording-failed", active)
        log.info("recording %s %s (%.1f s, %d bytes)", record["sid"], status, duration, size)

    def _callback(self, event: str, active: _Active) -> None:
        """The room's StatusCallback (Twilio's recording-started/-completed/-failed events)."""
        record, track = active.record, active.track
        uri = f"/v1/Recordings/{record['sid']}"
        params = {"RecordingSid": record["sid"], "RecordingUri": uri, "SourceSid": record["source_sid"],
                  "Container": record["container_format"], "Codec": record["codec"], "Offset": record["offset"]}
        if event == "recording-completed":
            params.update(RecordingDuration=record["duration"], RecordingSize=record["size"], MediaUri=uri + "/Media")
        elif event == "recording-failed":
            params.update(FailedOperation="recording")
        extra = {k: v for k, v in params.items() if v is not None}
        self.registry._callback(track.participant.room, event, track.participant, track, **extra)

    # --- recording-media-lost -----------------------------------------------------------------

    def _ensure_watch(self) -> None:
        if self._watch is None or self._watch.done():
            self._watch = asyncio.get_running_loop().create_task(self._watch_media())

    async def _watch_media(self) -> None:
        while any(state.active for state in self._rooms.values()):
            await asyncio.sleep(self.check_interval)
            now = time.monotonic()
            for state in list(self._rooms.values()):
                for active in list(state.active.values()):
                    if not active.track.enabled:  # a disabled track sends nothing: nothing is lost
                        active.last_packet = now
                    elif not active.lost and now - active.last_packet >= self.media_lost_s:
                        active.lost = True
                        self._warn(active, "NO_MEDIA")

    def _warn(self, active: _Active, media_state: str) -> None:
        publisher = active.track.participant
        log.info("recording %s: %s for track %s", active.record["sid"], media_state, active.track.sid)
        if "recordings" not in publisher.media_warnings:
            return
        state = self._rooms.get(publisher.room.sid)
        if state is None:
            return
        revision = state.warning_revision.get(publisher.sid, 0) + 1
        state.warning_revision[publisher.sid] = revision
        publisher.send(p.Warning(states={"revision": revision,
                                         "tracks": {active.track.sid: {"recordings": media_state}}}))

    # --- lifecycle ----------------------------------------------------------------------------

    async def close(self) -> None:
        """Graceful stop: every file is finished and its recording completed; nothing records after."""
        self._stopped = True
        for state in self._rooms.values():
            for active in list(state.active.values()):
                self._stop(active)
            state.active.clear()
        self._rooms.clear()
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        if self._closing:
            await asyncio.gather(*list(self._closing), return_exceptions=True)
        await asyncio.sleep(0)  # the done callbacks (store writes) run
        self.writer.shutdown()

