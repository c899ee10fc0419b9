"""``recording-media-lost`` end to end: a recorded publisher's media stops reaching the server
(all its RTP dropped: core/media/faults.py) → the server's RSP ``warning`` (``NO_MEDIA``) →
publication ``warning`` → LocalParticipant and Room ``trackWarning``; its media back (``OK``) →
``warningsCleared`` → ``trackWarningsCleared``. Only for who asked (``notify_warnings``)."""

from __future__ import annotations

import asyncio

from callutil import EventLog, JoinFn, camera, microphone, until
from core.media.faults import outgoing_loss
from reckit import MEDIA_LOST_S, recorded_room
from server.app import RunningServer

LOST = "recording-media-lost"


async def test_a_recorded_track_without_media_warns_its_publisher_and_clears(
        server: RunningServer, join: JoinFn) -> None:
    room = recorded_room(server)
    alice = await join("alice", tracks=[camera("alice"), microphone("alice")], notify_warnings=[LOST])
    bob = await join("bob", tracks=[microphone("bob")])  # no notify_warnings: never told
    await until(lambda: room.track_count == 3)
    pubs = list(alice.local_participant.tracks.values())
    pub_logs = {pub.track_sid: EventLog(pub, "warning", "warningsCleared") for pub in pubs}
    local_log = EventLog(alice.local_participant, "trackWarning", "trackWarningsCleared")
    room_log = EventLog(alice, "trackWarning", "trackWarningsCleared")
    quiet = [EventLog(r, "trackWarning", "trackWarningsCleared") for r in (bob, bob.local_participant)]
    await asyncio.sleep(MEDIA_LOST_S + 0.5)
    assert room_log.items == []  # media flows: no warning

    for publisher in (alice, bob):
        outgoing_loss(publisher).set_fraction(1.0)
    await until(lambda: len(room_log.items) == 2, timeout=MEDIA_LOST_S + 5)
    assert all(log.items == [("warning", (LOST,))] for log in pub_logs.values())
    assert sorted(args[1].track_sid for _, args in local_log.items) == sorted(pub_logs)
    assert all(event == "trackWarning" and args[0] == LOST for event, args in local_log.items)
    assert all(args[0] == LOST and args[2] is alice.local_participant for _, args in room_log.items)
    assert {args[1].track_sid for _, args in room_log.items} == set(pub_logs)

    for publisher in (alice, bob):
        outgoing_loss(publisher).set_fraction(0.0)
    await until(lambda: len(room_log.items) == 4, timeout=10)
    assert all(log.items == [("warning", (LOST,)), ("warningsCleared", ())] for log in pub_logs.values())
    cleared = [args for event, args in room_log.items[2:] if event == "trackWarningsCleared"]
    assert {pub.track_sid for pub, _ in cleared} == set(pub_logs)
    assert all(participant is alice.local_participant for _, participant in cleared)
    assert [e for e, _ in local_log.items[2:]] == ["trackWarningsCleared"] * 2
    assert all(log.items == [] for log in quiet)


async def test_a_disabled_track_is_not_lost_media(server: RunningServer, join: JoinFn) -> None:
    """A disabled track sends nothing (Confab's senders pause): that is no recording-media-lost."""
    room = recorded_room(server)
    mic = microphone("alice")
    alice = await join("alice", tracks=[mic], notify_warnings=[LOST])
    await until(lambda: room.track_count == 1)
    log = EventLog(alice, "trackWarning", "trackWarningsCleared")
    mic.disable()
    await asyncio.sleep(MEDIA_LOST_S + 1.5)
    mic.enable()
    await asyncio.sleep(1.0)
    assert log.items == []


async def test_the_wire_as_twilio_video_js_speaks_it(server: RunningServer) -> None:
    """A twilio-video.js client asks in ``connect`` only (its updates carry no media_warnings) and
    reads ``warning {states: {revision, tracks: {<sid>: {recordings}}}}``: a recorded track that never
    sent media is NO_MEDIA for it, even after an update."""
    from core import protocol as p
    from rspclient import RspClient, track

    room = recorded_room(server)
    client = await RspClient.open(server.url)
    try:
        body = client.connect_body(server.token("browser"), "rec", tracks=[track("mic", "audio")])
        assert body.participant is not None
        body.participant.media_warnings = ["recordings"]
        await client.hello(body)
        connected = await client.expect(p.Connected)
        client.session = connected.session
        client.start_heartbeats()
        assert connected.recording == p.Recording(revision=1, is_recording=False)  # nothing recorded yet
        started = await client.expect(lambda m: isinstance(m, p.ServerUpdate) and m.recording is not None)
        assert started.recording == p.Recording(revision=2, is_recording=True)  # its own track now is
        sid = connected.published.tracks[0].sid
        await client.publish([track("mic", "audio")])  # an update without media_warnings
        warning = await client.expect(p.Warning, timeout=MEDIA_LOST_S + 3)
        assert warning.states == {"revision": 1, "tracks": {sid: {"recordings": "NO_MEDIA"}}}
        assert room.participants[connected.participant.sid].media_warnings == ("recordings",)
    finally:
        await client.close()
