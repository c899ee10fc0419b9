"""One peer connection's offer/answer, shared by the client mesh and the room server's forwarder.

Every Confab connection has exactly one offerer, fixed when it is created (``offerer=True``:
we offer, the other side answers). That is the glare policy: an offer on a connection we
own is never answered, an answer on one the other side owns is ignored. twilio-video.js
re-offers on any connection that has fewer send m-lines than it has senders; those extra
offers are dropped here, so each track travels once per pair, on the connection its
sender owns.

Media identity comes from the SDP, not from aiortc: after every applied remote description
the remote's ``a=msid`` of each m-line is read again, by mid (aiortc keeps an msid's track
id only when its stream is listed in ``a=msid-semantic``, and fires no new ``track`` event
when a recycled transceiver's msid changes). ``on_media(RemoteMediaLine, transceiver)``
fires for every m-line whose sending track id is new or changed, only on connections the
other side offers (the remote's media rides on its own connection).

Every video receiver gets a ``frames.FrameAssembler`` (frames released the moment they are
complete, a keyframe asked for at once after a gap). Descriptions are parsed with aiortc's
own ``sdp`` module (so LF-only SDP reads as CRLF), and :func:`restrict_video_codecs`
rewrites a parsed offer rather than cutting strings.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCDataChannel,
    RTCPeerConnection,
    RTCSessionDescription,
    sdp as aiortc_sdp,
)

from .. import protocol as p
from . import frames, ice_restart, keep_negotiated, loopback

keep_negotiated.install()

__all__ = ["DescriptionError", "Negotiation", "RemoteMediaLine", "codecs_allowed", "max_bundle",
           "new_ice_credentials", "parse_session", "rebuilt_by_offerer", "remote_media_lines",
           "restrict_video_codecs", "send_json"]

log = logging.getLogger(__name__)

SENDING = ("sendonly", "sendrecv")


class DescriptionError(Exception):
    """A description could not be applied (``local=False``) or produced (``local=True``)."""

    def __init__(self, message: str, *, local: bool) -> None:
        super().__init__(message)
        self.local = local


@dataclass(frozen=True)
class RemoteMediaLine:
    """One audio/video m-line of a remote description, as its sender labelled it."""

    mid: str
    kind: str
    track_id: str | None
    sending: bool


def parse_session(sdp: str | None) -> aiortc_sdp.SessionDescription:
    """A session description, or ``ValueError``: aiortc applies any text as an empty offer;
    a browser refuses one without the session lines (``v=``, ``o=``, ``s=``, ``t=``), and so do we."""
    lines = (sdp or "").splitlines()
    if not lines or lines[0] != "v=0" or not all(any(ln.startswith(k) for ln in lines) for k in ("o=", "s=", "t=")):
        raise ValueError("not a session description")
    try:
        return aiortc_sdp.SessionDescription.parse(sdp or "")
    except Exception as exc:  # aiortc's parser raises many types on malformed lines
        raise ValueError(f"malformed session description: {exc}") from exc


def remote_media_lines(description: aiortc_sdp.SessionDescription) -> list[RemoteMediaLine]:
    """Each audio/video m-line's mid, kind, ``a=msid`` track id and whether it sends."""
    out = []
    for media in description.media:
        if media.kind not in ("audio", "video") or media.rtp.muxId is None:
            continue
        # ``a=msid:<stream> <track>``, or plan-b style on the ssrc lines
        msids = [m.split() for m in (media.msid, *(s.msid for s in media.ssrc)) if m]
        track_id = next((bits[1] for bits in msids if len(bits) > 1), None)
        out.append(RemoteMediaLine(media.rtp.muxId, media.kind, track_id, _sends(media)))
    return out


def _sends(media: aiortc_sdp.MediaDescription) -> bool:
    """The m-line's sender sends on it (not rejected, not recvonly/inactive)."""
    return media.port != 0 and (media.direction or "sendrecv") in SENDING


def _sending_video(media: aiortc_sdp.MediaDescription) -> bool:
    return media.kind == "video" and _sends(media)


