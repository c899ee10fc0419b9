"""ICE restart in place on an aiortc ``RTCPeerConnection`` (aiortc 1.16 has none).

A browser that lost connectivity for a few seconds (twilio-video.js after ~5–7 s) sends an
offer with new ``a=ice-ufrag``/``a=ice-pwd`` and the same ``a=fingerprint``: it restarts ICE
and keeps its DTLS and SCTP associations. aiortc would answer with its old credentials
(``RTCIceTransport.start`` returns at once once started), and a new ``RTCPeerConnection``
(a new certificate) makes the browser's SCTP association restart, which twilio-video.js's
data channels never survive. Here, on each ICE transport of the connection, a new aioice
``Connection`` takes the old one's place:

1. :func:`prepare` (before the offer is applied, or before we create an offer): a new
   ``Connection`` (new ufrag/pwd, the old one's role, STUN/TURN servers and transport policy)
   gathers candidates (call it inside ``loopback.gathering_on_loopback`` where that applies)
   and becomes the ``RTCIceGatherer``'s and ``RTCIceTransport``'s ``_connection``: aiortc then
   writes its credentials and candidates into the next local description and feeds the remote
   description's candidates to it. It shares the old one's receive queue, so the
   ``RTCDtlsTransport`` receive loop, waiting in the old ``recv()``, reads from either.
2. :func:`complete` (once the remote's new credentials are known): the new ``Connection``
   connects; when it has a nominated pair, ``RTCIceTransport._send``/``_recv`` move to it,
   the transport's monitor task is restarted on it, and the old ``Connection`` is closed on a
   queue of its own (so its close does not end the DTLS receive loop). DTLS, SRTP and SCTP
   state are not touched. If the new ``Connection`` fails, the transport goes ``failed`` and
   keeps sending on the old one; the next restart (or the connection's close) drops it.

Private names touched (aiortc 1.16.0, aioice 0.13.0, checked through ``core.pins``):
``RTCIceGatherer._connection``/``_remote_candidates_end``, ``RTCIceTransport._connection``/
``_recv``/``_send`` (the connection in use is ``_send``'s ``__self__``)/``_monitor``/
``__monitor_task``/``__setState``, ``Connection._queue``/``_nominated``/``_transport_policy``/
``_components``/``_use_ipv4``/``_use_ipv6``.

:func:`offer_restarts_ice` tells such an offer from one of an offerer that rebuilt its
connection (new fingerprint too: a Confab offerer does that), which must still be answered
by a new connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aioice import Connection
from aiortc import RTCPeerConnection, sdp as aiortc_sdp
from aiortc.rtcicetransport import RTCIceTransport

from ..pins import require

__all__ = ["complete", "ice_transports", "offer_restarts_ice", "prepare", "remote_credentials"]

log = logging.getLogger(__name__)

_TASK = "_confab_ice_restart"  # RTCIceTransport attribute: the restart connecting now
_tasks: set[asyncio.Task[None]] = set()  # connecting or closing, referenced until done


def _check() -> None:
    require("aiortc", "core.media.ice_restart")
    require("aioice", "core.media.ice_restart")


def remote_credentials(description: aiortc_sdp.SessionDescription) -> dict[str, tuple[str, str, tuple[str, ...]]]:
    """mid → (ufrag, pwd, fingerprint values) of each m-line of a parsed description."""
    out = {}
    for media in description.media:
        ice, dtls = media.ice, media.dtls
        if media.rtp.muxId and ice is not None and ice.usernameFragment and ice.password:
            prints = tuple(sorted(f.value.upper() for f in (dtls.fingerprints if dtls else [])))
            out[media.rtp.muxId] = (ice.usernameFragment, ice.password, prints)
    return out


def _parse(sdp: str | None) -> aiortc_sdp.SessionDescription | None:
    try:
        return aiortc_sdp.SessionDescription.parse(sdp or "") if sdp else None
    except ValueError:
        return None


def offer_restarts_ice(pc: RTCPeerConnection, sdp: str | None) -> bool:
    """Whether an offer restarts ICE on ``pc``: new ICE credentials, the same DTLS fingerprint,
    on a connection whose DTLS is up (else there is nothing to keep: rebuild)."""
    _check()
    current = pc.remoteDescription
    old, new = _parse(current.sdp if current is not None else None), _parse(sdp)
    if old is None or new is None:
        return False
    before, after = remote_credentials(old), remote_credentials(new)
    shared = [mid for mid in after if mid in before]
    if not shared or any(after[mid][2] != before[mid][2] or not after[mid][2] for mid in shared):
        return False
    if all(after[mid][:2] == before[mid][:2] for mid in shared):
        return False
    return all(t.state != "closed" for t in ice_transports(pc)) and \
        any(_dtls_of(pc, t) == "connected" for t in ice_transports(pc))


def _dtls_of(pc: RTCPeerConnection, transport: RTCIceTransport) -> str | None:
    for dtls in _dtls_transports(pc):
        if dtls.transport is transport:
            return str(dtls.state)
    return None


def _dtls_transports(pc: RTCPeerConnection) -> list[Any]:
    out: list[Any] = []
    for transceiver in pc.getTransceivers():
        if transceiver.receiver.transport not in out:
            out.append(transceiver.receiver.transport)
    if pc.sctp is not None and pc.sctp.transport not in out:
        out.append(pc.sctp.transport)
    return out


def ice_transports(pc: RTCPeerConnection) -> list[RTCIceTransport]:
    """The distinct ICE transports of ``pc`` (one with BUNDLE)."""
    out: list[RTCIceTransport] = []
    for dtls in _dtls_transports(pc):
        if dtls.transport not in out:
            out.append(dtls.transport)
    return out


def _mids_of(pc: RTCPeerConnection, transport: RTCIceTransport) -> list[str]:
    mids = [t.mid for t in pc.getTransceivers() if t.mid and t.receiver.transport.transport is transport]
    if pc.sctp is not None and pc.sctp.mid and pc.sctp.transport.transport is transport:
        mids.append(pc.sctp.mid)
    return mids


def _live(transport: RTCIceTransport) -> Connection:
    """The aioice ``Connection`` the transport's DTLS sends on now."""
    connection: Connection = transport._send.__self__  # type: ignore[attr-defined]  # a bound method
    return connection


