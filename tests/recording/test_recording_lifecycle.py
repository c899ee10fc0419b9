"""When recordings end: the track unpublished (only its own), the room ended, the server stopped
gracefully (every file finished: completed, not failed). A late joiner learns the room is being
recorded from ``connected``."""

from __future__ import annotations

import asyncio

from callutil import JoinFn, camera, microphone, until
from reckit import finished, recorded_room, recordings
from server.app import RunningServer, start_server
from server.rooms import RoomOptions
from server.store import Store


async def _states(server: RunningServer, room_sid: str) -> list[tuple[str, str]]:
    return [(r["type"], r["status"]) for r in await recordings(server, room_sid)]


async def test_unpublishing_ends_its_recording_and_the_room_ending_ends_the_rest(
        server: RunningServer, join: JoinFn) -> None:
    room = recorded_room(server)
    cam = camera("alice")
    alice = await join("alice", tracks=[cam, microphone("alice")])
    await until(lambda: room.track_count == 2)
    await asyncio.sleep(1.0)
    late = await join("late")
    assert late.is_recording  # from connected: no event needed
    alice.local_participant.unpublish_track(cam)
    await until(lambda: room.track_count == 1)
    for _ in range(50):
        if sorted(await _states(server, room.sid)) == [("audio", "processing"), ("video", "completed")]:
            break
        await asyncio.sleep(0.1)
    assert sorted(await _states(server, room.sid)) == [("audio", "processing"), ("video", "completed")]
    assert late.is_recording  # the microphone is still recorded
    server.registry.complete_room(room, reason="test")
    rows = await finished(server, room.sid, 2)
    assert sorted((r["type"], r["status"]) for r in rows) == [("audio", "completed"), ("video", "completed")]


async def test_a_graceful_stop_completes_every_recording(tmp_path) -> None:
    from core import connect
    from core.media import loopback

    with loopback.loopback_only():
        server = await start_server(port=0, data_dir=tmp_path, dev=True, default_room_type="group")
        room = recorded_room(server)
        alice = await connect(server.token("alice", "rec"), url=server.url, name="rec",
                              tracks=[microphone("alice")])
        try:
            await until(lambda: room.track_count == 1)
            await asyncio.sleep(1.0)
            await server.close()  # alice is still there: her recording is finished by the stop
        finally:
            alice.disconnect()
    store = Store(tmp_path)
    await store.open()
    try:
        (row,) = await store.list_recordings(offset=0, limit=10)
        assert row["status"] == "completed" and row["size"] > 0 and row["duration"] >= 1
    finally:
        await store.close()


async def test_recordings_are_status_callback_events(server: RunningServer, join: JoinFn) -> None:
    """recording-started when a track's recording begins, recording-completed (duration, size,
    media) when it ends, on the room's StatusCallback as Twilio sends them."""
    from test_srv_records import Receiver

    receiver = await Receiver().start()
    try:
        room = server.registry.create_room(RoomOptions(type="group", unique_name="rec", status_callback=receiver.url,
                                                       record_participants_on_connect=True))
        alice = await join("alice", tracks=[microphone("alice")])
        started = await receiver.wait_for("recording-started")
        await asyncio.sleep(1.0)
        alice.disconnect()
        completed = await receiver.wait_for("recording-completed")
        (row,) = await finished(server, room.sid, 1)
        for event in (started, completed):
            assert event["RecordingSid"] == row["sid"] and event["SourceSid"] == row["source_sid"]
            assert event["RoomSid"] == room.sid and event["ParticipantIdentity"] == "alice"
            assert event["TrackKind"] == "audio" and event["Container"] == "mka"
            assert event["RecordingUri"] == f"/v1/Recordings/{row['sid']}"
        assert completed["Codec"] == "OPUS" and completed["MediaUri"] == f"/v1/Recordings/{row['sid']}/Media"
        assert int(completed["RecordingDuration"]) == row["duration"] >= 1
        assert int(completed["RecordingSize"]) == row["size"] > 0
    finally:
        await receiver.close()


async def test_rules_set_over_rest_hold_across_a_restart(tmp_path) -> None:
    """A room recording everyone, told to record nothing: after a graceful restart it is held again
    with the rules it had, and a participant publishing there is not recorded."""
    from core import connect
    from core.media import loopback

    with loopback.loopback_only():
        server = await start_server(port=0, data_dir=tmp_path, dev=True, default_room_type="group")
        room = recorded_room(server)
        server.state.recordings.set_rules(room, [{"type": "exclude", "all": True}])
        await server.close()
        server = await start_server(port=0, data_dir=tmp_path, dev=True, default_room_type="group")
        try:
            held = server.registry.find_room("rec")
            assert held is not None and held.sid == room.sid and held.options.record_participants_on_connect
            assert server.state.recordings.rules_of(held)["rules"] == [{"type": "exclude", "all": True}]
            alice = await connect(server.token("alice", "rec"), url=server.url, name="rec",
                                  tracks=[microphone("alice")])
            try:
                await until(lambda: held.track_count == 1)
                await asyncio.sleep(0.5)
                assert await recordings(server, held.sid) == [] and not alice.is_recording
            finally:
                alice.disconnect()
        finally:
            await server.close()
