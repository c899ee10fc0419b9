"""The REST Rooms API in Twilio Video v1's shape (``/v1/Rooms...``), plus ``POST /dev/token``.

Form-encoded parameters with Twilio's names; JSON answers with Twilio's field names and
dates (ISO 8601, ``2026-12-01T10:11:12Z``, which is what the ``twilio`` helper library
parses); errors as ``{code, message, more_info, status}``. HTTP Basic auth with the API
key SID and secret. Reads come from the ``Store`` (ordered after every queued write);
actions (complete, kick, subscribe rules) go to the live ``RoomRegistry``.
"""

from __future__ import annotations

import base64
import calendar
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDictProxy

from core import protocol as p
from core.errors import (
    ParticipantNotFoundError,
    RoomAudioOnlyFlagNotSupportedError,
    RoomInvalidParametersError,
    RoomMaxParticipantsOutOfRangeError,
    RoomMediaRegionInvalidError,
    RoomNameInvalidError,
    RoomNotFoundError,
    RoomStatusCallbackInvalidError,
    RoomStatusCallbackMethodInvalidError,
    RoomStatusInvalidError,
    RoomSubscriptionOperationNotSupportedError,
    RoomTimeoutOutOfRangeError,
    RoomTypeInvalidError,
    TwilioError,
)
from core.token import DEFAULT_TTL, MAX_TTL, AccessToken

from . import sids
from .appkey import STATE
from .recording.rules import load_rules
from .rooms import (
    MAX_PARTICIPANTS,
    MEDIA_REGIONS,
    PEER_TO_PEER_TYPES,
    RoomOptions,
    check_identity,
    check_room_name,
)
from .store import Record

if TYPE_CHECKING:
    from .app import ServerState
    from .rooms import Participant, RoomRegistry, Track
    from .store import Store

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
STATUS_CALLBACK_MAX = 2048
MAX_RULES = 100
VIDEO_CODECS = ("VP8", "H264")
ROOM_STATUSES = ("in-progress", "completed", "failed")
PARTICIPANT_STATUSES = ("connected", "disconnected", "reconnecting")
_ISO = "%Y-%m-%dT%H:%M:%SZ"


def InvalidParameterError(message: str) -> TwilioError:  # noqa: N802 (reads like a class)
    """Twilio's generic 20001, for parameters no 531xx code covers (paging, dates, Rules)."""
    return TwilioError(20001, message)


# --- helpers ---------------------------------------------------------------------------------


def iso(t: float | None) -> str | None:
    return None if t is None else time.strftime(_ISO, time.gmtime(t))


def parse_iso(value: str, name: str) -> float:
    for fmt in (_ISO, "%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%d"):
        try:
            return float(calendar.timegm(time.strptime(value, fmt)))
        except ValueError:
            continue
    raise InvalidParameterError(f"{name} must be an ISO 8601 date")


def error_response(err: TwilioError, status: int) -> web.Response:
    return web.json_response({"code": err.code, "message": err.message,
                              "more_info": f"https://www.twilio.com/docs/errors/{err.code}",
                              "status": status}, status=status)


def _int(value: str, err: TwilioError, lo: int, hi: int) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise err from None
    if not lo <= number <= hi:
        raise err
    return number


