"""Remote media identity and message order in ``RoomSignaling`` (no sockets, no aiortc).

* The server may send an ``update`` (a group room's subscribe offer, a new participant) right
  behind ``connected``; one that reaches the room before ``connected`` is applied is handled
  after it, in order — it used to be dropped, losing a subscriber's media (~1 join in 10).
* Media for a publication is only taken from its publisher's connection (or the server's):
  another participant labelling its media with the same track id never takes its place.
"""

from __future__ import annotations

import uuid
from typing import Any

from core import protocol as p
from core.signaling import RoomSignaling
from harness import FakeVideoMedia, RecorderTransport, RoomHarness, new_sid, remote_participant


def _connected(participants: list[p.RemoteParticipantState]) -> p.Connected:
    return p.Connected(
        session="session-" + uuid.uuid4().hex[:8], sid=new_sid("RM"), name="r",
        participant=p.ParticipantIdentity(sid=new_sid("PA"), identity="alice"),
        participants=participants, published=p.Published(revision=1, tracks=[]),
        subscribed=p.Subscribed(revision=1, tracks=[]),
        options=p.ConnectedOptions(session_timeout=30, room_type="group"))


def _wire(message: Any) -> Any:
    return p.decode_server_body(p.encode(message))


async def test_updates_before_connected_are_applied_after_it_in_order() -> None:
    signaling = RoomSignaling(RecorderTransport(), token="a.b.c", name="r")
    seen: list[tuple[Any, ...]] = []
    signaling.on("participantConnected", lambda psig: seen.append(("participant", psig.identity)))
    signaling.on("peerConnections", lambda messages, full: seen.append(
        ("pcs", [m.id for m in messages], full)))
    bob = remote_participant("bob", [("video", "cam")])
    carol = remote_participant("carol")
    offer = p.PeerConnectionMessage(id="sub-1", description=p.Description(type="offer", revision=1, sdp="v=0"))
    signaling.handle_message(_wire(p.ServerUpdate(participants=[carol], peer_connections=[offer])))
    signaling.handle_message(_wire(p.ServerUpdate(subscribed=p.Subscribed(
        revision=2, tracks=[p.SubscribedTrack(sid=bob.tracks[0].sid, id="cam-id")]))))
    assert seen == [] and signaling.state == "connecting"

    signaling.handle_message(_wire(_connected([bob])))
    await signaling.wait_connected()
    assert seen == [("participant", "bob"), ("pcs", [], True), ("participant", "carol"), ("pcs", ["sub-1"], False)]
    assert set(p.identity for p in signaling.participants.values()) == {"bob", "carol"}
    assert signaling._subscriptions[bob.tracks[0].sid].id == "cam-id"


async def test_media_is_bound_to_its_publisher() -> None:
    bob = remote_participant("bob", [("video", "cam")])
    mallory = remote_participant("mallory", [("video", "cam")])
    h = await RoomHarness.connect(participants=[bob, mallory])
    bob_sid, bob_track = bob.sid, bob.tracks[0].sid
    h.subscribe(bob_track)
    track_id = h.remote_track_ids[bob_track]
    publication: Any = next(iter(h.participant("bob").video_tracks.values()))

    # Mallory's connection carries media labelled with Bob's track id: not Bob's track.
    h.signaling.media_track_added(track_id, "video", FakeVideoMedia(), mallory.sid)
    assert not publication.is_subscribed

    bobs = FakeVideoMedia()
    h.signaling.media_track_added(track_id, "video", bobs, bob_sid)
    assert publication.is_subscribed
    assert publication.track is not None
    tsig = h.signaling.participants[bob_sid].tracks[bob_track]
    assert tsig.media is not None and tsig.media.media is bobs

    # Mallory's media ending (or starting again) leaves Bob's subscription alone.
    h.signaling.media_track_removed(track_id, mallory.sid)
    h.signaling.media_track_added(track_id, "video", FakeVideoMedia(), mallory.sid)
    assert tsig.media.media is bobs and publication.is_subscribed
    h.signaling.media_track_removed(track_id, bob_sid)
    assert not publication.is_subscribed


async def test_server_connection_media_serves_any_publication() -> None:
    """Group rooms: everything arrives on the server's subscribe connection (publisher None)."""
    bob = remote_participant("bob", [("video", "cam")])
    h = await RoomHarness.connect(participants=[bob])
    h.subscribe(bob.tracks[0].sid)
    h.signaling.media_track_added(h.remote_track_ids[bob.tracks[0].sid], "video", FakeVideoMedia())
    publication: Any = next(iter(h.participant("bob").video_tracks.values()))
    assert publication.is_subscribed
