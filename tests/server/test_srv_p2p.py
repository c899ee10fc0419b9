"""Two or three signaling clients in peer-to-peer rooms: joins, publications, relay, leaves.

The wire-level order each test checks is what api-reference §4's event orders rest on:
a joiner is seen (``participants``) before its tracks are subscribed (``subscribed``), an
unpublished track leaves ``subscribed`` in the same update that drops it from the
participant, and a leaver is ``disconnected`` with its tracks and peer connection gone.
"""

from __future__ import annotations

import msgspec

from core import protocol as p
from rspclient import track
from srvutil import unique


async def _room(http, type_: str = "peer-to-peer") -> str:
    name = unique("p2p")
    async with http.post("/v1/Rooms", data={"UniqueName": name, "Type": type_}) as r:
        assert r.status == 201, await r.text()
    return name


def from_(entry: p.PeerConnectionMessage, sender: str) -> p.PeerConnectionMessage:
    """A relayed entry: the sender's entry unchanged, with the sender's SID added."""
    return msgspec.structs.replace(entry, participant=sender)


async def test_two_participants_join_publish_relay_leave(server, http, clients) -> None:
    name = await _room(http)
    alice, bob = await clients(), await clients()

    a = await alice.connect(server.token("alice"), name, tracks=[track("a-mic", "audio")])
    assert a.sid.startswith("RM") and len(a.sid) == 34 and a.name == name
    assert a.participant.identity == "alice" and a.participant.sid.startswith("PA")
    assert a.participants == [] and a.peer_connections == []
    assert a.options.session_timeout == 2 and a.options.room_type == "peer-to-peer"
    assert a.published is not None and [t.state for t in a.published.tracks] == ["ready"]
    a_mic_sid = a.published.tracks[0].sid
    assert a_mic_sid is not None and a_mic_sid.startswith("MT") and len(a_mic_sid) == 34

    b = await bob.connect(server.token("bob"), name, tracks=[track("b-cam", "video")])
    # Bob sees Alice already there, with her track, subscribed, and is asked to offer.
    assert [(q.identity, q.state) for q in b.participants] == [("alice", "connected")]
    assert [t.sid for t in b.participants[0].tracks] == [a_mic_sid]
    assert b.subscribed is not None and [(t.sid, t.id) for t in b.subscribed.tracks] == [(a_mic_sid, "a-mic")]
    assert len(b.peer_connections) == 1
    pc = b.peer_connections[0]
    assert pc.description is not None and pc.description.type == "create-offer"
    b_cam_sid = b.published.tracks[0].sid

    # Alice sees Bob join: the participant and its track, then subscribed to it, in one update.
    up = await alice.expect(p.ServerUpdate)
    assert [(q.identity, q.state) for q in up.participants] == [("bob", "connected")]
    assert up.participants[0].tracks[0].sid == b_cam_sid
    assert [(t.sid, t.id) for t in up.subscribed.tracks] == [(b_cam_sid, "b-cam")]
    # ... and is asked to offer its own connection to Bob (one connection per direction).
    assert [e.description.type for e in up.peer_connections] == ["create-offer"]
    alice_pc = up.peer_connections[0].id
    assert alice_pc != pc.id
    bob_revision = up.participants[0].revision

    # Offer → Alice, answer → Bob, ICE both ways, all relayed unchanged.
    offer = p.PeerConnectionMessage(id=pc.id, description=p.Description(type="offer", revision=1, sdp="v=0 offer"))
    await bob.send_pcs([offer])
    got = await alice.expect(lambda m: isinstance(m, p.ServerUpdate) and m.peer_connections)
    assert got.peer_connections == [from_(offer, b.participant.sid)]  # unchanged, plus who sent it
    answer = p.PeerConnectionMessage(id=pc.id, description=p.Description(type="answer", revision=1, sdp="v=0 answer"))
    await alice.send_pcs([answer])
    got = await bob.expect(lambda m: isinstance(m, p.ServerUpdate) and m.peer_connections)
    assert got.peer_connections == [from_(answer, a.participant.sid)]
    ice = p.PeerConnectionMessage(id=pc.id, ice=p.IceState(revision=1, ufrag="u", candidates=[
        p.IceCandidate(candidate="candidate:1 1 udp 1 127.0.0.1 5000 typ host", sdp_mid="0")]))
    await alice.send_pcs([ice])
    got = await bob.expect(lambda m: isinstance(m, p.ServerUpdate) and m.peer_connections)
    assert got.peer_connections == [from_(ice, a.participant.sid)]

    # Alice publishes a second track, then disables it: Bob sees each, with higher revisions.
    await alice.publish([track("a-mic", "audio"), track("a-cam", "video")])
    mine = await alice.expect(lambda m: isinstance(m, p.ServerUpdate) and m.published)
    assert [t.id for t in mine.published.tracks if t.state == "ready"] == ["a-mic", "a-cam"]
    a_cam_sid = mine.published.tracks[1].sid
    up = await bob.expect(lambda m: isinstance(m, p.ServerUpdate) and m.participants)
    assert [t.name for t in up.participants[0].tracks] == ["a-mic", "a-cam"]
    assert up.participants[0].revision > a.participants.__len__()  # revisioned
    assert {t.sid for t in up.subscribed.tracks} == {a_mic_sid, a_cam_sid}
    rev = up.participants[0].revision
    await alice.publish([track("a-mic", "audio"), track("a-cam", "video", enabled=False)])
    up = await bob.expect(lambda m: isinstance(m, p.ServerUpdate) and m.participants)
    assert up.participants[0].revision > rev
    assert [t.enabled for t in up.participants[0].tracks] == [True, False]
    assert up.subscribed is None  # unchanged mapping is not resent
    # Unpublish: gone from the participant and from subscribed in the same update.
    await alice.publish([track("a-mic", "audio")])
    up = await bob.expect(lambda m: isinstance(m, p.ServerUpdate) and m.participants)
    assert [t.sid for t in up.participants[0].tracks] == [a_mic_sid]
    assert [t.sid for t in up.subscribed.tracks] == [a_mic_sid]

    # Bob leaves: Alice gets him disconnected, no tracks, subscribed empty, pc closed.
    await bob.disconnect()
    up = await alice.expect(lambda m: isinstance(m, p.ServerUpdate) and m.participants)
    left = up.participants[0]
    assert (left.identity, left.state, left.tracks) == ("bob", "disconnected", [])
    assert left.revision > bob_revision
    assert up.subscribed is not None and up.subscribed.tracks == []
    assert sorted((e.id, e.description.type) for e in up.peer_connections) == sorted(
        [(pc.id, "close"), (alice_pc, "close")])
    await alice.disconnect()


