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

Two scopes:

* **One connection** (what ``core.connect`` and the room server use): gathering inside
  ``with gathering_on_loopback():`` — ``negotiation.Negotiation`` wraps its
  ``setLocalDescription`` calls in it for connections that asked — sees only 127.0.0.1.
  A ``contextvars`` flag carries it, so other connections of the process, made at the same
  time or later, gather as usual.
* **The process** (tests and benchmarks with bare aiortc pairs): ``loopback_only()`` context
  manager, ``enable_loopback_only()``, or ``CONFAB_LOOPBACK_ONLY=1`` through
  ``enable_from_environment()``; idempotent and reversible.

Either way aioice's function is replaced once by a dispatcher that answers loopback only
while one of the two is on, and calls the original otherwise. It must be on when the
connection gathers candidates, i.e. during ``setLocalDescription``.
"""

from __future__ import annotations

import contextvars
import ipaddress
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager

import aioice.ice
from aiortc import RTCConfiguration, RTCIceServer, RTCIceTransportPolicy
from aiortc.rtcicetransport import RTCIceGatherer

from ..pins import require

__all__ = [
    "ENV_VAR",
    "LOOPBACK_ADDRESS",
    "disable_loopback_only",
    "enable_from_environment",
    "enable_loopback_only",
    "gathering_on_loopback",
    "is_loopback_only",
    "loopback_only",
    "rtc_configuration",
]

LOOPBACK_ADDRESS = "127.0.0.1"
ENV_VAR = "CONFAB_LOOPBACK_ONLY"

_lock = threading.Lock()
_saved: object | None = None  # aiortc's getDefaultIceServers while the process-wide switch is on
_original_host_addresses: Callable[[bool, bool], list[str]] | None = None
_here: contextvars.ContextVar[bool] = contextvars.ContextVar("confab_loopback_gathering", default=False)


def _loopback_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    """Stand-in for ``aioice.ice.get_host_addresses``: same signature, loopback only."""
    if use_ipv4:
        return [LOOPBACK_ADDRESS]
    if use_ipv6:
        return ["::1"]
    return []


def _no_default_ice_servers(cls: type) -> list[RTCIceServer]:
    return []


def _dispatch(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    """aioice's ``get_host_addresses`` while the hook is installed."""
    if _saved is not None or _here.get():
        return _loopback_host_addresses(use_ipv4, use_ipv6)
    assert _original_host_addresses is not None
    return _original_host_addresses(use_ipv4, use_ipv6)


def _install_dispatcher() -> None:
    global _original_host_addresses
    with _lock:
        if _original_host_addresses is None:
            require("aioice", "core.media.loopback")
            if not callable(getattr(aioice.ice, "get_host_addresses", None)):
                raise RuntimeError("aioice.ice.get_host_addresses is gone: re-check the loopback hook")
            _original_host_addresses = aioice.ice.get_host_addresses
            aioice.ice.get_host_addresses = _dispatch


@contextmanager
def gathering_on_loopback(enabled: bool = True) -> Iterator[None]:
    """Candidates gathered inside the block (this task and tasks it starts) are 127.0.0.1 only."""
    if not enabled:
        yield
        return
    _install_dispatcher()
    token = _here.set(True)
    try:
        yield
    finally:
        _here.reset(token)


def enable_loopback_only() -> None:
    """Make every connection of the process gather only 127.0.0.1 host candidates (idempotent)."""
    global _saved
    _install_dispatcher()
    with _lock:
        if _saved is None:
            _saved = RTCIceGatherer.__dict__["getDefaultIceServers"]
            RTCIceGatherer.getDefaultIceServers = classmethod(_no_default_ice_servers)  # type: ignore[method-assign, assignment]  # restored below


def disable_loopback_only() -> None:
    """Back to aioice's and aiortc's own behaviour for the process (idempotent)."""
    global _saved
    with _lock:
        if _saved is not None:
            RTCIceGatherer.getDefaultIceServers = _saved  # type: ignore[method-assign, assignment]  # aiortc's own
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
    ice_transport_policy: str = "all",
) -> RTCConfiguration:
    """An ``RTCConfiguration`` that never falls back to the public STUN default.

    ``ice_servers`` may hold ``RTCIceServer`` objects or plain URL strings.
    ``ice_transport_policy="relay"`` gathers relay (TURN) candidates only — aioice then skips
    host addresses altogether; see ``core/media/ice_policy.py`` for what it cannot report.
    """
    servers = [
        server if isinstance(server, RTCIceServer) else RTCIceServer(urls=server)
        for server in (ice_servers or [])
    ]
    return RTCConfiguration(iceServers=servers, iceTransportPolicy=RTCIceTransportPolicy(ice_transport_policy))


def is_loopback_host(host: str) -> bool:
    """``localhost`` or an address in 127.0.0.0/8 or ``::1``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
