"""The participant's SubscribedTracks and Anonymize resources (its links no longer 404),
driven by the ``twilio`` helper library against the real server process."""

from __future__ import annotations

import asyncio

import pytest

from rspclient import track
from srvutil import unique

pytest.importorskip("twilio.rest")
from twilio.base.exceptions import TwilioRestException


async def test_subscribed_tracks_and_anonymize(server, clients) -> None:
    client = server.twilio_client()
    room = await asyncio.to_thread(client.video.v1.rooms.create, unique_name=unique("subs"), type="peer-to-peer")
    a, b = await clients(), await clients()
    alice = await a.connect(server.token("alice"), room.unique_name,
                            tracks=[track("mic", "audio"), track("cam", "video")])
    bob = await b.connect(server.token("bob"), room.unique_name)
    people = client.video.v1.rooms(room.sid).participants
    await asyncio.sleep(0.2)
    got = await asyncio.to_thread(people(bob.participant.sid).subscribed_tracks.list)
    assert sorted((t.name, t.kind) for t in got) == [("cam", "video"), ("mic", "audio")]
    assert {(t.participant_sid, t.publisher_sid, t.room_sid) for t in got} == {
        (bob.participant.sid, alice.participant.sid, room.sid)}
    one = await asyncio.to_thread(people("bob").subscribed_tracks(got[0].sid).fetch)
    assert one.sid == got[0].sid and one.enabled is True
    assert await asyncio.to_thread(people(alice.participant.sid).subscribed_tracks.list) == []  # bob publishes none
    with pytest.raises(TwilioRestException) as unknown:
        await asyncio.to_thread(people("bob").subscribed_tracks("MT" + "0" * 32).fetch)
    assert unknown.value.status == 404

    with pytest.raises(TwilioRestException) as connected:  # only who has left can be anonymized
        await asyncio.to_thread(people(bob.participant.sid).anonymize().update)
    assert connected.value.code == 53112
    await b.disconnect()
    await asyncio.sleep(0.2)
    assert await asyncio.to_thread(people(bob.participant.sid).subscribed_tracks.list) == []
    anonymized = await asyncio.to_thread(people(bob.participant.sid).anonymize().update)
    assert anonymized.identity == bob.participant.sid and anonymized.status == "disconnected"
    listed = await asyncio.to_thread(people.list, status="disconnected")
    assert [p.identity for p in listed] == [bob.participant.sid]
