"""Twilio-format Video access tokens: minting (``AccessToken``) and server-side checks.

``verify_access_token`` maps every failure to one of the 201xx ``TwilioError`` codes of
api-reference §3/§5 and never lets any other exception escape.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any, TypeGuard

import jwt

from core.errors import (
    AccessTokenExpiredError,
    AccessTokenGrantsInvalidError,
    AccessTokenHeaderInvalidError,
    AccessTokenInvalidError,
    AccessTokenIssuerInvalidError,
    AccessTokenNotYetValidError,
    AccessTokenSignatureInvalidError,
    TwilioError,
)

__all__ = [
    "AccessToken",
    "verify_access_token",
    "identity_of",
    "room_of",
    "TOKEN_HEADER",
    "DEFAULT_TTL",
    "MAX_TTL",
    "MAX_TOKEN_LENGTH",
]

TOKEN_CTY = "twilio-fpa;v=1"
TOKEN_HEADER: dict[str, str] = {"typ": "JWT", "alg": "HS256", "cty": TOKEN_CTY}
DEFAULT_TTL = 3600
MAX_TTL = 86400
#: Longer strings are rejected as 20101 before any decoding (bounds the work per token).
MAX_TOKEN_LENGTH = 32 * 1024

_B64URL = re.compile(r"[A-Za-z0-9_-]*")


class AccessToken:
    """A Video access token, signed with an API key (``SK…``) of an account (``AC…``)."""

    def __init__(
        self,
        account_sid: str,
        api_key_sid: str,
        api_key_secret: str,
        identity: str,
        ttl: int = DEFAULT_TTL,
        room: str | None = None,
        nbf: int | float | None = None,
    ) -> None:
        for name, value in (("account_sid", account_sid), ("api_key_sid", api_key_sid),
                            ("api_key_secret", api_key_secret), ("identity", identity)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must be a non-empty string")
        if not isinstance(ttl, int) or isinstance(ttl, bool):
            raise ValueError("ttl must be an int")
        if not 1 <= ttl <= MAX_TTL:
            raise ValueError(f"ttl must be between 1 and {MAX_TTL} seconds, got {ttl}")
        if room is not None and (not isinstance(room, str) or not room):
            raise ValueError("room must be a non-empty string or None")
        if nbf is not None and not _is_number(nbf):
            raise ValueError("nbf must be a finite number or None")
        self.account_sid = account_sid
        self.api_key_sid = api_key_sid
        self._secret = api_key_secret
        self.identity = identity
        self.ttl = ttl
        self.room = room
        self.nbf = nbf

    def __repr__(self) -> str:  # never shows the secret
        return (f"AccessToken(account_sid={self.account_sid!r}, api_key_sid={self.api_key_sid!r},"
                f" identity={self.identity!r}, ttl={self.ttl}, room={self.room!r})")

    def claims(self, *, now: float | None = None) -> dict[str, Any]:
        """The JWT payload as issued at ``now`` (default: the current time)."""
        iat = int(time.time() if now is None else now)
        video: dict[str, str] = {} if self.room is None else {"room": self.room}
        payload: dict[str, Any] = {
            "jti": f"{self.api_key_sid}-{iat}",
            "iss": self.api_key_sid,
            "sub": self.account_sid,
            "iat": iat,
            "exp": iat + self.ttl,
            "grants": {"identity": self.identity, "video": video},
        }
        if self.nbf is not None:
            payload["nbf"] = int(self.nbf)
        return payload

    def to_jwt(self, *, now: float | None = None) -> str:
        """The signed token (HS256, header ``{"typ":"JWT","alg":"HS256","cty":...}``)."""
        return jwt.encode(self.claims(now=now), self._secret, algorithm="HS256",
                          headers={"typ": "JWT", "cty": TOKEN_CTY})


def verify_access_token(
    token: object,
    secrets: Mapping[str, str | bytes],
    *,
    account_sid: str,
    room: str | Iterable[str] | None = None,
    now: float | None = None,
    leeway: float = 0.0,
) -> dict[str, Any]:
    """Check ``token`` and return its claims, or raise the matching 201xx ``TwilioError``.

    ``secrets`` maps API key SID → secret. ``room`` is the room being joined (a name, or
    several aliases such as name and SID); a ``grants.video.room`` must equal it (one of
    them). With ``room=None`` any room grant is accepted: the caller then joins the granted
    room (``room_of``), as Twilio does when ``connect`` has no name. ``now`` overrides the
    clock. ``exp`` has no leeway (expired once ``now >= exp``); ``leeway`` seconds (default
    0) of clock skew with the minter are tolerated on ``nbf`` and ``iat``.
    """
    clock = time.time() if now is None else float(now)
    try:
        return _verify(token, secrets, account_sid, room, clock, float(leeway))
    except TwilioError:
        raise
    except Exception as exc:  # defensive: nothing but a TwilioError may leave
        raise AccessTokenInvalidError() from exc


def identity_of(claims: Mapping[str, Any]) -> str:
    """``grants.identity`` of verified claims (20106 if absent)."""
    grants = claims.get("grants")
    identity = grants.get("identity") if isinstance(grants, Mapping) else None
    if not isinstance(identity, str) or not identity:
        raise AccessTokenGrantsInvalidError()
    return identity


def room_of(claims: Mapping[str, Any]) -> str | None:
    """``grants.video.room`` of verified claims, or None when the token allows any room."""
    grants = claims.get("grants")
    video = grants.get("video") if isinstance(grants, Mapping) else None
    granted = video.get("room") if isinstance(video, Mapping) else None
    return granted if isinstance(granted, str) else None


# --------------------------------------------------------------------------- internals


def _is_number(value: object) -> TypeGuard[float]:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def _b64url_decode(segment: str) -> bytes:
    """Strict, canonical base64url without padding (else 20101)."""
    if not _B64URL.fullmatch(segment) or len(segment) % 4 == 1:
        raise AccessTokenInvalidError()
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:
        raise AccessTokenInvalidError() from exc
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != segment:
        raise AccessTokenInvalidError()  # non-zero padding bits: not canonical
    return raw


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _json_object(segment: str) -> dict[str, Any]:
    raw = _b64url_decode(segment)
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise AccessTokenInvalidError() from exc
    if not isinstance(value, dict):
        raise AccessTokenInvalidError()
    return value


def _verify(token: object, secrets: Mapping[str, str | bytes], account_sid: str,
            room: str | Iterable[str] | None, now: float, leeway: float) -> dict[str, Any]:
    # 20101: a string of three base64url segments, the first two JSON objects.
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        raise AccessTokenInvalidError()
    parts = token.split(".")
    if len(parts) != 3:
        raise AccessTokenInvalidError()
    header_b64, payload_b64, signature_b64 = parts
    header = _json_object(header_b64)
    claims = _json_object(payload_b64)
    signature = _b64url_decode(signature_b64)

    # 20102: exactly Twilio's header values.
    if any(header.get(key) != value for key, value in TOKEN_HEADER.items()):
        raise AccessTokenHeaderInvalidError()

    # 20103: a known API key of this account.
    iss, sub = claims.get("iss"), claims.get("sub")
    if not isinstance(iss, str) or iss not in secrets or not isinstance(sub, str) \
            or sub != account_sid:
        raise AccessTokenIssuerInvalidError()

    # 20107: HMAC-SHA256 over "header.payload" with the key's secret.
    secret = secrets[iss]
    key = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    signing_input = f"{header_b64}.{payload_b64}".encode("ascii")
    expected = hmac.new(key, signing_input, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, signature):
        raise AccessTokenSignatureInvalidError()

    # 20104: exp present, not passed, and at most 24 h after issue. The issue time is
    # iat, else nbf (Twilio's own helper sends nbf and no iat), else now.
    exp = claims.get("exp")
    if not _is_number(exp) or now >= exp:
        raise AccessTokenExpiredError()
    if "iat" in claims:
        issued = claims["iat"]
        if not _is_number(issued):
            raise AccessTokenExpiredError()
    elif "nbf" in claims and _is_number(claims["nbf"]):
        issued = claims["nbf"]
    else:
        issued = now + leeway
    if exp - issued > MAX_TTL:
        raise AccessTokenExpiredError()

    # 20105: nbf (and iat) not in the future.
    if "nbf" in claims:
        nbf = claims["nbf"]
        if not _is_number(nbf) or nbf > now + leeway:
            raise AccessTokenNotYetValidError()
    if "iat" in claims and claims["iat"] > now + leeway:
        raise AccessTokenNotYetValidError()

    # 20106: an identity and a video grant for this room.
    grants = claims.get("grants")
    if not isinstance(grants, dict):
        raise AccessTokenGrantsInvalidError()
    identity = grants.get("identity")
    if not isinstance(identity, str) or not identity:
        raise AccessTokenGrantsInvalidError()
    video = grants.get("video")
    if not isinstance(video, dict):
        raise AccessTokenGrantsInvalidError()
    if "room" in video:
        granted = video["room"]
        if not isinstance(granted, str) or not granted:
            raise AccessTokenGrantsInvalidError()
        if room is not None:
            allowed = {room} if isinstance(room, str) else set(room)
            if granted not in allowed:
                raise AccessTokenGrantsInvalidError()
    return claims
