"""The installed version of Confab: ``--version`` of every command, and ``core.version``
(twilio-video.js's ``Video.version``: the SDK's version as a string)."""

from __future__ import annotations

from importlib import metadata

__all__ = ["__version__", "version", "version_line"]

try:
    __version__ = metadata.version("confab")
except metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
version = __version__


def version_line(prog: str) -> str:
    return f"{prog} {__version__}"
