"""Bandwidth profile, track priority and track switch-off: the forwarder side (issue 11).

For each subscriber that connected with a ``bandwidth_profile`` (or sent render hints), the
forwarder decides every ``interval`` which of its subscribed video tracks it forwards:

* **Budget** = the smaller of the profile's ``max_subscription_bandwidth`` (twilio-video.js's
  ``maxSubscriptionBitrate``) and the downlink estimate (``downlink.py``, from the receiver
  reports of the subscriber's connection; lowered further by an injected cap,
  :meth:`SwitchOff.limit_downlink` or ``faults.py``) less what its audio takes; none with
  ``trackSwitchOffMode="disabled"`` (``predicted`` and ``detected`` are not told apart).
* **Allocation** (``allocation.py``): by effective priority and ``mode``, each track costing
  the bitrate its publisher sends; render hints (``enabled: false``) switch a track off
  whatever the budget.
* **Switching**: a track that does not fit is *paused* at its publisher's Inbound (no RTP
  leaves for that subscriber) and named in ``{"type": "track_switch_off", "off": [sid]}`` on
  the subscriber's ``track_switch_off`` channel; one that fits again is resumed from the next
  keyframe (asked for at once) and named in ``"on"`` — which twilio-video.js turns into
  ``trackSwitchedOff`` / ``trackSwitchedOn``.

``render_hints`` (C→S ``{"type": "render_hints", "subscriber": {"id", "hints": [{"track",
"enabled"?, "render_dimensions"?}]}}``) are answered ``{"type": "render_hints", "subscriber":
{"id", "hints": [{"track", "result": "OK"}]}}`` (twilio-video.js resends every hint until
answered). Render dimensions change nothing in a single-layer stream; they weigh the
``collaboration`` mode's order.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from core.media.negotiation import send_json

from .allocation import MODES, Candidate, allocate, effective_priority
from .faults import DownlinkFaults
from .peer import Outbound, Peer, RenderHint

if TYPE_CHECKING:
    from .backend import Forwarder

__all__ = ["SwitchOff"]

log = logging.getLogger(__name__)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value <= 0:
        return None
    return float(value)


def _min(*values: float | None) -> float | None:
    known = [v for v in values if v is not None]
    return min(known) if known else None


class SwitchOff:
    """Runs the allocation of every subscriber of ``forwarder`` and switches tracks off and on."""

    def __init__(self, forwarder: Forwarder, interval: float = 0.5) -> None:
        self._fw = forwarder
        self.interval = interval
        self._faults = DownlinkFaults()

    # --- inputs -----------------------------------------------------------------------

    @staticmethod
    def configure(peer: Peer, profile: Mapping[str, Any] | None) -> None:
        """``connect.bandwidth_profile`` (wire names) of ``peer``."""
        video = profile.get("video") if isinstance(profile, Mapping) else None
        peer.bandwidth_profile = dict(video) if isinstance(video, Mapping) else {} if profile is not None else None

    def limit_downlink(self, sid: str, bps: float | None) -> None:
        """A fault: ``sid``'s downlink carries at most ``bps`` from now on (None: lifted)."""
        peer = self._fw.peer(sid)
        if peer is not None:
            peer.downlink_cap = bps
            self.update(peer)

    def render_hints(self, peer: Peer, body: Mapping[str, Any]) -> dict[str, Any] | None:
        """Apply a ``render_hints`` message; returns the reply (None: malformed, no reply)."""
        subscriber = body.get("subscriber")
        if not isinstance(subscriber, Mapping) or not isinstance(subscriber.get("hints"), list):
            return None
        results = []
        for hint in subscriber["hints"]:
            sid = hint.get("track") if isinstance(hint, Mapping) else None
            if not isinstance(sid, str):
                continue
            results.append({"track": sid, "result": "OK" if self._hint(peer, sid, hint) else "INVALID_RENDER_HINT"})
        self.update(peer)
        return {"type": "render_hints", "subscriber": {"id": subscriber.get("id"), "hints": results}}

    @staticmethod
    def _hint(peer: Peer, sid: str, hint: Mapping[str, Any]) -> bool:
        state = peer.render_hints.get(sid, RenderHint())
        enabled, dims = hint.get("enabled"), hint.get("render_dimensions")
        if enabled is not None and not isinstance(enabled, bool):
            return False
        area = None
        if dims is not None:
            width = _number(dims.get("width")) if isinstance(dims, Mapping) else None
            height = _number(dims.get("height")) if isinstance(dims, Mapping) else None
            if width is None or height is None:
                return False
            area = int(width * height)
        if enabled is not None:
            state.enabled = enabled
        if area is not None:
            state.area = area
        peer.render_hints[sid] = state
        return True

    # --- the periodic sample ------------------------------------------------------------

    async def sample(self, now: float) -> None:
        """Measure every track's bitrate and every subscriber's downlink, then allocate."""
        peers = self._fw.peer_list()
        caps = self._faults.caps()
        for peer in peers:
            for inbound in peer.inbound.values():
                inbound.measure(now)
            if caps is not None:
                peer.downlink_cap = caps.get(peer.sid)
        for peer in peers:
            if not self._managed(peer):
                continue
            received = lost = sent = 0
            for out in list(peer.outbound.values()):
                stats = await out.transceiver.sender.getStats()
                for s in stats.values():
                    kind = getattr(s, "type", None)
                    if kind == "remote-inbound-rtp":
                        received += s.packetsReceived or 0
                        lost += s.packetsLost or 0
                    elif kind == "outbound-rtp":
                        sent += getattr(s, "bytesSent", 0) or 0
            peer.downlink_meter.sample(now, packets=received, lost=lost, bytes_=sent)
            peer.downlink.observe(now, peer.downlink_meter.bitrate, peer.downlink_meter.fraction_lost)
            if not peer.closed:
                self.update(peer)

    # --- the decision -------------------------------------------------------------------

    @staticmethod
    def _managed(peer: Peer) -> bool:
        return peer.bandwidth_profile is not None or bool(peer.render_hints)

    def budget(self, peer: Peer) -> float | None:
        """The bps ``peer``'s video may take (None: unlimited)."""
        profile = peer.bandwidth_profile or {}
        if profile.get("track_switch_off") == "disabled":  # trackSwitchOffMode: never for bandwidth
            return None
        downlink = _min(peer.downlink.bps, peer.downlink_cap)
        if downlink is not None:
            audio = sum(o.inbound.bitrate or 0.0 for o in peer.outbound.values() if o.inbound.kind == "audio")
            downlink = max(0.0, downlink - audio)
        return _min(_number(profile.get("max_subscription_bandwidth")), downlink)

    def update(self, peer: Peer) -> None:
        """Allocate ``peer``'s budget now and switch what changed."""
        if peer.closed or not self._managed(peer):
            return
        profile = peer.bandwidth_profile or {}
        mode = str(profile["mode"]) if profile.get("mode") in MODES else "grid"
        dominant_priority = profile.get("active_speaker_priority") or "standard"
        videos: dict[tuple[str, str], Outbound] = {}
        candidates = []
        for key, out in peer.outbound.items():
            if out.inbound.kind != "video" or not out.sid:
                continue
            state = self._fw.view.track_state(key[0], key[1])
            publisher_priority = state[1] if state is not None else "standard"
            hint = peer.render_hints.get(out.sid, RenderHint())
            videos[key] = out
            candidates.append(Candidate(
                key, effective_priority(publisher_priority, peer.subscribe_priority.get(out.sid),
                                        dominant=self._fw.dominant_speaker == key[0],
                                        dominant_priority=dominant_priority),
                bitrate=out.inbound.bitrate, order=out.order, rendered=hint.enabled, render_area=hint.area,
                switched_off=out.switched_off is not None))
        off = allocate(candidates, self.budget(peer), mode)
        for key, out in videos.items():
            reason = off.get(key)
            if reason is not None and out.switched_off is None:
                out.inbound.pause(out.track)
                log.info("%s: %s switched off (%s)", peer.sid, out.sid, reason)
            elif reason is None and out.switched_off is not None:
                out.inbound.resume(out.track)
                log.info("%s: %s switched on", peer.sid, out.sid)
            out.switched_off = reason
        self.tell(peer)

    def tell(self, peer: Peer, *, again: bool = False) -> None:
        """Name what changed on ``peer``'s ``track_switch_off`` channel (``again``: everything off)."""
        channel = peer.msp.get("track_switch_off")
        if channel is None or channel.readyState != "open":
            return
        off_now = {o.sid for o in peer.outbound.values() if o.switched_off is not None and o.sid}
        current = {o.sid for o in peer.outbound.values() if o.sid}
        to_off = sorted(off_now if again else off_now - peer.told_off)
        to_on = sorted((peer.told_off & current) - off_now)
        if not to_off and not to_on:
            return
        peer.told_off = (peer.told_off - set(to_on)) | set(to_off)
        send_json(channel, {"type": "track_switch_off", "off": to_off, "on": to_on})

    def stats(self, peer: Peer) -> dict[str, Any]:
        return {"switched_off": {o.sid: o.switched_off for o in peer.outbound.values() if o.switched_off},
                "budget": self.budget(peer) if self._managed(peer) else None,
                "downlink": peer.downlink.bps, "render_hints": {
                    sid: {"enabled": h.enabled, "area": h.area} for sid, h in peer.render_hints.items()}}
