"""Loopback-only ICE: gather nothing but 127.0.0.1 host candidates.

Two things keep aiortc off the network (architecture §8):

* ``rtc_configuration()`` always passes ``iceServers=[]`` unless servers are
  given.  ``RTCConfiguration()`` without it makes aiortc use the public STUN
  server ``stun:stun.l.google.com:19302``.
* ``enable_loopback_only()`` replaces ``aioice.ice.get_host_addresses`` (which
  deliberately skips 127.0.0.1, so candidates would land on eth0) with a
  function that returns only the loopback address.  While enabled it also makes
  ``RTCIceGatherer.getDefaultIceServers()`` return ``[]``, so a peer connection
  created without a configuration cannot reach the public STUN default either.

The hook is process-wide, off by default, idempotent and reversible.  Tests,
the demo and benchmarks enable it explicitly (``loopback_only()`` context
manager, or ``CONFAB_LOOPBACK_ONLY=1`` through ``enable_from_environment()``).
It must be enabled before the peer connection gathers candidates, i.e. before
``setLocalDescription``.
"""

from __future__ import annotations

import ipaddress
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager

import aioice.ice
from aiortc import RTCConfiguration, RTCIceServer
from aiortc.rtcicetransport import RTCIceGatherer

__all__ = [
    "ENV_VAR",
    "LOOPBACK_ADDRESS",
    "disable_loopback_only",
    "enable_from_environment",
    "enable_loopback_only",
    "is_loopback_only",
    "loopback_only",
    "rtc_configuration",
]

LOOPBACK_ADDRESS = "127.0.0.1"
ENV_VAR = "CONFAB_LOOPBACK_ONLY"

_lock = threading.Lock()
_saved: tuple[Callable[[bool, bool], list[str]], object] | None = None


def _loopback_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    """Stand-in for ``aioice.ice.get_host_addresses``: same signature, loopback only."""
    if use_ipv4:
        return [LOOPBACK_ADDRESS]
    if use_ipv6:
        return ["::1"]
    return []


def _no_default_ice_servers(cls: type) -> list[RTCIceServer]:
    return []


def enable_loopback_only() -> None:
    """Make aioice gather only 127.0.0.1 host candidates (idempotent)."""
    global _saved
    with _lock:
        if _saved is not None:
            return
        _saved = (aioice.ice.get_host_addresses, RTCIceGatherer.__dict__["getDefaultIceServers"])
        aioice.ice.get_host_addresses = _loopback_host_addresses
        RTCIceGatherer.getDefaultIceServers = classmethod(_no_default_ice_servers)  # type: ignore[method-assign, assignment]


def disable_loopback_only() -> None:
    """Restore aioice's and aiortc's original behaviour (idempotent)."""
    global _saved
    with _lock:
        if _saved is None:
            return
        host_addresses, default_servers = _saved
        aioice.ice.get_host_addresses = host_addresses
        RTCIceGatherer.getDefaultIceServers = default_servers  # type: ignore[method-assign, assignment]
        _saved = None


def is_loopback_only() -> bool:
    return _saved is not None


@contextmanager
def loopback_only() -> Iterator[None]:
    """Enable the hook for the ``with`` block; leave it on if it was already on."""
    was_enabled = is_loopback_only()
    enable_loopback_only()
    try:
        yield
    finally:
        if not was_enabled:
            disable_loopback_only()


def enable_from_environment(environ: Mapping[str, str] | None = None) -> bool:
    """Enable the hook when ``CONFAB_LOOPBACK_ONLY`` is ``1``/``true``/``yes``/``on``.

    Returns whether the hook is enabled afterwards.  Never disables it.
    """
    value = (os.environ if environ is None else environ).get(ENV_VAR, "")
    if value.strip().lower() in {"1", "true", "yes", "on"}:
        enable_loopback_only()
    return is_loopback_only()


def rtc_configuration(
    ice_servers: Sequence[RTCIceServer | str] | None = None,
) -> RTCConfiguration:
    """An ``RTCConfiguration`` that never falls back to the public STUN default.

    ``ice_servers`` may hold ``RTCIceServer`` objects or plain URL strings.
    """
    servers = [
        server if isinstance(server, RTCIceServer) else RTCIceServer(urls=server)
        for server in (ice_servers or [])
    ]
    return RTCConfiguration(iceServers=servers)


def is_loopback_host(host: str) -> bool:
    """``localhost`` or an address in 127.0.0.0/8 or ``::1``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
