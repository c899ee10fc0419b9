"""Load-client process for ``bench/scale.py``: many Confab participants that neither encode nor decode.

Each participant is a real SDK client (``core.connect``) that publishes one 320×240@15 VP8
video track and one Opus audio track and subscribes to everyone. So that a few processes
can stand in for 20 participants on 2 cores:

* **Sending pre-encoded packets.** At start the process encodes, once, 2 s of the synthetic
  camera (``core.media.sources.TestPattern``, 30 frames, PyAV ``libvpx`` with aiortc's own
  ``Vp8Encoder`` settings at its 500 kbps default: ~165 kbps come out for this pattern, 1–2
  RTP packets a frame as from a real Confab sender; keyframe first, so every 2 s) and 2 s of
  the synthetic tone (100 × 20 ms, PyAV ``libopus``). :class:`ReplayTrack` loops those
  ``av.Packet``\\ s at the source's pace with rewritten ``pts``; aiortc's ``RTCRtpSender``
  accepts ``av.Packet`` from ``recv()`` and only packetizes it (``Vp8Encoder.pack`` /
  ``OpusEncoder.pack``, no codec work).
* **Through the SDK's local-track path.** The tracks are ``core.LocalVideoTrack`` /
  ``LocalAudioTrack`` around a :class:`ReplayTrack`, but with a :class:`PacketSource` put
  in the track's ``_local_source`` seam before ``connect`` (``core.local_tracks.local_source``
  uses an existing one). The SDK's own ``LocalSource`` would run a preview consumer that
  treats every item as a decoded frame (``VideoFanout._handle`` reads ``frame.width``,
  ``AudioFanout`` measures levels from samples), which an ``av.Packet`` is not.
  ``PacketSource`` fans the packets out with aiortc's ``MediaRelay`` as ``LocalSource`` does
  and has a do-nothing preview. The SDK's ``LocalFeed`` (enable gating, bitrate cap) sits
  between it and the sender unchanged: its cap only touches the encoder's
  ``target_bitrate``, which the pack-only ``Vp8Encoder`` has and ignores.
* **Answering keyframe requests.** A real sender encodes a keyframe when a PLI/FIR reaches
  it; the replayed loop has one only at its start. So ``RTCRtpSender._send_keyframe`` is
  wrapped (in this process only) to restart the participant's video loop at its keyframe
  (pts keep running): a lost packet costs a round trip and a keyframe, as with a real
  encoder, not up to the rest of the 2 s loop.
* **Receive buffers.** This process hosts several participants on one event loop, so when
  it is descheduled every one of their sockets waits at once, longer than a participant's
  own process would; a subscriber's socket carries N−1 streams, and Linux charges each
  small datagram ~2 KB of the 512 KiB ``SO_RCVBUF`` aioice asks for. Each ICE socket here
  asks for 2 MiB (``RECV_BUFFER``), so the bench measures the server rather than this consolidation
  (``udp_rcvbuf_errors`` in ``bench/scale.py`` counts what the kernel still drops).
* **Counting without reassembling or decoding.** ``RTCRtpReceiver.receive`` is wrapped (in
  this process only) so that, before it starts, every receiver's private jitter buffer
  (``_RTCRtpReceiver__jitter_buffer``) is a :class:`FrameCounter` and its REMB estimator
  (``__remote_bitrate_estimator``) is None; ``server.forwarder.passthrough.pass_through_receiver``
  stays in place so no decoder is ever created. aiortc's ``_handle_rtp_packet`` still does,
  per packet, everything the server sees from a subscriber: SRTP unprotect, RTX unwrap, the
  receive statistics its RTCP receiver reports carry (the server's downlink estimate and
  allocation feed on their loss: ``server/forwarder/downlink.py``), NACKs for missing
  packets, the SDK's receive counters (``core.media.rtp_hooks``, which its media watchdog
  reads) and the VP8 payload descriptor parse. **Skipped:** the jitter buffer's
  reassembly of frames and their copy into an ``av.Packet`` (the counter keeps sequence
  numbers only), and REMB (per-packet arrival-time filtering; the forwarder ignores REMB,
  ``downlink.py``). :class:`FrameCounter` counts a video frame when all of its packets,
  from the first (VP8 S bit, partition 0) to the marker, arrived (RTX included) and no older
  frame is still incomplete (those after a gap are not counted, even if the gap is filled
  later: the count errs low); a frame still incomplete after ``LOST_AFTER`` newer ones
  completed is lost: a PLI is sent (as the receiver does for a decoder error) and nothing
  counts until a complete keyframe, as a decoder would show nothing. Audio counts every
  packet (one Opus frame each). A receiver is attributed to its participant by a
  ``contextvars`` variable set in the task that calls ``connect`` (every task the SDK spawns
  for that room inherits it) and to its publisher by the remote track id (the SDP msid, i.e.
  the publisher's local track id).

Protocol (line-based, JSON out on stdout): start with ``--url --room --identities a,b``;
stdin ``add a,b`` (join more), ``stats``, ``quit``. Every reply is one JSON line.
Not a benchmark by itself; ``bench/scale.py`` drives it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import fractions
import json
import sys
import time
from collections import defaultdict, deque
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import av  # noqa: E402
from aioice import turn as aioice_turn  # noqa: E402
from aiortc.contrib.media import MediaRelay  # noqa: E402
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack  # noqa: E402
from aiortc.rtcrtpreceiver import RTCRtpReceiver  # noqa: E402
from aiortc.rtcrtpsender import RTCRtpSender  # noqa: E402

from core.media.frames import is_keyframe, starts_frame  # noqa: E402

WIDTH, HEIGHT, FPS = 320, 240, 15
RECV_BUFFER = 1 << 21  # bytes of SO_RCVBUF per ICE socket (see the module docstring)
VIDEO_BITRATE = 500_000  # aiortc's DEFAULT_BITRATE
LOOP_SECONDS = 2
AUDIO_RATE, AUDIO_PTIME = 48000, 0.020

_client: contextvars.ContextVar[str | None] = contextvars.ContextVar("confab_bench_client", default=None)
#: participant identity → remote track id → [kind, frames delivered]
received: dict[str, dict[str, list[Any]]] = defaultdict(dict)
#: participant identity → its replayed video loop (restarted at its keyframe on a PLI)
video_loops: dict[str, ReplayTrack] = {}
unattributed = 0


# --- pre-encoded media ------------------------------------------------------------------------

def encode_video() -> list[tuple[bytes, bool]]:
    from core.media.sources import TestPattern

    ctx = av.CodecContext.create("libvpx", "w")
    ctx.width, ctx.height = WIDTH, HEIGHT
    ctx.pix_fmt = "yuv420p"
    ctx.framerate = fractions.Fraction(FPS, 1)
    ctx.time_base = fractions.Fraction(1, FPS)
    # aiortc's Vp8Encoder settings (aiortc/codecs/vpx.py), so packets are what a Confab sender makes
    ctx.bit_rate = VIDEO_BITRATE
    ctx.gop_size = 3000  # keyframes only where forced: the first frame of the loop
    ctx.qmin, ctx.qmax = 2, 56
    ctx.options = {"bufsize": str(VIDEO_BITRATE), "cpu-used": "-6", "deadline": "realtime",
                   "lag-in-frames": "0", "minrate": str(VIDEO_BITRATE), "maxrate": str(VIDEO_BITRATE),
                   "noise-sensitivity": "4", "overshoot-pct": "15", "partitions": "0",
                   "static-thresh": "1", "undershoot-pct": "100"}
    pattern = TestPattern(WIDTH, HEIGHT, seed=7)
    out: list[tuple[bytes, bool]] = []
    for i in range(FPS * LOOP_SECONDS):
        frame = pattern.render(i, int(time.time() * 1000), i / FPS)
        frame.pts = i
        frame.time_base = ctx.time_base
        frame.pict_type = av.video.frame.PictureType.I if i == 0 else av.video.frame.PictureType.NONE
        for packet in ctx.encode(frame):
            out.append((bytes(packet), bool(packet.is_keyframe)))
    for packet in ctx.encode(None):
        out.append((bytes(packet), bool(packet.is_keyframe)))
    out = out[: FPS * LOOP_SECONDS]
    if not out or not out[0][1]:
        raise RuntimeError("the encoded loop does not start with a keyframe")
    return out


def encode_audio() -> list[bytes]:
    from core.media.sources import SyntheticAudioSource

    source = SyntheticAudioSource("speech", label="bench")
    ctx = av.CodecContext.create("libopus", "w")
    ctx.sample_rate = AUDIO_RATE
    ctx.layout = "mono"
    ctx.format = "s16"
    ctx.bit_rate = 32000
    n = int(AUDIO_RATE * AUDIO_PTIME)
    out: list[bytes] = []
    for i in range(int(LOOP_SECONDS / AUDIO_PTIME)):
        frame = av.AudioFrame.from_ndarray(source.render(i * n), format="s16", layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts = i * n
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        out.extend(bytes(p) for p in ctx.encode(frame))
    out.extend(bytes(p) for p in ctx.encode(None))
    return out


class ReplayTrack(MediaStreamTrack):
    """Loops pre-encoded packets at ``rate`` per second with continuous ``pts`` (wall-clock paced)."""

    def __init__(self, kind: str, payloads: list[bytes], rate: float, clock_rate: int) -> None:
        super().__init__()
        self.kind = kind
        self._payloads = payloads
        self._rate = rate
        self._step = round(clock_rate / rate)
        self._time_base = fractions.Fraction(1, clock_rate)
        self._start: float | None = None
        self._slot = 0
        self._loop_start = 0  # the slot at which the loop (its keyframe) last began
        self.sent = 0
        self.restarts = 0

    def restart(self) -> None:
        """The next packet is the loop's first (its keyframe), as an encoder answers a PLI."""
        self._loop_start = self._slot + 1
        self.restarts += 1

    async def recv(self) -> av.Packet:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        else:
            self._slot += 1
            due = self._start + self._slot / self._rate
            if due > now:
                await asyncio.sleep(due - now)
            elif now - due > 5 / self._rate:  # far behind (a stalled loop): skip ahead, don't burst
                self._slot = int((now - self._start) * self._rate)
        if self.readyState != "live":
            raise MediaStreamError
        packet = av.Packet(self._payloads[(self._slot - self._loop_start) % len(self._payloads)])
        packet.pts = self._slot * self._step
        packet.time_base = self._time_base
        self.sent += 1
        return packet


