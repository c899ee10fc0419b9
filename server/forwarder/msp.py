"""The media-signaling (MSP) data channels the forwarder serves on each subscribe connection.

The client names the channels it wants in ``connect.media_signaling``; the forwarder serves
those of :data:`MSP_CHANNELS`, names them in ``connected.media_signaling`` and opens one
data channel per name (label = name) on the subscriber's connection:

* ``active_speaker`` (server → client): ``{"type": "active_speaker", "participant": sid}``.
* ``network_quality``: the client's ``{"type": "network_quality", "reportLevel", "remoteReportLevel"}``
  sets the levels; the server sends the scores (``ticker.py``).
* ``track_priority`` (client → server): ``{"type": "track_priority", "track": sid, "subscribe": p}``,
  the subscriber's priority per track (``None``: the publisher's); it orders the allocation.
* ``track_switch_off`` (server → client): ``{"type": "track_switch_off", "off": [sid], "on": [sid]}``
  (``switchoff.py``); everything off is named again when the channel (re)opens.
* ``render_hints`` (client → server, answered): enabled and render dimensions per track
  (``switchoff.py``).
* ``publisher_hints``: served so that twilio-video.js's adaptive simulcast finds the channel,
  but the server never sends a hint (one layer per track: nothing to ask a publisher for); the
  client's hint answers and ``client_reset`` messages are read and ignored.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiortc import RTCDataChannel, RTCPeerConnection

from core import protocol as p
from core.media.negotiation import send_json

from .peer import Peer

if TYPE_CHECKING:
    from .backend import Forwarder

__all__ = ["MSP_CHANNELS", "PRIORITIES", "MediaSignaling"]

#: MSP channels the forwarder serves.
MSP_CHANNELS = ("active_speaker", "network_quality", "track_priority", "track_switch_off", "render_hints",
                "publisher_hints")
PRIORITIES = ("low", "standard", "high")


class MediaSignaling:
    """Offers, opens and serves the MSP channels of ``forwarder``'s peers."""

    def __init__(self, forwarder: Forwarder) -> None:
        self._fw = forwarder

    def channels(self, peer: Peer, requested: dict[str, Any]) -> dict[str, p.MediaSignalingChannel]:
        """``connected.media_signaling`` for ``peer``, which asked for ``requested``."""
        peer.msp_requested = tuple(name for name in MSP_CHANNELS if name in (requested or {}))
        return {name: p.MediaSignalingChannel(transport=p.MediaSignalingTransport(type="data-channel", label=name))
                for name in peer.msp_requested}

    def open(self, peer: Peer, pc: RTCPeerConnection) -> None:
        """The MSP channels, created *after* the first transceivers.

        aiortc gap: with max-bundle, an SCTP transport created before the first transceiver
        owns the shared transport, the transceiver's m-line comes first in the offer, and
        applying the answer then "unbundles" the SCTP transport by stopping the very
        transport everything uses (the connection never leaves ``new``).
        """
        for name in peer.msp_requested:
            if name not in peer.msp:
                channel = pc.createDataChannel(name)
                peer.msp[name] = channel
                self._wire(peer, name, channel)

    def announce_speaker(self, sid: str | None) -> None:
        message = {"type": "active_speaker", "participant": sid}
        for peer in self._fw.peer_list():
            channel = peer.msp.get("active_speaker")
            if channel is not None:
                send_json(channel, message)

    def _wire(self, peer: Peer, name: str, channel: RTCDataChannel) -> None:
        fw = self._fw

        @channel.on("open")
        def _on_open() -> None:
            if name == "active_speaker" and fw.dominant_speaker is not None:
                send_json(channel, {"type": "active_speaker", "participant": fw.dominant_speaker})
            elif name == "network_quality":
                peer.last_nq = None
            elif name == "track_switch_off":
                fw.switching.tell(peer, again=True)

        @channel.on("message")
        def _on_message(message: Any) -> None:
            try:
                body = json.loads(message)
            except (TypeError, ValueError):
                return
            if isinstance(body, dict):
                self._receive(peer, body, channel)

    def _receive(self, peer: Peer, body: dict[str, Any], channel: RTCDataChannel) -> None:
        if body.get("type") == "track_priority":
            track, priority = body.get("track"), body.get("subscribe")
            if isinstance(track, str) and priority in (*PRIORITIES, None):
                if priority is None:
                    peer.subscribe_priority.pop(track, None)
                else:
                    peer.subscribe_priority[track] = priority
                self._fw.switching.update(peer)
        elif body.get("type") == "render_hints":
            reply = self._fw.switching.render_hints(peer, body)
            if reply is not None and channel.readyState == "open":
                send_json(channel, reply)
        elif body.get("type") == "network_quality":
            for key, attr, lo in (("reportLevel", "nq_local", 1), ("remoteReportLevel", "nq_remote", 0)):
                value = body.get(key)
                if isinstance(value, int) and not isinstance(value, bool) and lo <= value <= 3:
                    setattr(peer, attr, value)
            peer.last_nq = None
