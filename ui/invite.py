"""Invite links: pure parsing and formatting (no Qt).

The canonical form, produced by :func:`format_invite`::

    confab://join?server=http%3A%2F%2F127.0.0.1%3A7880&room=standup&token=eyJ...

``server`` is the room server's http(s) base URL; ``room`` and ``token`` are each
optional but one of them must be present (a token may name its room in
``grants.video.room``). For links opened from a browser or chat, the web form
``http(s)://host:port/join/<room>?token=...`` is accepted too (server = the
link's scheme, host and port). A bare access token (JWT) is also accepted.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

__all__ = [
    "INVITE_SCHEME",
    "Invite",
    "InviteError",
    "TokenHints",
    "format_invite",
    "format_web_invite",
    "looks_like_token",
    "parse_invite",
    "token_hints",
]

INVITE_SCHEME = "confab"
_JWT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_SERVER_SCHEMES = ("http", "https")


class InviteError(ValueError):
    """The text is neither an invite link nor an access token."""


@dataclass(frozen=True, slots=True)
class Invite:
    server: str | None
    room: str | None
    token: str | None


@dataclass(frozen=True, slots=True)
class TokenHints:
    """Unverified claims read from a token, only to pre-fill the join form."""

    identity: str | None
    room: str | None


def looks_like_token(text: str) -> bool:
    return bool(_JWT.fullmatch(text.strip()))


def _check_server(server: str) -> str:
    parts = urlsplit(server)
    if parts.scheme not in _SERVER_SCHEMES or not parts.netloc:
        raise InviteError(f"server must be an http(s) URL, got {server!r}")
    return server.rstrip("/")


def _single(query: dict[str, list[str]], key: str) -> str | None:
    values = query.get(key)
    if not values:
        return None
    if len(values) > 1:
        raise InviteError(f"{key!r} given more than once")
    value = values[0].strip()
    return value or None


def _check_token(token: str | None) -> str | None:
    if token is not None and not looks_like_token(token):
        raise InviteError("token is not an access token (JWT)")
    return token


def parse_invite(text: str) -> Invite:
    """Parse an invite link (either form) or a bare token; raise InviteError otherwise."""
    text = text.strip()
    if not text:
        raise InviteError("empty invite")
    if looks_like_token(text):
        return Invite(server=None, room=None, token=text)
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError as exc:
        raise InviteError(f"malformed query: {exc}") from None
    unknown = set(query) - {"server", "room", "token"}
    if unknown:
        raise InviteError(f"unknown invite parameters: {', '.join(sorted(unknown))}")
    if scheme == INVITE_SCHEME:
        if parts.netloc != "join" or parts.path not in ("", "/"):
            raise InviteError("invite links look like confab://join?server=…&room=…&token=…")
        server = _single(query, "server")
        if server is None:
            raise InviteError("invite link has no server")
        room = _single(query, "room")
        token = _check_token(_single(query, "token"))
        if room is None and token is None:
            raise InviteError("invite link needs a room or a token")
        return Invite(server=_check_server(server), room=room, token=token)
    if scheme in _SERVER_SCHEMES:
        match = re.fullmatch(r"/join/([^/]+)/?", parts.path)
        if not match or not parts.netloc:
            raise InviteError("web invite links look like http://host:port/join/<room>?token=…")
        if "server" in query or "room" in query:
            raise InviteError("web invite links carry only a token in their query")
        room = unquote(match.group(1)).strip()
        if not room:
            raise InviteError("invite link has an empty room")
        token = _check_token(_single(query, "token"))
        return Invite(server=f"{scheme}://{parts.netloc}", room=room, token=token)
    raise InviteError("not an invite link or access token")


def format_invite(server: str, room: str | None = None, token: str | None = None) -> str:
    """The canonical ``confab://join?...`` link (parameters in a fixed order)."""
    server = _check_server(server)
    if room is None and token is None:
        raise InviteError("an invite needs a room or a token")
    params = {"server": server}
    if room is not None:
        params["room"] = room
    if token is not None:
        params["token"] = _check_token(token) or ""
    return f"{INVITE_SCHEME}://join?{urlencode(params, quote_via=quote)}"


def format_web_invite(server: str, room: str, token: str | None = None) -> str:
    """``http(s)://host:port/join/<room>[?token=…]``: the link to send people (the server answers
    it with a page that opens the app); without a token the guest picks a name on joining."""
    server = _check_server(server)
    if not room:
        raise InviteError("a web invite needs a room")
    link = f"{server}/join/{quote(room, safe='')}"
    return f"{link}?token={_check_token(token)}" if token else link


def token_hints(token: str) -> TokenHints | None:
    """``grants.identity`` and ``grants.video.room`` read WITHOUT verifying the signature.

    Only for display (pre-filling the form); the server verifies the token. None when
    the payload is not readable JSON.
    """
    if not looks_like_token(token):
        return None
    payload = token.strip().split(".")[1]
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        claims = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(claims, dict):
        return None
    grants = claims.get("grants")
    grants = grants if isinstance(grants, dict) else {}
    identity = grants.get("identity")
    video = grants.get("video")
    room = video.get("room") if isinstance(video, dict) else None
    return TokenHints(
        identity=identity if isinstance(identity, str) and identity else None,
        room=room if isinstance(room, str) and room else None,
    )
