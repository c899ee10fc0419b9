"""argparse types shared by the commands: a bad value is a clean usage error (exit 2), never
a traceback later."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from urllib.parse import urlsplit

__all__ = ["http_url", "log_level", "positive_float", "positive_int"]

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def log_level(text: str) -> str:
    """A logging level name, any case: ``info`` → ``INFO``."""
    level = text.upper()
    if level not in LEVELS or not isinstance(logging.getLevelName(level), int):
        raise argparse.ArgumentTypeError(f"{text!r} is not a log level ({', '.join(LEVELS)})")
    return level


def _positive(kind: type[int] | type[float], what: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"{text} must be above 0")
        return value

    return parse


positive_int = _positive(int, "a whole number")
positive_float = _positive(float, "a number")


def http_url(text: str) -> str:
    """A server address: ``http://`` or ``https://`` and a host."""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"{text!r} is not a server address (like http://127.0.0.1:7880)")
    return text
