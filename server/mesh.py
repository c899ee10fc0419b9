"""Media wiring of a room, behind ``MediaBackend``; ``MeshRelay`` is the peer-to-peer one.

A backend sees participants by SID only. The room tells it who joins, leaves and resumes
and hands it every ``peer_connections`` entry a client sends; the backend answers with an
``Outbox`` (participant SID → entries to send that participant), which the room delivers
(merged into its own ``update``s). Backends that do asynchronous work (the forwarder of
group rooms, ``server/forwarder/``: it answers offers itself) are built with a
``send(sid, entries)`` callback and push later entries through it; the room delivers them
as ``update {peer_connections}``. ``room_changed()`` tells a backend that tracks,
subscriptions or participants changed (after the room sent its own ``update``s), and
``media_signaling(sid, requested)`` answers ``connect.media_signaling`` for
``connected.media_signaling``. A future external SFU (Janus, architecture §7) implements
the same interface.

``MeshRelay`` (docs/protocol.md §5): two peer connections per pair of participants, one per
direction, each offered by the side whose media it carries (``create-offer`` to both when
someone joins), so renegotiation never collides: an offer from a connection's answerer (or an
answer from its offerer) is dropped. Entries are relayed unchanged to the other side of their
connection; the last description and the merged ICE state of each side are kept, so a
participant that resumes with ``sync`` gets them again in ``synced``. The server never
touches media.
"""

from __future__ import annotations

import logging
import uuid
from abc import ABC, abstractmethod
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from msgspec.structs import replace

from core.protocol import Description, IceCandidate, IceState, MediaSignalingChannel, PeerConnectionMessage

log = logging.getLogger(__name__)

Outbox = dict[str, list[PeerConnectionMessage]]

#: Peer-connection ids longer than this are ignored (twilio-video.js uses UUIDs).
MAX_PC_ID = 128
#: ICE candidates kept per side of a peer connection.
MAX_CANDIDATES = 64
#: Unknown ids answered with ``close`` per message, and remembered overall.
MAX_CLOSE_REPLIES = 32
MAX_REMEMBERED_CLOSED = 4096


class MediaBackend(ABC):
    """How one room's media flows. All methods are synchronous and cheap (event loop).

    Asynchronous backends push later entries with the ``send(sid, entries)`` callback their
    factory gives them (``rooms.RoomRegistry`` passes one), never by blocking here.
    """

    @abstractmethod
    def join(self, sid: str, others: list[str], offers: list[PeerConnectionMessage]) -> Outbox:
        """``sid`` joined; ``others`` are already in the room (join order); ``offers`` came in ``connect``."""

    @abstractmethod
    def peer_connections(self, sid: str, entries: list[PeerConnectionMessage]) -> Outbox:
        """``sid`` sent these ``peer_connections`` entries in an ``update``."""

    @abstractmethod
    def leave(self, sid: str) -> Outbox:
        """``sid`` left the room for good."""

    @abstractmethod
    def resume(self, sid: str, entries: list[PeerConnectionMessage]) -> tuple[list[PeerConnectionMessage], Outbox]:
        """``sid`` resumed with ``sync``: its full peer-connection state for ``synced``, and what to relay."""

    def close(self) -> None:  # noqa: B027 - an optional hook: backends without state need nothing
        """The room ended."""

    def room_changed(self) -> None:  # noqa: B027 - an optional hook, as close()
        """Published tracks, subscriptions or participants changed (the mesh needs nothing)."""

    def media_signaling(self, sid: str, requested: dict[str, Any]) -> dict[str, MediaSignalingChannel]:
        """``connected.media_signaling`` for ``sid``, which asked for ``requested`` (none in a mesh)."""
        return {}


def _merge_ice(old: IceState | None, new: IceState) -> IceState:
    if old is None or (new.ufrag is not None and new.ufrag != old.ufrag):
        candidates: list[IceCandidate] = []
    else:
        candidates = list(old.candidates)
    known = {c.candidate for c in candidates}
    for cand in new.candidates:
        if cand.candidate not in known and len(candidates) < MAX_CANDIDATES:
            candidates.append(cand)
            known.add(cand.candidate)
    return IceState(revision=max(new.revision, old.revision if old else 0), candidates=candidates,
                    ufrag=new.ufrag if new.ufrag is not None else (old.ufrag if old else None),
                    complete=new.complete or bool(old and old.complete and new.ufrag in (None, old.ufrag)))


@dataclass
class _Side:
    description: Description | None = None
    ice: IceState | None = None


@dataclass
class _Link:
    id: str
    offerer: str
    answerer: str
    sides: dict[str, _Side] = field(default_factory=dict)
    revision: int = 0

    def other(self, sid: str) -> str:
        return self.answerer if sid == self.offerer else self.offerer


