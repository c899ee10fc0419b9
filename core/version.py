"""The installed version of Confab (``--version`` of every command)."""

from __future__ import annotations

from importlib import metadata

__all__ = ["__version__", "version_line"]

try:
    __version__ = metadata.version("confab")
except metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"


def version_line(prog: str) -> str:
    return f"{prog} {__version__}"
