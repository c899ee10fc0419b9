"""Room: connect snapshot, disconnect order, participants joining/leaving, reconnects, errors."""

from __future__ import annotations

import asyncio

import pytest

from core import errors, protocol as p
from core.participant import RemoteParticipant
from core.signaling import RoomSignaling
from core.track import LocalAudioTrack, LocalVideoTrack
from harness import EventLog, RecorderTransport, RoomHarness, new_sid, remote_participant, settle


async def test_connect_prepopulates_without_events():
    bob = remote_participant("bob", [("audio", "mic"), ("video", "cam", False)])
    mic = LocalAudioTrack()
    with EventLog() as log:
        h = await RoomHarness.connect(tracks=[mic], participants=[bob], room_name="standup")
        await settle()
    room = h.room
    # only the local participant's own connecting → connected transition; no trackPublished
    assert [e for e in log.names() if e.startswith("Room.") or "Participant." in e] == ["LocalParticipant.connected"]
    assert (room.state, room.name, room.media_region, room.is_recording) == ("connected", "standup", "gll", False)
    assert room.sid.startswith("RM") and len(room.sid) == 34
    assert list(room.participants) == [bob.sid]
    remote = room.participants[bob.sid]
    assert (remote.identity, remote.state) == ("bob", "connected")
    assert {pub.track_name for pub in remote.tracks.values()} == {"mic", "cam"}
    assert all(not pub.is_subscribed and pub.track is None for pub in remote.tracks.values())
    assert [pub.is_track_enabled for pub in remote.video_tracks.values()] == [False]
    lp = room.local_participant
    assert (lp.identity, lp.state, lp.signaling_region) == ("alice", "connected", "de1")
    assert [pub.track for pub in lp.audio_tracks.values()] == [mic]
    assert room.dominant_speaker is None


async def test_connect_message_carries_snapshot_and_options():
    transport = RecorderTransport()
    from core.network_quality import NetworkQualityConfiguration
    from core.participant import LocalParticipant

    signaling = RoomSignaling(transport, token="tok", name="r", network_quality=NetworkQualityConfiguration())
    mic = LocalAudioTrack()
    LocalParticipant(signaling.local_participant, [mic])
    body = signaling.connect_message(automatic_subscription=False, dominant_speaker=True)
    wire = p.to_builtins(body)
    assert wire["type"] == "connect" and wire["token"] == "tok" and wire["name"] == "r"
    assert wire["participant"] == {"revision": 1, "tracks": [
        {"id": mic.id, "kind": "audio", "name": mic.name}]}
    assert wire["subscribe"]["rules"] == [{"type": "exclude", "all": True}]
    assert set(wire["media_signaling"]) == {"active_speaker", "network_quality"}


async def test_wait_connected_raises_server_error_on_connect():
    signaling = RoomSignaling(RecorderTransport(), token="bad")
    waiter = asyncio.ensure_future(signaling.wait_connected())
    await asyncio.sleep(0)
    signaling.handle_message(p.Error(code=20101, message="Invalid Access Token"))
    with pytest.raises(errors.AccessTokenInvalidError):
        await waiter
    with pytest.raises(errors.AccessTokenInvalidError):
        await signaling.wait_connected()


