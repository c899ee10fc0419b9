"""The official ``twilio`` helper library's REST client, pointed at this server, works unchanged.

The only change is the Video domain's base URL: ``client.video.base_url = server.url``
(the library builds every Video URL from it; with no edge/region set it leaves the host
alone). Calls run in a thread, as the library is synchronous.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from core import protocol as p
from rspclient import track
from srvutil import unique

pytest.importorskip("twilio.rest")
from twilio.base.exceptions import TwilioRestException


async def test_helper_library_rooms_participants_tracks(server, clients) -> None:
    client = server.twilio_client()
    name = unique("helper")
    room = await asyncio.to_thread(client.video.v1.rooms.create, unique_name=name, type="peer-to-peer",
                                   max_participants=4, empty_room_timeout=3)
    assert room.sid.startswith("RM") and room.unique_name == name and room.status == "in-progress"
    assert room.type == "peer-to-peer" and room.max_participants == 4 and room.empty_room_timeout == 3
    assert isinstance(room.date_created, datetime) and room.date_created.tzinfo is not None

    fetched = await asyncio.to_thread(client.video.v1.rooms(room.sid).fetch)
    assert fetched.sid == room.sid and fetched.account_sid == server.credentials()["account_sid"]
    by_name = await asyncio.to_thread(client.video.v1.rooms(name).fetch)
    assert by_name.sid == room.sid
    listed = await asyncio.to_thread(client.video.v1.rooms.list, unique_name=name)
    assert [r.sid for r in listed] == [room.sid]

    a, b = await clients(), await clients()
    ca = await a.connect(server.token("alice"), name, tracks=[track("mic", "audio"), track("cam", "video")])
    await b.connect(server.token("bob"), name)
    people = await asyncio.to_thread(client.video.v1.rooms(room.sid).participants.list)
    assert sorted(x.identity for x in people) == ["alice", "bob"]
    alice = next(x for x in people if x.identity == "alice")
    assert alice.sid == ca.participant.sid and alice.status == "connected"
    assert isinstance(alice.start_time, datetime)
    tracks = await asyncio.to_thread(
        client.video.v1.rooms(room.sid).participants(alice.sid).published_tracks.list)
    assert sorted((t.name, t.kind) for t in tracks) == [("cam", "video"), ("mic", "audio")]

    kicked = await asyncio.to_thread(
        client.video.v1.rooms(room.sid).participants("bob").update, status="disconnected")
    assert kicked.status == "disconnected" and kicked.identity == "bob"
    assert isinstance(await b.expect(p.Disconnected), p.Disconnected)

    with pytest.raises(TwilioRestException) as info:
        await asyncio.to_thread(client.video.v1.rooms(room.sid).participants(alice.sid)
                                .subscribe_rules.update, rules=[{"type": "include", "all": True}])
    assert info.value.code == 53117 and info.value.status == 400

    done = await asyncio.to_thread(client.video.v1.rooms(room.sid).update, status="completed")
    assert done.status == "completed" and isinstance(done.end_time, datetime)
    assert (await a.expect(p.Disconnected)).status == "completed"
    completed = await asyncio.to_thread(client.video.v1.rooms.list, status="completed", limit=1000)
    assert room.sid in {r.sid for r in completed}


async def test_helper_library_errors(server) -> None:
    client = server.twilio_client()
    with pytest.raises(TwilioRestException) as info:
        await asyncio.to_thread(client.video.v1.rooms("RM" + "0" * 32).fetch)
    assert (info.value.status, info.value.code) == (404, 53106)
    with pytest.raises(TwilioRestException) as info:
        await asyncio.to_thread(client.video.v1.rooms.create, type="go", max_participants=5)
    assert (info.value.status, info.value.code) == (400, 53107)
    wrong = server.twilio_client(secret="wrong")
    with pytest.raises(TwilioRestException) as info:
        await asyncio.to_thread(wrong.video.v1.rooms("anything").fetch)
    assert (info.value.status, info.value.code) == (401, 20003)
