"""LocalParticipant: publish/unpublish, snapshot revisions, enable/disable, priority, parameters."""

from __future__ import annotations

import asyncio

import pytest

from core import errors, protocol as p
from core.network_quality import NetworkQualityConfiguration, NetworkQualityVerbosity
from core.publication import LocalAudioTrackPublication, LocalDataTrackPublication, LocalVideoTrackPublication
from core.signaling import EncodingParameters
from core.track import LocalAudioTrack, LocalDataTrack, LocalVideoTrack
from harness import EventLog, RoomHarness, settle


class FakeMediaStreamTrack:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.id = f"{kind}-raw"


async def test_connect_time_tracks_are_published_without_events():
    mic, cam, chat = LocalAudioTrack(), LocalVideoTrack(), LocalDataTrack()
    log = EventLog()
    h = await RoomHarness.connect(tracks=[mic, cam, chat])
    await settle()
    lp = h.local_participant
    assert "LocalParticipant.trackPublished" not in log.names()
    assert {type(pub) for pub in lp.tracks.values()} == {
        LocalAudioTrackPublication, LocalVideoTrackPublication, LocalDataTrackPublication}
    pub = lp.data_tracks[h.published[chat.id].sid]
    assert (pub.track, pub.kind, pub.is_track_enabled, pub.priority) == (chat, "data", True, "standard")
    assert pub.track_sid.startswith("MT") and pub.track_name == chat.name


async def test_publish_after_connect_resolves_and_emits_async():
    h = await RoomHarness.connect()
    lp = h.local_participant
    cam = LocalVideoTrack(name="camera")
    log = EventLog()
    future = lp.publish_track(cam, priority="high")
    snapshot = h.transport.last_snapshot
    assert isinstance(h.transport.sent[-1], p.Update) and h.transport.sent[-1].session == h.signaling.session
    assert [(t.id, t.kind, t.name, t.priority) for t in snapshot.tracks] == [(cam.id, "video", "camera", "high")]
    assert not future.done() and lp.tracks == {}
    sid = h.ack_publish(cam)
    assert future.done() and log.names() == []  # the event is async
    pub = await future
    await settle()
    assert log.names() == ["LocalParticipant.trackPublished", "LocalParticipant.trackAdded"]
    assert log.args(lp, "trackPublished") == [(pub,)]
    assert pub.track_sid == sid and lp.video_tracks == {sid: pub} and pub.priority == "high"
    again = lp.publish_track(cam)
    assert again.result() is pub  # already published


async def test_publish_twice_while_pending_shares_the_future():
    h = await RoomHarness.connect()
    track = LocalAudioTrack()
    first = h.local_participant.publish_track(track)
    assert h.local_participant.publish_track(track) is first
    assert len(h.transport.last_snapshot.tracks) == 1


async def test_publish_wraps_a_raw_media_stream_track():
    h = await RoomHarness.connect()
    raw = FakeMediaStreamTrack("video")
    future = h.local_participant.publish_track(raw, name="screen")
    h.ack_publish(next(iter(h.local_participant._local_tracks.values())))
    pub = await future
    assert isinstance(pub.track, LocalVideoTrack) and pub.track.media_stream_track is raw
    assert pub.track_name == "screen" and pub.track.id == "video-raw"
    assert h.local_participant.unpublish_track(raw) is pub


async def test_publish_failure_rejects_and_emits_async():
    h = await RoomHarness.connect()
    lp = h.local_participant
    track = LocalAudioTrack()
    future = lp.publish_track(track)
    revision = h.transport.last_snapshot.revision
    log = EventLog()
    h.fail_publish(track, 53304, "duplicate name")
    with pytest.raises(errors.TrackNameIsDuplicatedError) as info:
        await future
    assert info.value.message == "duplicate name"
    await settle()
    assert log.names() == ["LocalParticipant.trackPublicationFailed"]
    ((error, failed_track),) = log.args(lp, "trackPublicationFailed")
    assert error is info.value and failed_track is track
    # the failed track is dropped from the snapshot
    assert h.transport.last_snapshot.revision == revision + 1 and h.transport.last_snapshot.tracks == []
    assert lp.tracks == {}


async def test_unpublish_before_ack_rejects_with_plain_exception():
    h = await RoomHarness.connect()
    track = LocalVideoTrack()
    future = h.local_participant.publish_track(track)
    assert h.local_participant.unpublish_track(track) is None
    with pytest.raises(Exception, match="unpublished") as info:
        await future
    assert not isinstance(info.value, errors.TwilioError)
    h.ack_publish(track)  # late ack ignored
    assert h.local_participant.tracks == {}


