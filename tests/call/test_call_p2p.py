"""Peer-to-peer calls through the real server: real aiortc peers over loopback."""

from __future__ import annotations

import asyncio
import time

import pytest

from callutil import EventLog, FrameLog, camera, microphone, remote_of, subscribed, until
from core import (
    AccessToken,
    AccessTokenSignatureInvalidError,
    LocalDataTrack,
    RemoteAudioTrack,
    RemoteDataTrack,
    RemoteVideoTrack,
    connect,
)

pytestmark = pytest.mark.media


async def test_two_participants_exchange_video_audio_and_data(join) -> None:
    alice = await join("alice", tracks=[camera("alice", 320, 240), microphone("alice"), LocalDataTrack("chat")])
    alice_events = EventLog(alice, "participantConnected", "trackSubscribed", "trackStarted")
    bob = await join("bob", tracks=[camera("bob", 640, 480)])
    assert [p.identity for p in bob.participants.values()] == ["alice"]  # pre-populated at connect
    bob_events = EventLog(bob, "trackSubscribed", "trackStarted", "trackDimensionsChanged")

    video = await until(lambda: subscribed(bob, "alice", "video"))
    assert isinstance(video, RemoteVideoTrack)
    frames = FrameLog()
    video.add_sink(frames)
    audio = await until(lambda: subscribed(bob, "alice", "audio"))
    assert isinstance(audio, RemoteAudioTrack)
    data = await until(lambda: subscribed(bob, "alice", "data"))
    assert isinstance(data, RemoteDataTrack)

    await until(lambda: len(frames.counters) >= 20)
    assert set(frames.sizes) == {(320, 240)}  # decoded at the published size
    assert frames.counters == sorted(frames.counters) and frames.counters[-1] > frames.counters[0]
    assert video.dimensions is not None and (video.dimensions.width, video.dimensions.height) == (320, 240)
    await until(lambda: audio.level is not None and audio.level > 1000)  # the tone, well above silence

    # Alice sees Bob join, then his video subscribed and started, in that order.
    bob_video = await until(lambda: subscribed(alice, "bob", "video"))
    await until(lambda: bob_video.is_started)
    names = alice_events.names()
    assert names.index("participantConnected") < names.index("trackSubscribed") < names.index("trackStarted")
    bob_frames = FrameLog()
    bob_video.add_sink(bob_frames)
    await until(lambda: len(bob_frames.sizes) >= 5)
    assert set(bob_frames.sizes) == {(640, 480)}

    # On Bob's side each media track was subscribed before it started.
    for track in (video, audio):
        order = [name for name, args in bob_events.items if args[0] is track]
        assert order.index("trackSubscribed") < order.index("trackStarted"), order


async def test_thousand_ordered_data_messages_arrive_complete_and_in_order(join) -> None:
    chat = LocalDataTrack("chat")
    alice = await join("alice", tracks=[chat])
    bob = await join("bob")
    received: list[object] = []
    bob.on("trackMessage", lambda data, track, participant: received.append(data))
    track = await until(lambda: subscribed(bob, "alice", "data"))
    assert track.ordered and track.reliable
    await asyncio.sleep(0.3)  # the channel opens on both sides
    for i in range(1000):
        chat.send(f"message {i}" if i % 2 else f"message {i}".encode())
    await until(lambda: len(received) >= 1000, timeout=20)
    expected = [f"message {i}" if i % 2 else f"message {i}".encode() for i in range(1000)]
    assert received == expected
    assert alice.state == "connected"


async def test_mute_and_pause_are_seen_remotely_as_events_and_as_no_media(join) -> None:
    cam, mic = camera("alice"), microphone("alice")
    alice = await join("alice", tracks=[cam, mic])
    bob = await join("bob")
    video = await until(lambda: subscribed(bob, "alice", "video"))
    audio = await until(lambda: subscribed(bob, "alice", "audio"))
    frames = FrameLog()
    video.add_sink(frames)
    await until(lambda: len(frames.sizes) >= 5)
    events = EventLog(bob, "trackDisabled", "trackEnabled")
    track_events = EventLog(video, "disabled", "enabled")

    cam.disable()
    mic.disable()
    assert not cam.is_enabled
    await until(lambda: len(events.of("trackDisabled")) == 2)
    assert {args[0].kind for args in events.of("trackDisabled")} == {"video", "audio"}
    assert not video.is_enabled and not audio.is_enabled
    pub = next(p for p in remote_of(bob, "alice").tracks.values() if p.kind == "video")
    assert pub.is_track_enabled is False
    assert track_events.names() == ["disabled"]
    await asyncio.sleep(0.5)  # frames in flight drain
    quiet_since = time.monotonic()
    await asyncio.sleep(1.0)
    assert frames.count_since(quiet_since) == 0, "video still flowing while paused"

    cam.enable()
    mic.enable()
    await until(lambda: len(events.of("trackEnabled")) == 2)
    assert video.is_enabled and audio.is_enabled and pub.is_track_enabled
    resumed = time.monotonic()
    await until(lambda: frames.count_since(resumed) >= 5)
    assert track_events.names() == ["disabled", "enabled"]
    assert alice.local_participant.state == "connected"