async def test_local_disconnect_order_and_idempotence():
    bob = remote_participant("bob", [("audio", "mic"), ("video", "cam")])
    owned, app = LocalAudioTrack(), LocalVideoTrack()
    h = await RoomHarness.connect(tracks=[owned, app], owned_tracks=[owned], participants=[bob])
    h.subscribe_with_media(*[t.sid for t in bob.tracks])
    pending = h.local_participant.publish_track(LocalVideoTrack())
    room, lp, remote = h.room, h.local_participant, h.participant("bob")
    publications = remote.tracks
    log = EventLog()

    assert room.disconnect() is room

    assert log.names() == [
        "LocalParticipant.disconnected",
        "LocalAudioTrack.stopped", "LocalParticipant.trackStopped",  # SDK-owned track only
        "RemoteAudioTrack.unsubscribed", "RemoteAudioTrackPublication.unsubscribed",
        "RemoteParticipant.trackUnsubscribed", "Room.trackUnsubscribed",
        "RemoteParticipant.trackRemoved", "Room.trackRemoved",
        "RemoteVideoTrack.unsubscribed", "RemoteVideoTrackPublication.unsubscribed",
        "RemoteParticipant.trackUnsubscribed", "Room.trackUnsubscribed",
        "RemoteParticipant.trackRemoved", "Room.trackRemoved",
        "Room.disconnected",
    ]
    assert log.args(room, "disconnected") == [(room, None)]
    assert (room.state, lp.state) == ("disconnected", "disconnected")
    assert list(room.participants) == [bob.sid] and remote.state == "connected"
    assert remote.tracks == publications
    assert all(pub.track is None and not pub.is_subscribed for pub in publications.values())
    assert lp.tracks == {} and not app.is_stopped and owned.is_stopped
    with pytest.raises(Exception, match="disconnected") as info:
        await pending
    assert not isinstance(info.value, errors.TwilioError)
    assert isinstance(h.transport.sent[-1], p.Disconnect) and h.transport.closed

    log.clear()
    room.disconnect()
    h.remove_participant(bob.sid)  # ignored after disconnect
    h.signaling.media_started("x")
    await settle()
    assert log.names() == []
    assert len(h.transport.of_type(p.Disconnect)) == 1


async def test_remote_participant_joins_with_tracks(room_harness):
    h = room_harness
    log = EventLog()
    seen = []
    h.room.on("participantConnected", lambda participant: seen.append(dict(participant.tracks)))
    sid = h.add_participant("bob", [("audio", "mic")])
    remote = h.room.participants[sid]
    assert log.names() == ["Room.participantConnected"]  # no trackPublished for tracks present at join
    assert len(seen[0]) == 1 and isinstance(remote, RemoteParticipant) and remote.state == "connected"


async def test_remote_participant_leave_order():
    bob = remote_participant("bob", [("audio", "mic"), ("data", "chat")])
    h = await RoomHarness.connect(participants=[bob])
    h.subscribe_with_media(bob.tracks[0].sid)  # chat stays unsubscribed
    h.signaling.handle_msp({"type": "active_speaker", "participant": bob.sid})
    remote = h.participant("bob")
    assert h.room.dominant_speaker is remote
    log = EventLog()

    h.remove_participant(bob.sid)

    assert log.names() == [
        "RemoteParticipant.disconnected",
        "RemoteAudioTrack.unsubscribed", "RemoteAudioTrackPublication.unsubscribed",
        "RemoteParticipant.trackUnsubscribed", "Room.trackUnsubscribed",
        "RemoteParticipant.trackRemoved", "Room.trackRemoved",
        "Room.participantDisconnected",
        "Room.dominantSpeakerChanged",
    ]
    assert log.args(h.room, "dominantSpeakerChanged") == [(None,)]
    assert log.args(h.room, "participantDisconnected") == [(remote,)]
    assert remote.state == "disconnected" and h.room.participants == {}
    assert len(remote.tracks) == 2  # keeps its publications

    # re-emission stopped: the removed participant's object no longer feeds the room
    log.clear()
    remote.emit("trackStarted", None)
    remote._emit_forward("trackStarted", None)
    assert log.names() == ["RemoteParticipant.trackStarted", "RemoteParticipant.trackStarted"]


async def test_disconnected_participant_revived_only_by_higher_revision():
    h = await RoomHarness.connect()
    sid = h.add_participant("bob", revision=5)
    first = h.room.participants[sid]
    h.update_participant(sid, state="disconnected", revision=6)
    log = EventLog()
    stale = remote_participant("bob", sid=sid, revision=6)
    h.push(p.ServerUpdate(participants=[stale]))
    h.push(p.ServerUpdate(participants=[remote_participant("bob", sid=sid, revision=3)]))
    assert h.room.participants == {} and log.names() == []
    h.push(p.ServerUpdate(participants=[remote_participant("bob", sid=sid, revision=7)]))
    revived = h.room.participants[sid]
    assert revived is not first and revived.state == "connected" and first.state == "disconnected"
    assert log.names() == ["Room.participantConnected"]