async def test_unpublish_is_sync_returns_publication_and_never_stops():
    mic = LocalAudioTrack()
    h = await RoomHarness.connect(tracks=[mic])
    lp = h.local_participant
    revision = h.transport.last_snapshot.revision
    log = EventLog()
    pub = lp.unpublish_track(mic)
    assert isinstance(pub, LocalAudioTrackPublication) and lp.tracks == {}
    assert not mic.is_stopped
    assert h.transport.last_snapshot.revision == revision + 1 and h.transport.last_snapshot.tracks == []
    assert log.names() == ["LocalParticipant.trackRemoved"]
    assert lp.unpublish_track(mic) is None
    assert lp.unpublish_track(LocalAudioTrack()) is None
    with pytest.raises(TypeError):
        lp.unpublish_track("mic")
    mic.disable()  # no longer published: nothing sent
    assert h.transport.last_snapshot.revision == revision + 1


async def test_publication_unpublish():
    chat = LocalDataTrack()
    h = await RoomHarness.connect(tracks=[chat])
    (pub,) = h.local_participant.tracks.values()
    assert pub.unpublish() is pub and h.local_participant.tracks == {}


async def test_publish_and_unpublish_many():
    h = await RoomHarness.connect()
    a, b = LocalAudioTrack(), LocalVideoTrack()
    future = h.local_participant.publish_tracks([a, b])
    h.ack_publish(a)
    h.ack_publish(b)
    pubs = await future
    assert [pub.track for pub in pubs] == [a, b]
    assert h.local_participant.unpublish_tracks([a, b, LocalAudioTrack()]) == pubs
    with pytest.raises(TypeError):
        h.local_participant.publish_tracks(a)
    with pytest.raises(TypeError):
        h.local_participant.unpublish_tracks(a)


async def test_publish_validation():
    h = await RoomHarness.connect()
    with pytest.raises(TypeError):
        h.local_participant.publish_track("camera")
    with pytest.raises(TypeError):
        h.local_participant.publish_track(object())
    with pytest.raises(ValueError):
        h.local_participant.publish_track(LocalAudioTrack(), priority="urgent")
    assert h.transport.updates == []


async def test_publish_after_disconnect_fails():
    h = await RoomHarness.connect()
    h.room.disconnect()
    with pytest.raises(Exception, match="disconnected"):
        await h.local_participant.publish_track(LocalAudioTrack())


async def test_enable_disable_order_and_revisions():
    mic = LocalAudioTrack()
    h = await RoomHarness.connect(tracks=[mic])
    (pub,) = h.local_participant.tracks.values()
    start = h.transport.last_snapshot.revision
    log = EventLog()
    mic.disable()
    mic.disable()
    mic.enable()
    assert log.names() == [
        "LocalAudioTrack.disabled", "LocalAudioTrackPublication.trackDisabled", "LocalParticipant.trackDisabled",
        "LocalAudioTrack.enabled", "LocalAudioTrackPublication.trackEnabled", "LocalParticipant.trackEnabled",
    ]
    assert log.args(pub, "trackDisabled") == [()] and log.args(h.local_participant, "trackDisabled") == [(mic,)]
    snapshots = [u.participant for u in h.transport.updates if u.participant is not None][-2:]
    assert [(s.revision, s.tracks[0].enabled) for s in snapshots] == [(start + 1, False), (start + 2, True)]
    assert pub.is_track_enabled


async def test_local_track_started_stopped_dimensions_reach_participant():
    cam = LocalVideoTrack()
    h = await RoomHarness.connect(tracks=[cam])
    log = EventLog()
    cam._media_started()
    cam._media_dimensions(320, 240)
    cam.stop()
    assert log.names() == [
        "LocalVideoTrack.started", "LocalParticipant.trackStarted",
        "LocalVideoTrack.dimensionsChanged", "LocalParticipant.trackDimensionsChanged",
        "LocalVideoTrack.stopped", "LocalParticipant.trackStopped",
    ]
    assert len(h.local_participant.tracks) == 1  # stopping does not unpublish


async def test_set_priority_on_local_publication():
    mic = LocalAudioTrack()
    h = await RoomHarness.connect(tracks=[mic])
    (pub,) = h.local_participant.tracks.values()
    count = len(h.transport.updates)
    assert pub.set_priority("low") is pub and pub.priority == "low"
    pub.set_priority("low")
    assert len(h.transport.updates) == count + 1
    assert h.transport.last_snapshot.tracks[0].priority == "low"
    with pytest.raises(ValueError):
        pub.set_priority("max")
    with pytest.raises(TypeError):
        pub.set_priority(None)


async def test_updates_are_held_while_syncing_and_carried_by_sync():
    h = await RoomHarness.connect()
    h.signaling.transport_state("syncing")
    count = len(h.transport.sent)
    track = LocalAudioTrack()
    h.local_participant.publish_track(track)
    h.signaling.send_peer_connections([p.PeerConnectionMessage(id="pc1")])
    assert len(h.transport.sent) == count
    sync = h.signaling.sync_message()
    assert [t.id for t in sync.participant.tracks] == [track.id]
    h.synced()
    (update,) = h.transport.sent[count:]
    assert update.participant is None and [pc.id for pc in update.peer_connections] == ["pc1"]


