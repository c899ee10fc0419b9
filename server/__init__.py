"""Confab's room server: Twilio Video's REST Rooms API and signaling protocol over aiohttp.

In-process use (tests, the desktop demo)::

    from server import start_server
    running = await start_server("127.0.0.1", 0, data_dir, dev=True)
    ... running.url, running.port, running.credentials ...
    await running.close()
"""

from __future__ import annotations

from .app import RunningServer, start_server
from .config import ServerConfig

__all__ = ["RunningServer", "ServerConfig", "start_server"]
