"""Display names apart from identities (shared by the app and `confab-server invite`).

A room holds one participant per identity: a second connect with the same identity throws the
first one out (53205). So the app never joins with the typed name as it is: it joins as
``"<name>#<4 random base-36 chars>"`` (:func:`unique_identity`), and every tile, list entry and
chat line shows :func:`display_name` of an identity, which drops that suffix again. Identities
minted elsewhere (``confab-server token --identity alice``, a bot's ``--identity``) carry no
suffix and are shown as they are. The name thus travels inside the identity itself: every
client (and Twilio's own SDKs) sees it without any extra signaling.
"""

from __future__ import annotations

import re
import secrets

__all__ = ["SUFFIX_LENGTH", "display_name", "unique_identity"]

SUFFIX_LENGTH = 4
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_SUFFIX = re.compile(rf"#[0-9a-z]{{{SUFFIX_LENGTH}}}\Z")
#: The server takes identities of up to 128 code points; leave room for the suffix.
MAX_NAME = 128 - 1 - SUFFIX_LENGTH


def unique_identity(name: str) -> str:
    """``name`` (trimmed, at most :data:`MAX_NAME` characters) plus ``#`` and a random suffix."""
    name = " ".join(name.split())[:MAX_NAME] or "Guest"
    suffix = "".join(secrets.choice(_ALPHABET) for _ in range(SUFFIX_LENGTH))
    return f"{name}#{suffix}"


def display_name(identity: str) -> str:
    """What people see for ``identity``: without the app's ``#xxxx`` suffix, if it has one."""
    shown = _SUFFIX.sub("", identity)
    return shown or identity
