"""The media watchdog wired to a Room (``core.media.watchdog`` does the watching).

* which remote tracks media is expected on: published **enabled**, subscribed, not switched
  off (a disabled camera is not a stall);
* the Room's media state: ``failed`` → ``reconnecting`` with ``MediaConnectionError``
  (53405), ``connected`` → ``reconnected``; the signaling layer's session timer ends a
  reconnect that lasts too long in ``disconnected`` (53405). It is reported as the one ICE
  state the signaling layer knows, under the id ``"media"``;
* frozen remote video: ``RemoteVideoTrack.is_frozen`` and its ``frozen`` / ``unfrozen`` events
  (the UI's "frozen" mark on the tile).

Connections are rebuilt by ``MeshMedia.rebuild`` when the watchdog says so.
"""

from __future__ import annotations

from typing import Any

from .media.watchdog import MediaWatchdog
from .signaling import RoomSignaling

__all__ = ["MediaHealth"]


class MediaHealth:
    """One per connected Room; ``media`` is its ``core.join`` media glue (``mesh``, ``fanouts``)."""

    def __init__(self, signaling: RoomSignaling, media: Any) -> None:
        self.signaling = signaling
        self.media = media
        self.room: Any = None
        self.watchdog = MediaWatchdog(
            lambda: self.media.mesh.links(self.expects),
            on_rebuild=lambda pc_id: self.media.mesh.rebuild(pc_id),
            on_state=lambda state: signaling.ice_state(state, "media"),
            on_frozen=self._frozen,
            signaling_up=lambda: signaling.state != "disconnected" and signaling._transport_state == "connected",
        )

    def start(self, room: Any) -> None:
        self.room = room
        self.watchdog.start()

    async def stop(self) -> None:
        await self.watchdog.stop()

    def expects(self, peer: str | None, track_id: str) -> bool:
        """Whether ``peer`` (None: anyone, the server's connection) publishes ``track_id`` enabled,
        and we are subscribed to it."""
        sig = self.signaling
        candidates = sig.participants.values() if peer is None else [sig.participants.get(peer)]
        for psig in candidates:
            for tsig in psig.tracks.values() if psig is not None else ():
                media = tsig.media
                if media is not None and media.track_id == track_id and tsig.enabled \
                        and not tsig.is_switched_off:
                    return True
        return False

    def _frozen(self, peer: str | None, track_id: str, frozen: bool) -> None:
        fanout = self.media.fanouts.get((peer, track_id))
        if fanout is None or self.room is None:
            return
        for participant in self.room.participants.values():
            for publication in participant.video_tracks.values():
                track = publication.track
                if track is not None and track.media_stream_track is fanout:
                    track._set_frozen(frozen)
