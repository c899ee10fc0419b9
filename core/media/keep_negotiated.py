"""Re-offers keep what was negotiated: a small hook over aiortc's ``createOffer``.

aiortc gap (architecture §8): ``RTCPeerConnection.createOffer`` resets every transceiver's
codecs and header extensions to aiortc's own tables before writing the offer, even on an
m-line the other side offered first with its own payload types and extension ids. Chromium
refuses such a re-offer ("RTP extension ID reassignment not supported", twilio-video.js
raises 53400), and a renumbered payload type confuses any receiver.

The hook wraps ``createOffer``: it snapshots the negotiated codecs and header extensions of
every transceiver that has a current direction (an applied offer/answer), and the wrapped
module function ``create_media_description_for_transceiver`` puts the snapshot back right
before that transceiver's m-line is written. Transceivers never negotiated get aiortc's
tables as before. ``install()`` is idempotent and checks the aiortc version it was written
for; ``engaged`` counts the m-lines it kept (tests assert it moves).
"""

from __future__ import annotations

import contextvars
from typing import Any

import aiortc.rtcpeerconnection as _rtcpc
from aiortc import RTCPeerConnection

from ..pins import require

__all__ = ["engaged", "install"]

_snapshot: contextvars.ContextVar[dict[int, tuple[list[Any], list[Any]]] | None] = contextvars.ContextVar(
    "confab_negotiated", default=None)
_state = {"installed": False, "engaged": 0}


def engaged() -> int:
    """How many m-lines the hook has written with their negotiated codecs and extensions."""
    return _state["engaged"]


def install() -> None:
    require("aiortc", "core.media.keep_negotiated")
    if _state["installed"]:
        return
    original_offer = RTCPeerConnection.createOffer
    original_describe = getattr(_rtcpc, "create_media_description_for_transceiver", None)
    if original_describe is None:
        raise RuntimeError("aiortc.rtcpeerconnection.create_media_description_for_transceiver is gone")

    async def createOffer(self: RTCPeerConnection) -> Any:  # noqa: N802 - aiortc's name
        snapshot = {id(t): (list(t._codecs), list(t._headerExtensions))
                    for t in self.getTransceivers() if t.currentDirection is not None and t._codecs}
        token = _snapshot.set(snapshot)
        try:
            return await original_offer(self)
        finally:
            _snapshot.reset(token)

    def describe(transceiver: Any, *args: Any, **kwargs: Any) -> Any:
        kept = (_snapshot.get() or {}).get(id(transceiver))
        if kept is not None:
            transceiver._codecs, transceiver._headerExtensions = list(kept[0]), list(kept[1])
            _state["engaged"] += 1
        return original_describe(transceiver, *args, **kwargs)

    RTCPeerConnection.createOffer = createOffer  # type: ignore[method-assign]  # the documented hook
    _rtcpc.create_media_description_for_transceiver = describe
    _state["installed"] = True
