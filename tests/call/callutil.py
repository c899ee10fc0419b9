"""Helpers for the call tests (imported as ``from callutil import ...``)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from core import LocalAudioTrack, LocalVideoTrack, Room, connect
from core.media.sources import SyntheticAudioSource, SyntheticVideoSource
from core.media.stamp import read_stamp


async def until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    """Wait for ``predicate()`` to be truthy (asyncio keeps running); fail with a clear message."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s: {predicate}")
        await asyncio.sleep(interval)


class FrameLog:
    """A video sink that keeps the size and stamp of every frame it gets."""

    def __init__(self) -> None:
        self.sizes: list[tuple[int, int]] = []
        self.counters: list[int] = []
        self.times: list[float] = []

    def __call__(self, frame: Any) -> None:
        self.sizes.append((frame.width, frame.height))
        self.times.append(time.monotonic())
        stamp = read_stamp(frame)
        if stamp is not None:
            self.counters.append(stamp.counter)

    def count_since(self, t: float) -> int:
        return sum(1 for x in self.times if x >= t)


class EventLog:
    """Records (event, args) of the given events on an emitter, in order."""

    def __init__(self, emitter: Any, *events: str) -> None:
        self.items: list[tuple[str, tuple[Any, ...]]] = []
        for event in events:
            emitter.on(event, self._recorder(event))

    def _recorder(self, event: str) -> Callable[..., None]:
        def record(*args: Any) -> None:
            self.items.append((event, args))
        return record

    def names(self) -> list[str]:
        return [name for name, _ in self.items]

    def of(self, event: str) -> list[tuple[Any, ...]]:
        return [args for name, args in self.items if name == event]


def camera(label: str, width: int = 320, height: int = 240, fps: float = 15) -> LocalVideoTrack:
    return LocalVideoTrack(SyntheticVideoSource(width, height, fps, label=label), name="camera")


def microphone(label: str, kind: str = "tone", **kwargs: Any) -> LocalAudioTrack:
    return LocalAudioTrack(SyntheticAudioSource(kind, label=label, **kwargs), name="microphone")


def remote_of(room: Any, identity: str) -> Any:
    return next((p for p in room.participants.values() if p.identity == identity), None)


def subscribed(room: Any, identity: str, kind: str) -> Any:
    participant = remote_of(room, identity)
    if participant is None:
        return None
    for pub in participant.tracks.values():
        if pub.kind == kind and pub.is_subscribed:
            return pub.track
    return None


JoinFn = Callable[..., Awaitable[Room]]


@contextlib.asynccontextmanager
async def joiner(server: Any, default_room: str) -> AsyncIterator[JoinFn]:
    """``await join("alice", tracks=[...], room="r")``: connected Rooms, all disconnected at the end."""
    rooms: list[Room] = []

    async def join(identity: str, *, room: str = default_room, tracks: list[Any] | None = None,
                   **options: Any) -> Room:
        joined = await connect(server.token(identity, room), url=server.url, name=room,
                               tracks=tracks if tracks is not None else [], **options)
        rooms.append(joined)
        return joined

    try:
        yield join
    finally:
        for joined in rooms:
            joined.disconnect()
        await asyncio.sleep(0.3)  # let bye and peer-connection teardown finish


def keyframe_requests(publisher: Room, track: Any) -> list[float]:
    """The times at which a keyframe request (PLI/FIR on the wire) reached ``track``'s RTP
    senders in ``publisher`` from now on, on every connection that sends it."""
    requests: list[float] = []
    for session in publisher._signaling.media.mesh.sessions().values():
        sender = session.transceivers[track.id].sender if track.id in session.transceivers else None
        if sender is not None:  # aiortc calls it for each PLI/FIR its RTCP receives
            def counted(original: Any = sender._send_keyframe) -> None:
                requests.append(time.monotonic())
                original()

            sender._send_keyframe = counted
    return requests


