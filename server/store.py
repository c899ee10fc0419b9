"""SQLite records of rooms, participants, published tracks, subscribe rules and recordings.

One connection lives on one worker thread; every operation is queued to it in order, so
the event loop never waits on disk for a write (``save_*`` return at once) and a read
(``await get_*``) sees every write queued before it. Records are plain dicts whose keys
are the Twilio REST field names; times are UNIX seconds (floats), formatted by ``rest``.

Rooms a previous run left ``in-progress`` (a graceful stop, or a crash) are not ended at
``open()``: it returns them as :class:`Unfinished` so that the registry can hold them for the
session timeout, for their participants to join again (docs/protocol.md §5). ``meta.alive``
(written every few seconds and at a stop) says when the previous run was last known alive.
A recording still ``processing`` at ``open()`` was cut off by a crash: it is marked ``failed``
(a graceful stop completes every recording first). Tables are ``CREATE ... IF NOT EXISTS``: a
data directory of an older version gains the new ones at its next start.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
Record = dict[str, Any]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rooms (
    sid TEXT PRIMARY KEY,
    account_sid TEXT NOT NULL,
    unique_name TEXT NOT NULL,
    status TEXT NOT NULL,
    type TEXT NOT NULL,
    max_participants INTEGER NOT NULL,
    max_participant_duration INTEGER NOT NULL,
    max_concurrent_published_tracks INTEGER NOT NULL,
    status_callback TEXT,
    status_callback_method TEXT NOT NULL,
    empty_room_timeout INTEGER NOT NULL,
    unused_room_timeout INTEGER NOT NULL,
    media_region TEXT NOT NULL,
    record_participants_on_connect INTEGER NOT NULL,
    audio_only INTEGER NOT NULL,
    video_codecs TEXT NOT NULL,
    date_created REAL NOT NULL,
    date_updated REAL NOT NULL,
    end_time REAL,
    duration INTEGER
);
CREATE INDEX IF NOT EXISTS rooms_by_name ON rooms (unique_name, date_created);
CREATE INDEX IF NOT EXISTS rooms_by_status ON rooms (status, date_created);
CREATE TABLE IF NOT EXISTS participants (
    sid TEXT PRIMARY KEY,
    room_sid TEXT NOT NULL,
    account_sid TEXT NOT NULL,
    identity TEXT NOT NULL,
    status TEXT NOT NULL,
    date_created REAL NOT NULL,
    date_updated REAL NOT NULL,
    start_time REAL NOT NULL,
    end_time REAL,
    duration INTEGER
);
CREATE INDEX IF NOT EXISTS participants_by_room ON participants (room_sid, date_created);
CREATE TABLE IF NOT EXISTS tracks (
    sid TEXT PRIMARY KEY,
    room_sid TEXT NOT NULL,
    participant_sid TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    status TEXT NOT NULL,
    date_created REAL NOT NULL,
    date_updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS tracks_by_participant ON tracks (participant_sid, date_created);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS subscribe_rules (
    participant_sid TEXT PRIMARY KEY,
    room_sid TEXT NOT NULL,
    rules TEXT NOT NULL,
    date_created REAL NOT NULL,
    date_updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS recordings (
    sid TEXT PRIMARY KEY,
    account_sid TEXT NOT NULL,
    room_sid TEXT NOT NULL,
    participant_sid TEXT NOT NULL,
    source_sid TEXT NOT NULL,
    track_name TEXT NOT NULL,
    type TEXT NOT NULL,
    codec TEXT,
    container_format TEXT NOT NULL,
    status TEXT NOT NULL,
    date_created REAL NOT NULL,
    date_updated REAL NOT NULL,
    duration INTEGER,
    size INTEGER,
    offset INTEGER NOT NULL,
    path TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS recordings_by_date ON recordings (date_created);
CREATE TABLE IF NOT EXISTS recording_rules (
    room_sid TEXT PRIMARY KEY,
    rules TEXT NOT NULL,
    date_created REAL NOT NULL,
    date_updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS recordings_by_room ON recordings (room_sid, date_created);
"""

_BOOL_COLUMNS = {"record_participants_on_connect", "audio_only", "enabled"}
_JSON_COLUMNS = {"video_codecs", "rules"}


def _encode(record: Record) -> Record:
    out = {}
    for key, value in record.items():
        if key in _JSON_COLUMNS:
            value = json.dumps(value)
        elif key in _BOOL_COLUMNS:
            value = int(bool(value))
        out[key] = value
    return out


def _decode(row: sqlite3.Row) -> Record:
    out: Record = {}
    for key in row.keys():  # noqa: SIM118  (iterating a sqlite3.Row yields values, not keys)
        value = row[key]
        if key in _JSON_COLUMNS:
            value = json.loads(value)
        elif key in _BOOL_COLUMNS:
            value = bool(value)
        out[key] = value
    return out


@dataclass
class UnfinishedParticipant:
    """A participant still in a room when the previous run stopped, and its tracks by name → SID."""

    record: Record
    track_sids: dict[str, str] = field(default_factory=dict)