class _NoPreview:
    """The preview ``LocalSource`` would run; packets have no pixels or samples to show."""

    fps = float(FPS)

    def add_sink(self, sink: Any) -> None:
        pass

    def remove_sink(self, sink: Any) -> None:
        pass

    async def stop(self) -> None:
        pass


class PacketSource:
    """Stands in for ``core.media.local.LocalSource`` (same ``subscribe``/``start``/``stop``/``preview``)."""

    def __init__(self, track: MediaStreamTrack, on_started: Any) -> None:
        self.track = track
        self.kind = track.kind
        self._relay = MediaRelay()
        self._on_started = on_started
        self._started = False
        self.preview = _NoPreview()

    def subscribe(self) -> MediaStreamTrack:
        return self._relay.subscribe(self.track, buffered=False)

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._on_started()

    async def stop(self) -> None:
        self.track.stop()


def make_tracks(identity: str, video: list[tuple[bytes, bool]], audio: list[bytes]) -> list[Any]:
    from core import LocalAudioTrack, LocalVideoTrack

    video_loops[identity] = replay = ReplayTrack("video", [p for p, _ in video], FPS, 90000)
    v = LocalVideoTrack(replay, name="camera")
    a = LocalAudioTrack(ReplayTrack("audio", audio, 1 / AUDIO_PTIME, AUDIO_RATE), name="microphone")
    for track in (a, v):
        track._local_source = PacketSource(track.media_stream_track, track._media_started)  # the seam, see above
    v._set_dimensions(WIDTH, HEIGHT)
    return [a, v]


