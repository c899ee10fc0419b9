"""Per-participant state of the forwarder: what it publishes, what it is forwarded, its two connections.

* :class:`Inbound`: one published audio/video track as the server receives it; hands each
  encoded frame to every subscriber's :class:`~passthrough.ForwardTrack` and to the media
  taps, and asks the publisher for keyframes (at most one PLI per ``PLI_THROTTLE_S``).
* :class:`Outbound`: one track forwarded to one subscriber (its track and transceiver), and
  whether it is switched off (``switchoff.py``: paused at the Inbound, resumed on a keyframe).
* :class:`Session`: one of a participant's two connections (publish, subscribe).
* :class:`Peer`: all of one participant's state.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCDataChannel, RTCPeerConnection

from core import protocol as p
from core.media.negotiation import Negotiation
from core.network_quality_score import DirectionQuality, StreamMeter

from .downlink import DownlinkEstimate
from .passthrough import ForwardTrack, is_keyframe, media_ssrc

__all__ = ["PLI_THROTTLE_S", "Inbound", "Outbound", "Peer", "RenderHint", "Session", "Tap", "Taps"]

log = logging.getLogger(__name__)

#: At most one PLI per publisher track this often, however many subscribers ask.
PLI_THROTTLE_S = 0.3

#: ``tap(kind, mime, clock_rate, packet, keyframe)``: a copy of one published track's media as
#: it is forwarded (``packet`` is the ``av.Packet`` every subscriber gets; recording reads it).
Tap = Callable[[str, str, int, Any, bool], None]
#: (publisher sid, track id) → its taps (the forwarder's, shared by every Inbound).
Taps = dict[tuple[str, str], list[Tap]]
Spawn = Callable[[Coroutine[Any, Any, Any]], "asyncio.Task[Any]"]


class Inbound:
    """One published audio/video track as the server receives it."""

    def __init__(self, sid: str, track_id: str, kind: str, receiver: Any, mime: str, clock_rate: int,
                 parameters: dict[str, Any] | None = None, *, taps: Taps, spawn: Spawn) -> None:
        self.parameters = dict(parameters or {})
        self.sid = sid
        self.track_id = track_id
        self.kind = kind
        self.receiver = receiver
        self.mime = mime
        self.clock_rate = clock_rate
        self.subscribers: set[ForwardTrack] = set()
        self.created = time.monotonic()
        self.frames = 0
        self.keyframes = 0
        self.plis_sent = 0
        self.plis_throttled = 0
        self.bytes = 0
        #: Forwarded bitrate (bps), measured by the switch-off controller; None until measured.
        self.bitrate: float | None = None
        #: Subscribers switched back on: they get nothing until the next keyframe.
        self.resuming: set[ForwardTrack] = set()
        self._last_pli = -1e9
        #: A keyframe was asked for before this receiver had media (a rebuilt connection):
        #: the request goes out with the first packet, whose SSRC it needs.
        self._pli_pending = False
        self._rate_mark: tuple[float, int] | None = None
        self._taps = taps
        self._spawn = spawn

    def deliver(self, codec: Any, packet: Any) -> None:
        self.frames += 1
        self.bytes += packet.size
        if self._pli_pending:
            self.request_keyframe()
        if self.kind == "video":
            mime = codec.mimeType
            data = memoryview(packet)
            keyframe = is_keyframe(mime, bytes(data[:1]) if mime.lower() == "video/vp8" else bytes(data))
            if keyframe:
                self.keyframes += 1
        else:
            keyframe = True
        for track in list(self.subscribers):
            if track in self.resuming:
                if not keyframe:
                    self.request_keyframe()  # throttled
                    continue
                self.resuming.discard(track)
            track.push(packet, keyframe)
        for tap in list(self._taps.get((self.sid, self.track_id), ())):
            try:
                tap(self.kind, self.mime, self.clock_rate, packet, keyframe)
            except Exception:  # a failing tap (a full disk) must not stop the forwarding
                log.exception("%s/%s: media tap failed", self.sid, self.track_id)

    def measure(self, now: float) -> float | None:
        """Update :attr:`bitrate` from the bytes forwarded since the last call (smoothed)."""
        mark, self._rate_mark = self._rate_mark, (now, self.bytes)
        if mark is not None and now > mark[0]:
            rate = (self.bytes - mark[1]) * 8.0 / (now - mark[0])
            self.bitrate = rate if self.bitrate is None else 0.75 * self.bitrate + 0.25 * rate
        return self.bitrate

    def request_keyframe(self) -> None:
        if self.kind != "video":
            return
        now = time.monotonic()
        if now - self._last_pli < PLI_THROTTLE_S:
            self.plis_throttled += 1
            return
        ssrc = media_ssrc(self.receiver)
        # Nothing received yet. A new stream starts on a keyframe anyway, but one that goes on
        # over a rebuilt connection (a browser's ICE restart) does not: ask with its first packet.
        self._pli_pending = ssrc is None
        if ssrc is None:
            return
        self._last_pli = now
        self.plis_sent += 1
        self._spawn(self.receiver._send_rtcp_pli(ssrc))

    def stop_subscribers(self) -> None:
        for track in list(self.subscribers):
            track.stop()
        self.subscribers.clear()
        self.resuming.clear()

    def pause(self, track: ForwardTrack) -> None:
        """Forward nothing more to ``track`` (switched off) until :meth:`resume`."""
        self.subscribers.discard(track)
        self.resuming.discard(track)

    def resume(self, track: ForwardTrack) -> None:
        """Forward to ``track`` again, from the next keyframe (asked for now)."""
        if track.readyState != "live" or track in self.subscribers:
            return
        self.subscribers.add(track)
        if self.kind == "video":
            self.resuming.add(track)
            self.request_keyframe()


@dataclass
class Outbound:
    """One of ``inbound``'s forwardings: to one subscriber, on one transceiver of its subscribe connection."""

    inbound: Inbound
    track: ForwardTrack
    transceiver: Any
    #: The track's SID (what MSP messages name); "" if the room no longer knows it.
    sid: str = ""
    #: Subscription order within the subscriber (the allocation's tie-break).
    order: int = 0
    #: Why it is switched off (``allocation`` reasons); None: on.
    switched_off: str | None = None

    def detach(self) -> None:
        self.inbound.pause(self.track)
        self.track.stop()