def codecs_allowed(description: aiortc_sdp.SessionDescription, allowed: Sequence[str]) -> bool:
    """Every sending video m-line offers at least one of ``allowed`` (e.g. a room's VideoCodecs)."""
    wanted = {c.lower() for c in allowed}
    for media in description.media:
        if _sending_video(media):
            names = {c.mimeType.split("/", 1)[1].lower() for c in media.rtp.codecs}
            if not names & wanted:
                return False
    return True


def restrict_video_codecs(description: aiortc_sdp.SessionDescription, allowed: Sequence[str]) -> bool:
    """Cut the offer's sending video m-lines down to ``allowed`` codecs (and their RTX), so the
    answer — and so what the publisher sends — honours them. Whether anything was cut."""
    wanted = {c.lower() for c in allowed}
    changed = False
    for media in description.media:
        if not _sending_video(media):
            continue
        keep = {c.payloadType for c in media.rtp.codecs if c.mimeType.split("/", 1)[1].lower() in wanted}
        keep |= {c.payloadType for c in media.rtp.codecs
                 if c.mimeType.lower() == "video/rtx" and c.parameters.get("apt") in keep}
        if keep and len(keep) < len(media.rtp.codecs):
            media.rtp.codecs = [c for c in media.rtp.codecs if c.payloadType in keep]
            media.fmt = [pt for pt in media.fmt if pt in keep]
            changed = True
    return changed


def max_bundle(configuration: RTCConfiguration) -> RTCConfiguration:
    """Every transceiver on one transport from the start.

    aiortc's default "balanced" policy gives the second transceiver of a kind (a group room's
    second remote audio, a second camera) the first one's transport, marks it bundled, and
    then never moves it onto the transport BUNDLE settles on: its media never flows.
    """
    configuration.bundlePolicy = RTCBundlePolicy.MAX_BUNDLE
    return configuration


def send_json(channel: RTCDataChannel, message: dict[str, Any]) -> None:
    """Send one JSON message if the channel is open (a channel closing under us is not an error)."""
    if channel.readyState == "open":
        try:
            channel.send(json.dumps(message))
        except Exception as exc:  # noqa: BLE001 - closing under us
            log.debug("JSON send on %s failed: %s", channel.label, exc)


_UFRAG = re.compile(r"^a=ice-ufrag:(\S+)", re.MULTILINE)


def new_ice_credentials(pc: RTCPeerConnection, sdp: str | None) -> bool:
    """Whether an offer's ICE ufrag differs from the one ``pc`` has from the other side."""
    current = pc.remoteDescription.sdp if pc.remoteDescription is not None else None
    if current is None or not sdp:
        return False
    old, new = _UFRAG.search(current), _UFRAG.search(sdp)
    return old is not None and new is not None and old.group(1) != new.group(1)


def rebuilt_by_offerer(pc: RTCPeerConnection, sdp: str | None) -> bool:
    """Whether an offer comes from a rebuilt connection (new ICE credentials and a new DTLS
    fingerprint), so this side must rebuild too; an ICE restart (the same fingerprint) is
    answered in place by :meth:`Negotiation.answer` (``ice_restart.py``)."""
    return new_ice_credentials(pc, sdp) and not ice_restart.offer_restarts_ice(pc, sdp)


OnMedia = Callable[[RemoteMediaLine, Any], None]