async def test_unknown_disconnected_participant_is_ignored():
    h = await RoomHarness.connect()
    log = EventLog()
    ghost = remote_participant("ghost", state="disconnected", revision=2)
    h.push(p.ServerUpdate(participants=[ghost]))
    h.push(p.ServerUpdate(participants=[remote_participant("ghost", sid=ghost.sid, revision=2)]))
    assert log.names() == [] and h.room.participants == {}


async def test_remote_participant_reconnecting_and_reconnected():
    bob = remote_participant("bob")
    h = await RoomHarness.connect(participants=[bob])
    remote = h.participant("bob")
    log = EventLog()
    h.update_participant(bob.sid, state="reconnecting")
    assert remote.state == "reconnecting"
    assert log.names() == ["RemoteParticipant.reconnecting", "Room.participantReconnecting"]
    assert log.args(h.room, "participantReconnecting") == [(remote,)]
    log.clear()
    h.update_participant(bob.sid, state="connected")
    assert log.names() == ["RemoteParticipant.connected"]  # reconnected is async
    await settle()
    assert log.names() == ["RemoteParticipant.connected", "RemoteParticipant.reconnected",
                           "Room.participantReconnected"]
    assert log.args(remote, "reconnected") == [()]
    assert log.args(h.room, "participantReconnected") == [(remote,)]


async def test_signaling_reconnect_cycle():
    h = await RoomHarness.connect()
    room, lp = h.room, h.local_participant
    log = EventLog()
    h.signaling.transport_state("syncing", errors.SignalingConnectionDisconnectedError())
    assert (room.state, lp.state) == ("reconnecting", "reconnecting")
    assert log.names() == ["LocalParticipant.reconnecting"]  # room's is async
    await settle()
    assert log.names() == ["LocalParticipant.reconnecting", "Room.reconnecting"]
    (error,) = log.args(room, "reconnecting")[0]
    assert isinstance(error, errors.SignalingConnectionDisconnectedError) and error.code == 53001

    sync = h.signaling.sync_message()
    assert sync.session == h.signaling.session and sync.token == "a.b.c"
    log.clear()
    h.synced()
    assert (room.state, lp.state) == ("connected", "connected")
    await settle()
    assert log.names() == ["LocalParticipant.connected", "LocalParticipant.reconnected", "Room.reconnected"]


async def test_synced_disconnects_absent_participants():
    bob, carol = remote_participant("bob"), remote_participant("carol")
    h = await RoomHarness.connect(participants=[bob, carol])
    h.signaling.transport_state("syncing")
    log = EventLog()
    h.synced([carol])
    assert list(h.room.participants) == [carol.sid]
    assert "Room.participantDisconnected" in log.names()


async def test_media_reconnect_emits_only_on_room():
    h = await RoomHarness.connect()
    h.signaling.handle_msp({"type": "network_quality", "local": 5})
    log = EventLog()
    h.signaling.ice_state("connected")
    h.signaling.ice_state("failed")
    await settle()
    assert h.room.state == "reconnecting" and h.local_participant.state == "connected"
    assert log.names() == ["LocalParticipant.networkQualityLevelChanged", "Room.reconnecting"]
    assert h.local_participant.network_quality_level == 0
    (error,) = log.args(h.room, "reconnecting")[0]
    assert isinstance(error, errors.MediaConnectionError)
    log.clear()
    h.signaling.ice_state("checking")  # ICE restart: still reconnecting
    await settle()
    assert h.room.state == "reconnecting" and log.names() == []
    h.signaling.ice_state("connected")
    await settle()
    assert h.room.state == "connected" and log.names() == ["Room.reconnected"]


