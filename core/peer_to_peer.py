"""Dominant speaker and network quality in peer-to-peer rooms, computed by the client.

Twilio offers neither outside group rooms; we do. The dominant speaker comes from the
levels of the remote audio we decode (the Volfin–Cohen detector the server uses too), the
network quality from ``get_stats()`` deltas of what we send to and receive from each peer,
scored on the server's inputs (``core.network_quality_score``): loss, jitter, round trip,
bitrate against what the enabled tracks need, and whether media flows at all — a remote
track published enabled whose receiver got no packet for ``STOPPED_S`` is level 0 (timed by
the receiver's packet count, looked at every 100 ms, so it shows within 3 s). Both are
handed to the signaling layer as if the server had sent them (MSP messages).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .dominant_speaker import DominantSpeakerDetector
from .media.rtp_hooks import counters_of, stream_counters
from .media.watchdog import min_rtt
from .network_quality_score import (
    NEEDED_BPS,
    DirectionQuality,
    LoopLag,
    StreamMeter,
    direction_quality,
    participant_quality,
)
from .signaling import RoomSignaling

__all__ = ["PeerToPeerFeatures", "P2P_ROOM_TYPES"]

log = logging.getLogger(__name__)

#: Room types whose dominant speaker and network quality the client computes itself.
P2P_ROOM_TYPES = ("go", "peer-to-peer")
#: An expected remote track with no packet for this long has stopped (level 0).
STOPPED_S = 2.0


class PeerToPeerFeatures:
    """Runs once a room is connected; does nothing in group rooms (the server does it there)."""

    def __init__(self, signaling: RoomSignaling, mesh: Any,
                 stats: Callable[[], Awaitable[list[Any]]]) -> None:
        self.signaling = signaling
        self.mesh = mesh
        self._stats = stats
        self.dominant_speaker = False
        self.detector = DominantSpeakerDetector()
        self._track_owner: dict[str, str] = {}
        self._meters: dict[tuple[str, str, str], StreamMeter] = {}
        self._features_task: asyncio.Task[None] | None = None
        self._heard: dict[Any, tuple[int, float]] = {}  # receiver → (packets, when they last grew)
        self._lag = LoopLag()  # what our own busy loop adds to the jitter we measure

    def audio_level(self, track_id: str, dbov: float) -> None:
        """One decoded remote audio frame's level (50/s per track)."""
        if self.dominant_speaker and self.signaling.room_type in P2P_ROOM_TYPES:
            owner = self._owner_of(track_id)
            if owner is not None:
                self.detector.add(owner, dbov, time.monotonic())

    def start(self, dominant_speaker: bool) -> None:
        self.dominant_speaker = dominant_speaker
        if self._features_task is None and (dominant_speaker or self.signaling.network_quality_configuration):
            self._features_task = asyncio.get_running_loop().create_task(self._features())

    def _owner_of(self, track_id: str) -> str | None:
        owner = self._track_owner.get(track_id)
        if owner is not None and owner in self.signaling.participants:
            return owner
        for psig in self.signaling.participants.values():
            for tsig in psig.tracks.values():
                if tsig.media is not None and tsig.media.track_id == track_id and psig.sid is not None:
                    self._track_owner[track_id] = psig.sid
                    return psig.sid
        return None

    async def _features(self) -> None:
        sig = self.signaling
        next_quality = time.monotonic() + 1.0
        while sig.state != "disconnected":
            before = time.monotonic()
            await asyncio.sleep(0.1)
            if sig.room_type not in P2P_ROOM_TYPES:
                continue
            now = time.monotonic()
            self._lag.tick(now, now - before, 0.1)
            try:
                self._listen(now)
                if self.dominant_speaker:
                    for sid in [s for s in self.detector.participants() if s not in sig.participants]:
                        self.detector.remove(sid)
                    if self.detector.decide(now):
                        sig.handle_msp({"type": "active_speaker", "participant": self.detector.dominant})
                if sig.network_quality_configuration is not None and now >= next_quality:
                    next_quality = now + 1.0
                    await self._p2p_quality(now)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("peer-to-peer dominant speaker / network quality failed")

    def _listen(self, now: float) -> None:
        """Note when each remote track's receiver last got a packet."""
        heard: dict[Any, tuple[int, float]] = {}
        for session in self.mesh.sessions().values():
            for _kind, receiver in getattr(session, "remote", {}).values():
                packets = counters_of(receiver).packets
                last = self._heard.get(receiver)
                heard[receiver] = last if last is not None and last[0] == packets else (packets, now)
        self._heard = heard

    @staticmethod
    def _received(session: Any, s: Any) -> tuple[int, int, float | None]:
        """Packets received, lost and the jitter (s) of a remote track's media stream, as the
        server reads them: from the receiver's own statistics with RTX left out (``getStats``
        keeps one entry per receiver, and after a retransmission it is the RTX stream's)."""
        entry = getattr(session, "remote", {}).get(s.track_id)
        streams = stream_counters(entry[1]) if entry is not None else []
        if not streams:
            jitter = s.jitter / 1000.0 if s.jitter is not None else None
            return s.packets_received or 0, max(0, s.packets_lost or 0), jitter
        jitters = [st.jitter / st.clock_rate for st in streams if st.clock_rate]
        return (sum(st.packets_received for st in streams), sum(max(0, st.packets_lost) for st in streams),
                max(jitters) if jitters else None)

    def _stopped(self, session: Any, track_id: str | None, now: float) -> bool:
        entry = getattr(session, "remote", {}).get(track_id)
        last = self._heard.get(entry[1]) if entry is not None else None
        return last is not None and now - last[1] >= STOPPED_S

    async def _p2p_quality(self, now: float) -> None:
        """Levels from our own stats: what we send to / receive from each peer (``get_stats`` deltas)."""
        config = self.signaling.network_quality_configuration
        assert config is not None
        reports = await self._stats()
        sessions = self.mesh.sessions()
        per_peer: dict[str, dict[str, dict[str, DirectionQuality]]] = {}
        # Our own level: the worst of every peer's directions, without the stopped-media rule.
        merged: dict[str, dict[str, DirectionQuality]] = {}
        for report in reports:
            session = sessions.get(report.peer_connection_id)
            if session is None or session.peer is None:
                continue
            # (direction, kind, packets, lost, bytes, jitter, rtt, media enabled, media stopped)
            rows: list[tuple[str, str, int, int, int, float | None, float | None, bool, bool]] = []
            for kind, local_stats in (("audio", report.local_audio_track_stats),
                                      ("video", report.local_video_track_stats)):
                for s in local_stats:
                    sent, lost = s.packets_sent or 0, max(0, s.packets_lost or 0)
                    transceiver = session.transceivers.get(s.track_id)
                    rtt = min_rtt(transceiver.sender, now) if transceiver is not None else None
                    jitter = getattr(s, "jitter", None)
                    rows.append(("send", kind, max(0, sent - lost), lost, s.bytes_sent or 0,
                                 jitter / 1000.0 if jitter is not None else None, rtt,
                                 self._sending(s.track_id), False))
            for kind, remote_stats in (("audio", report.remote_audio_track_stats),
                                       ("video", report.remote_video_track_stats)):
                for s in remote_stats:
                    expected = self._expects_media(session.peer, s.track_id)
                    packets, lost, jitter_s = self._received(session, s)
                    rows.append(("recv", kind, packets, lost, s.bytes_received or 0, jitter_s,
                                 None, expected, expected and self._stopped(session, s.track_id, now)))
            by_kind = per_peer.setdefault(session.peer, {})
            for direction, kind, packets, lost, bytes_, jitter, rtt, enabled, stopped in rows:
                meter = self._meters.setdefault((session.peer, direction, kind), StreamMeter())
                meter.sample(now, packets=packets, lost=lost, bytes_=bytes_, jitter=jitter, rtt=rtt)
                # As the server scores a publisher: bitrate against what enabled media needs,
                # and enabled media that stopped arriving is level 0.
                quality = direction_quality(
                    fraction_lost=meter.fraction_lost, rtt=rtt, jitter=meter.jitter,  # rtt: this report's floor
                    actual=meter.bitrate if enabled else None, needed=NEEDED_BPS[kind] if enabled else None,
                    local_delay=self._lag.typical if direction == "recv" else 0.0)  # our receivers' stamps
                _keep_worst(merged, kind, direction, quality)
                if stopped:
                    quality = direction_quality(flowing=False)
                _keep_worst(by_kind, kind, direction, quality)
        remotes = []
        if config.remote > 0:
            for sid, by_kind in per_peer.items():
                value = participant_quality(by_kind, int(config.remote))
                remotes.append({"sid": sid, **(value if isinstance(value, dict) else {"level": value})})
        self.signaling.network_quality(participant_quality(merged, int(config.local)), remotes)

    def _sending(self, track_id: str | None) -> bool:
        """Whether our own ``track_id`` is published enabled (so its media should be leaving)."""
        tsig = self.signaling.local_participant.tracks.get(track_id or "")
        return bool(tsig is not None and getattr(tsig, "enabled", False))

    def _expects_media(self, peer: str, track_id: str | None) -> bool:
        """Whether ``peer`` publishes ``track_id`` enabled (so its media should be arriving)."""
        psig = self.signaling.participants.get(peer)
        if psig is None or track_id is None:
            return False
        return any(t.enabled and t.media is not None and t.media.track_id == track_id for t in psig.tracks.values())

    async def close(self) -> None:
        task, self._features_task = self._features_task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def _keep_worst(table: dict[str, dict[str, DirectionQuality]], kind: str, direction: str,
                quality: DirectionQuality) -> None:
    old = table.setdefault(kind, {}).get(direction)
    if old is None or quality.level < old.level:
        table[kind][direction] = quality
