"""The SDK's log levels: twilio-video.js's ``logLevel`` option and ``Video.Logger``, over Python's logging.

twilio-video.js logs per component (``default``, ``media``, ``signaling``, ``webrtc``) at one of
``debug|info|warn|error|off`` (default ``warn``). Confab's modules log to Python loggers; this
maps each component to the loggers behind it, so ``connect(log_level="debug")`` or
``Logger.get_logger().set_level("off")`` does what it does in the browser SDK. Handlers and
formatting stay the application's (``logging.basicConfig`` …).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

__all__ = ["DEFAULT_LOGGER_NAME", "DEFAULT_LOG_LEVEL", "LOG_LEVELS", "Logger", "apply_log_level", "log_levels"]

DEFAULT_LOGGER_NAME = "twilio-video"
DEFAULT_LOG_LEVEL = "warn"
LOG_LEVELS = ("debug", "info", "warn", "error", "off")
_COMPONENTS = {
    "default": ("core", "confab"),
    "signaling": ("core.signaling", "core.signaling_transport", "core.transport", "confab.signaling"),
    "media": ("core.media", "confab.track", "confab.participant"),
    "webrtc": ("aiortc", "aioice"),
}
_PYTHON_LEVEL = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
                 "error": logging.ERROR, "off": logging.CRITICAL + 10}


def _check(level: Any, name: str) -> str:
    if level not in LOG_LEVELS:
        raise ValueError(f"{name} must be one of {list(LOG_LEVELS)}")  # the SDK's RangeError
    return str(level)


def log_levels(value: str | Mapping[str, str] | None) -> dict[str, str]:
    """``log_level`` as one level per component (a string applies to all; a mapping names some,
    the rest take ``default``'s level); an unknown level or component raises ``ValueError``."""
    if value is None:
        value = DEFAULT_LOG_LEVEL
    if isinstance(value, str):
        level = _check(value, "level")
        return dict.fromkeys(_COMPONENTS, level)
    if not isinstance(value, Mapping):
        raise TypeError("log_level must be a level name or a mapping of component to level name")
    unknown = set(value) - set(_COMPONENTS)
    if unknown:
        raise ValueError(f"log_level components must be among {sorted(_COMPONENTS)}, not {sorted(unknown)}")
    default = _check(value.get("default", DEFAULT_LOG_LEVEL), "level")
    return {c: _check(value.get(c, default), "level") for c in _COMPONENTS}


def apply_log_level(value: str | Mapping[str, str] | None) -> dict[str, str]:
    """Set the loggers behind each component to ``value``'s levels; returns them."""
    levels = log_levels(value)
    for component, level in levels.items():
        for name in _COMPONENTS[component]:
            logging.getLogger(name).setLevel(_PYTHON_LEVEL[level])
    return levels


class SdkLogger:
    """One named SDK logger (``Logger.get_logger(name)``): its level applies to every component."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._level = DEFAULT_LOG_LEVEL

    def set_level(self, level: str | Mapping[str, str]) -> None:
        """One level for every component, or a ``{component: level}`` mapping (as ``log_level``)."""
        self._level = apply_log_level(level)["default"]

    def get_level(self) -> str:
        return self._level

    def __repr__(self) -> str:
        return f"SdkLogger({self.name!r}, level={self._level!r})"


class Logger:
    """``Video.Logger``: ``Logger.get_logger(name)`` returns the same SdkLogger for a name."""

    _loggers: ClassVar[dict[str, SdkLogger]] = {}

    @classmethod
    def get_logger(cls, name: str = DEFAULT_LOGGER_NAME) -> SdkLogger:
        if not isinstance(name, str) or not name:
            raise TypeError("name must be a non-empty string")
        return cls._loggers.setdefault(name, SdkLogger(name))
