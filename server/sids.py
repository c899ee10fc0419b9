"""Twilio-style resource identifiers: a two-letter prefix and 32 lowercase hex digits."""

from __future__ import annotations

import re
import secrets
import uuid

ACCOUNT, API_KEY, ROOM, PARTICIPANT, TRACK = "AC", "SK", "RM", "PA", "MT"

_HEX32 = "[0-9a-f]{32}"


def new_sid(prefix: str) -> str:
    """A fresh SID such as ``RM`` + 32 hex digits."""
    return prefix + uuid.uuid4().hex


def is_sid(value: object, prefix: str) -> bool:
    """True if ``value`` is a string shaped like a SID with ``prefix``."""
    return isinstance(value, str) and re.fullmatch(prefix + _HEX32, value) is not None


def new_secret() -> str:
    """A 32-character API key secret."""
    return secrets.token_hex(16)