async def test_unpublish_then_republish(join) -> None:
    cam = camera("alice")
    alice = await join("alice", tracks=[cam])
    bob = await join("bob")
    first = await until(lambda: subscribed(bob, "alice", "video"))
    events = EventLog(bob, "trackUnsubscribed", "trackUnpublished", "trackPublished", "trackSubscribed",
                      "trackStarted")

    publication = alice.local_participant.unpublish_track(cam)
    assert publication is not None and publication.track is cam
    assert alice.local_participant.video_tracks == {}
    await until(lambda: "trackUnpublished" in events.names())
    assert events.names() == ["trackUnsubscribed", "trackUnpublished"]
    assert events.of("trackUnsubscribed")[0][0] is first
    assert remote_of(bob, "alice").video_tracks == {}

    again = camera("alice-2", 160, 120)
    local_pub = await alice.local_participant.publish_track(again)
    assert local_pub.track_sid.startswith("MT") and local_pub.track_sid != publication.track_sid
    second = await until(lambda: subscribed(bob, "alice", "video"))
    assert second is not first  # a re-published track is a new RemoteTrack
    frames = FrameLog()
    second.add_sink(frames)
    await until(lambda: len(frames.sizes) >= 5)
    assert set(frames.sizes) == {(160, 120)}
    names = events.names()[2:]
    assert names[:2] == ["trackPublished", "trackSubscribed"] and "trackStarted" in names


async def test_three_participants_each_receive_the_other_two(join) -> None:
    rooms = {}
    for name in ("ann", "ben", "cat"):
        rooms[name] = await join(name, tracks=[camera(name, 160, 120, 10)])
    logs = {}
    for me, room in rooms.items():
        for other in rooms:
            if other != me:
                track = await until(lambda: subscribed(room, other, "video"))
                logs[(me, other)] = FrameLog()
                track.add_sink(logs[(me, other)])
    await until(lambda: all(len(log.counters) >= 5 for log in logs.values()), timeout=15)
    for log in logs.values():
        assert set(log.sizes) == {(160, 120)}
    # Ben leaves: the others see his tracks unsubscribed before participantDisconnected.
    order: list[str] = []
    ann = rooms["ann"]
    ann.on("trackUnsubscribed", lambda track, p: order.append("trackUnsubscribed"))
    ann.on("participantDisconnected", lambda p: order.append("participantDisconnected"))
    rooms["ben"].disconnect()
    await until(lambda: "participantDisconnected" in order)
    assert order == ["trackUnsubscribed", "participantDisconnected"]
    assert sorted(p.identity for p in ann.participants.values()) == ["cat"]


async def test_get_stats_values_move(join) -> None:
    alice = await join("alice", tracks=[camera("alice"), microphone("alice")])
    bob = await join("bob")
    video = await until(lambda: subscribed(bob, "alice", "video"))
    await until(lambda: video.is_started)
    await asyncio.sleep(1.5)

    def totals(reports):
        sent = sum(s.bytes_sent or 0 for r in reports for s in r.local_video_track_stats + r.local_audio_track_stats)
        got = sum(s.bytes_received or 0 for r in reports
                  for s in r.remote_video_track_stats + r.remote_audio_track_stats)
        return sent, got

    first_a, first_b = await alice.get_stats(), await bob.get_stats()
    await asyncio.sleep(1.0)
    second_a, second_b = await alice.get_stats(), await bob.get_stats()
    assert totals(second_a)[0] > totals(first_a)[0] > 0
    assert totals(second_b)[1] > totals(first_b)[1] > 0
    remote_video = [s for r in second_b for s in r.remote_video_track_stats]
    assert len(remote_video) == 1
    stats = remote_video[0]
    assert stats.track_sid == video.sid
    assert (stats.dimensions.width, stats.dimensions.height) == (320, 240)
    assert 10 <= stats.frame_rate <= 20  # published at 15 fps
    assert stats.packets_received and stats.jitter is not None
    remote_audio = [s for r in second_b for s in r.remote_audio_track_stats]
    assert remote_audio and remote_audio[0].audio_level > 0
    local_video = [s for r in second_a for s in r.local_video_track_stats]
    assert local_video and local_video[0].packets_sent > 0 and local_video[0].track_sid.startswith("MT")


async def test_bad_token_is_rejected_with_its_code(server) -> None:
    creds = server.credentials
    forged = AccessToken(creds.account_sid, creds.api_key_sid, "not-the-secret", identity="mallory").to_jwt()
    with pytest.raises(AccessTokenSignatureInvalidError) as info:
        await connect(forged, url=server.url, name="call", tracks=[])
    assert info.value.code == 20107