async def test_publish_before_connected_goes_in_a_later_update():
    from core.participant import LocalParticipant
    from core.signaling import RoomSignaling
    from harness import RecorderTransport

    transport = RecorderTransport()
    signaling = RoomSignaling(transport, token="t")
    lp = LocalParticipant(signaling.local_participant)
    transport.send(signaling.connect_message())
    track = LocalAudioTrack()
    future = lp.publish_track(track)
    signaling.handle_message(p.Connected(session="s", sid="RM1", name="r",
                                         participant=p.ParticipantIdentity(sid="PA1", identity="me")))
    update = transport.updates[-1]
    assert update.participant.revision == 2 and update.participant.tracks[0].id == track.id
    signaling.handle_message(p.ServerUpdate(published=p.Published(revision=1, tracks=[
        p.PublishedTrack(id=track.id, sid="MT1", state="ready")])))
    assert (await future).track_sid == "MT1"


async def test_stale_published_revision_is_ignored():
    h = await RoomHarness.connect()
    track = LocalAudioTrack()
    future = h.local_participant.publish_track(track)
    h.push(p.ServerUpdate(published=p.Published(revision=1, tracks=[
        p.PublishedTrack(id=track.id, sid="MTstale", state="ready")])))
    assert not future.done()
    h.ack_publish(track, sid="MTfresh")
    assert (await future).track_sid == "MTfresh"


async def test_set_parameters():
    h = await RoomHarness.connect()
    lp, signaling = h.local_participant, h.signaling
    changes = []
    signaling.on("encodingParametersChanged", changes.append)
    assert lp.set_parameters() is lp and changes == []
    lp.set_parameters({"max_audio_bitrate": 32000})
    lp.set_parameters({"maxVideoBitrate": 1_000_000})
    assert signaling.encoding_parameters == EncodingParameters(32000, 1_000_000)
    lp.set_parameters({"max_audio_bitrate": None})
    assert signaling.encoding_parameters == EncodingParameters(None, 1_000_000)
    lp.set_parameters(None)
    assert signaling.encoding_parameters == EncodingParameters()
    assert len(changes) == 4
    for bad in ({"max_audio_bitrate": "fast"}, {"max_video_bitrate": True}, {"max_video_bitrate": float("nan")}, 5):
        with pytest.raises(TypeError):
            lp.set_parameters(bad)


async def test_set_network_quality_configuration():
    h = await RoomHarness.connect(network_quality=NetworkQualityConfiguration())
    lp, signaling = h.local_participant, h.signaling
    changes = []
    signaling.on("networkQualityConfigurationChanged", changes.append)
    lp.set_network_quality_configuration({"remote": 2})
    assert signaling.network_quality_configuration == NetworkQualityConfiguration(1, 2)
    lp.set_network_quality_configuration({"local": 3})
    assert signaling.network_quality_configuration.local == NetworkQualityVerbosity.DETAILED
    lp.set_network_quality_configuration({"local": 9})  # out of range: kept
    assert signaling.network_quality_configuration == NetworkQualityConfiguration(3, 2)
    assert len(changes) == 2
    with pytest.raises(TypeError):
        lp.set_network_quality_configuration(3)
    with pytest.raises(TypeError):
        lp.set_network_quality_configuration({"local": "high"})
    with pytest.raises(TypeError):
        lp.set_network_quality_configuration({"remote": float("nan")})


async def test_local_network_quality_level_only_on_change():
    h = await RoomHarness.connect()
    lp = h.local_participant
    log = EventLog()
    for level in (3, 3, 4):
        h.signaling.handle_msp({"type": "network_quality", "local": level})
    assert log.args(lp, "networkQualityLevelChanged") == [(3,), (4,)]
    assert lp.network_quality_level == 4 and lp.network_quality_stats is None
    h.signaling.handle_msp({"type": "network_quality", "local": {
        "audio": {"send": 2, "recv": 5}, "video": {"send": 4, "recv": 3}}})
    assert lp.network_quality_level == 2 and lp.network_quality_stats.audio.send == 2


def test_set_bandwidth_profile_only_warns(caplog):
    from core.participant import LocalParticipant

    LocalParticipant.set_bandwidth_profile(None)
    assert "not implemented" in caplog.text


async def test_local_participant_to_json():
    h = await RoomHarness.connect(tracks=[LocalAudioTrack()])
    data = h.local_participant.to_json()
    assert {"sid", "identity", "state", "tracks", "audio_tracks", "signaling_region"} <= set(data)
    assert not any(k.startswith("_") for k in data)
    (pub,) = data["tracks"].values()
    assert set(pub) == {"track_name", "track_sid", "track", "kind", "is_track_enabled", "priority"}
    await asyncio.sleep(0)
