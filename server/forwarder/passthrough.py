"""Pass-through media over aiortc: receive encoded frames and send them on, never decoding.

The one documented hook of the forwarder over aiortc (architecture §8, tech-probe §2),
applied **per receiver / per sender**, so a process that also holds ordinary decoding peers
(the in-process tests) is unaffected:

* **Receiving.** ``RTCRtpReceiver`` depacketizes and reassembles encoded frames in its
  jitter buffer, then puts ``(codec, JitterFrame)`` on a queue its decoder thread reads.
  :func:`pass_through_receiver` replaces that queue (private
  ``_RTCRtpReceiver__decoder_queue``, before the receiver starts) with
  :class:`_PassThroughQueue`: each frame becomes an ``av.Packet`` with ``pts`` (RTP clock
  units, mapped from 0) and ``time_base`` (1/clock rate) and is handed to a callback on
  the event loop. The decoder thread still starts but only ever sees the stop sentinel,
  so no decoder is created.
* **Sending.** :func:`pass_through_sender` replaces the sender's ``_send_keyframe`` (called
  on the subscriber's PLI/FIR) with a callback that asks the publisher instead, and when
  aiortc starts the sender (``send(parameters)``) gives its :class:`ForwardTrack` an
  :class:`~server.forwarder.rtp_writer.RtpWriter`: from then on each frame is written to
  the subscriber's transport as the publisher's receiver releases it, packetized once per
  publisher track (:class:`SharedPacker`) — no task, queue or packetizer per subscriber
  (``rtp_writer.py`` says why and what it touches). The sender's private
  ``_RTCRtpSender__encoder`` is still set to a :class:`Packer`, so aiortc never calls
  ``get_encoder`` (whose Opus encoder would open a codec context).
* :class:`ForwardTrack` is the sender's track, carrying the **publisher's track id** (the
  SDP msid track id the subscriber matches against ``subscribed {sid, id}``). Video starts
  at a keyframe and asks for one when it begins and whenever it has to skip. Without a
  writer (an ordinary sender) it is a bounded queue the sender's ``recv()`` drains.

Private names used: ``_RTCRtpReceiver__decoder_queue``, ``_RTCRtpReceiver__rtx_ssrc``,
``_RTCRtpSender__encoder``, ``RTCRtpSender._send_keyframe``,
``RTCRtpReceiver._send_rtcp_pli`` (aiortc 1.16), and ``rtp_writer.py``'s.
"""

from __future__ import annotations

import asyncio
import fractions
import functools
import queue
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import av
from aiortc.codecs.h264 import H264Encoder
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcrtpparameters import RTCRtpSendParameters
from aiortc.rtcrtpreceiver import RTCRtpReceiver
from aiortc.rtcrtpsender import RTCRtpSender

from core.media.frames import is_keyframe
from core.pins import require

from .rtp_writer import RtpWriter, ntp_time

__all__ = ["ForwardTrack", "Packer", "SharedPacker", "is_keyframe", "pass_through_receiver", "pass_through_sender",
           "release_sender", "send_only_receiver"]

if TYPE_CHECKING:  # PyAV's Packet is generic in its stubs only; any stream's packet will do
    Packet = av.Packet[Any]
else:
    Packet = av.Packet
Deliver = Callable[[Any, Packet], None]


@functools.lru_cache(maxsize=8)
def _time_base(clock_rate: int) -> fractions.Fraction:
    """1/clock rate (built once: a ``Fraction`` costs a microsecond, every frame needs one)."""
    return fractions.Fraction(1, clock_rate)


class _PassThroughQueue:
    """Stands in for the receiver's decoder queue (see the module docstring)."""

    def __init__(self, deliver: Deliver) -> None:
        self._deliver = deliver
        self._stop: queue.Queue[None] = queue.Queue()
        self.frames = 0

    def put(self, item: Any) -> None:
        if item is None:  # the receiver is stopping: let its decoder thread end
            self._stop.put(None)
            return
        codec, frame = item
        packet = av.Packet(frame.data)
        packet.pts = frame.timestamp
        packet.time_base = _time_base(codec.clockRate)
        self.frames += 1
        self._deliver(codec, packet)

    def get(self) -> None:  # the decoder thread's only call: block until stop
        return self._stop.get()


def pass_through_receiver(receiver: RTCRtpReceiver, deliver: Deliver) -> None:
    """Make ``receiver`` hand encoded frames to ``deliver(codec, packet)`` instead of decoding."""
    require("aiortc", "server.forwarder.passthrough")
    if "_RTCRtpReceiver__decoder_queue" not in receiver.__dict__:
        raise RuntimeError("aiortc's RTCRtpReceiver has no __decoder_queue any more: pass-through cannot replace it")
    if getattr(receiver, "_RTCRtpReceiver__decoder_thread", None) is not None:
        raise RuntimeError("the receiver already started decoding")
    receiver._RTCRtpReceiver__decoder_queue = _PassThroughQueue(deliver)  # type: ignore[attr-defined]  # the receiver's private decoder queue (pinned aiortc; module docstring)