def _has_offer(m: object) -> bool:
    return isinstance(m, p.ServerUpdate) and any(
        e.description is not None and e.description.type == "offer" for e in m.peer_connections)


async def test_three_way_mesh_each_participant_offers_to_each_other(server, http, clients) -> None:
    """Every ordered pair gets its own connection, offered by the sender of its media."""
    name = await _room(http)
    a, b, c = await clients(), await clients(), await clients()
    await a.connect(server.token("a"), name)
    cb = await b.connect(server.token("b"), name)
    cc = await c.connect(server.token("c"), name)
    assert len(cb.peer_connections) == 1
    assert len(cc.peer_connections) == 2 and {e.description.type for e in cc.peer_connections} == {"create-offer"}
    ids = {e.id for e in cc.peer_connections}
    assert cb.peer_connections[0].id not in ids
    # c's offers reach a and b respectively (one id each), never the wrong one.
    offers = [p.PeerConnectionMessage(id=i, description=p.Description(type="offer", revision=1, sdp=f"sdp {i}"))
              for i in sorted(ids)]
    await c.send_pcs(offers)
    got_a = await a.expect(_has_offer)
    got_b = await b.expect(_has_offer)
    assert len(got_a.peer_connections) == 1 and len(got_b.peer_connections) == 1
    assert {got_a.peer_connections[0].id, got_b.peer_connections[0].id} == ids
    # b cannot use a's pc id.
    await b.send_pcs([p.PeerConnectionMessage(id=got_a.peer_connections[0].id,
                                              description=p.Description(type="answer", revision=1, sdp="x"))])
    await c.send_pcs([])  # nudge
    for cl in (a, b, c):
        await cl.disconnect()


async def test_offer_in_connect_is_bound_to_an_existing_peer(server, http, clients) -> None:
    """twilio-video.js sends one offer in connect: it goes to the first peer; in an empty room it is closed."""
    name = await _room(http)
    a, b = await clients(), await clients()
    offer_a = p.PeerConnectionMessage(id="pc-from-a", description=p.Description(type="offer", revision=1, sdp="a"))
    ca = await a.connect(server.token("a"), name, peer_connections=[offer_a])
    assert [(e.id, e.description.type) for e in ca.peer_connections] == [("pc-from-a", "close")]
    offer_b = p.PeerConnectionMessage(id="pc-from-b", description=p.Description(type="offer", revision=1, sdp="b"))
    cb = await b.connect(server.token("b"), name, peer_connections=[offer_b])
    assert cb.peer_connections == []  # no create-offer: its own offer serves b → a
    got = await a.expect(lambda m: isinstance(m, p.ServerUpdate) and m.peer_connections)
    assert from_(offer_b, cb.participant.sid) in got.peer_connections  # beside a's own create-offer for a → b
    assert sorted(e.description.type for e in got.peer_connections) == ["create-offer", "offer"]
    assert got.participants is not None and got.participants[0].identity == "b"
    await a.disconnect()
    await b.disconnect()


async def test_go_room_holds_two(server, http, clients) -> None:
    name = await _room(http, "go")
    a, b, c = await clients(), await clients(), await clients()
    await a.connect(server.token("a"), name)
    await b.connect(server.token("b"), name)
    err = await c.connect_error(server.token("c"), name)
    assert err.code == 53105
    assert await c.wait_closed() is not None
    await a.disconnect()
    await b.disconnect()


async def test_ice_hello_then_connect_like_twilio_video_js(server, clients) -> None:
    c = await clients()
    welcome = await c.hello(p.IceRequest(token=server.token("ice"), edge="roaming"))
    assert welcome.negotiated_timeout == 5000
    iced = await c.recv()
    assert isinstance(iced, p.Iced) and iced.ice_servers == []
    await c.send(c.connect_body(server.token("ice"), unique("ice")))
    connected = await c.recv()
    assert isinstance(connected, p.Connected)
    c.session = connected.session
    await c.disconnect()


async def test_no_name_creates_a_room_named_by_its_sid(server, clients) -> None:
    c = await clients()
    connected = await c.connect(server.token("solo"))
    assert connected.name == connected.sid
    await c.disconnect()