@dataclass(eq=False)
class Session:
    """One of a participant's two connections; ``negotiation`` exists while its pc does."""

    id: str
    negotiation: Negotiation | None = None
    #: Held while the forwarding changes the connection's transceivers, and while it offers.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: Whether the last offer carried an m=application section (data channels need no re-offer then).
    offered_sctp: bool = False
    #: The last revision of a connection closed under this id (a rebuilt one goes on from it).
    revision: int = 0

    @property
    def pc(self) -> RTCPeerConnection | None:
        return self.negotiation.pc if self.negotiation is not None else None

    @property
    def last(self) -> p.Description | None:
        return self.negotiation.last if self.negotiation is not None else None


@dataclass
class RenderHint:
    """What the subscriber said of one track: rendered or not, and at what size (pixels)."""

    enabled: bool = True
    area: int | None = None


@dataclass(eq=False)
class Peer:
    sid: str
    pub: Session
    sub: Session
    msp_requested: tuple[str, ...] = ()
    inbound: dict[str, Inbound] = field(default_factory=dict)
    by_receiver: dict[Any, Inbound] = field(default_factory=dict)  # the publish pc's receivers
    data_in: dict[str, RTCDataChannel] = field(default_factory=dict)
    outbound: dict[tuple[str, str], Outbound] = field(default_factory=dict)
    data_out: dict[tuple[str, str], RTCDataChannel] = field(default_factory=dict)
    #: Messages for a data_out channel that is still connecting (a rebuilt subscribe
    #: connection): sent, in order, when it opens.
    data_waiting: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    msp: dict[str, RTCDataChannel] = field(default_factory=dict)
    #: Track SID → the priority this subscriber asked for (track_priority MSP; none: the publisher's).
    subscribe_priority: dict[str, str] = field(default_factory=dict)
    sync_pending: bool = False
    nq_local: int = 1
    nq_remote: int = 0
    last_nq: Any = None
    meters: dict[tuple[str, str], StreamMeter] = field(default_factory=dict)
    quality: dict[str, dict[str, DirectionQuality]] = field(default_factory=dict)
    #: Its ``connect.bandwidth_profile.video`` (wire names); None: no bandwidth profile, no switch-off.
    bandwidth_profile: dict[str, Any] | None = None
    #: Track SID → its render hint (``render_hints`` MSP / ``switch_off()``; content preferences).
    render_hints: dict[str, RenderHint] = field(default_factory=dict)
    downlink: DownlinkEstimate = field(default_factory=DownlinkEstimate)
    downlink_meter: StreamMeter = field(default_factory=StreamMeter)
    #: An injected downlink cap in bps (a fault for tests and ``--dev``); None: none.
    downlink_cap: float | None = None
    #: Track SIDs the subscriber was last told are off (``track_switch_off`` MSP).
    told_off: set[str] = field(default_factory=set)
    closed: bool = False

    def detach_outbound(self) -> None:
        """Stop every forwarding to this peer (its subscribe connection is gone)."""
        for out in self.outbound.values():
            out.detach()
        self.outbound.clear()
