"""Media errors where api-reference §3 says they are raised (faults injected at the edges)."""

from __future__ import annotations

import aiortc
import pytest

from callutil import EventLog, camera, remote_of, until
from core import MediaClientLocalDescFailedError, MediaClientRemoteDescFailedError, connect, protocol as p
from core.signaling_transport import SignalingTransport

pytestmark = pytest.mark.media


async def test_a_first_offer_that_cannot_be_made_rejects_connect_with_53400(server, join, monkeypatch) -> None:
    alice = await join("alice", tracks=[camera("alice")])

    async def broken_offer(self):
        raise aiortc.exceptions.InternalError("injected: cannot create an offer")

    monkeypatch.setattr(aiortc.RTCPeerConnection, "createOffer", broken_offer)
    with pytest.raises(MediaClientLocalDescFailedError) as info:
        await connect(server.token("bob", "call"), url=server.url, name="call", tracks=[camera("bob")])
    assert info.value.code == 53400
    # Alice's own later offer failed too, which only logs; she stays in the room, Bob has left.
    await until(lambda: remote_of(alice, "bob") is None)
    assert alice.state == "connected"


async def test_an_offer_that_cannot_be_applied_fails_the_subscriptions_with_53402(server, join) -> None:
    bob = await join("bob")
    events = EventLog(bob, "trackSubscriptionFailed", "trackSubscribed")
    received: list[p.ServerMessage] = []
    raw = SignalingTransport(server.url, on_message=received.append, on_state=lambda state, error: None,
                             sync_body=lambda: p.Sync(session="", token=""))
    connected = await raw.connect(p.Connect(
        token=server.token("garbler", "call"), name="call",
        participant=p.LocalParticipantState(revision=1, tracks=[
            p.LocalTrackState(id="garbler-cam", kind="video", name="cam")])))
    try:
        [create_offer] = connected.peer_connections
        assert create_offer.description is not None and create_offer.description.type == "create-offer"
        raw.send(p.Update(session=connected.session, peer_connections=[p.PeerConnectionMessage(
            id=create_offer.id, description=p.Description(type="offer", revision=1, sdp="v=0\r\nnot an sdp\r\n"))]))
        await until(lambda: events.of("trackSubscriptionFailed"))
        [(error, publication, participant)] = events.of("trackSubscriptionFailed")
        assert isinstance(error, MediaClientRemoteDescFailedError) and error.code == 53402
        assert participant.identity == "garbler" and publication.track_name == "cam"
        assert not publication.is_subscribed and events.of("trackSubscribed") == []
        # Bob closed that connection: the garbler is told through the server.
        await until(lambda: any(
            isinstance(m, p.ServerUpdate) and any(e.id == create_offer.id and e.description is not None
                                                  and e.description.type == "close" for e in m.peer_connections)
            for m in received))
        assert bob.state == "connected"
    finally:
        await raw.disconnect()