def _bool(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise RoomInvalidParametersError(f"{name} must be true or false")


def _basic_auth(header: str) -> tuple[str | None, str]:
    """(login, password) of an ``Authorization: Basic ...`` header, or (None, "")."""
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None, ""
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None, ""
    login, sep, password = decoded.partition(":")
    return (login, password) if sep else (None, "")


async def _form(request: web.Request) -> MultiDictProxy[Any]:
    """The form parameters, or 20001 for a body that is not a readable form."""
    try:
        return await request.post()
    except (ValueError, UnicodeDecodeError, HttpProcessingError) as exc:
        raise InvalidParameterError(f"Unreadable form body: {exc.__class__.__name__}") from None


def _base(request: web.Request) -> str:
    return str(request.url.origin())


# --- JSON shapes -----------------------------------------------------------------------------


def room_json(rec: Record, base: str, enable_turn: bool = False) -> dict[str, Any]:
    """A room's REST shape; ``enable_turn``: the server hands out TURN servers (``--turn-url``)."""
    url = f"{base}/v1/Rooms/{rec['sid']}"
    return {
        "sid": rec["sid"], "status": rec["status"], "date_created": iso(rec["date_created"]),
        "date_updated": iso(rec["date_updated"]), "account_sid": rec["account_sid"],
        "enable_turn": enable_turn, "unique_name": rec["unique_name"],
        "status_callback": rec["status_callback"], "status_callback_method": rec["status_callback_method"],
        "end_time": iso(rec["end_time"]), "duration": rec["duration"], "type": rec["type"],
        "max_participants": rec["max_participants"],
        "max_participant_duration": rec["max_participant_duration"],
        "max_concurrent_published_tracks": rec["max_concurrent_published_tracks"],
        "record_participants_on_connect": rec["record_participants_on_connect"],
        "video_codecs": rec["video_codecs"], "media_region": rec["media_region"],
        "audio_only": rec["audio_only"], "empty_room_timeout": rec["empty_room_timeout"],
        "unused_room_timeout": rec["unused_room_timeout"], "large_room": False, "url": url,
        "links": {"participants": f"{url}/Participants", "recordings": f"{url}/Recordings",
                  "recording_rules": f"{url}/RecordingRules"},
    }


def participant_json(rec: Record, base: str) -> dict[str, Any]:
    url = f"{base}/v1/Rooms/{rec['room_sid']}/Participants/{rec['sid']}"
    return {
        "sid": rec["sid"], "room_sid": rec["room_sid"], "account_sid": rec["account_sid"],
        "status": rec["status"], "identity": rec["identity"], "date_created": iso(rec["date_created"]),
        "date_updated": iso(rec["date_updated"]), "start_time": iso(rec["start_time"]),
        "end_time": iso(rec["end_time"]), "duration": rec["duration"], "url": url,
        "links": {"published_tracks": f"{url}/PublishedTracks",
                  "subscribed_tracks": f"{url}/SubscribedTracks",
                  "subscribe_rules": f"{url}/SubscribeRules", "anonymize": f"{url}/Anonymize"},
    }


def track_json(rec: Record, base: str) -> dict[str, Any]:
    return {
        "sid": rec["sid"], "participant_sid": rec["participant_sid"], "room_sid": rec["room_sid"],
        "name": rec["name"], "date_created": iso(rec["date_created"]),
        "date_updated": iso(rec["date_updated"]), "enabled": rec["enabled"], "kind": rec["kind"],
        "url": f"{base}/v1/Rooms/{rec['room_sid']}/Participants/{rec['participant_sid']}"
               f"/PublishedTracks/{rec['sid']}",
    }


def subscribed_json(track: Track, subscriber_sid: str, base: str) -> dict[str, Any]:
    """A track ``subscriber_sid`` receives (Twilio's SubscribedTrack: ``publisher_sid`` publishes it)."""
    room_sid = track.participant.room.sid
    return {
        "sid": track.sid, "participant_sid": subscriber_sid, "publisher_sid": track.participant.sid,
        "room_sid": room_sid, "name": track.name, "date_created": iso(track.date_created),
        "date_updated": iso(track.date_updated), "enabled": track.enabled, "kind": track.kind,
        "url": f"{base}/v1/Rooms/{room_sid}/Participants/{subscriber_sid}/SubscribedTracks/{track.sid}",
    }


def _paging(request: web.Request) -> tuple[int, int]:
    q = request.query
    size = DEFAULT_PAGE_SIZE
    page = 0
    if "PageSize" in q:
        size = min(MAX_PAGE_SIZE, _int(q["PageSize"], InvalidParameterError("PageSize must be a positive integer"),
                                       1, 10**9))
    if "Page" in q:
        page = _int(q["Page"], InvalidParameterError("Page must be a non-negative integer"), 0, 10**9)
    return page, size


def _page(request: web.Request, key: str, items: list[dict[str, Any]], page: int, size: int,
          has_more: bool) -> web.Response:
    def url_for(n: int) -> str:
        query = {k: v for k, v in request.query.items() if k not in ("Page", "PageSize", "PageToken")}
        query.update(PageSize=str(size), Page=str(n))
        return str(request.url.with_query(query))

    return web.json_response({key: items, "meta": {
        "page": page, "page_size": size, "first_page_url": url_for(0),
        "previous_page_url": url_for(page - 1) if page > 0 else None,
        "next_page_url": url_for(page + 1) if has_more else None,
        "url": url_for(page), "key": key}})


async def room_of(store: Store, request: web.Request) -> Record:
    """The stored room ``{room}`` of the path names (SID or unique name), or 53106."""
    rec = await store.get_room(request.match_info["room"])
    if rec is None:
        raise RoomNotFoundError()
    return rec


# --- the API ---------------------------------------------------------------------------------


class RestApi:
    def __init__(self, state: ServerState) -> None:
        self.state = state

    @property
    def store(self) -> Store:
        return self.state.store

    @property
    def registry(self) -> RoomRegistry:
        return self.state.registry

    def _room_json(self, rec: Record, base: str) -> dict[str, Any]:
        return room_json(rec, base, enable_turn=bool(self.state.config.turn_urls))

    def routes(self) -> list[web.RouteDef]:
        r = "/v1/Rooms/{room}"
        pp = r + "/Participants/{participant}"
        return [
            web.post("/v1/Rooms", self.create_room), web.get("/v1/Rooms", self.list_rooms),
            web.get(r, self.fetch_room), web.post(r, self.update_room),
            web.get(r + "/Participants", self.list_participants),
            web.get(pp, self.fetch_participant), web.post(pp, self.update_participant),
            web.get(pp + "/PublishedTracks", self.list_tracks),
            web.get(pp + "/PublishedTracks/{track}", self.fetch_track),
            web.get(pp + "/SubscribedTracks", self.list_subscribed),
            web.get(pp + "/SubscribedTracks/{track}", self.fetch_subscribed),
            web.post(pp + "/Anonymize", self.anonymize),
            web.get(pp + "/SubscribeRules", self.fetch_rules),
            web.post(pp + "/SubscribeRules", self.update_rules),
        ]

    # --- middleware -------------------------------------------------------------------

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/v1/") and request.path != "/v1":
            return await handler(request)
        if not self._authorized(request):
            response = error_response(TwilioError(20003, "Authenticate"), 401)
            response.headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
            return response
        try:
            return await handler(request)
        except TwilioError as err:
            status = 404 if isinstance(err, (RoomNotFoundError, ParticipantNotFoundError)) or err.code == 20404 else 400
            log.info("REST %s %s: %s", request.method, request.path, err)
            return error_response(err, status)
        except web.HTTPNotFound:
            return error_response(TwilioError(20404, "The requested resource was not found"), 404)
        except web.HTTPMethodNotAllowed:
            return error_response(TwilioError(20004, "Method not allowed"), 405)

    def _authorized(self, request: web.Request) -> bool:
        login, password = _basic_auth(request.headers.get("Authorization", ""))
        secret = self.state.credentials.secrets.get(login) if login else None
        return secret is not None and hmac.compare_digest(password.encode(), secret.encode())

    # --- lookups ----------------------------------------------------------------------

    async def _room(self, request: web.Request) -> Record:
        return await room_of(self.store, request)

    async def _participant(self, request: web.Request) -> tuple[Record, Record]:
        room = await self._room(request)
        rec = await self.store.get_participant(room["sid"], request.match_info["participant"])
        if rec is None:
            raise ParticipantNotFoundError()
        return room, rec

    # --- rooms ------------------------------------------------------------------------

    async def create_room(self, request: web.Request) -> web.Response:
        options = parse_room_options(await _form(request))
        room = self.registry.create_room(options)
        return web.json_response(self._room_json(room.record(), _base(request)), status=201)

    async def list_rooms(self, request: web.Request) -> web.Response:
        q = request.query
        status = q.get("Status", "in-progress")
        if status not in ROOM_STATUSES:
            raise RoomStatusInvalidError()
        after = parse_iso(q["DateCreatedAfter"], "DateCreatedAfter") if "DateCreatedAfter" in q else None
        before = parse_iso(q["DateCreatedBefore"], "DateCreatedBefore") if "DateCreatedBefore" in q else None
        page, size = _paging(request)
        rows = await self.store.list_rooms(status=status, unique_name=q.get("UniqueName"),
                                           created_after=after, created_before=before,
                                           offset=page * size, limit=size + 1)
        base = _base(request)
        return _page(request, "rooms", [self._room_json(r, base) for r in rows[:size]], page, size,
                     len(rows) > size)

    async def fetch_room(self, request: web.Request) -> web.Response:
        return web.json_response(self._room_json(await self._room(request), _base(request)))

    async def update_room(self, request: web.Request) -> web.Response:
        form = await _form(request)
        rec = await self._room(request)
        if form.get("Status") != "completed":
            raise RoomStatusInvalidError("Status must be completed")
        room = self.registry.rooms.get(rec["sid"])
        if room is None:
            raise RoomStatusInvalidError("Room is not in-progress")
        self.registry.complete_room(room, reason="completed by REST")
        return web.json_response(self._room_json(room.record(), _base(request)))

    # --- participants -----------------------------------------------------------------

    async def list_participants(self, request: web.Request) -> web.Response:
        room = await self._room(request)
        q = request.query
        statuses: tuple[str, ...]
        if "Status" in q:
            if q["Status"] not in PARTICIPANT_STATUSES:
                raise RoomStatusInvalidError("Status must be connected, disconnected or reconnecting")
            statuses = (q["Status"],)
        elif room["status"] == "in-progress":
            statuses = ("connected", "reconnecting")
        else:
            statuses = ("disconnected",)
        after = parse_iso(q["DateCreatedAfter"], "DateCreatedAfter") if "DateCreatedAfter" in q else None
        before = parse_iso(q["DateCreatedBefore"], "DateCreatedBefore") if "DateCreatedBefore" in q else None
        page, size = _paging(request)
        rows = await self.store.list_participants(room["sid"], statuses=statuses,
                                                  identity=q.get("Identity"), created_after=after,
                                                  created_before=before, offset=page * size,
                                                  limit=size + 1)
        base = _base(request)
        return _page(request, "participants", [participant_json(r, base) for r in rows[:size]],
                     page, size, len(rows) > size)

    async def fetch_participant(self, request: web.Request) -> web.Response:
        _, rec = await self._participant(request)
        return web.json_response(participant_json(rec, _base(request)))

    def _live(self, room: Record, rec: Record) -> Participant | None:
        live_room = self.registry.rooms.get(room["sid"])
        live = live_room.participants.get(rec["sid"]) if live_room is not None else None
        return live

    async def update_participant(self, request: web.Request) -> web.Response:
        form = await _form(request)
        room, rec = await self._participant(request)
        if form.get("Status") != "disconnected":
            raise RoomStatusInvalidError("Status must be disconnected")
        live = self._live(room, rec)
        if live is None:
            raise RoomStatusInvalidError("Participant is not connected")
        self.registry.disconnect(live, notify=p.Disconnected(), reason="removed by REST")
        return web.json_response(participant_json(live.record(), _base(request)))

    async def list_tracks(self, request: web.Request) -> web.Response:
        _, rec = await self._participant(request)
        page, size = _paging(request)
        rows = await self.store.list_tracks(rec["sid"], offset=page * size, limit=size + 1)
        base = _base(request)
        return _page(request, "published_tracks", [track_json(r, base) for r in rows[:size]],
                     page, size, len(rows) > size)

    async def fetch_track(self, request: web.Request) -> web.Response:
        _, rec = await self._participant(request)
        track = await self.store.get_track(rec["sid"], request.match_info["track"])
        if track is None:
            raise TwilioError(20404, "The requested resource was not found")
        return web.json_response(track_json(track, _base(request)))

    async def list_subscribed(self, request: web.Request) -> web.Response:
        """The tracks a connected participant receives now (none once it has left)."""
        room, rec = await self._participant(request)
        live = self._live(room, rec)
        tracks = live.subscribed_tracks() if live is not None else []
        page, size = _paging(request)
        base = _base(request)
        chunk = tracks[page * size:page * size + size + 1]
        return _page(request, "subscribed_tracks", [subscribed_json(t, rec["sid"], base) for t in chunk[:size]],
                     page, size, len(chunk) > size)

    async def fetch_subscribed(self, request: web.Request) -> web.Response:
        room, rec = await self._participant(request)
        live = self._live(room, rec)
        for track in live.subscribed_tracks() if live is not None else []:
            if track.sid == request.match_info["track"]:
                return web.json_response(subscribed_json(track, rec["sid"], _base(request)))
        raise TwilioError(20404, "The requested resource was not found")

    async def anonymize(self, request: web.Request) -> web.Response:
        """Twilio's Anonymize: a participant that has left keeps its SID as its identity."""
        room, rec = await self._participant(request)
        if self._live(room, rec) is not None:
            raise RoomStatusInvalidError("Participant must be disconnected to be anonymized")
        anonymized = await self.store.anonymize_participant(rec["sid"], time.time())
        return web.json_response(participant_json(anonymized or rec, _base(request)))

    # --- subscribe rules --------------------------------------------------------------

    async def fetch_rules(self, request: web.Request) -> web.Response:
        room, rec = await self._participant(request)
        stored = await self.store.get_subscribe_rules(rec["sid"])
        if stored is None:
            stored = {"participant_sid": rec["sid"], "room_sid": room["sid"],
                      "rules": [{"type": "include", "all": True}],
                      "date_created": None, "date_updated": None}
        return web.json_response(_rules_json(stored))

    async def update_rules(self, request: web.Request) -> web.Response:
        form = await _form(request)
        room, rec = await self._participant(request)
        if room["type"] in PEER_TO_PEER_TYPES:
            raise RoomSubscriptionOperationNotSupportedError()
        rules: list[Mapping[str, Any]] = [*parse_rules(form.get("Rules"))]
        live = self._live(room, rec)
        if live is None:
            raise ParticipantNotFoundError("Participant is not connected")
        self.registry.set_rest_rules(live, rules)
        now = time.time()
        previous = await self.store.get_subscribe_rules(rec["sid"])
        stored = {"participant_sid": rec["sid"], "room_sid": room["sid"], "rules": rules,
                  "date_created": previous["date_created"] if previous else now, "date_updated": now}
        self.store.save_subscribe_rules(stored)
        return web.json_response(_rules_json(stored), status=202)


def _rules_json(rec: Record) -> dict[str, Any]:
    return {"participant_sid": rec["participant_sid"], "room_sid": rec["room_sid"],
            "rules": rec["rules"], "date_created": iso(rec["date_created"]),
            "date_updated": iso(rec["date_updated"])}


# --- parameter parsing -----------------------------------------------------------------------


def parse_room_options(form: MultiDictProxy[Any]) -> RoomOptions:
    """``POST /v1/Rooms`` parameters → RoomOptions; the first bad one raises its 531xx error."""
    def text(name: str) -> str | None:
        value = form.get(name)
        return None if value is None else str(value)

    room_type = text("Type") or "group"
    if room_type not in MAX_PARTICIPANTS:
        raise RoomTypeInvalidError()
    options = RoomOptions(type=room_type)
    unique_name = text("UniqueName")
    if unique_name is not None:
        check_room_name(unique_name)
        if sids.is_sid(unique_name, sids.ROOM):
            raise RoomNameInvalidError("UniqueName must not look like a Room SID")
        options.unique_name = unique_name
    value = text("MaxParticipants")
    if value is not None:
        hi = MAX_PARTICIPANTS[room_type]
        options.max_participants = _int(value, RoomMaxParticipantsOutOfRangeError(
            f"MaxParticipants must be between 1 and {hi} for {room_type} rooms"), 1, hi)
    value = text("StatusCallback")
    if value is not None and value != "":
        parts = urlsplit(value)
        if (len(value) > STATUS_CALLBACK_MAX or parts.scheme not in ("http", "https")
                or not parts.hostname or any(ch.isspace() for ch in value)):
            raise RoomStatusCallbackInvalidError()
        options.status_callback = value
    value = text("StatusCallbackMethod")
    if value is not None:
        if value.upper() not in ("GET", "POST"):
            raise RoomStatusCallbackMethodInvalidError()
        options.status_callback_method = value.upper()
    for name, attr in (("EmptyRoomTimeout", "empty_room_timeout"), ("UnusedRoomTimeout", "unused_room_timeout")):
        value = text(name)
        if value is not None:
            setattr(options, attr, _int(value, RoomTimeoutOutOfRangeError(
                f"{name} must be between 1 and 60 minutes"), 1, 60))
    value = text("MaxParticipantDuration")
    if value is not None:
        options.max_participant_duration = _int(value, RoomTimeoutOutOfRangeError(
            "MaxParticipantDuration must be between 600 and 86400 seconds"), 600, 86400)
    value = text("MediaRegion")
    if value is not None:
        if value not in MEDIA_REGIONS:
            raise RoomMediaRegionInvalidError()
        options.media_region = value
    value = text("RecordParticipantsOnConnect")
    if value is not None:
        options.record_participants_on_connect = _bool(value, "RecordParticipantsOnConnect")
        if options.record_participants_on_connect and room_type in PEER_TO_PEER_TYPES:
            raise RoomInvalidParametersError("RecordParticipantsOnConnect is not supported in "
                                             f"{room_type} rooms")
    codecs = [str(v) for v in form.getall("VideoCodecs", [])]
    if codecs:
        if any(c not in VIDEO_CODECS for c in codecs):
            raise RoomInvalidParametersError("VideoCodecs must be VP8 and/or H264")
        options.video_codecs = list(dict.fromkeys(codecs))
    value = text("AudioOnly")
    if value is not None:
        options.audio_only = _bool(value, "AudioOnly")
        if options.audio_only and room_type not in ("group", "group-small"):
            raise RoomAudioOnlyFlagNotSupportedError()
    return options


def parse_rules(raw: object) -> list[dict[str, Any]]:
    """The ``Rules`` parameter: a JSON list of ``{type, all|kind|publisher|track|priority}``."""
    rules = load_rules(raw, InvalidParameterError)
    if not isinstance(rules, list) or len(rules) > MAX_RULES:
        raise InvalidParameterError(f"Rules must be a list of at most {MAX_RULES} rules")
    checked = []
    for rule in rules:
        if not isinstance(rule, dict) or rule.get("type") not in ("include", "exclude"):
            raise InvalidParameterError("each rule needs type include or exclude")
        filters = {k: v for k, v in rule.items() if k != "type"}
        if not filters or any(k not in ("all", "kind", "publisher", "track", "priority") for k in filters):
            raise InvalidParameterError("a rule filters by all, kind, publisher, track or priority")
        if "all" in filters and filters["all"] is not True:
            raise InvalidParameterError("all must be true")
        if "kind" in filters and filters["kind"] not in ("audio", "video", "data"):
            raise InvalidParameterError("kind must be audio, video or data")
        if "priority" in filters and filters["priority"] not in ("low", "standard", "high"):
            raise InvalidParameterError("priority must be low, standard or high")
        for key in ("publisher", "track"):
            if key in filters and not isinstance(filters[key], str):
                raise InvalidParameterError(f"{key} must be a string")
        checked.append({"type": rule["type"], **filters})
    return checked


# --- /dev/token ------------------------------------------------------------------------------


async def dev_token(request: web.Request) -> web.Response:
    """``POST /dev/token`` {identity, room?, ttl?} (JSON or form) → a token for this server."""
    state: ServerState = request.app[STATE]
    try:
        if request.content_type == "application/json":
            data = await request.json()
            if not isinstance(data, dict):
                raise ValueError
        else:
            data = dict(await _form(request))
    except (ValueError, TwilioError):
        return error_response(InvalidParameterError("body must be a JSON object or a form"), 400)
    try:
        identity = check_identity(data.get("identity"))
        room = data.get("room") or None
        if room is not None:
            check_room_name(room)
        ttl = data.get("ttl", DEFAULT_TTL)
        if isinstance(ttl, str):
            ttl = _int(ttl, InvalidParameterError(f"ttl must be 1..{MAX_TTL}"), 1, MAX_TTL)
        if not isinstance(ttl, int) or isinstance(ttl, bool) or not 1 <= ttl <= MAX_TTL:
            raise InvalidParameterError(f"ttl must be 1..{MAX_TTL}")
    except TwilioError as err:
        return error_response(err, 400)
    creds = state.credentials
    token = AccessToken(creds.account_sid, creds.api_key_sid, creds.api_key_secret,
                        identity=identity, ttl=ttl, room=room).to_jwt()
    base = _base(request)
    return web.json_response({"token": token, "identity": identity, "room": room, "ttl": ttl,
                              "url": base, "signaling_url": "ws" + base[4:] + "/signaling"})
