"""Reliability tests: real server processes stopped, killed and restarted under real calls."""

from __future__ import annotations

from typing import Any

import pytest

import restartkit  # noqa: F401  (puts tests/server and tests/call on sys.path)
from core.media import loopback


@pytest.fixture(autouse=True)
def _loopback_only() -> Any:
    with loopback.loopback_only():
        yield
