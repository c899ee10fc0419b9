"""Status callbacks: HTTP requests to a room's ``StatusCallback`` with Twilio's parameters.

``fire`` only queues; one worker task sends them in order (so a room's events arrive in
sequence), each with a timeout. Failures are logged and dropped: signaling never waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

def iso_timestamp(t: float) -> str:
    """``2026-12-01T10:11:12.345Z``, as Twilio's callbacks carry it."""
    ms = round(t * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{ms:03d}Z"


class StatusCallbacks:
    def __init__(self, timeout_s: float = 5.0, max_queue: int = 10000) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._queue: asyncio.Queue[tuple[str, str, dict[str, str]]] = asyncio.Queue(max_queue)
        self._session: aiohttp.ClientSession | None = None
        self._worker: asyncio.Task[None] | None = None
        self.sent = 0
        self.failed = 0

    def start(self) -> None:
        self._worker = asyncio.get_running_loop().create_task(self._run(), name="status-callbacks")

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        if self._session is not None:
            await self._session.close()

    def fire(self, url: str | None, method: str, event: str, params: dict[str, Any]) -> None:
        """Queue one callback (no-op without a URL)."""
        if not url:
            return
        body = {"StatusCallbackEvent": event}
        body.update({k: _text(v) for k, v in params.items() if v is not None})
        try:
            self._queue.put_nowait((url, method.upper(), body))
        except asyncio.QueueFull:
            self.failed += 1
            log.warning("status callback queue full; dropped %s for %s", event, params.get("RoomSid"))

    async def _run(self) -> None:
        while True:
            url, method, body = await self._queue.get()
            try:
                await self._send(url, method, body)
            finally:
                self._queue.task_done()

    async def _send(self, url: str, method: str, body: dict[str, str]) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            get = method == "GET"
            request = self._session.get(url, params=body) if get else self._session.post(url, data=body)
            async with request as response:
                await response.read()
                if response.status >= 400:
                    self.failed += 1
                    log.warning("status callback %s to %s: HTTP %d", body["StatusCallbackEvent"],
                                url, response.status)
                    return
            self.sent += 1
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001  (any network failure: log, never raise)
            self.failed += 1
            log.warning("status callback %s to %s failed: %s", body["StatusCallbackEvent"], url,
                        exc.__class__.__name__ + (f": {exc}" if str(exc) else ""))


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
