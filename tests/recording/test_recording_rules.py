"""Recording Rules change what is recorded, live, driven by the ``twilio`` helper library; every
client sees ``recordingStarted`` / ``recordingStopped`` and ``is_recording`` follow."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from callutil import EventLog, JoinFn, camera, microphone, until
from reckit import finished, recorded_room, recordings
from server.app import RunningServer
from server.rooms import RoomOptions

twilio_rest = pytest.importorskip("twilio.rest")
from twilio.base.exceptions import TwilioRestException  # noqa: E402


def _client(server: RunningServer) -> Any:
    c = server.credentials
    client = twilio_rest.Client(c.api_key_sid, c.api_key_secret, c.account_sid)
    client.video.base_url = server.url
    return client


async def _recording(server: RunningServer, room_sid: str) -> list[tuple[str, str]]:
    """(kind, status) of the room's recordings, oldest first."""
    return [(r["type"], r["status"]) for r in await recordings(server, room_sid)]


async def test_rules_start_and_stop_recording_live(server: RunningServer, join: JoinFn) -> None:
    room = recorded_room(server, record=False)
    rules = _client(server).video.v1.rooms(room.sid).recording_rules
    alice = await join("alice", tracks=[camera("alice"), microphone("alice")])
    bob = await join("bob")
    logs = [EventLog(r, "recordingStarted", "recordingStopped") for r in (alice, bob)]
    await until(lambda: room.track_count == 2)
    assert not alice.is_recording and not bob.is_recording
    fetched = await asyncio.to_thread(rules.fetch)
    assert fetched.room_sid == room.sid and fetched.rules == [{"type": "exclude", "all": True}]
    assert await _recording(server, room.sid) == []

    updated = await asyncio.to_thread(rules.update, rules=[{"type": "include", "kind": "audio"}])
    assert updated.rules == [{"type": "include", "kind": "audio"}] and updated.date_updated is not None
    assert await _recording(server, room.sid) == [("audio", "processing")]
    await until(lambda: alice.is_recording and bob.is_recording)
    await asyncio.to_thread(rules.update, rules=[{"type": "include", "all": True}])
    assert await _recording(server, room.sid) == [("audio", "processing"), ("video", "processing")]
    await asyncio.sleep(1.5)
    await asyncio.to_thread(rules.update, rules=[{"type": "exclude", "all": True}])
    await finished(server, room.sid, 2)
    assert await _recording(server, room.sid) == [("audio", "completed"), ("video", "completed")]
    await until(lambda: not alice.is_recording and not bob.is_recording)
    for log in logs:  # one start for the first recorded track, one stop: the second track changed nothing
        assert [event for event, _ in log.items] == ["recordingStarted", "recordingStopped"]
    assert (await asyncio.to_thread(rules.fetch)).rules == [{"type": "exclude", "all": True}]


async def test_the_helper_library_lists_fetches_and_deletes(server: RunningServer, join: JoinFn) -> None:
    client = _client(server)
    room = recorded_room(server)
    alice = await join("alice", tracks=[microphone("alice")])
    await until(lambda: room.track_count == 1)
    await asyncio.sleep(1.0)
    alice.disconnect()
    await finished(server, room.sid, 1)
    listed = await asyncio.to_thread(client.video.v1.recordings.list, grouping_sid=[room.sid])
    assert len(listed) == 1 and listed[0].status == "completed" and listed[0].codec == "OPUS"
    assert listed[0].container_format == "mka" and listed[0].type == "audio" and listed[0].duration >= 1
    in_room = await asyncio.to_thread(client.video.v1.rooms(room.sid).recordings.list)
    assert [r.sid for r in in_room] == [listed[0].sid]
    one = await asyncio.to_thread(client.video.v1.recordings(listed[0].sid).fetch)
    assert one.sid == listed[0].sid and one.date_created is not None and one.size > 0
    assert await asyncio.to_thread(client.video.v1.recordings(one.sid).delete) is True
    assert (await asyncio.to_thread(client.video.v1.recordings(one.sid).fetch)).status == "deleted"
    missing = await asyncio.to_thread(client.video.v1.recordings.list, status="processing")
    assert missing == []


@pytest.mark.parametrize(("rules", "code"), [
    ([], 53120), ([{"all": True}], 53120), ([{"type": "include", "all": True, "kind": "audio"}], 53120),
    ([{"type": "include", "kind": "data"}], 53120), ([{"type": "include", "all": True}] * 21, 53120),
    ([{"type": "include", "all": False}], 53120)])
async def test_bad_rules_are_refused_with_53120(server: RunningServer, rules: list[Any], code: int) -> None:
    room = recorded_room(server, record=False)
    with pytest.raises(TwilioRestException) as refused:
        await asyncio.to_thread(_client(server).video.v1.rooms(room.sid).recording_rules.update, rules=rules)
    assert refused.value.code == code and refused.value.status == 400


async def test_peer_to_peer_rooms_record_nothing(server: RunningServer) -> None:
    room = server.registry.create_room(RoomOptions(type="peer-to-peer", unique_name="p2p"))
    rules = _client(server).video.v1.rooms(room.sid).recording_rules
    with pytest.raises(TwilioRestException) as refused:
        await asyncio.to_thread(rules.update, rules=[{"type": "include", "all": True}])
    assert refused.value.code == 53114
    assert (await asyncio.to_thread(rules.fetch)).rules == [{"type": "exclude", "all": True}]