async def test_mesh_ice_uses_the_best_peer_connection():
    h = await RoomHarness.connect()
    h.signaling.ice_state("connected", "pc1")
    h.signaling.ice_state("failed", "pc2")
    assert h.room.state == "connected"
    h.signaling.ice_state("closed", "pc1")
    assert h.room.state == "reconnecting"


async def test_session_timeout_disconnects_with_reconnecting_error():
    h = await RoomHarness.connect(session_timeout=0)
    h.signaling.session_timeout = 0.01
    done = asyncio.get_running_loop().create_future()
    h.room.on("disconnected", lambda room, error: done.set_result(error))
    h.signaling.transport_state("syncing")
    error = await asyncio.wait_for(done, 1)
    assert isinstance(error, errors.SignalingConnectionDisconnectedError)
    assert h.room.state == "disconnected" and h.transport.closed
    assert not h.transport.of_type(p.Disconnect)


async def test_session_timer_cancelled_on_reconnect():
    h = await RoomHarness.connect()
    h.signaling.session_timeout = 0.02
    h.signaling.transport_state("syncing")
    h.synced()
    await asyncio.sleep(0.05)
    assert h.room.state == "connected"


async def test_reconnecting_then_disconnect_suppresses_late_async_events():
    h = await RoomHarness.connect()
    log = EventLog()
    h.signaling.transport_state("syncing")
    h.room.disconnect()
    await settle()
    assert "Room.reconnecting" not in log.names() and log.names()[-1] == "Room.disconnected"


async def test_dtls_failure_disconnects_immediately():
    h = await RoomHarness.connect()
    errors_seen = []
    h.room.on("disconnected", lambda room, error: errors_seen.append(error))
    h.signaling.ice_state("connected")
    h.signaling.peer_connection_state("failed")
    assert isinstance(errors_seen[0], errors.MediaDTLSTransportFailedError)


async def test_transport_gave_up():
    h = await RoomHarness.connect()
    got = []
    h.room.on("disconnected", lambda room, error: got.append(error))
    h.signaling.transport_state("disconnected")
    assert isinstance(got[0], errors.SignalingConnectionError)


@pytest.mark.parametrize("code", sorted(errors.ERRORS_BY_CODE))
async def test_server_error_maps_to_subclass(code):
    h = await RoomHarness.connect()
    got = []
    h.room.on("disconnected", lambda room, error: got.append((room, error)))
    h.server_error(code, "from server")
    ((room, error),) = got
    assert room is h.room and type(error) is errors.ERRORS_BY_CODE[code]
    assert error.code == code and error.message == "from server"
    assert h.room.state == "disconnected" and h.transport.closed


async def test_unknown_error_code_gives_plain_twilio_error():
    h = await RoomHarness.connect()
    got = []
    h.room.on("disconnected", lambda room, error: got.append(error))
    h.server_error(12345, "odd")
    assert type(got[0]) is errors.TwilioError and got[0].code == 12345


async def test_duplicate_identity_error_keeps_default_message():
    h = await RoomHarness.connect()
    got = []
    h.room.on("disconnected", lambda room, error: got.append(error))
    h.server_error(53205)
    assert isinstance(got[0], errors.ParticipantDuplicateIdentityError) and got[0].message


@pytest.mark.parametrize("completed", [True, False])
async def test_server_disconnected(completed):
    h = await RoomHarness.connect()
    got = []
    h.room.on("disconnected", lambda room, error: got.append(error))
    h.server_disconnected(completed=completed)
    if completed:
        assert isinstance(got[0], errors.RoomCompletedError) and got[0].code == 53118
    else:
        assert got == [None]


async def test_recording_once_per_change_and_stale_ignored():
    h = await RoomHarness.connect()
    log = EventLog()
    h.recording(True)
    h.recording(True)
    h.push(p.ServerUpdate(recording=p.Recording(revision=1, is_recording=False)))  # stale
    assert h.room.is_recording
    h.recording(False)
    assert log.names() == ["Room.recordingStarted", "Room.recordingStopped"]