@dataclass
class Unfinished:
    """A room the previous run left in progress, with who was in it."""

    room: Record
    participants: list[UnfinishedParticipant] = field(default_factory=list)


@dataclass
class Previous:
    """What ``open()`` found of the previous run."""

    unfinished: list[Unfinished] = field(default_factory=list)
    #: When it was last known alive (UNIX seconds; None for a new database).
    alive: float | None = None
    #: The REST Recording Rules of those rooms, by room SID (what they record when held again).
    recording_rules: dict[str, Record] = field(default_factory=dict)


class Store:
    """The database file ``confab.sqlite3`` in the data directory."""

    FILENAME = "confab.sqlite3"

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / self.FILENAME
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="confab-store")
        self._db: sqlite3.Connection | None = None
        self._closed = False

    # --- lifecycle ------------------------------------------------------------------

    async def open(self) -> Previous:
        """Create the schema; return the rooms a previous run left in progress.

        Their participants are recorded ``reconnecting`` and their tracks ``unpublished``
        (whoever comes back publishes again); the registry completes each room unless somebody
        joins it again within the session timeout.
        """
        return await self._call(self._open)

    def _open(self) -> Previous:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
        self._db = db
        return self._previous(time.time())

    def _previous(self, now: float) -> Previous:
        assert self._db is not None
        db = self._db
        alive = db.execute("SELECT value FROM meta WHERE key='alive'").fetchone()
        previous = Previous(alive=alive[0] if alive else None)
        with db:
            db.execute("BEGIN")
            for room in self._query("SELECT * FROM rooms WHERE status='in-progress' ORDER BY date_created", ()):
                unfinished = Unfinished(room)
                for person in self._query("SELECT * FROM participants WHERE room_sid=? AND status!='disconnected'"
                                          " ORDER BY date_created", (room["sid"],)):
                    tracks = self._query("SELECT sid, name FROM tracks WHERE participant_sid=? AND"
                                         " status='published'", (person["sid"],))
                    person["status"] = "reconnecting"
                    unfinished.participants.append(
                        UnfinishedParticipant(person, {t["name"]: t["sid"] for t in tracks}))
                previous.unfinished.append(unfinished)
                rules = self._one("SELECT * FROM recording_rules WHERE room_sid=?", (room["sid"],))
                if rules is not None:
                    previous.recording_rules[room["sid"]] = rules
            db.execute("UPDATE participants SET status='reconnecting' WHERE status NOT IN"
                       " ('disconnected', 'reconnecting')")
            db.execute("UPDATE tracks SET status='unpublished', date_updated=? WHERE status='published'", (now,))
            db.execute("UPDATE recordings SET status='failed', date_updated=? WHERE status='processing'", (now,))
        return previous

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._call(self._close_db)
        self._executor.shutdown(wait=True)

    def _close_db(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # --- plumbing -------------------------------------------------------------------

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.wrap_future(self._executor.submit(fn, *args))

    def _submit(self, fn: Callable[..., Any], *args: Any) -> None:
        if self._closed:
            log.warning("store closed; dropped a write")
            return
        future = self._executor.submit(fn, *args)
        future.add_done_callback(_log_failure)

    def _upsert(self, table: str, record: Record) -> None:
        assert self._db is not None
        row = _encode(record)
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        self._db.execute(f"INSERT OR REPLACE INTO {table} ({columns}) VALUES ({marks})",
                         tuple(row.values()))

    def _query(self, sql: str, args: tuple[Any, ...]) -> list[Record]:
        assert self._db is not None
        return [_decode(row) for row in self._db.execute(sql, args).fetchall()]

    def _one(self, sql: str, args: tuple[Any, ...]) -> Record | None:
        rows = self._query(sql, args)
        return rows[0] if rows else None

    # --- writes (queued, ordered) ---------------------------------------------------

    def save_room(self, record: Record) -> None:
        self._submit(self._upsert, "rooms", dict(record))

    def save_participant(self, record: Record) -> None:
        self._submit(self._upsert, "participants", dict(record))

    def save_track(self, record: Record) -> None:
        self._submit(self._upsert, "tracks", dict(record))

    def save_subscribe_rules(self, record: Record) -> None:
        self._submit(self._upsert, "subscribe_rules", dict(record))

    def save_recording_rules(self, record: Record) -> None:
        self._submit(self._upsert, "recording_rules", dict(record))

    def save_recording(self, record: Record) -> None:
        self._submit(self._upsert, "recordings", dict(record))

    def save_alive(self, when: float) -> None:
        """The server is alive at ``when`` (a participant's end time if it crashes after)."""
        self._submit(self._execute, "INSERT OR REPLACE INTO meta (key, value) VALUES ('alive', ?)", (when,))

    def _execute(self, sql: str, args: tuple[Any, ...]) -> None:
        assert self._db is not None
        self._db.execute(sql, args)

    async def flush(self) -> None:
        """Wait until every queued write is on disk (tests, shutdown)."""
        await self._call(lambda: None)

    # --- reads ----------------------------------------------------------------------

    async def get_room(self, sid_or_name: str) -> Record | None:
        """By SID; else the in-progress room of that unique name; else its latest completed one."""
        return await self._call(self._get_room, sid_or_name)

    def _get_room(self, key: str) -> Record | None:
        return (self._one("SELECT * FROM rooms WHERE sid=?", (key,))
                or self._one("SELECT * FROM rooms WHERE unique_name=? ORDER BY"
                             " status='in-progress' DESC, date_created DESC LIMIT 1", (key,)))

    async def list_rooms(self, *, status: str | None, unique_name: str | None,
                         created_after: float | None, created_before: float | None,
                         offset: int, limit: int) -> list[Record]:
        where, args = [], []
        for clause, value in (("status=?", status), ("unique_name=?", unique_name),
                              ("date_created>=?", created_after), ("date_created<?", created_before)):
            if value is not None:
                where.append(clause)
                args.append(value)
        sql = "SELECT * FROM rooms" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY date_created DESC, rowid DESC LIMIT ? OFFSET ?"
        return await self._call(self._query, sql, (*args, limit, offset))

    async def get_participant(self, room_sid: str, sid_or_identity: str) -> Record | None:
        """By SID; else the connected participant of that identity; else its latest record."""
        return await self._call(self._get_participant, room_sid, sid_or_identity)

    def _get_participant(self, room_sid: str, key: str) -> Record | None:
        return (self._one("SELECT * FROM participants WHERE room_sid=? AND sid=?", (room_sid, key))
                or self._one("SELECT * FROM participants WHERE room_sid=? AND identity=? ORDER BY"
                             " status!='disconnected' DESC, date_created DESC LIMIT 1",
                             (room_sid, key)))

    async def list_participants(self, room_sid: str, *, statuses: tuple[str, ...] | None,
                                identity: str | None, created_after: float | None,
                                created_before: float | None, offset: int, limit: int) -> list[Record]:
        where: list[str] = ["room_sid=?"]
        args: list[str | float] = [room_sid]
        if statuses:
            where.append("status IN (" + ", ".join("?" for _ in statuses) + ")")
            args.extend(statuses)
        for clause, value in (("identity=?", identity), ("date_created>=?", created_after),
                              ("date_created<?", created_before)):
            if value is not None:
                where.append(clause)
                args.append(value)
        sql = ("SELECT * FROM participants WHERE " + " AND ".join(where)
               + " ORDER BY date_created ASC, rowid ASC LIMIT ? OFFSET ?")
        return await self._call(self._query, sql, (*args, limit, offset))

    async def list_tracks(self, participant_sid: str, *, offset: int, limit: int) -> list[Record]:
        """The participant's currently published tracks."""
        return await self._call(
            self._query, "SELECT * FROM tracks WHERE participant_sid=? AND status='published'"
            " ORDER BY date_created ASC, rowid ASC LIMIT ? OFFSET ?", (participant_sid, limit, offset))

    async def get_track(self, participant_sid: str, sid: str) -> Record | None:
        return await self._call(self._one, "SELECT * FROM tracks WHERE participant_sid=? AND sid=?",
                                (participant_sid, sid))

    async def get_recording(self, sid: str, room_sid: str | None = None) -> Record | None:
        if room_sid is None:
            return await self._call(self._one, "SELECT * FROM recordings WHERE sid=?", (sid,))
        return await self._call(self._one, "SELECT * FROM recordings WHERE sid=? AND room_sid=?", (sid, room_sid))

    async def list_recordings(self, *, room_sid: str | None = None, status: str | None = None,
                              source_sid: str | None = None, grouping_sids: tuple[str, ...] = (),
                              media_type: str | None = None, created_after: float | None = None,
                              created_before: float | None = None, offset: int, limit: int) -> list[Record]:
        """Newest first, as Twilio lists them; ``grouping_sids``: each a room or participant SID."""
        where: list[str] = []
        args: list[str | float] = []
        for clause, value in (("room_sid=?", room_sid), ("status=?", status), ("source_sid=?", source_sid),
                              ("type=?", media_type), ("date_created>=?", created_after),
                              ("date_created<?", created_before)):
            if value is not None:
                where.append(clause)
                args.append(value)
        for sid in grouping_sids:
            where.append("(room_sid=? OR participant_sid=?)")
            args.extend((sid, sid))
        sql = "SELECT * FROM recordings" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY date_created DESC, rowid DESC LIMIT ? OFFSET ?"
        return await self._call(self._query, sql, (*args, limit, offset))

    async def anonymize_participant(self, sid: str, now: float) -> Record | None:
        """Its identity becomes its SID (REST ``Anonymize``); the updated record."""
        return await self._call(self._anonymize, sid, now)

    def _anonymize(self, sid: str, now: float) -> Record | None:
        self._execute("UPDATE participants SET identity=sid, date_updated=? WHERE sid=?", (now, sid))
        return self._one("SELECT * FROM participants WHERE sid=?", (sid,))

    async def get_subscribe_rules(self, participant_sid: str) -> Record | None:
        return await self._call(self._one, "SELECT * FROM subscribe_rules WHERE participant_sid=?",
                                (participant_sid,))


def _log_failure(future: Future[Any]) -> None:
    exc = future.exception()
    if exc is not None:
        log.error("store write failed: %s", exc, exc_info=exc)