# --- counting receivers ------------------------------------------------------------------------

#: A video frame still incomplete when this many newer ones completed is lost.
LOST_AFTER = 3
_JITTER = "_RTCRtpReceiver__jitter_buffer"
_REMB = "_RTCRtpReceiver__remote_bitrate_estimator"


class FrameCounter:
    """Stands in for a receiver's ``JitterBuffer``: ``add(packet)`` counts frames, returns ``(pli, None)``."""

    def __init__(self, receiver: RTCRtpReceiver, owner: str | None, video: bool) -> None:
        self._receiver = receiver
        self._owner = owner
        self._video = video
        self._entry: list[Any] | None = None
        #: RTP timestamp → [sequence numbers seen, first seq, marker seq, keyframe, newer frames completed]
        self._pending: dict[int, list[Any]] = {}
        self._done: deque[int] = deque(maxlen=64)  # timestamps already counted or given up
        self._need_keyframe = True  # a decoder starts at a keyframe
        self.lost = 0

    def _count(self) -> None:
        global unattributed
        if self._owner is None:
            unattributed += 1
            return
        if self._entry is None:
            track = self._receiver.track
            self._entry = received[self._owner].setdefault(track.id if track else "?",
                                                           [track.kind if track else "?", 0])
        self._entry[1] += 1

    def add(self, packet: Any) -> tuple[bool, None]:
        if not self._video:
            self._count()
            return False, None
        ts, seq = packet.timestamp, packet.sequence_number
        frame = self._pending.get(ts)
        if frame is None:
            if ts in self._done:
                return False, None  # a late copy of a frame already counted or lost
            frame = self._pending[ts] = [set(), None, None, False, 0]
        frame[0].add(seq)
        if starts_frame("video/vp8", packet.payload):
            frame[1] = seq
            frame[3] = is_keyframe("video/vp8", packet._data[:1])
        if packet.marker:
            frame[2] = seq
        first, last = frame[1], frame[2]
        if first is None or last is None or len(frame[0]) != ((last - first) & 0xFFFF) + 1:
            return False, None
        del self._pending[ts]
        self._done.append(ts)
        held = bool(self._pending)  # an older frame is still incomplete: not decodable yet
        pli = False
        for old_ts, old in list(self._pending.items()):  # older frames (dicts keep arrival order)
            if old is frame:
                continue
            old[4] += 1
            if old[4] >= LOST_AFTER:
                del self._pending[old_ts]
                self._done.append(old_ts)
                self.lost += 1
                pli = pli or not self._need_keyframe
                self._need_keyframe = True
        if self._need_keyframe and frame[3]:
            self._need_keyframe = False
        if not self._need_keyframe and not held:
            self._count()
        return pli, None

    def remove(self, count: int) -> None:  # JitterBuffer API aiortc may call; nothing is held
        pass


