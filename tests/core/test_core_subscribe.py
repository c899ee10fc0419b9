"""Remote tracks: publish → subscribed → started, unpublish order, revisions, toggles, data."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings, strategies as st

# st.randoms() imports this module lazily, at the test's first example; CPython 3.11.7 once
# failed compiling it there ("AST constructor recursion depth mismatch", fixed in 3.11.8).
import hypothesis.strategies._internal.random  # noqa: F401  # isort: skip

from core import errors, protocol as p
from core.publication import RemoteAudioTrackPublication, RemoteDataTrackPublication, RemoteVideoTrackPublication
from core.track import Dimensions, RemoteAudioTrack, RemoteDataTrack, RemoteVideoTrack
from harness import EventLog, FakeVideoMedia, RoomHarness, remote_participant


async def joined(*tracks):
    bob = remote_participant("bob", tracks)
    h = await RoomHarness.connect(participants=[bob])
    return h, h.participant("bob"), bob


async def test_publish_subscribe_start_order():
    h, bob, state = await joined()
    log = EventLog()
    sid = h.publish_remote(state.sid, "video", "cam")
    pub = bob.tracks[sid]
    assert isinstance(pub, RemoteVideoTrackPublication) and not pub.is_subscribed
    h.subscribe(sid)
    assert not pub.is_subscribed  # mapping alone is not enough
    media = h.media_arrives(sid)
    h.media_started(sid)
    h.media_dimensions(sid, 640, 360)
    h.media_dimensions(sid, 640, 360)
    track = pub.track
    assert log.names() == [
        "RemoteParticipant.trackPublished", "Room.trackPublished",
        "RemoteVideoTrackPublication.subscribed",
        "RemoteParticipant.trackSubscribed", "Room.trackSubscribed",
        "RemoteParticipant.trackAdded", "Room.trackAdded",
        "RemoteVideoTrack.started", "RemoteParticipant.trackStarted", "Room.trackStarted",
        "RemoteVideoTrack.dimensionsChanged", "RemoteParticipant.trackDimensionsChanged",
        "Room.trackDimensionsChanged",
    ]
    assert log.args(h.room, "trackPublished") == [(pub, bob)]
    assert log.args(pub, "subscribed") == [(track,)]
    assert log.args(bob, "trackSubscribed") == [(track,)]
    assert log.args(h.room, "trackSubscribed") == [(track, bob)]
    assert log.args(h.room, "trackStarted") == [(track, bob)]
    assert log.args(h.room, "trackDimensionsChanged") == [(track, bob)]
    assert isinstance(track, RemoteVideoTrack) and track.sid == sid and track.name == "cam"
    assert track.media_stream_track is media and track.is_started and track.dimensions == Dimensions(640, 360)


async def test_media_before_mapping_and_early_media_facts_are_replayed_in_order():
    h, _bob, state = await joined(("video", "cam"))
    sid = state.tracks[0].sid
    log = EventLog()
    h.media_arrives(sid)
    h.media_started(sid)
    h.media_dimensions(sid, 320, 180)
    assert log.names() == []
    h.subscribe(sid)
    assert log.names() == [
        "RemoteVideoTrackPublication.subscribed",
        "RemoteParticipant.trackSubscribed", "Room.trackSubscribed",
        "RemoteParticipant.trackAdded", "Room.trackAdded",
        "RemoteVideoTrack.started", "RemoteParticipant.trackStarted", "Room.trackStarted",
        "RemoteVideoTrack.dimensionsChanged", "RemoteParticipant.trackDimensionsChanged",
        "Room.trackDimensionsChanged",
    ]


async def test_remote_unpublish_unsubscribes_first():
    h, bob, state = await joined(("audio", "mic"))
    sid = state.tracks[0].sid
    h.subscribe_with_media(sid)
    pub = bob.tracks[sid]
    track = pub.track
    log = EventLog()
    h.unpublish_remote(state.sid, sid)
    assert log.names() == [
        "RemoteAudioTrack.unsubscribed", "RemoteAudioTrackPublication.unsubscribed",
        "RemoteParticipant.trackUnsubscribed", "Room.trackUnsubscribed",
        "RemoteParticipant.trackRemoved", "Room.trackRemoved",
        "RemoteParticipant.trackUnpublished", "Room.trackUnpublished",
    ]
    assert log.args(h.room, "trackUnsubscribed") == [(track, bob)]
    assert log.args(h.room, "trackUnpublished") == [(pub, bob)]
    assert log.args(track, "unsubscribed") == [(track,)]
    assert pub.track is None and not pub.is_subscribed and bob.tracks == {}
    log.clear()
    h.unsubscribe(sid)  # dropped from subscribed afterwards: nothing more
    assert log.names() == []


async def test_unpublish_when_never_subscribed():
    h, _bob, state = await joined(("data", "chat"))
    log = EventLog()
    h.unpublish_remote(state.sid, state.tracks[0].sid)
    assert log.names() == ["RemoteParticipant.trackUnpublished", "Room.trackUnpublished"]


async def test_tracks_dropped_from_subscribed_are_unsubscribed_and_resubscribe_gives_new_track():
    h, bob, state = await joined(("audio", "mic"))
    sid = state.tracks[0].sid
    h.subscribe_with_media(sid)
    first = bob.tracks[sid].track
    log = EventLog()
    h.unsubscribe(sid)
    assert log.names()[:2] == ["RemoteAudioTrack.unsubscribed", "RemoteAudioTrackPublication.unsubscribed"]
    assert bob.tracks[sid].track is None
    h.subscribe(sid)
    second = bob.tracks[sid].track
    assert isinstance(second, RemoteAudioTrack) and second is not first


async def test_media_removed_unsubscribes():
    h, bob, state = await joined(("video", "cam"))
    sid = state.tracks[0].sid
    h.subscribe_with_media(sid)
    log = EventLog()
    h.media_gone(sid)
    assert "RemoteParticipant.trackUnsubscribed" in log.names() and not bob.tracks[sid].is_subscribed
    h.media_arrives(sid)
    assert bob.tracks[sid].is_subscribed


async def test_replacing_media_for_the_same_id_resubscribes():
    h, bob, state = await joined(("video", "cam"))
    sid = state.tracks[0].sid
    h.subscribe_with_media(sid)
    first = bob.tracks[sid].track
    replacement = FakeVideoMedia()
    h.media_arrives(sid, replacement)
    assert bob.tracks[sid].track is not first and bob.tracks[sid].track.media_stream_track is replacement


async def test_stale_subscribed_revision_is_ignored():
    h, bob, state = await joined(("audio", "mic"))
    sid = state.tracks[0].sid
    h.media_arrives(sid)
    h.push(p.ServerUpdate(subscribed=p.Subscribed(revision=1, tracks=[
        p.SubscribedTrack(sid=sid, id=h.remote_track_ids[sid])])))
    assert not bob.tracks[sid].is_subscribed
    h.subscribe(sid)
    assert bob.tracks[sid].is_subscribed


async def test_stale_participant_revision_is_ignored():
    h, bob, state = await joined(("audio", "mic"))
    log = EventLog()
    stale = h.update_participant(state.sid, tracks=[], revision=1, push=False)
    h.push(p.ServerUpdate(participants=[stale]))
    assert len(bob.tracks) == 1 and log.names() == []


async def test_same_snapshot_twice_is_idempotent():
    h, _bob, state = await joined()
    update = h.update_participant(state.sid, tracks=[p.RemoteTrackState(sid="MTx", name="x", kind="audio")], push=False)
    log = EventLog()
    h.push(p.ServerUpdate(participants=[update]))
    h.push(p.ServerUpdate(participants=[update]))
    assert log.names() == ["RemoteParticipant.trackPublished", "Room.trackPublished"]


async def test_subscription_failure():
    h, bob, state = await joined(("video", "cam"))
    sid = state.tracks[0].sid
    pub = bob.tracks[sid]
    log = EventLog()
    h.fail_subscription(sid, 53125, "no video here")
    h.fail_subscription(sid, 53125, "no video here")  # same error again: no event
    assert log.names() == [
        "RemoteVideoTrackPublication.subscriptionFailed",
        "RemoteParticipant.trackSubscriptionFailed", "Room.trackSubscriptionFailed",
    ]
    ((error, failed_pub, participant),) = log.args(h.room, "trackSubscriptionFailed")
    assert isinstance(error, errors.RoomTrackKindNotSupportedError) and failed_pub is pub and participant is bob
    h.media_arrives(sid)
    assert not pub.is_subscribed


async def test_enable_disable_only_on_change_and_joining_disabled_emits_nothing():
    h, bob, state = await joined(("audio", "mic", False))
    sid = state.tracks[0].sid
    pub = bob.tracks[sid]
    log = EventLog()
    h.subscribe_with_media(sid)
    assert not pub.is_track_enabled and not pub.track.is_enabled
    assert not any("abled" in name for name in log.names())
    log.clear()
    h.set_remote_enabled(state.sid, sid, False)  # no change (name-only revision bump)
    h.set_remote_enabled(state.sid, sid, True)
    track = pub.track
    assert log.names() == [
        "RemoteAudioTrack.enabled", "RemoteAudioTrackPublication.trackEnabled",
        "RemoteParticipant.trackEnabled", "Room.trackEnabled",
    ]
    assert log.args(pub, "trackEnabled") == [()]
    assert log.args(bob, "trackEnabled") == [(track,)]
    assert log.args(h.room, "trackEnabled") == [(track, bob)]
    log.clear()
    h.set_remote_enabled(state.sid, sid, False)
    assert log.names() == [
        "RemoteAudioTrack.disabled", "RemoteAudioTrackPublication.trackDisabled",
        "RemoteParticipant.trackDisabled", "Room.trackDisabled",
    ]


async def test_toggle_while_unsubscribed_only_reaches_the_publication():
    h, bob, state = await joined(("video", "cam"))
    sid = state.tracks[0].sid
    log = EventLog()
    h.set_remote_enabled(state.sid, sid, False)
    assert log.names() == ["RemoteVideoTrackPublication.trackDisabled"]
    h.subscribe_with_media(sid)
    assert not bob.tracks[sid].track.is_enabled


async def test_publish_priority_changes():
    h, bob, state = await joined(("video", "cam"))
    sid = state.tracks[0].sid
    pub = bob.tracks[sid]
    assert pub.publish_priority == "standard"
    log = EventLog()
    h.set_remote_priority(state.sid, sid, "high")
    assert pub.publish_priority == "high"
    assert log.args(pub, "publishPriorityChanged") == [("high",)]
    assert log.args(h.room, "trackPublishPriorityChanged") == [("high", pub, bob)]


async def test_subscriber_priority_goes_out_as_msp():
    h, bob, state = await joined(("video", "cam"))
    sid = state.tracks[0].sid
    out = []
    h.signaling.on("mspOutgoing", out.append)
    h.subscribe_with_media(sid)
    track = bob.tracks[sid].track
    track.set_priority("low")
    track.set_priority("low")
    track.set_priority(None)
    assert out == [{"type": "track_priority", "track": sid, "subscribe": "low"},
                   {"type": "track_priority", "track": sid, "subscribe": None}]


async def test_data_messages_reach_track_participant_room():
    h, bob, state = await joined(("data", "chat"))
    sid = state.tracks[0].sid
    h.media_arrives(sid)
    h.data(sid, "early")  # channel open before the mapping: kept
    log = EventLog()
    h.subscribe(sid)
    h.data(sid, b"\x01\x02")
    track = bob.tracks[sid].track
    assert isinstance(track, RemoteDataTrack) and isinstance(bob.tracks[sid], RemoteDataTrackPublication)
    assert log.args(track, "message") == [("early", track), (b"\x01\x02", track)]
    assert log.args(bob, "trackMessage") == [("early", track), (b"\x01\x02", track)]
    assert log.args(h.room, "trackMessage") == [("early", track, bob), (b"\x01\x02", track, bob)]
    h.signaling.data_message("unknown-label", "x")  # ignored


async def test_switch_off_on_and_cached_for_unknown_tracks():
    h, bob, state = await joined(("video", "cam"))
    sid = state.tracks[0].sid
    later = "MT" + "f" * 32
    h.signaling.handle_msp({"type": "track_switch_off", "off": [later], "on": []})
    h.subscribe_with_media(sid)
    pub, track = bob.tracks[sid], bob.tracks[sid].track
    log = EventLog()
    h.signaling.handle_msp({"type": "track_switch_off", "off": [sid], "on": []})
    h.signaling.handle_msp({"type": "track_switch_off", "off": [sid], "on": []})
    h.signaling.handle_msp({"type": "track_switch_off", "off": [], "on": [sid]})
    assert log.names() == [
        "RemoteVideoTrack.switchedOff", "RemoteVideoTrackPublication.trackSwitchedOff",
        "RemoteParticipant.trackSwitchedOff", "Room.trackSwitchedOff",
        "RemoteVideoTrack.switchedOn", "RemoteVideoTrackPublication.trackSwitchedOn",
        "RemoteParticipant.trackSwitchedOn", "Room.trackSwitchedOn",
    ]
    assert log.args(h.room, "trackSwitchedOff") == [(track, pub, bob)]
    h.update_participant(state.sid, tracks=[*h.remote_states[state.sid].tracks,
                                             p.RemoteTrackState(sid=later, name="screen", kind="video")])
    h.remote_track_ids[later] = "screen-id"
    h.subscribe_with_media(later)
    assert bob.tracks[later].track.is_switched_off


async def test_remote_audio_level():
    h, bob, state = await joined(("audio", "mic"))
    sid = state.tracks[0].sid
    h.media_arrives(sid)
    h.signaling.media_audio_level(h.remote_track_ids[sid], 0.1)  # before subscription: replayed
    h.subscribe(sid)
    track = bob.tracks[sid].track
    assert track.level == 0.1
    h.signaling.media_audio_level(h.remote_track_ids[sid], 0.5)
    assert track.level == 0.5


async def test_remote_network_quality_only_on_change():
    h, bob, state = await joined()
    log = EventLog()
    for level in (2, 2, 5):
        h.signaling.handle_msp({"type": "network_quality", "local": 5, "remotes": [{"sid": state.sid, "level": level}]})
    h.signaling.handle_msp({"type": "network_quality", "remotes": [{"sid": "PAnobody", "level": 1}]})
    assert log.args(bob, "networkQualityLevelChanged") == [(2,), (5,)]
    assert bob.network_quality_level == 5


async def test_kind_mismatch_does_not_subscribe():
    h, bob, state = await joined(("audio", "mic"))
    sid = state.tracks[0].sid
    h.subscribe(sid)
    h.signaling.media_track_added(h.remote_track_ids[sid], "video", FakeVideoMedia())
    assert not bob.tracks[sid].is_subscribed


@pytest.mark.parametrize("kind,cls", [("audio", RemoteAudioTrackPublication), ("video", RemoteVideoTrackPublication),
                                      ("data", RemoteDataTrackPublication)])
async def test_publication_classes_and_maps(kind, cls):
    _h, bob, state = await joined((kind, "t"))
    sid = state.tracks[0].sid
    assert isinstance(bob.tracks[sid], cls)
    assert getattr(bob, f"{kind}_tracks") == {sid: bob.tracks[sid]}
    assert sum(len(getattr(bob, f"{k}_tracks")) for k in ("audio", "video", "data")) == 1
    data = bob.tracks[sid].to_json()
    assert set(data) == {"track_name", "track_sid", "track", "kind", "is_subscribed", "is_track_enabled",
                         "publish_priority"}


snapshots = st.lists(
    st.tuples(st.sampled_from(["connected", "reconnecting", "disconnected"]),
              st.sets(st.sampled_from(["MTa", "MTb", "MTc"]))),
    min_size=1, max_size=6,
)


@settings(max_examples=60, deadline=None)
@given(snapshots, st.randoms(use_true_random=False))
def test_revisioned_snapshots_converge_to_the_highest_revision(states, rnd):
    """Any delivery order (with duplicates) ends in the state of the highest revision."""

    async def run():
        h = await RoomHarness.connect()
        sid = "PA" + "1" * 32
        bodies = [
            remote_participant("bob", [p.RemoteTrackState(sid=t, name=t, kind="audio") for t in sorted(tracks)],
                               sid=sid, revision=revision, state=state)
            for revision, (state, tracks) in enumerate(states, start=1)
        ]
        order = bodies + rnd.sample(bodies, k=min(2, len(bodies)))
        rnd.shuffle(order)
        for body in order:
            h.push(p.ServerUpdate(participants=[body]))
        final = bodies[-1]
        present = h.room.participants.get(sid)
        if final.state == "disconnected":
            assert present is None
        else:
            assert present is not None and present.state == final.state
            assert set(present.tracks) == {t.sid for t in final.tracks}

    asyncio.run(run())
