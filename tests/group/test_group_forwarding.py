"""Group rooms through the forwarder: media both ways, keyframes for late joiners, subscriptions, teardown."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from callutil import FrameLog, JoinFn, until
from core import LocalDataTrack
from groupkit import camera, forwarder_of, microphone, remote_of, subscribed
from server.app import RunningServer
from server.forwarder import Forwarder

pytestmark = pytest.mark.media


async def test_three_participants_receive_each_others_frames_audio_and_data(
        join: JoinFn, server: RunningServer) -> None:
    names = ("alice", "bob", "carol")
    rooms = {}
    for name in names:
        rooms[name] = await join(name, tracks=[camera(name), microphone(name), LocalDataTrack("chat")])
    assert isinstance(forwarder_of(server, "group"), Forwarder)
    assert rooms["carol"]._signaling.room_type == "group"
    logs: dict[tuple[str, str], FrameLog] = {}
    messages: dict[tuple[str, str], list[str]] = {}
    for me in names:
        for other in names:
            if other == me:
                continue
            video = await until(lambda: subscribed(rooms[me], other, "video"))
            logs[(me, other)] = FrameLog()
            video.add_sink(logs[(me, other)])
            data = await until(lambda: subscribed(rooms[me], other, "data"))
            got = messages[(me, other)] = []
            data.on("message", lambda message, *_, got=got: got.append(message))
    await until(lambda: all(len(log.counters) >= 15 for log in logs.values()), timeout=15)
    for (me, other), log in logs.items():
        # The publisher's own frames, decoded as it sent them: its stamped counter, in order, at its size.
        assert log.counters == sorted(log.counters), (me, other, log.counters)
        assert log.counters[-1] - log.counters[0] >= len(log.counters) - 1 - 2, (me, other, log.counters)
        assert set(log.sizes) == {(320, 240)}
    for me in names:
        for other in names:
            if other != me:
                audio = await until(lambda: subscribed(rooms[me], other, "audio"))
                await until(lambda: audio.level is not None and audio.level > 1000)
    await asyncio.sleep(0.3)  # the forwarded data channels are open by now
    for name in names:
        for pub in rooms[name].local_participant.data_tracks.values():
            pub.track.send(f"hello from {name}")
    await until(lambda: all(got for got in messages.values()), timeout=5)
    assert all(got == [f"hello from {other}"] for (me, other), got in messages.items())


async def test_a_late_joiner_gets_a_keyframe_at_once(join: JoinFn, server: RunningServer) -> None:
    from callutil import keyframe_requests

    cam = camera("alice")
    alice = await join("alice", tracks=[cam])
    await asyncio.sleep(3.0)  # aiortc's VP8 GOP is 3000 frames: no keyframe would come on its own
    requests = keyframe_requests(alice, cam)
    started = time.monotonic()
    bob = await join("bob")
    video = await until(lambda: subscribed(bob, "alice", "video"))
    frames = FrameLog()
    video.add_sink(frames)
    await until(lambda: frames.counters, timeout=5)
    first_frame = frames.times[0] - started
    assert first_frame < 2.0, first_frame
    # The forwarder's request reached alice's sender on the wire (not just counted as sent).
    assert any(started <= t <= frames.times[0] for t in requests), (requests, started, frames.times[0])
    stats = forwarder_of(server, "group").stats()
    inbound = next(iter(stats["peers"][remote_of(bob, "alice").sid]["inbound"].values()))
    assert inbound["keyframes"] >= 2


async def test_unpublish_rules_and_leave_tear_forwarding_down(join: JoinFn, server: RunningServer) -> None:
    def media_tasks() -> list[asyncio.Task]:
        # Local tracks' own preview tasks are theirs (they stop with the source), not the call's.
        return [t for t in asyncio.all_tasks()
                if getattr(t.get_coro(), "__qualname__", "") not in ("_Fanout._run", "MediaRelay.__run_track",
                                                     "LocalSource._watch_frames")]

    baseline = len(media_tasks())
    alice = await join("alice", tracks=[camera("alice")])
    bob = await join("bob", tracks=[microphone("bob")])
    forwarder = forwarder_of(server, "group")
    video = await until(lambda: subscribed(bob, "alice", "video"))
    frames = FrameLog()
    video.add_sink(frames)
    await until(lambda: len(frames.counters) >= 5)
    bob_sid = bob.local_participant.sid
    alice_sid = alice.local_participant.sid

    def outbound(sid: str) -> dict:
        return forwarder.stats()["peers"][sid]["outbound"]

    # Unpublish: bob's subscription and the server's forwarding of it go.
    track = next(iter(alice.local_participant.video_tracks.values())).track
    alice.local_participant.unpublish_track(track)
    await until(lambda: subscribed(bob, "alice", "video") is None)
    await until(lambda: not outbound(bob_sid))
    # Publish again: a new transceiver, frames flow again.
    again = camera("alice-2")
    await alice.local_participant.publish_track(again)
    video = await until(lambda: subscribed(bob, "alice", "video"))
    frames = FrameLog()
    video.add_sink(frames)
    await until(lambda: len(frames.counters) >= 5, timeout=10)
    # REST subscribe rules: bob excludes alice's video → no forwarding; include again → back.
    room = server.registry.find_room("group")
    assert room is not None
    participant = room.participants[bob_sid]
    server.registry.set_rest_rules(participant, [{"type": "exclude", "publisher": "alice"}])
    await until(lambda: subscribed(bob, "alice", "video") is None)
    await until(lambda: not outbound(bob_sid))
    server.registry.set_rest_rules(participant, [{"type": "include", "all": True}])
    video = await until(lambda: subscribed(bob, "alice", "video"))
    frames = FrameLog()
    video.add_sink(frames)
    await until(lambda: len(frames.counters) >= 5, timeout=10)
    assert outbound(alice_sid)  # alice gets bob's audio all along
    # Leave: nothing of either is left running, on the server or in the clients.
    bob.disconnect()
    await until(lambda: bob_sid not in forwarder.stats()["peers"])
    await until(lambda: not outbound(alice_sid))
    alice.disconnect()
    again.stop()
    track.stop()
    await until(lambda: server.registry.find_room("group") is None)
    await until(lambda: not forwarder.tasks(), timeout=5)
    await until(lambda: len(media_tasks()) <= baseline, timeout=10)


async def test_video_heals_right_after_a_media_outage(join: JoinFn) -> None:
    """Both hops heal: the forwarder's receiver asks the publisher for a keyframe at once."""
    from callutil import recovery_after_outage

    # 5 s at 320x240@30, 300 kb/s: more packets than the sender keeps to retransmit (128).
    recovery, keyframe_requests = await recovery_after_outage(join, 5.0, width=320, height=240, fps=30)
    # As in tests/call: the request count is reported, not required (a link-estimate dip makes
    # aiortc re-create its encoder, a keyframe unasked); tests/media/test_frames.py pins the asking.
    assert recovery < 1.5, (recovery, keyframe_requests)