class MeshRelay(MediaBackend):
    """Relays offers, answers and ICE between every pair of participants."""

    def __init__(self) -> None:
        self._links: dict[str, _Link] = {}
        self._by_participant: dict[str, set[str]] = {}
        self._closed: OrderedDict[str, None] = OrderedDict()

    # --- helpers ------------------------------------------------------------------------

    def _add_link(self, pc_id: str, offerer: str, answerer: str) -> _Link:
        link = _Link(pc_id, offerer, answerer, {offerer: _Side(), answerer: _Side()})
        self._links[pc_id] = link
        self._by_participant.setdefault(offerer, set()).add(pc_id)
        self._by_participant.setdefault(answerer, set()).add(pc_id)
        return link

    def _drop_link(self, link: _Link) -> None:
        self._links.pop(link.id, None)
        for sid in (link.offerer, link.answerer):
            ids = self._by_participant.get(sid)
            if ids is not None:
                ids.discard(link.id)
        self._remember_closed(link.id)

    def _remember_closed(self, pc_id: str) -> None:
        self._closed[pc_id] = None
        while len(self._closed) > MAX_REMEMBERED_CLOSED:
            self._closed.popitem(last=False)

    @staticmethod
    def _close_entry(pc_id: str, revision: int, peer: str | None = None) -> PeerConnectionMessage:
        return PeerConnectionMessage(id=pc_id, description=Description(type="close", revision=revision),
                                     participant=peer)

    def _ask_to_offer(self, out: Outbox, offerer: str, answerer: str) -> None:
        """A new connection that ``offerer`` sends its media on to ``answerer``."""
        link = self._add_link(str(uuid.uuid4()), offerer, answerer)
        out.setdefault(offerer, []).append(PeerConnectionMessage(
            id=link.id, description=Description(type="create-offer", revision=1), participant=answerer))

    def links_of(self, sid: str) -> list[str]:
        return sorted(self._by_participant.get(sid, ()))

    # --- MediaBackend -------------------------------------------------------------------

    def join(self, sid: str, others: list[str], offers: list[PeerConnectionMessage]) -> Outbox:
        out: Outbox = {}
        usable = [m for m in offers if m.description is not None and m.description.type == "offer"
                  and 0 < len(m.id) <= MAX_PC_ID and m.id not in self._links and m.id not in self._closed]
        bound: set[str] = set()
        for other in others:
            if usable:
                offer = usable.pop(0)
                self._add_link(offer.id, sid, other)
                bound.add(offer.id)
            else:
                self._ask_to_offer(out, sid, other)
            self._ask_to_offer(out, other, sid)
        relayed = self.peer_connections(sid, [m for m in offers if m.id in bound])
        for target, entries in relayed.items():
            out.setdefault(target, []).extend(entries)
        # Offers nobody can answer (an empty room, or more offers than peers): closed.
        for m in offers:
            if m.id not in bound and m.id not in self._closed and 0 < len(m.id) <= MAX_PC_ID:
                rev = m.description.revision if m.description is not None else 1
                out.setdefault(sid, []).append(self._close_entry(m.id, rev))
                self._remember_closed(m.id)
        return out

    def peer_connections(self, sid: str, entries: list[PeerConnectionMessage]) -> Outbox:
        out: Outbox = {}
        replies = 0
        for entry in entries:
            link = self._links.get(entry.id)
            if link is None or sid not in (link.offerer, link.answerer):
                if (entry.id not in self._closed and replies < MAX_CLOSE_REPLIES
                        and 0 < len(entry.id) <= MAX_PC_ID and link is None):
                    rev = entry.description.revision if entry.description is not None else 1
                    out.setdefault(sid, []).append(self._close_entry(entry.id, rev))
                    self._remember_closed(entry.id)
                    replies += 1
                continue
            side = link.sides[sid]
            other = link.other(sid)
            new = False
            desc = entry.description
            if desc is not None and desc.type in ("offer", "answer") and \
                    (desc.type == "offer") != (sid == link.offerer):
                # Glare policy: only the side whose media a connection carries offers on it.
                # twilio-video.js re-offers its own tracks on the connection it answers;
                # relayed, each track would travel twice.
                log.debug("%s: %s from the %s of %s dropped", sid, desc.type,
                          "offerer" if sid == link.offerer else "answerer", link.id)
                desc = None
            if desc is not None:
                link.revision = max(link.revision, desc.revision)
                if desc.type == "close":
                    out.setdefault(other, []).append(replace(entry, participant=sid))
                    self._drop_link(link)
                    continue
                if side.description != desc:
                    side.description, new = desc, True
            ice = entry.ice
            if ice is not None and (side.ice is None or ice.revision > side.ice.revision
                                    or (ice.ufrag is not None and ice.ufrag != side.ice.ufrag)):
                side.ice = _merge_ice(side.ice, ice)
                new = True
            if new:  # relayed unchanged, but for who it comes from
                out.setdefault(other, []).append(replace(entry, participant=sid, description=desc))
        return out

    def leave(self, sid: str) -> Outbox:
        out: Outbox = {}
        for pc_id in list(self._by_participant.get(sid, ())):
            link = self._links[pc_id]
            out.setdefault(link.other(sid), []).append(self._close_entry(pc_id, link.revision + 1, sid))
            self._drop_link(link)
        self._by_participant.pop(sid, None)
        return out

    def resume(self, sid: str, entries: list[PeerConnectionMessage]) -> tuple[list[PeerConnectionMessage], Outbox]:
        relayed = self.peer_connections(sid, entries)
        relayed.pop(sid, None)  # ``synced`` lists the live ones; the client closes the rest
        state: list[PeerConnectionMessage] = []
        for pc_id in self.links_of(sid):
            link = self._links[pc_id]
            mine, theirs = link.sides[sid], link.sides[link.other(sid)]
            description = theirs.description
            if description is None and mine.description is None and link.offerer == sid:
                description = Description(type="create-offer", revision=1)
            state.append(PeerConnectionMessage(id=pc_id, description=description, ice=theirs.ice,
                                               participant=link.other(sid)))
        return state, relayed

    def close(self) -> None:
        self._links.clear()
        self._by_participant.clear()