def install_counting_receivers() -> None:
    from core.pins import require
    from server.forwarder.passthrough import pass_through_receiver

    require("aiortc", "bench.loadclient counting receivers")
    original = RTCRtpReceiver.receive

    async def receive(self: RTCRtpReceiver, parameters: Any) -> None:
        if getattr(self, "_RTCRtpReceiver__decoder_thread", None) is None and not self.__dict__.get("_bench"):
            self.__dict__["_bench"] = True
            if _JITTER not in self.__dict__ or _REMB not in self.__dict__:
                raise RuntimeError("aiortc's RTCRtpReceiver changed: the load client cannot count frames")
            video = self.__dict__["_RTCRtpReceiver__kind"] == "video"
            self.__dict__[_JITTER] = FrameCounter(self, _client.get(), video)
            self.__dict__[_REMB] = None
            pass_through_receiver(self, lambda codec, packet: None)  # gets nothing: no decoder, ever
        await original(self, parameters)

    RTCRtpReceiver.receive = receive  # type: ignore[method-assign]  # the load client's documented receive seam (module docstring)


def install_keyframe_answers() -> None:
    """A PLI/FIR reaching a participant's video sender restarts its loop at the keyframe."""
    original = RTCRtpSender._send_keyframe

    def _send_keyframe(self: RTCRtpSender) -> None:
        loop = video_loops.get(_client.get() or "")  # RTCP is handled in a task of the participant's
        if loop is not None and self.kind == "video":
            loop.restart()
        original(self)

    RTCRtpSender._send_keyframe = _send_keyframe  # type: ignore[method-assign]  # this process only