async def recovery_after_outage(join: JoinFn, outage: float, *, width: int = 160, height: int = 120,
                                fps: float = 10) -> tuple[float, int]:
    """Seconds from the end of an ``outage`` (all of a publisher's RTP dropped) to the
    subscriber's next decoded frame — the media path must heal by itself — and how many
    keyframe requests (PLI/FIR on the wire) reached the publisher's video sender meanwhile."""
    from core.media.faults import outgoing_loss

    cam = camera("publisher", width, height, fps)
    # A bitrate cap under what the link estimate allows keeps the encoder's target steady:
    # aiortc re-creates its encoder (a keyframe for free) when the target moves by 10 %.
    publisher = await join("publisher", tracks=[cam], max_video_bitrate=300_000)
    viewer = await join("viewer")
    await until(lambda: subscribed(viewer, "publisher", "video"))
    frames = FrameLog()
    subscribed(viewer, "publisher", "video").add_sink(frames)
    await until(lambda: len(frames.times) >= 5)
    requests = keyframe_requests(publisher, cam)
    loss = outgoing_loss(publisher)
    loss.set_fraction(1.0)
    await asyncio.sleep(0.5)  # frames in flight land
    before = len(frames.times)
    await asyncio.sleep(outage - 0.5)
    assert len(frames.times) == before, "frames got through the outage"
    loss.set_fraction(0.0)
    restored = time.monotonic()
    await until(lambda: frames.count_since(restored) > 0, timeout=outage + 30)
    first = next(t for t in frames.times if t >= restored)
    return first - restored, sum(1 for t in requests if restored <= t <= first)


def _code(error: Any) -> int | None:
    return getattr(error, "code", None)


async def levels_for(seconds: float, read: Callable[[], Any]) -> list[int]:
    """The levels ``read()`` gives every 0.25 s for ``seconds`` (None left out)."""
    out = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        level = read()
        if level is not None:
            out.append(int(level))
        await asyncio.sleep(0.25)
    return out


async def watched_video(join: JoinFn) -> tuple[Room, Room, Any, FrameLog]:
    """A publisher (camera + microphone) and a viewer whose sink logs the publisher's video."""
    publisher = await join("publisher", tracks=[camera("publisher"), microphone("publisher")])
    viewer = await join("viewer")
    await until(lambda: subscribed(viewer, "publisher", "video"))
    video = subscribed(viewer, "publisher", "video")
    frames = FrameLog()
    video.add_sink(frames)
    await until(lambda: len(frames.times) >= 5)
    return publisher, viewer, video, frames


async def stall_and_heal(join: JoinFn, outage: float = 6.0) -> float:
    """A publisher's RTP stops (all of it dropped, signaling up) for ``outage`` s: the viewer
    sees the video frozen, both Rooms go ``reconnecting`` (53405), the publisher rebuilds its
    sending connection; then the path works again: the same RemoteVideoTrack gets a frame
    within 3 s, both Rooms are ``reconnected``, nobody was unsubscribed. Returns the seconds
    from the path's return to the first frame."""
    from core.media.faults import outgoing_loss

    publisher, viewer, video, frames = await watched_video(join)
    seen = EventLog(viewer, "reconnecting", "reconnected", "trackUnsubscribed", "disconnected")
    own = EventLog(publisher, "reconnecting", "reconnected", "disconnected")
    sessions = publisher._signaling.media.mesh.sessions
    pcs_before = {s.id: s.pc for s in sessions().values()}

    loss = outgoing_loss(publisher)
    loss.set_fraction(1.0)
    stopped = time.monotonic()
    await until(lambda: video.is_frozen, timeout=4)
    marks = EventLog(video, "unfrozen")
    await until(lambda: seen.of("reconnecting") and own.of("reconnecting"), timeout=6)
    assert _code(seen.of("reconnecting")[0][0]) == 53405
    assert _code(own.of("reconnecting")[0][0]) == 53405
    # The publisher rebuilt its sending connection: a new RTCPeerConnection under the same id.
    await until(lambda: any(s.id in pcs_before and s.pc is not pcs_before[s.id]
                            for s in sessions().values()), timeout=5)
    await asyncio.sleep(max(0.0, stopped + outage - time.monotonic()))
    assert video.is_frozen and not marks.items  # still, across the rebuild: the mark never flickered off

    loss.set_fraction(0.0)
    restored = time.monotonic()
    await until(lambda: frames.count_since(restored) > 0, timeout=10)
    took = next(t for t in frames.times if t >= restored) - restored
    await until(lambda: seen.of("reconnected") and own.of("reconnected"), timeout=5)
    await until(lambda: not video.is_frozen, timeout=1)  # the mark goes at the watchdog's next look (4/s)
    assert subscribed(viewer, "publisher", "video") is video
    assert not seen.of("trackUnsubscribed") and not seen.of("disconnected")
    return took


