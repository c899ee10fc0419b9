"""REST Recordings and RecordingRules in Twilio Video v1's shape.

* ``GET /v1/Recordings`` (``Status``, ``SourceSid``, ``GroupingSid`` (repeatable),
  ``DateCreatedAfter``/``Before``, ``MediaType``; paged as the Rooms list), ``GET``/``DELETE
  /v1/Recordings/{Sid}``, and the room's own ``GET /v1/Rooms/{Room}/Recordings[/{Sid}]``.
  Delete removes the file and keeps the record as ``deleted`` (a recording still
  ``processing`` cannot be deleted: 20001).
* ``GET .../Recordings/{Sid}/Media``: Twilio's answer, ``302`` with ``Location`` and
  ``{"redirect_to": url}``; the URL (``/recordings/{Sid}.mkv?Expires=&Signature=``, HMAC-SHA256
  with the API key secret) serves the file without credentials for ``MEDIA_URL_TTL`` seconds.
* ``GET``/``POST /v1/Rooms/{Room}/RecordingRules`` (``Rules``: JSON): the live room's rules;
  a change starts and stops recordings at once (202). Peer-to-peer rooms record nothing (53114).

The middleware of ``server/rest.py`` authenticates ``/v1`` and turns TwilioErrors into answers.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from core.errors import RoomInvalidParametersError, RoomStatusInvalidError, TwilioError

from ..rest import InvalidParameterError, _base, _form, _page, _paging, iso, parse_iso, room_of
from ..rooms import PEER_TO_PEER_TYPES
from .rules import default_rules, parse_rules

if TYPE_CHECKING:
    from ..app import ServerState
    from ..store import Record

__all__ = ["MEDIA_URL_TTL", "RecordingsApi", "recording_json"]

#: How long a ``Media`` redirect URL serves the file (Twilio's pre-signed URLs: 600 s).
MEDIA_URL_TTL = 600
STATUSES = ("processing", "completed", "deleted", "failed")
MEDIA_TYPES = ("audio", "video", "data")
_CONTENT_TYPES = {"mkv": "video/x-matroska", "mka": "audio/x-matroska"}


def RecordingNotFoundError() -> TwilioError:  # noqa: N802 (reads like a class)
    return TwilioError(20404, "The requested resource was not found")


def recording_json(rec: Record, base: str, *, room_scoped: bool = False) -> dict[str, Any]:
    url = (f"{base}/v1/Rooms/{rec['room_sid']}/Recordings/{rec['sid']}" if room_scoped
           else f"{base}/v1/Recordings/{rec['sid']}")
    out = {
        "account_sid": rec["account_sid"], "status": rec["status"], "date_created": iso(rec["date_created"]),
        "sid": rec["sid"], "source_sid": rec["source_sid"], "size": rec["size"], "url": url,
        "type": rec["type"], "duration": rec["duration"], "container_format": rec["container_format"],
        "codec": rec["codec"],
        "grouping_sids": {"room_sid": rec["room_sid"], "participant_sid": rec["participant_sid"]},
        "track_name": rec["track_name"], "offset": rec["offset"], "media_external_location": None,
        "status_callback": None, "status_callback_method": "POST", "links": {"media": f"{url}/Media"},
    }
    if room_scoped:
        out["room_sid"] = rec["room_sid"]
        out["date_updated"] = iso(rec["date_updated"])
    return out


class RecordingsApi:
    def __init__(self, state: ServerState) -> None:
        self.state = state

    def routes(self) -> list[web.RouteDef]:
        one, room = "/v1/Recordings/{sid}", "/v1/Rooms/{room}"
        return [
            web.get("/v1/Recordings", self.list_recordings), web.get(one, self.fetch_recording),
            web.delete(one, self.delete_recording), web.get(one + "/Media", self.media),
            web.get(room + "/Recordings", self.list_recordings),
            web.get(room + "/Recordings/{sid}", self.fetch_recording),
            web.get(room + "/Recordings/{sid}/Media", self.media),
            web.get(room + "/RecordingRules", self.fetch_rules),
            web.post(room + "/RecordingRules", self.update_rules),
            web.get("/recordings/{file}", self.download),
        ]

    # --- recordings -------------------------------------------------------------------

    async def _room_sid(self, request: web.Request) -> str | None:
        if "room" not in request.match_info:
            return None
        return str((await room_of(self.state.store, request))["sid"])

    async def _recording(self, request: web.Request) -> Record:
        rec = await self.state.store.get_recording(request.match_info["sid"], await self._room_sid(request))
        if rec is None:
            raise RecordingNotFoundError()
        return rec

    async def list_recordings(self, request: web.Request) -> web.Response:
        q = request.query
        room_sid = await self._room_sid(request)
        status = q.get("Status")
        if status is not None and status not in STATUSES:
            raise InvalidParameterError("Status must be processing, completed, deleted or failed")
        media_type = q.get("MediaType")
        if media_type is not None and media_type not in MEDIA_TYPES:
            raise InvalidParameterError("MediaType must be audio, video or data")
        after = parse_iso(q["DateCreatedAfter"], "DateCreatedAfter") if "DateCreatedAfter" in q else None
        before = parse_iso(q["DateCreatedBefore"], "DateCreatedBefore") if "DateCreatedBefore" in q else None
        page, size = _paging(request)
        rows = await self.state.store.list_recordings(
            room_sid=room_sid, status=status, source_sid=q.get("SourceSid"),
            grouping_sids=tuple(q.getall("GroupingSid", [])), media_type=media_type, created_after=after,
            created_before=before, offset=page * size, limit=size + 1)
        base = _base(request)
        return _page(request, "recordings", [recording_json(r, base, room_scoped=room_sid is not None)
                                             for r in rows[:size]], page, size, len(rows) > size)

    async def fetch_recording(self, request: web.Request) -> web.Response:
        rec = await self._recording(request)
        return web.json_response(recording_json(rec, _base(request), room_scoped="room" in request.match_info))

    async def delete_recording(self, request: web.Request) -> web.Response:
        rec = await self._recording(request)
        if rec["status"] == "processing":
            raise InvalidParameterError("A recording still processing cannot be deleted")
        if rec["status"] != "deleted":
            path = rec["path"]
            await self.state.recordings.writer.run(_unlink, path)
            rec.update(status="deleted", date_updated=time.time())
            self.state.store.save_recording(rec)
        return web.Response(status=204)

    # --- media ------------------------------------------------------------------------

    def _signature(self, name: str, expires: int) -> str:
        key = self.state.credentials.api_key_secret.encode()
        return hmac.new(key, f"{name}:{expires}".encode(), hashlib.sha256).hexdigest()

    async def media(self, request: web.Request) -> web.Response:
        rec = await self._recording(request)
        if rec["status"] != "completed":
            raise RecordingNotFoundError()
        name = f"{rec['sid']}.{rec['container_format']}"
        expires = int(time.time()) + MEDIA_URL_TTL
        url = f"{_base(request)}/recordings/{name}?Expires={expires}&Signature={self._signature(name, expires)}"
        return web.json_response({"redirect_to": url}, status=302, headers={"Location": url})

    async def download(self, request: web.Request) -> web.StreamResponse:
        """The file behind a ``Media`` redirect (no credentials: the signature is the permission)."""
        name = request.match_info["file"]
        try:
            expires = int(request.query.get("Expires", ""))
        except ValueError:
            raise web.HTTPForbidden() from None
        if expires < time.time() or not hmac.compare_digest(request.query.get("Signature", ""),
                                                            self._signature(name, expires)):
            raise web.HTTPForbidden()
        sid, _, container = name.partition(".")
        rec = await self.state.store.get_recording(sid)
        if rec is None or rec["status"] != "completed" or rec["container_format"] != container:
            raise web.HTTPNotFound()
        return web.FileResponse(rec["path"], headers={"Content-Type": _CONTENT_TYPES.get(container, "")})

    # --- recording rules --------------------------------------------------------------

    async def fetch_rules(self, request: web.Request) -> web.Response:
        room = await room_of(self.state.store, request)
        live = self.state.registry.rooms.get(room["sid"])
        if live is not None and live.type not in PEER_TO_PEER_TYPES:
            return web.json_response(_rules_json(self.state.recordings.rules_of(live)))
        return web.json_response(_rules_json({
            "room_sid": room["sid"], "date_created": None, "date_updated": None,
            "rules": default_rules(bool(room["record_participants_on_connect"]))}))

    async def update_rules(self, request: web.Request) -> web.Response:
        form = await _form(request)
        room = await room_of(self.state.store, request)
        if room["type"] in PEER_TO_PEER_TYPES:
            raise RoomInvalidParametersError(f"Recording is not supported in {room['type']} rooms")
        rules = parse_rules(form.get("Rules"))
        live = self.state.registry.rooms.get(room["sid"])
        if live is None:
            raise RoomStatusInvalidError("Room is not in-progress")
        return web.json_response(_rules_json(self.state.recordings.set_rules(live, [*rules])), status=202)


def _rules_json(rec: Record) -> dict[str, Any]:
    return {"room_sid": rec["room_sid"], "date_created": iso(rec["date_created"]),
            "date_updated": iso(rec["date_updated"]), "rules": rec["rules"]}


def _unlink(path: str) -> None:
    Path(path).unlink(missing_ok=True)
