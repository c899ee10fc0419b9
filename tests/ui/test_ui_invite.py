from __future__ import annotations

import base64
import json

import pytest

from ui.invite import (
    Invite,
    InviteError,
    format_invite,
    looks_like_token,
    parse_invite,
    token_hints,
)

pytestmark = pytest.mark.ui


def b64(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


TOKEN = ".".join([
    b64({"alg": "HS256", "typ": "JWT", "cty": "twilio-fpa;v=1"}),
    b64({"grants": {"identity": "alice", "video": {"room": "standup"}}}),
    "c2lnbmF0dXJl",
])


def test_confab_link():
    link = f"confab://join?server=http%3A%2F%2F127.0.0.1%3A7880&room=standup&token={TOKEN}"
    assert parse_invite(link) == Invite("http://127.0.0.1:7880", "standup", TOKEN)


def test_confab_link_without_token_or_room():
    assert parse_invite("confab://join?server=https://meet.example:443/&room=a%20b") == \
        Invite("https://meet.example:443", "a b", None)
    assert parse_invite(f"confab://join?server=http://h:1&token={TOKEN}") == \
        Invite("http://h:1", None, TOKEN)


def test_web_link():
    assert parse_invite(f"http://127.0.0.1:7880/join/standup?token={TOKEN}") == \
        Invite("http://127.0.0.1:7880", "standup", TOKEN)
    assert parse_invite("https://meet.example/join/team%20sync/") == \
        Invite("https://meet.example", "team sync", None)


def test_bare_token_and_whitespace():
    assert parse_invite(f"  {TOKEN}\n") == Invite(None, None, TOKEN)
    assert looks_like_token(TOKEN)
    assert not looks_like_token("confab://join")


@pytest.mark.parametrize("text", [
    "",
    "   ",
    "hello world",
    "confab://join?room=x",  # no server
    "confab://join?server=http://h:1",  # neither room nor token
    "confab://join?server=ftp://h&room=x",
    "confab://leave?server=http://h:1&room=x",
    "confab://join?server=http://h:1&room=x&token=not-a-jwt",
    "confab://join?server=http://h:1&room=x&room=y",
    "confab://join?server=http://h:1&room=x&extra=1",
    "http://h:1/rooms/x",
    "http://h:1/join/",
    "http://h:1/join/x?room=y",
    "mailto:someone@example.com",
])
def test_rejects(text):
    with pytest.raises(InviteError):
        parse_invite(text)


def test_format_round_trip():
    link = format_invite("http://127.0.0.1:7880/", "room/with?odd&chars", TOKEN)
    assert link.startswith("confab://join?server=")
    assert parse_invite(link) == Invite("http://127.0.0.1:7880", "room/with?odd&chars", TOKEN)
    with pytest.raises(InviteError):
        format_invite("http://h:1")


def test_token_hints():
    hints = token_hints(TOKEN)
    assert hints is not None and hints.identity == "alice" and hints.room == "standup"
    assert token_hints("a.b.c") is None
    no_room = ".".join([b64({}), b64({"grants": {"identity": "bob"}}), ""])
    assert token_hints(no_room).room is None
