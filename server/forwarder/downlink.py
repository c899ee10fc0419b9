"""One subscriber's downlink estimate, from the receiver reports its connection sends back (pure).

The forwarder terminates RTCP: every sender of a subscriber's connection gets that
subscriber's receiver reports (aiortc keeps them as ``remote-inbound-rtp`` stats: packets
lost and received so far). :class:`DownlinkEstimate` is a loss-based controller in the
manner of WebRTC's (GCC's loss-based half):

* loss above ``LOSS_HIGH`` over the last samples: the downlink carries less than was sent —
  the estimate becomes ``sent × (1 − loss / 2)`` (never above the previous estimate), at most
  once per ``HOLD_S`` (what the cut switched off must show in the reports first);
* loss below ``LOSS_LOW``: the estimate grows by ``GROWTH`` per second, and once no loss was
  seen for ``recover_after`` seconds it is lifted (None: unlimited), which lets switched-off
  tracks come back and so probes the link. Loss that returns soon after a lift doubles
  ``recover_after`` (up to ``MAX_RECOVER_S``), so a link that really is too small is not
  probed every few seconds; a lift that holds resets it. Nothing sent (all switched off)
  counts as no loss.

No REMB: aiortc's sender hands a REMB value only to an encoder, and a forwarding sender has
none (``passthrough.Packer``).
"""

from __future__ import annotations

__all__ = ["DownlinkEstimate"]

LOSS_HIGH = 0.10
LOSS_LOW = 0.02
GROWTH = 1.08
RECOVER_S = 4.0
MAX_RECOVER_S = 32.0
#: After a cut, loss is not acted on again for this long: the loss measured over the next
#: seconds still includes what was sent before the tracks were switched off.
HOLD_S = 2.0


class DownlinkEstimate:
    def __init__(self, recover_s: float = RECOVER_S) -> None:
        #: The estimated downlink in bps; None: no limit seen.
        self.bps: float | None = None
        self._base_recover = recover_s
        self.recover_after = recover_s
        self._clean_since: float | None = None
        self._lifted_at: float | None = None
        self._cut_at: float | None = None
        self._last: float | None = None

    def observe(self, now: float, sent_bps: float | None, fraction_lost: float | None) -> float | None:
        """One sample: what was sent over the last interval and the loss the receiver reported."""
        dt = 0.0 if self._last is None else max(0.0, now - self._last)
        self._last = now
        if sent_bps == 0:
            fraction_lost = 0.0  # nothing sent (everything switched off): nothing lost either
        if fraction_lost is None or sent_bps is None:
            return self.bps
        if fraction_lost > LOSS_HIGH and sent_bps > 0:
            if self._cut_at is not None and now - self._cut_at < HOLD_S:
                return self.bps
            self._cut_at = now
            cut = sent_bps * (1.0 - fraction_lost / 2.0)
            self.bps = cut if self.bps is None else min(self.bps, cut)
            if self._lifted_at is not None and now - self._lifted_at < 2 * self.recover_after:
                self.recover_after = min(2 * self.recover_after, MAX_RECOVER_S)
            self._lifted_at = None
            self._clean_since = None
        elif fraction_lost < LOSS_LOW:
            if self._clean_since is None:
                self._clean_since = now
            if self._lifted_at is not None and now - self._lifted_at >= 2 * self.recover_after:
                self.recover_after = self._base_recover  # the lift held
            if self.bps is not None:
                self.bps *= GROWTH ** dt
                if now - self._clean_since >= self.recover_after:
                    self.bps = None
                    self._lifted_at = now
        else:
            self._clean_since = None  # some loss: hold
        return self.bps