async def data_across_a_rebuild(join: JoinFn) -> float:
    """``stall_and_heal`` with a reliable data track beside the video: after the rebuilt
    connection is up, 20 messages arrive complete and in order on the *same* RemoteDataTrack
    and nothing was unsubscribed. Returns ``stall_and_heal``'s figure."""
    from core import LocalDataTrack

    chat = LocalDataTrack("chat")
    rooms: dict[str, Room] = {}

    async def join_with_data(identity: str, **options: Any) -> Room:
        tracks = [*options.pop("tracks", []), *([chat] if identity == "publisher" else [])]
        rooms[identity] = room = await join(identity, tracks=tracks, **options)
        return room

    took = await stall_and_heal(join_with_data)
    viewer = rooms["viewer"]
    data = await until(lambda: subscribed(viewer, "publisher", "data"))
    unsubscribed = EventLog(viewer, "trackUnsubscribed")
    got: list[str] = []
    data.on("message", lambda message, *_: got.append(message))
    for i in range(20):
        chat.send(f"after {i}")
        await asyncio.sleep(0.02)
    await until(lambda: len(got) == 20, timeout=5)
    assert got == [f"after {i}" for i in range(20)]
    assert subscribed(viewer, "publisher", "data") is data and not unsubscribed.items
    return took


async def gap_healed_by_keyframe(join: JoinFn, gap: float = 1.0) -> tuple[float, int]:
    """A short gap (all of a publisher's RTP dropped for ``gap`` s, under the watchdog's stall
    time) that only a keyframe *request* can heal: the publisher's video sender ignores NACKs
    (the lost packets are gone for good) and REMB (its encoder's target never moves, so aiortc
    never re-creates the encoder — its free keyframe). Asserts a frame within 2 s and a keyframe
    request (PLI/FIR) at the sender; returns both figures."""
    from aiortc.rtp import RTCP_PSFB_APP, RTCP_RTPFB_NACK, RtcpPsfbPacket, RtcpRtpfbPacket

    from core.media.faults import outgoing_loss

    cam = camera("publisher")
    publisher = await join("publisher", tracks=[cam])
    viewer = await join("viewer")
    await until(lambda: subscribed(viewer, "publisher", "video"))
    frames = FrameLog()
    subscribed(viewer, "publisher", "video").add_sink(frames)
    await until(lambda: len(frames.times) >= 5)
    requests = keyframe_requests(publisher, cam)
    for session in publisher._signaling.media.mesh.sessions().values():
        transceiver = session.transceivers.get(cam.id)
        if transceiver is None:
            continue
        sender = transceiver.sender

        async def only_keyframe_requests(packet: Any, original: Any = sender._handle_rtcp_packet) -> None:
            if isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
                return
            if isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
                return  # REMB
            await original(packet)

        sender._handle_rtcp_packet = only_keyframe_requests
    await asyncio.sleep(1.0)  # the encoder settles at its fixed target
    loss = outgoing_loss(publisher)
    loss.set_fraction(1.0)
    await asyncio.sleep(gap)
    loss.set_fraction(0.0)
    restored = time.monotonic()
    await until(lambda: frames.count_since(restored) > 0, timeout=6)
    took = next(t for t in frames.times if t >= restored) - restored
    asked = sum(1 for t in requests if t >= restored - gap)
    assert asked >= 1 and took < 2.0, (took, asked)
    print(f"frame {took:.2f} s after the gap, {asked} keyframe request(s)")
    return took, asked
