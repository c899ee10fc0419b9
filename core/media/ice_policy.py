"""``ice_transport_policy="relay"``: media only through a TURN server, or a clear error at once.

aiortc applies the policy itself (``RTCConfiguration.iceTransportPolicy``: aioice then gathers
no host or server-reflexive candidate). What it does not do is say when the relay is out of
reach: when the TURN server refuses the credentials (or never answers) a connection gathers
no candidate at all, and aiortc then never starts ICE — the call would hang in ``new``
forever. So before joining, :func:`check_relay` asks the TURN server aiortc will use (the
first ``turn:``/``turns:`` URL it accepts, parsed by aiortc's own function) for one
allocation, and releases it:

* no usable TURN server among the ICE servers → 53501 ConfigurationAcquireTurnFailedError;
* refused (wrong or expired credentials), unreachable or silent → 53405 MediaConnectionError.

Both names used here are module functions of aiortc/aioice, not private ones, but not
exported either: they are version-checked through ``core.pins``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiortc import RTCIceServer

from ..errors import ConfigurationAcquireTurnFailedError, MediaConnectionError
from ..pins import require

__all__ = ["RELAY_CHECK_TIMEOUT_S", "check_relay"]

#: How long the TURN server may take to grant the test allocation.
RELAY_CHECK_TIMEOUT_S = 5.0


async def check_relay(servers: Sequence[RTCIceServer], timeout: float = RELAY_CHECK_TIMEOUT_S) -> None:
    """Raise unless the TURN server of ``servers`` grants an allocation within ``timeout``."""
    require("aiortc", "core.media.ice_policy")
    require("aioice", "core.media.ice_policy")
    from aioice import stun
    from aioice.turn import create_turn_endpoint
    from aiortc.rtcicetransport import connection_kwargs

    kwargs = connection_kwargs(list(servers))
    if "turn_server" not in kwargs:
        raise ConfigurationAcquireTurnFailedError(
            "Unable to acquire TURN credentials: ice_transport_policy='relay' needs a TURN server "
            "(turn:HOST:PORT?transport=udp|tcp or turns:…?transport=tcp with a username and "
            "credential), and none was acquired or given")
    host, port = kwargs["turn_server"]
    try:
        transport, _ = await asyncio.wait_for(create_turn_endpoint(
            asyncio.DatagramProtocol, server_addr=(host, port), username=kwargs["turn_username"],
            password=kwargs["turn_password"], ssl=kwargs["turn_ssl"], transport=kwargs["turn_transport"]),
            timeout)
    except (TimeoutError, OSError, stun.TransactionError) as exc:
        reason = "no answer" if isinstance(exc, (TimeoutError, stun.TransactionTimeout)) else \
            (str(exc) or type(exc).__name__)
        raise MediaConnectionError(f"Media connection failed: the TURN server {host}:{port} "
                                   f"gave no relay ({reason})") from None
    transport.close()
