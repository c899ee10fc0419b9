"""Tokens from a development server: ``POST {server}/dev/token`` of a ``confab-server --dev``.

Shared by the desktop app (joining by name) and ``confab-bot``. Raises the server's
``TwilioError`` when it refuses (a bad identity or room), :class:`DevTokenRefused` when it
answers without a token (a server started without ``--dev``) and :class:`DevTokenUnreachable`
when nothing answers.
"""

from __future__ import annotations

import aiohttp

from core.errors import TwilioError
from core.tls import client_ssl

__all__ = ["DevTokenError", "DevTokenRefused", "DevTokenUnreachable", "fetch_dev_token"]


class DevTokenError(RuntimeError):
    """The server gave no token."""


class DevTokenRefused(DevTokenError):
    """The server answered, but with no token: it runs without ``--dev``."""


class DevTokenUnreachable(DevTokenError):
    """Nothing (that speaks HTTP) answered at the server's address."""


async def fetch_dev_token(server: str, identity: str, room: str | None, *, timeout: float = 10.0) -> str:
    url = server.rstrip("/")
    if url.startswith("ws"):
        url = "http" + url[2:]
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http:
            async with http.post(url + "/dev/token", json={"identity": identity, "room": room},
                                 ssl=client_ssl()) as resp:
                try:
                    body = await resp.json(content_type=None)
                except ValueError:
                    body = None
                token = body.get("token") if isinstance(body, dict) else None
                if resp.status == 200 and isinstance(token, str):
                    return token
                if isinstance(body, dict) and isinstance(body.get("code"), int):
                    raise TwilioError(body["code"], str(body.get("message") or "Token refused"))
                raise DevTokenRefused(f"{server} does not hand out tokens (HTTP {resp.status})")
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        raise DevTokenUnreachable(f"Cannot reach {server}: {exc or type(exc).__name__}") from exc
