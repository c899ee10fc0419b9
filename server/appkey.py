"""The aiohttp application key under which the request handlers find the server's state."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from .app import ServerState

__all__ = ["STATE"]

STATE: web.AppKey[ServerState] = web.AppKey("confab")