async def test_remote_audio_plays_to_the_chosen_output_device(join) -> None:
    await join("alice", tracks=[microphone("alice")])
    bob = await join("bob")
    audio = await until(lambda: subscribed(bob, "alice", "audio"))
    audio.attach("alsa:null")  # ALSA's null PCM: a real device write, with nothing to hear
    playback = audio._output
    assert playback is not None and await asyncio.to_thread(playback.opened.wait, 5)
    assert playback.error is None
    await until(lambda: playback.frames_written >= 25)  # half a second of 20 ms frames played
    audio.detach()
    assert audio._output is None and not playback.alive
    written = playback.frames_written
    await asyncio.sleep(0.3)
    assert playback.frames_written == written and audio.level is not None


async def test_max_video_bitrate_caps_what_is_sent_and_set_parameters_applies_mid_call(join) -> None:
    capped = await join("capped", tracks=[camera("capped", 640, 480, 30)], max_video_bitrate=300_000)
    free = await join("free", tracks=[camera("free", 640, 480, 30)])
    for room, other in ((capped, "free"), (free, "capped")):
        await until(lambda: (t := subscribed(room, other, "video")) is not None and t.is_started)

    async def sent_kbps(room, seconds: float = 2.0) -> float:
        def total(reports):
            return sum(s.bytes_sent or 0 for r in reports for s in r.local_video_track_stats)
        before = total(await room.get_stats())
        await asyncio.sleep(seconds)
        return (total(await room.get_stats()) - before) * 8 / seconds / 1000

    await asyncio.sleep(1.0)  # the first keyframes are large
    limited, unlimited = await asyncio.gather(sent_kbps(capped), sent_kbps(free))
    # Encoder target 300 kbps (+ RTP overhead, rate-control slack). Far lower caps reach libvpx's
    # quality floor for this pattern (~260 kbps at 640x480@30), so the test stays above it.
    assert limited < 300 * 1.25, limited
    assert unlimited > limited * 1.2, (limited, unlimited)  # aiortc's own VP8 target is 500 kbps
    free.local_participant.set_parameters({"max_video_bitrate": 300_000})
    await asyncio.sleep(1.0)
    assert await sent_kbps(free) < 300 * 1.25


async def test_video_heals_right_after_a_media_outage(join) -> None:
    """aiortc's own buffer waited for 512 newer packets (seconds here); one keyframe request now."""
    from callutil import recovery_after_outage

    # 5 s at 320x240@30, 300 kb/s: more packets than the sender keeps to retransmit (128).
    recovery, keyframe_requests = await recovery_after_outage(join, 5.0, width=320, height=240, fps=30)
    # Usually healed by the viewer's keyframe request; under CPU load the link estimate can dip
    # below the cap first and aiortc re-creates its encoder (a keyframe unasked), so the count
    # is reported, not required (tests/media/test_frames.py pins the asking). aiortc's own
    # buffer took seconds either way.
    assert recovery < 1.5, (recovery, keyframe_requests)


async def test_freeze_count_counts_a_video_outage_and_only_that(join) -> None:
    from core.media.faults import outgoing_loss

    publisher = await join("publisher", tracks=[camera("publisher", 160, 120, 15)])
    viewer = await join("viewer")
    await until(lambda: (t := subscribed(viewer, "publisher", "video")) is not None and t.is_started)

    async def freezes() -> int:
        counts = [s.freeze_count for r in await viewer.get_stats() for s in r.remote_video_track_stats]
        assert len(counts) == 1 and counts[0] is not None
        return int(counts[0])

    await asyncio.sleep(2.5)  # steady 15 fps
    assert await freezes() == 0
    loss = outgoing_loss(publisher)
    loss.set_fraction(1.0)
    await asyncio.sleep(1.0)  # 15 frames never sent
    loss.set_fraction(0.0)
    for _ in range(100):  # until the video heals (a keyframe request away)
        if await freezes():
            break
        await asyncio.sleep(0.1)
    assert await freezes() == 1


async def test_local_video_stats_say_what_is_sent_and_what_limits_it(join) -> None:
    capped = await join("capped", tracks=[camera("capped", 320, 240, 15)], max_video_bitrate=150_000)
    free = await join("free", tracks=[camera("free", 320, 240, 15)])
    for room, other in ((capped, "free"), (free, "capped")):
        await until(lambda: (t := subscribed(room, other, "video")) is not None and t.is_started)
    await asyncio.sleep(2.0)

    async def local_video(room):
        [stats] = [s for r in await room.get_stats() for s in r.local_video_track_stats]
        return stats

    held, open_ = await local_video(capped), await local_video(free)
    assert held.quality_limitation_reason == "bandwidth"  # the cap holds the encoder under its own target
    assert open_.quality_limitation_reason == "none", open_
    for stats in (held, open_):
        assert 12 <= stats.frame_rate <= 17 and 12 <= stats.capture_frame_rate <= 17, stats  # 15 fps sent
    track = next(iter(free.local_participant.video_tracks.values())).track
    track.disable()
    await asyncio.sleep(0.2)
    off = await local_video(free)
    assert off.frame_rate == 0.0 and off.quality_limitation_reason == "none"
