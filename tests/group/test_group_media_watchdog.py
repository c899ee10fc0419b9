"""The media watchdog in group rooms, through the forwarder.

* A publisher's RTP stops (its uplink): both Rooms go ``reconnecting`` (53405), the publisher
  rebuilds its publish connection with new ICE credentials, the forwarder answers it with a
  new connection and re-binds the tracks to the same forwardings; once the path works again
  the viewer's same RemoteVideoTrack gets frames within 3 s and both are ``reconnected``.
* Nothing at all (RTP and RTCP) reaches a viewer on its subscribe connection (its
  downlink): the viewer asks the server for a new subscribe connection (``close``), the
  server offers one under the same id, and the viewer's video comes back without an
  unsubscribe.
"""

from __future__ import annotations

import pytest

from callutil import EventLog, JoinFn, stall_and_heal, until, watched_video
from core.media import faults
from groupkit import forwarder_of, subscribed
from server.app import RunningServer

pytestmark = pytest.mark.media


async def test_a_stopped_publisher_reconnects_and_heals(join: JoinFn) -> None:
    took = await stall_and_heal(join)
    assert took < 3.0, took
    print(f"first frame {took:.2f} s after the path came back")


class _Blackhole(faults.OutgoingLoss):
    """Drops everything a connection sends, RTCP included: a dead downlink."""

    def drop(self, data: bytes) -> bool:
        return True


async def test_a_dead_subscribe_connection_is_replaced(server: RunningServer, join: JoinFn) -> None:
    _publisher, viewer, video, frames = await watched_video(join)
    seen = EventLog(viewer, "reconnecting", "reconnected", "trackUnsubscribed")
    forwarder = forwarder_of(server, "group")
    peer = forwarder.peers[viewer.local_participant.sid]
    old_pc = peer.sub.pc
    faults.install()
    _Blackhole().attach(old_pc)

    await until(lambda: seen.of("reconnecting"), timeout=6)
    await until(lambda: peer.sub.pc is not None and peer.sub.pc is not old_pc, timeout=8)
    replaced = len(frames.times)
    await until(lambda: len(frames.times) > replaced + 3, timeout=6)
    await until(lambda: seen.of("reconnected"), timeout=5)
    assert subscribed(viewer, "publisher", "video") is video
    assert not seen.of("trackUnsubscribed")
    assert getattr(seen.of("reconnecting")[0][0], "code", None) == 53405