def install_receive_buffers() -> None:
    """Every ICE socket of this process gets ``RECV_BUFFER`` bytes of receive buffer.

    aioice sets ``SO_RCVBUF`` on each host socket it gathers to ``turn.UDP_SOCKET_BUFFER_SIZE``
    (256 KiB; Linux doubles it); it reads the module constant at gathering time.
    """
    aioice_turn.UDP_SOCKET_BUFFER_SIZE = RECV_BUFFER


# --- the process ---------------------------------------------------------------------------------

async def main(url: str, room_name: str, first: list[str]) -> None:
    import aiohttp

    from core import connect
    from core.media import loopback

    loopback.enable_loopback_only()
    install_counting_receivers()
    install_keyframe_answers()
    install_receive_buffers()
    video, audio = encode_video(), encode_audio()
    http = aiohttp.ClientSession()
    rooms: dict[str, Any] = {}
    published: dict[str, dict[str, str]] = {}
    errors: list[str] = []
    events: list[str] = []  # room reconnecting/reconnected/disconnected, as they happen

    async def join(identity: str) -> None:
        _client.set(identity)  # this task's context, inherited by every task the SDK spawns for it
        try:
            async with http.post(url + "/dev/token", json={"identity": identity, "room": room_name}) as resp:
                token = str((await resp.json())["token"])
            tracks = make_tracks(identity, video, audio)
            room = await asyncio.wait_for(connect(token, url=url, name=room_name, tracks=tracks), 30)
            rooms[identity] = room
            for event in ("reconnecting", "reconnected", "disconnected"):
                room.on(event, lambda *a, e=event: events.append(f"{identity}: {e} {a[-1] if a else ''}"))
            published[identity] = {t.kind: t.id for t in tracks}
        except Exception as exc:  # noqa: BLE001 - reported, the orchestrator decides
            errors.append(f"{identity}: {type(exc).__name__}: {exc}")

    async def add(identities: list[str]) -> None:
        for identity in identities:  # one at a time: what a room sees when people arrive
            await asyncio.create_task(join(identity), context=contextvars.copy_context())

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def reply(**extra: Any) -> None:
        print(json.dumps({"t": time.monotonic(), "published": published, "errors": errors,
                          "received": {k: dict(v) for k, v in received.items()},
                          "unattributed": unattributed, "events": events,
                          "states": {k: r.state for k, r in rooms.items()},
                          "loop_restarts": sum(t.restarts for t in video_loops.values()), **extra}), flush=True)

    try:
        if first:
            await add(first)
        reply(ready=True, video_packets=len(video), video_bytes=sum(len(p) for p, _ in video),
              audio_packets=len(audio))
        while True:
            line = (await reader.readline()).decode().strip()
            if not line or line == "quit":
                break
            if line.startswith("add "):
                await add([x for x in line[4:].split(",") if x])
            reply()
    finally:
        for room in rooms.values():
            with contextlib.suppress(Exception):  # leaving anyway
                room.disconnect()
        await asyncio.sleep(0.5)
        await http.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--room", default="scale")
    ap.add_argument("--identities", default="")
    args = ap.parse_args()
    asyncio.run(main(args.url, args.room, [x for x in args.identities.split(",") if x]))