def media_ssrc(receiver: RTCRtpReceiver) -> int | None:
    """The SSRC the publisher sends media on (RTX left out), once packets arrived."""
    rtx = getattr(receiver, "_RTCRtpReceiver__rtx_ssrc", {}) or {}
    sources = [s.source for s in receiver.getSynchronizationSources() if s.source not in rtx]
    return sources[0] if sources else None


class Packer:
    """What a pass-through sender packetizes with: ``pack(packet)`` only, no codec context."""

    def __init__(self, mime: str, clock_rate: int) -> None:
        self.mime, self.clock_rate = mime, clock_rate
        mime = mime.lower()
        # Vp8Encoder/H264Encoder open their codec context lazily in encode(); pack() needs none.
        self._impl: Any = Vp8Encoder() if mime == "video/vp8" else H264Encoder() if mime == "video/h264" else None
        self._time_base = fractions.Fraction(1, clock_rate)

    @property
    def vp8(self) -> Vp8Encoder | None:
        """The VP8 packetizer (its ``picture_id`` is the next frame's), if this is VP8."""
        return self._impl if isinstance(self._impl, Vp8Encoder) else None

    def pack(self, packet: Packet) -> tuple[list[bytes], int]:
        if self._impl is not None:
            packed: tuple[list[bytes], int] = self._impl.pack(packet)
            return packed
        pts = packet.pts or 0
        if packet.time_base is not None and packet.time_base != self._time_base:
            pts = int(pts * packet.time_base / self._time_base)
        return [bytes(packet)], pts

    def encode(self, frame: Any, force_keyframe: bool = False) -> Any:  # pragma: no cover - never
        raise RuntimeError("a pass-through sender never encodes")


class SharedPacker:
    """Packetizes each frame of one publisher track once for every subscriber (the last frame is kept).

    ``pack(packet)`` → ``(payloads, timestamp, ntp)``: the RTP payloads (VP8/H.264 payload
    descriptors included, one picture-id sequence per publisher track), the RTP timestamp
    from 0 and the 64-bit NTP time of the first call for this frame (the send time).
    """

    def __init__(self, mime: str, clock_rate: int) -> None:
        self._packer = Packer(mime, clock_rate)
        self._last: Packet | None = None
        self._packed: tuple[list[bytes], int, int] = ([], 0, 0)
        self.frames = 0

    def pack(self, packet: Packet) -> tuple[list[bytes], int, int]:
        if packet is not self._last:
            payloads, timestamp = self._packer.pack(packet)
            self._last, self._packed = packet, (payloads, timestamp, ntp_time(time.time()))
            self.frames += 1
        return self._packed

    def pack_before(self, packets: list[Packet]) -> list[tuple[list[bytes], int, int]]:
        """``packets`` (older frames, in order) packed as the frames just before the next one
        :meth:`pack` makes: VP8 picture ids run on into it, so one subscriber's stream has no gap."""
        packer = Packer(self._packer.mime, self._packer.clock_rate)
        shared, own = self._packer.vp8, packer.vp8
        if shared is not None and own is not None:
            own.picture_id = (shared.picture_id - len(packets)) % (1 << 15)
        now = ntp_time(time.time())
        return [(*packer.pack(packet), now) for packet in packets]


#: publisher track id → its packer, alive while a subscriber's track holds it
_packers: weakref.WeakValueDictionary[tuple[str, str], SharedPacker] = weakref.WeakValueDictionary()


def shared_packer(track_id: str, mime: str, clock_rate: int) -> SharedPacker:
    """The one packer of a publisher's track (track ids are unique; a rebuilt connection keeps its id)."""
    key = (track_id, mime.lower())
    packer = _packers.get(key)
    if packer is None:
        packer = _packers[key] = SharedPacker(mime, clock_rate)
    return packer


def pass_through_sender(sender: RTCRtpSender, mime: str, clock_rate: int,
                        on_keyframe_request: Callable[[], None]) -> None:
    require("aiortc", "server.forwarder.passthrough")
    if "_RTCRtpSender__encoder" not in sender.__dict__:
        raise RuntimeError("aiortc's RTCRtpSender has no __encoder any more: pass-through cannot replace it")
    sender._RTCRtpSender__encoder = Packer(mime, clock_rate)  # type: ignore[attr-defined]  # never get_encoder
    sender._send_keyframe = on_keyframe_request  # type: ignore[method-assign]  # PLI/FIR ask the publisher
    track = sender.track
    if not isinstance(track, ForwardTrack):
        return
    start = sender.send

    async def send(parameters: RTCRtpSendParameters) -> None:
        if track.writer is None and track.readyState == "live":
            track.attach(RtpWriter(sender, parameters), shared_packer(track.id, mime, clock_rate))
        await start(parameters)

    sender.send = send  # type: ignore[method-assign]  # the writer takes over when aiortc starts the sender


