"""The library versions Confab's hooks on private internals were written for, checked in one place.

Each hook module (``core/media/rtp_hooks.py``, ``frames.py``, ``keep_negotiated.py``, ``ice_restart.py``,
``faults.py``, ``loopback.py``, ``core/events.py``, ``server/forwarder/passthrough.py``)
calls :func:`require` before it patches or reads anything private, so a different release
fails loudly at once instead of quietly measuring nothing. pyproject pins the same
versions exactly; change both together, after re-reading what each hook touches.
"""

from __future__ import annotations

import importlib.metadata
import sys

__all__ = ["PINNED", "require"]

PINNED = {"aiortc": "1.16.0", "aioice": "0.13.0", "pyee": "13.0.1"}


def installed(package: str) -> str:
    module = sys.modules.get(package)
    version = getattr(module, "__version__", None)
    return str(version) if version else importlib.metadata.version(package)


def require(package: str, hook: str) -> None:
    """Raise ``RuntimeError`` unless ``package`` is the version ``hook`` was written for."""
    found, wanted = installed(package), PINNED[package]
    if found != wanted:
        raise RuntimeError(f"{hook} was written for {package} {wanted}, found {found}: "
                           f"re-check what it touches before pinning another release")