class Negotiation:
    """Offers, answers and revisions of one ``RTCPeerConnection`` with one fixed offerer."""

    def __init__(self, pc_id: str, pc: RTCPeerConnection, *, offerer: bool,
                 on_media: OnMedia | None = None, loopback_only: bool = False) -> None:
        self.id = pc_id
        self.pc = pc
        self.offerer = offerer
        #: Gather ICE candidates on 127.0.0.1 only, for this connection (``loopback.py``).
        self.loopback_only = loopback_only
        self.revision = 0
        self.lock = asyncio.Lock()
        self.awaiting_answer = False
        self.needs_offer = False
        #: The last description we produced (offer or answer), for ``synced``.
        self.last: p.Description | None = None
        self._on_media = on_media
        self._remote_tracks: dict[str, str | None] = {}  # mid → the track id last delivered
        frames.assemble_remote_video(pc)  # frames released when complete (frames.py)

    # --- offering (we own the connection) --------------------------------------------

    async def offer(self) -> p.Description | None:
        """A new offer if one is wanted and none is outstanding; ``DescriptionError`` if aiortc fails."""
        async with self.lock:
            if not self.offerer or self.awaiting_answer or not self.needs_offer \
                    or self.pc.signalingState == "closed":
                return None
            self.needs_offer = False
            try:
                with loopback.gathering_on_loopback(self.loopback_only):
                    await self.pc.setLocalDescription(await self.pc.createOffer())
            except Exception as exc:
                raise DescriptionError(f"cannot create offer on {self.id}: {exc}", local=True) from exc
            self.revision += 1
            self.awaiting_answer = True
            self.last = p.Description(type="offer", revision=self.revision, sdp=self.pc.localDescription.sdp)
            return self.last

    async def accept_answer(self, answer: p.Description) -> bool:
        """Apply the answer to our outstanding offer; False if stale or not ours to take."""
        async with self.lock:
            if not self.offerer or not self.awaiting_answer or answer.revision != self.revision:
                log.debug("%s: stale answer %d (at %d)", self.id, answer.revision, self.revision)
                return False
            try:
                parse_session(answer.sdp)
                await self.pc.setRemoteDescription(RTCSessionDescription(answer.sdp or "", "answer"))
            except Exception as exc:
                raise DescriptionError(f"cannot apply answer on {self.id}: {exc}", local=False) from exc
            self.awaiting_answer = False
            return True

    # --- answering (the other side owns the connection) -------------------------------

    async def answer(self, offer: p.Description, *,
                     rewrite: Callable[[aiortc_sdp.SessionDescription], str] | None = None) -> p.Description | None:
        """Answer the other side's offer; None if we own this connection or the offer is stale.

        ``rewrite`` may check or reshape the parsed offer (raise ``TwilioError`` to refuse it).
        """
        async with self.lock:
            if self.offerer:
                log.debug("%s: offer on a connection we own ignored (glare policy)", self.id)
                return None
            if offer.revision <= self.revision and self.last is not None:
                return None
            try:
                parsed = parse_session(offer.sdp)
            except ValueError as exc:
                raise DescriptionError(str(exc), local=False) from exc
            sdp = rewrite(parsed) if rewrite is not None else offer.sdp or ""
            restart = ice_restart.offer_restarts_ice(self.pc, sdp)
            try:
                if restart:  # new ICE credentials, the same DTLS: restart ICE under it
                    with loopback.gathering_on_loopback(self.loopback_only):
                        await ice_restart.prepare(self.pc)
                await self.pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
                if restart:
                    ice_restart.complete(self.pc, sdp)
            except Exception as exc:
                raise DescriptionError(f"cannot apply offer on {self.id}: {exc}", local=False) from exc
            try:
                with loopback.gathering_on_loopback(self.loopback_only):
                    await self.pc.setLocalDescription(await self.pc.createAnswer())
            except Exception as exc:
                raise DescriptionError(f"cannot answer on {self.id}: {exc}", local=True) from exc
            self.revision = offer.revision
            self.last = p.Description(type="answer", revision=offer.revision, sdp=self.pc.localDescription.sdp)
            self._refresh_media(parsed)
            return self.last

    def _refresh_media(self, description: aiortc_sdp.SessionDescription) -> None:
        """Deliver every m-line whose sending track id is new or changed (recycled transceivers)."""
        if self._on_media is None:
            return
        transceivers = {t.mid: t for t in self.pc.getTransceivers() if t.mid is not None}
        for line in remote_media_lines(description):
            track_id = line.track_id if line.sending else None
            if self._remote_tracks.get(line.mid) == track_id:
                continue
            self._remote_tracks[line.mid] = track_id
            transceiver = transceivers.get(line.mid)
            if transceiver is not None and transceiver.receiver.track is not None and track_id is not None:
                self._on_media(line, transceiver)