async def test_a_subscriber_priority_reaches_the_server(join: JoinFn, server: RunningServer) -> None:
    """RemoteVideoTrack.set_priority goes out on the server's track_priority channel and is kept there."""
    await join("alice", tracks=[camera("alice")])
    bob = await join("bob")
    video = await until(lambda: subscribed(bob, "alice", "video"))
    forwarder = forwarder_of(server, "group")
    bob_sid = bob.local_participant.sid

    def asked() -> dict:
        return forwarder.stats()["peers"][bob_sid]["subscribe_priority"]

    await until(lambda: "track_priority" in forwarder.stats()["peers"][bob_sid]["msp"])
    video.set_priority("low")
    await until(lambda: asked() == {video.sid: "low"}, timeout=5)
    video.set_priority("high")
    await until(lambda: asked() == {video.sid: "high"}, timeout=5)
    video.set_priority(None)  # back to the publisher's priority
    await until(lambda: asked() == {}, timeout=5)


async def test_a_media_tap_gets_the_forwarded_packets_from_a_keyframe_on(join: JoinFn, server: RunningServer) -> None:
    """The recording seam: a tap on (publisher, track id) sees the media that is forwarded,
    its first video packet a keyframe, and the packets decode to the publisher's frames."""
    import av

    alice = await join("alice", tracks=[camera("alice"), microphone("alice")])
    forwarder = forwarder_of(server, "group")
    sid = alice.local_participant.sid
    ids = {pub.kind: pub.track.id for pub in alice.local_participant.tracks.values()}
    await until(lambda: len(forwarder.stats()["peers"][sid]["inbound"]) == 2, timeout=10)
    got: dict[str, list[tuple[str, int, bool, bytes]]] = {"video": [], "audio": []}

    def tap(kind: str, mime: str, clock_rate: int, packet: Any, keyframe: bool) -> None:
        got[kind].append((mime, clock_rate, keyframe, bytes(packet)))

    removers = [forwarder.add_tap(sid, ids[kind], tap) for kind in ("video", "audio")]
    await until(lambda: len(got["video"]) >= 20 and len(got["audio"]) >= 50, timeout=10)
    for remove in removers:
        remove()
    assert got["video"][0][:3] == ("video/VP8", 90000, True)
    assert got["audio"][0][:2] == ("audio/opus", 48000)
    decoder = av.CodecContext.create("vp8", "r")
    frames = [frame for *_, data in got["video"] for frame in decoder.decode(av.Packet(data))]
    assert len(frames) >= 15 and {(f.width, f.height) for f in frames} == {(320, 240)}
    count = len(got["video"])
    await asyncio.sleep(0.5)
    assert len(got["video"]) == count  # removed: no more