def _nothing() -> None:
    pass


def release_sender(sender: RTCRtpSender) -> None:
    """A dropped forwarding's sender stays in its connection (aiortc keeps every m-line): let
    go of the publisher, whose keyframe request its ``_send_keyframe`` held."""
    sender._send_keyframe = _nothing  # type: ignore[method-assign]  # undoes pass_through_sender's


def send_only_receiver(receiver: RTCRtpReceiver) -> None:
    """The receiving half of a send-only forwarding never gets media, yet aiortc gives every
    video receiver a REMB estimator up front (a 1000-bucket rate window, ~100 kB): dropped, so
    N participants' N·(N−1) forwardings do not carry as many (aiortc checks it for None)."""
    require("aiortc", "server.forwarder.passthrough")
    name = "_RTCRtpReceiver__remote_bitrate_estimator"
    if name not in receiver.__dict__:
        raise RuntimeError(f"aiortc's RTCRtpReceiver has no {name} any more")
    receiver.__dict__[name] = None


#: Video frames a subscription keeps from the publisher's latest keyframe until its sender starts.
EARLY_FRAMES = 30


class ForwardTrack(MediaStreamTrack):
    """Packets of one publisher track for one subscriber's sender (latest wins when it lags).

    A video subscription asks the publisher for a keyframe as soon as it is made, and keeps
    that keyframe and the frames after it (at most ``EARLY_FRAMES``) while the subscriber's
    connection is being set up; when the sender starts they go out at once, so the first
    frame does not wait a keyframe round trip after DTLS (``bench/latency.py`` phases).
    """

    def __init__(self, kind: str, track_id: str, mime: str, *,
                 request_keyframe: Callable[[], None], max_queue: int | None = None) -> None:
        super().__init__()
        self.kind = kind
        self._id = track_id
        self.mime = mime
        self._request_keyframe = request_keyframe
        self._queue: deque[Packet] = deque()
        self._max = max_queue or (240 if kind == "video" else 50)
        self._event = asyncio.Event()
        self._started = False  # the sender asked for the first packet
        self._need_keyframe = kind == "video"
        self.writer: RtpWriter | None = None
        self._packer: SharedPacker | None = None
        self._early: list[Packet] = []  # video before the sender starts: the latest keyframe on
        self.packets = 0
        self.skipped = 0
        self.early_sent = 0
        if kind == "video":
            request_keyframe()

    def attach(self, writer: RtpWriter, packer: SharedPacker) -> None:
        """Write every packet from now on with ``writer`` (the sender has started): first the early
        keyframe and what followed it, or (none kept) ask the publisher for a keyframe."""
        self.writer, self._packer = writer, packer
        self._started = True
        self._queue.clear()
        early, self._early = self._early, []
        if early:
            self._need_keyframe = False
            for frame in packer.pack_before(early):
                writer.write(*frame)
            self.packets += len(early)
            self.early_sent += len(early)
        elif self.kind == "video":
            self._request_keyframe()

    def _keep_early(self, packet: Packet, keyframe: bool) -> None:
        if keyframe:
            self._early = [packet]
        elif self._early:
            self._early.append(packet)
            if len(self._early) > EARLY_FRAMES:  # too old to show: a fresh keyframe when the sender starts
                self._early = []

    def push(self, packet: Packet, keyframe: bool) -> None:
        if self.readyState != "live":
            return
        if not self._started:
            if self.kind == "video":
                self._keep_early(packet, keyframe)
            return
        if self._need_keyframe:
            if not keyframe:
                self.skipped += 1
                self._request_keyframe()  # throttled upstream
                return
            self._need_keyframe = False
        if self.writer is not None and self._packer is not None:
            self.writer.write(*self._packer.pack(packet))
            self.packets += 1
            return
        if len(self._queue) >= self._max:  # the subscriber's sender is not keeping up
            self._queue.clear()
            if self.kind == "video":
                self._need_keyframe = not keyframe
                if not keyframe:
                    self._request_keyframe()
                    return
        self._queue.append(packet)
        self._event.set()

    async def recv(self) -> Packet:
        if not self._started:
            self._started = True
            early, self._early = self._early, []
            if early:
                self._need_keyframe = False
                self._queue.extend(early)
            elif self.kind == "video":
                self._request_keyframe()
        while not self._queue:
            if self.readyState != "live":
                raise MediaStreamError
            self._event.clear()
            await self._event.wait()
        self.packets += 1
        return self._queue.popleft()

    def stop(self) -> None:
        super().stop()
        self._request_keyframe = _nothing  # the publisher may go (the sender outlives this track)
        self.writer = self._packer = None
        self._early = []
        self._queue.clear()
        self._event.set()
