"""Large rooms (MaxParticipants > 50): publishers only are announced, 16 published tracks at most."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from callutil import until
from core import LocalDataTrack
from core.errors import ParticipantMaxTracksExceededError
from groupkit import camera

pytestmark = pytest.mark.media


async def _create(server: Any, name: str, max_participants: int) -> tuple[int, dict[str, Any]]:
    creds = server.credentials
    auth = {"Authorization": aiohttp.encode_basic_auth(creds.api_key_sid, creds.api_key_secret)}
    async with aiohttp.ClientSession(headers=auth) as http:
        async with http.post(server.url + "/v1/Rooms", data={
                "UniqueName": name, "Type": "group", "MaxParticipants": str(max_participants)}) as r:
            return r.status, await r.json()


async def test_rest_takes_up_to_100_participants_and_caps_a_large_room_at_16_tracks(server) -> None:
    status, body = await _create(server, "small", 50)
    assert status == 201 and body["max_concurrent_published_tracks"] > 16
    status, body = await _create(server, "large", 51)
    assert status == 201 and body["max_participants"] == 51 and body["max_concurrent_published_tracks"] == 16
    status, body = await _create(server, "too-large", 101)
    assert status == 400 and body["code"] == 53107


async def test_a_viewer_is_announced_only_while_it_publishes(join, server) -> None:
    await _create(server, "large", 51)
    alice = await join("alice", room="large")
    events: list[tuple[str, str]] = []
    alice.on("participantConnected", lambda q: events.append(("connected", q.identity)))
    alice.on("participantDisconnected", lambda q: events.append(("disconnected", q.identity)))
    alice.on("trackSubscribed", lambda track, q: events.append(("subscribed", q.identity)))
    bob = await join("bob", room="large")  # a viewer: nobody is told
    assert bob.participants == {}  # and alice, who publishes nothing, is not shown to bob either
    carol = await join("carol", room="large", tracks=[camera("carol")])  # a presenter
    await until(lambda: ("subscribed", "carol") in events, timeout=10)
    await until(lambda: [q.identity for q in bob.participants.values()] == ["carol"], timeout=5)
    assert ("connected", "bob") not in events and [q.identity for q in alice.participants.values()] == ["carol"]

    data = LocalDataTrack("chat")  # bob starts publishing: now he is connected for the others
    await bob.local_participant.publish_track(data)
    await until(lambda: ("connected", "bob") in events, timeout=5)
    bob.local_participant.unpublish_track(data)  # and stops: a synthetic participantDisconnected
    await until(lambda: ("disconnected", "bob") in events, timeout=5)
    assert {q.identity for q in alice.participants.values()} == {"carol"}
    await bob.local_participant.publish_track(LocalDataTrack("again"))  # back again, a new participant
    await until(lambda: events.count(("connected", "bob")) == 2, timeout=5)
    assert events.index(("connected", "carol")) < events.index(("subscribed", "carol"))
    carol.disconnect()
    await until(lambda: ("disconnected", "carol") in events, timeout=5)


async def test_the_seventeenth_track_of_a_large_room_fails_with_53203(join, server) -> None:
    await _create(server, "large", 51)
    alice = await join("alice", room="large", tracks=[LocalDataTrack(f"d{i}") for i in range(10)])
    bob = await join("bob", room="large", tracks=[LocalDataTrack(f"d{i}") for i in range(6)])
    assert len(alice.local_participant.tracks) + len(bob.local_participant.tracks) == 16
    failed: list[Any] = []
    bob.local_participant.on("trackPublicationFailed", lambda error, track: failed.append(error))
    with pytest.raises(ParticipantMaxTracksExceededError):
        await bob.local_participant.publish_track(LocalDataTrack("seventeenth"))
    await until(lambda: failed, timeout=2)
    assert failed[0].code == 53203
