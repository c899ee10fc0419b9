"""The seed list of classes and events: every name exists, every event is really emitted."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

from core import errors, protocol as p
from harness import EventLog, RoomHarness, remote_participant, settle

SEED = Path(__file__).resolve().parents[1] / "data" / "twilio-video-classes-and-events.txt"

#: Where each public class lives (the lead re-exports all of them from ``core``).
MODULES = [
    "core.errors", "core.events", "core.track", "core.publication", "core.participant",
    "core.room", "core.stats", "core.network_quality", "core.signaling",
]

#: Events per class, in the seed's order (classes with events, alphabetically, as the seed lists them).
SEED_EVENTS: list[tuple[str, list[str]]] = [
    ("AudioTrack", ["disabled", "enabled", "started"]),
    ("LocalAudioTrack", ["disabled", "enabled", "started", "stopped"]),
    ("LocalParticipant", ["disconnected", "networkQualityLevelChanged", "trackAdded", "trackDimensionsChanged",
                          "trackDisabled", "trackEnabled", "trackPublicationFailed", "trackPublished",
                          "trackRemoved", "trackStarted", "trackStopped"]),
    ("LocalVideoTrack", ["dimensionsChanged", "disabled", "enabled", "started", "stopped"]),
    ("Participant", ["disconnected", "networkQualityLevelChanged", "trackAdded", "trackDimensionsChanged",
                     "trackDisabled", "trackEnabled", "trackRemoved", "trackStarted"]),
    ("RemoteAudioTrack", ["disabled", "enabled", "started", "unsubscribed"]),
    ("RemoteAudioTrackPublication", ["subscribed", "trackDisabled", "trackEnabled", "unsubscribed"]),
    ("RemoteDataTrack", ["message", "unsubscribed"]),
    ("RemoteDataTrackPublication", ["subscribed", "unsubscribed"]),
    ("RemoteParticipant", ["disconnected", "networkQualityLevelChanged", "trackAdded", "trackDimensionsChanged",
                           "trackDisabled", "trackEnabled", "trackMessage", "trackPublished", "trackRemoved",
                           "trackStarted", "trackSubscribed", "trackSubscriptionFailed", "trackUnpublished",
                           "trackUnsubscribed"]),
    ("RemoteTrackPublication", ["subscribed", "trackDisabled", "trackEnabled", "unsubscribed"]),
    ("RemoteVideoTrack", ["dimensionsChanged", "disabled", "enabled", "started", "unsubscribed"]),
    ("RemoteVideoTrackPublication", ["subscribed", "trackDisabled", "trackEnabled", "unsubscribed"]),
    ("Room", ["disconnected", "dominantSpeakerChanged", "participantConnected", "participantDisconnected",
              "reconnected", "reconnecting", "recordingStarted", "recordingStopped", "trackAdded",
              "trackDimensionsChanged", "trackDisabled", "trackEnabled", "trackMessage", "trackPublished",
              "trackRemoved", "trackStarted", "trackSubscribed", "trackSubscriptionFailed", "trackUnpublished",
              "trackUnsubscribed"]),
    ("TrackPublication", ["trackDisabled", "trackEnabled"]),
    ("VideoTrack", ["dimensionsChanged", "disabled", "enabled", "started"]),
]

#: Not in the seed but required (api-reference §2): every public value class.
EXTRA_CLASSES = [
    "Dimensions", "NetworkQualityLevel", "NetworkQualityVerbosity", "NetworkQualityConfiguration",
    "NetworkQualityStats", "NetworkQualityAudioStats", "NetworkQualityVideoStats", "NetworkQualityMediaStats",
    "NetworkQualitySendStats", "NetworkQualityRecvStats", "NetworkQualitySendOrRecvStats",
    "NetworkQualityBandwidthStats", "NetworkQualityLatencyStats", "NetworkQualityFractionLostStats",
]


def seed_text() -> str:
    if not SEED.exists():
        pytest.skip(f"seed file missing: {SEED}")
    return SEED.read_text()


def seed_classes() -> list[str]:
    text = seed_text()
    body = text.split("Events", 1)[0]
    return [line.strip() for line in body.splitlines() if line.strip() and line.strip() != "Classes"]


def seed_event_names() -> list[str]:
    events = seed_text().split("\nEvents\n", 1)[1]
    return [line for line in events.splitlines() if re.fullmatch(r"[a-z][A-Za-z]*", line)]


def find_class(name: str) -> type:
    """Every class is importable from ``core`` itself (and listed in ``core.__all__``)."""
    import core

    assert name in core.__all__, f"{name} is not exported by core"
    return getattr(core, name)


def test_seed_copy_matches_shared_seed():
    """tests/data holds a copy of ../shared/seed (CI clones the repo with ../shared beside it)."""
    shared = Path(__file__).resolve().parents[2] / ".." / "shared" / "seed" / SEED.name
    if not shared.exists():
        pytest.skip(f"shared seed not found at {shared}")
    assert SEED.read_text() == shared.read_text()


def test_seed_classes_all_importable():
    names = seed_classes()
    assert len(names) == 82 and "Room" in names and "TwilioError" in names
    for name in names + EXTRA_CLASSES:
        assert isinstance(find_class(name), type), name


def test_seed_events_table_matches_seed_order():
    assert [e for _, events in SEED_EVENTS for e in events] == seed_event_names()


def test_class_hierarchy():
    from core.participant import LocalParticipant, Participant, RemoteParticipant
    from core.publication import (
        LocalDataTrackPublication,
        LocalTrackPublication,
        RemoteAudioTrackPublication,
        RemoteTrackPublication,
        TrackPublication,
    )
    from core.track import (
        AudioTrack,
        LocalAudioTrack,
        LocalVideoTrack,
        RemoteDataTrack,
        RemoteVideoTrack,
        Track,
        VideoTrack,
    )

    assert issubclass(LocalAudioTrack, AudioTrack) and issubclass(LocalVideoTrack, VideoTrack)
    assert issubclass(RemoteVideoTrack, VideoTrack) and issubclass(RemoteDataTrack, Track)
    assert issubclass(LocalDataTrackPublication, LocalTrackPublication)
    assert issubclass(RemoteAudioTrackPublication, RemoteTrackPublication)
    assert issubclass(LocalTrackPublication, TrackPublication)
    assert issubclass(LocalParticipant, Participant) and issubclass(RemoteParticipant, Participant)
    assert issubclass(errors.RoomCompletedError, errors.TwilioError)


async def test_every_seed_event_is_emitted_by_its_class():
    """A scripted tour of a meeting; each (class, event) of the seed must be seen at least once."""
    from core.track import LocalAudioTrack, LocalDataTrack, LocalVideoTrack

    warnings.simplefilter("ignore", DeprecationWarning)
    mic, cam = LocalAudioTrack(), LocalVideoTrack()
    bob = remote_participant("bob", [("audio", "mic"), ("video", "cam"), ("data", "chat")])
    log = EventLog()
    h = await RoomHarness.connect(tracks=[mic, cam], participants=[bob], owned_tracks=[mic, cam])
    lp, room = h.local_participant, h.room
    audio_sid, video_sid, data_sid = (t.sid for t in bob.tracks)

    # remote: subscribe, start, dimensions, toggle, message
    h.subscribe_with_media(audio_sid, video_sid, data_sid)
    h.media_started(audio_sid)
    h.media_started(video_sid)
    h.media_dimensions(video_sid, 640, 480)
    for sid in (audio_sid, video_sid):
        h.set_remote_enabled(bob.sid, sid, False)
        h.set_remote_enabled(bob.sid, sid, True)
    h.data(data_sid, "hello")
    # remote: publish after join, a failed subscription, unpublish
    screen_sid = h.publish_remote(bob.sid, "video", "screen")
    h.fail_subscription(screen_sid, 53300)
    h.unpublish_remote(bob.sid, audio_sid)
    # network quality, dominant speaker, recording
    h.signaling.handle_msp({"type": "network_quality", "local": 4, "remotes": [{"sid": bob.sid, "level": 3}]})
    h.signaling.handle_msp({"type": "active_speaker", "participant": bob.sid})
    h.recording(True)
    h.recording(False)
    # another participant comes and goes
    carol = h.add_participant("carol")
    h.remove_participant(carol)
    # local tracks
    mic.disable()
    mic.enable()
    mic._media_started()
    cam._media_started()
    cam._media_dimensions(1280, 720)
    cam.disable()
    cam.enable()
    chat = LocalDataTrack()
    future = lp.publish_track(chat)
    h.ack_publish(chat)
    await future
    await settle()
    bad = LocalDataTrack()
    failing = lp.publish_track(bad)
    h.fail_publish(bad, 53203)
    with pytest.raises(errors.ParticipantMaxTracksExceededError):
        await failing
    lp.unpublish_track(chat)
    # signaling reconnect
    h.signaling.transport_state("syncing")
    await settle()
    h.synced()
    await settle()
    # leave: stops the owned tracks
    h.participant("bob").remove_all_listeners()
    room.disconnect()
    log.close()

    seen = {(type(e.emitter), e.event) for e in log.entries}
    missing = [
        f"{cls_name}.{event}"
        for cls_name, events in SEED_EVENTS
        for event in events
        if not any(issubclass(t, find_class(cls_name)) and ev == event for t, ev in seen)
    ]
    assert not missing, missing


def test_names_for_core_init():
    """Every seed class and model class is exported by core, and every core export resolves."""
    import core

    for name in seed_classes() + EXTRA_CLASSES + ["Room"]:
        assert name in core.__all__, name
    for name in core.__all__:
        assert getattr(core, name) is not None, name
    assert isinstance(p.Connected, type)  # protocol types stay in core.protocol


def test_version_is_the_sdk_version_string():
    """twilio-video.js's ``Video.version``: a string, the installed package's version."""
    from importlib import metadata

    import core

    assert isinstance(core.version, str)
    assert core.version == metadata.version("confab")
    from core import version

    assert version == core.version
