"""One confab-server per data directory: an exclusive ``flock`` on ``DIR/server.lock``.

Taken before the server reads or writes anything in the directory and held for its
lifetime; the kernel drops it when the process dies, so a crashed server never leaves a
stale lock. A second server on the same directory stops with :class:`DataDirInUseError`
(an ``OSError``: the CLI prints it and exits 1) before it touches the first one's rooms.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

__all__ = ["DataDirInUseError", "DataDirLock"]

LOCK_NAME = "server.lock"


class DataDirInUseError(OSError):
    """Another confab-server holds this data directory."""


class DataDirLock:
    def __init__(self, data_dir: str | Path) -> None:
        self.path = Path(data_dir) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> DataDirLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise DataDirInUseError(
                f"the data directory {self.path.parent} is in use by another confab-server (pid {holder}); "
                "stop it first or give this one another --data-dir") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
