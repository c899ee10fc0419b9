"""Background tasks an object owns: spawned, tracked, failures logged, cancelled together."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

__all__ = ["TaskSet"]


class TaskSet:
    """A set of running tasks. A task that fails with an ``expected`` error ends quietly;
    any other failure is logged (a dead background task must never go unnoticed)."""

    def __init__(self, what: str, logger: logging.Logger, expected: tuple[type[BaseException], ...] = ()) -> None:
        self._what = what
        self._log = logger
        self._expected = expected
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            if not isinstance(exc, self._expected):
                self._log.error("%s task failed", self._what, exc_info=exc)

    def running(self) -> list[asyncio.Task[Any]]:
        return [t for t in self._tasks if not t.done()]

    async def cancel_all(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