async def test_dominant_speaker_changes():
    bob = remote_participant("bob")
    h = await RoomHarness.connect(participants=[bob])
    log = EventLog()
    for sid in (bob.sid, bob.sid, "PAunknown", h.local_participant.sid, None):
        h.signaling.handle_msp({"type": "active_speaker", "participant": sid})
    assert log.args(h.room, "dominantSpeakerChanged") == [(h.participant("bob"),), (None,), (None,), (None,)]
    assert h.room.dominant_speaker is None


async def test_room_state_machine_is_terminal():
    h = await RoomHarness.connect()
    h.room.disconnect()
    h.signaling.transport_state("syncing")
    h.signaling.ice_state("failed")
    h.synced()
    assert h.room.state == "disconnected"


async def test_room_to_json_exposes_no_private_fields():
    bob = remote_participant("bob", [("video", "cam")])
    h = await RoomHarness.connect(tracks=[LocalAudioTrack()], participants=[bob])
    h.subscribe_with_media(bob.tracks[0].sid)
    data = h.room.to_json()

    def walk(value):
        if isinstance(value, dict):
            for key, inner in value.items():
                assert not str(key).startswith("_"), key
                walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    walk(data)
    assert set(data) == {"sid", "name", "state", "local_participant", "participants", "dominant_speaker",
                         "is_recording", "media_region"}
    remote = data["participants"][bob.sid]
    assert remote["identity"] == "bob"
    pub = remote["tracks"][bob.tracks[0].sid]
    assert pub["is_subscribed"] and pub["track"]["sid"] == bob.tracks[0].sid
    import json

    json.dumps(data)


async def test_get_stats_stamps_sids_and_filters():
    from core.stats import LocalAudioTrackStats, RemoteVideoTrackStats, StatsReport

    mic = LocalAudioTrack()
    bob = remote_participant("bob", [("video", "cam")])

    async def provider():
        return [StatsReport("pc1",
                            local_audio_track_stats=[LocalAudioTrackStats(mic.id), LocalAudioTrackStats("gone")],
                            remote_video_track_stats=[RemoteVideoTrackStats(h.remote_track_ids[bob.tracks[0].sid])])]

    h = await RoomHarness.connect(tracks=[mic], participants=[bob], stats_provider=provider)
    h.subscribe_with_media(bob.tracks[0].sid)
    (report,) = await h.room.get_stats()
    assert [s.track_sid for s in report.local_audio_track_stats] == [h.published[mic.id].sid]
    assert [s.track_sid for s in report.remote_video_track_stats] == [bob.tracks[0].sid]
    h.room.disconnect()
    assert await h.room.get_stats() == []


def test_sid_helper():
    assert len(new_sid("PA")) == 34


async def test_transport_reports_after_messages_are_idempotent():
    """core.signaling_transport calls on_message(Synced) then on_state('connected'), and
    on_state('disconnected', error) after an Error body: no duplicate events."""
    h = await RoomHarness.connect()
    log = EventLog()
    h.signaling.transport_state("syncing", errors.SignalingConnectionDisconnectedError())
    h.synced()
    h.signaling.transport_state("connected")
    await settle()
    assert log.names().count("Room.reconnected") == 1
    assert log.names().count("LocalParticipant.reconnected") == 1
    log.clear()
    h.server_error(53205)
    h.signaling.transport_state("disconnected", errors.ParticipantDuplicateIdentityError())
    assert log.names().count("Room.disconnected") == 1


async def test_signaling_loss_during_media_reconnect_takes_precedence_for_expiry():
    h = await RoomHarness.connect()
    h.signaling.session_timeout = 0.01
    done = asyncio.get_running_loop().create_future()
    h.room.on("disconnected", lambda room, error: done.set_result(error))
    h.signaling.ice_state("failed")
    h.signaling.transport_state("syncing")
    assert isinstance(await asyncio.wait_for(done, 1), errors.SignalingConnectionDisconnectedError)