async def _drop(connection: Connection) -> None:
    """Close a connection the DTLS loop no longer needs, without waking that loop."""
    connection._queue = asyncio.Queue()
    await connection.close()


async def prepare(pc: RTCPeerConnection) -> None:
    """Give each ICE transport of ``pc`` a new, gathered aioice ``Connection`` (see module doc)."""
    _check()
    for transport in ice_transports(pc):
        if transport.state == "closed":
            continue
        task = transport.__dict__.pop(_TASK, None)
        if task is not None:
            task.cancel()
        live = _live(transport)
        if transport._connection is not live:  # a restart that failed or never completed
            await _drop(transport._connection)
        new = Connection(
            ice_controlling=live.ice_controlling, components=len(live._components),
            stun_server=live.stun_server, turn_server=live.turn_server, turn_username=live.turn_username,
            turn_password=live.turn_password, turn_ssl=live.turn_ssl, turn_transport=live.turn_transport,
            use_ipv4=live._use_ipv4, use_ipv6=live._use_ipv6, transport_policy=live._transport_policy)
        new._queue = live._queue  # the DTLS receive loop waits on this queue (in live.recv())
        await new.gather_candidates()
        gatherer = transport.iceGatherer
        gatherer._connection = transport._connection = new
        gatherer._remote_candidates_end = False  # the remote's new candidates go to ``new``
        log.debug("ICE restart: %s → %s", live.local_username, new.local_username)


def complete(pc: RTCPeerConnection, remote_sdp: str | None) -> list[asyncio.Task[None]]:
    """Connect each prepared transport with the remote's new credentials (from ``remote_sdp``),
    then move the transport onto it; returns the connecting tasks."""
    _check()
    description = _parse(remote_sdp)
    credentials = remote_credentials(description) if description is not None else {}
    tasks = []
    for transport in ice_transports(pc):
        new = transport._connection
        if new is _live(transport) or transport.state == "closed" or _TASK in transport.__dict__:
            continue
        mine = next((credentials[mid] for mid in _mids_of(pc, transport) if mid in credentials), None)
        if mine is None:
            log.warning("ICE restart: no remote credentials for %s", _mids_of(pc, transport))
            continue
        new.remote_username, new.remote_password = mine[0], mine[1]
        task = transport.__dict__[_TASK] = asyncio.ensure_future(_connect(transport, new))
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)
        tasks.append(task)
    return tasks


def _set_state(transport: RTCIceTransport, state: str) -> None:
    if transport.state != state:
        transport._RTCIceTransport__setState(state)  # type: ignore[attr-defined]


async def _connect(transport: RTCIceTransport, new: Connection) -> None:
    try:
        await new.connect()
    except ConnectionError:
        pass
    finally:
        if transport.__dict__.get(_TASK) is asyncio.current_task():
            del transport.__dict__[_TASK]
    live = _live(transport)
    if transport.state == "closed":  # the connection closed meanwhile: stop() closed ``new``
        await _drop(live)
        return
    if not new._nominated:
        log.info("ICE restart failed (%s)", new.local_username)
        _set_state(transport, "failed")  # ``new`` stays, for the next restart to drop

        @transport.on("statechange")
        def _closed() -> None:
            if transport.state == "closed" and _live(transport) is live and live is not transport._connection:
                task = asyncio.ensure_future(_drop(live))
                _tasks.add(task)
                task.add_done_callback(_tasks.discard)
        return
    transport._send, transport._recv = new.send, new.recv
    monitor = transport.__dict__.get("_RTCIceTransport__monitor_task")
    if monitor is not None:
        monitor.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await monitor
    transport.__dict__["_RTCIceTransport__monitor_task"] = asyncio.ensure_future(transport._monitor())
    _set_state(transport, "completed")
    await _drop(live)  # its close wakes no one: the DTLS loop reads ``new``'s queue from now on
    log.info("ICE restarted in place (%s)", new.local_username)
