"""Video frame assembly that releases a frame the moment it is complete and heals after a gap.

aiortc's video ``JitterBuffer`` (architecture §8) releases a frame only when the first packet
of the *next* frame arrives (one frame interval of latency: 33 ms at 30 fps, 67 ms at 15),
and after a long gap re-asks only for the last 100 missing packets, then releases nothing
and requests no keyframe until 512 newer packets have arrived (29 s at 160×120@10).

:class:`FrameAssembler` keeps aiortc's interface (``add(packet) -> (pli, frame)``) and:

* releases a frame as soon as its packets run without a hole from the frame's first packet
  to one with the RTP **marker bit** (the last packet of a video frame);
* when a hole at the head has waited ``max_wait`` seconds while newer packets arrive (NACK
  had its chance), or the packets jump past ``capacity``, it drops what it cannot complete,
  asks for a keyframe (PLI) at once, and passes no frame until a keyframe arrives — asking
  again every ``pli_interval`` while it waits. So recovery takes a round trip and a keyframe,
  whatever the packet rate.

:func:`install` puts one on a receiver (``_RTCRtpReceiver__jitter_buffer``, aiortc 1.16,
before its first packet); ``core.media.negotiation`` does it for every video receiver of
Confab's connections, client and server alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aiortc import RTCPeerConnection
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtcrtpreceiver import RTCRtpReceiver

from ..pins import require

__all__ = ["FrameAssembler", "assemble_remote_video", "install", "is_keyframe", "starts_frame"]

_ATTR = "_RTCRtpReceiver__jitter_buffer"


def is_keyframe(mime: str | None, data: bytes) -> bool:
    """Whether an encoded VP8 or H.264 frame (as aiortc depayloads it) starts a decodable picture."""
    if not data:
        return False
    mime = (mime or "").lower()
    if mime == "video/vp8":
        return (data[0] & 0x01) == 0  # frame tag: P bit clear = key frame
    if mime == "video/h264":  # Annex B: an IDR slice or an SPS
        i = 0
        while True:
            i = data.find(b"\x00\x00\x01", i)
            if i < 0 or i + 3 >= len(data):
                return False
            if data[i + 3] & 0x1F in (5, 7):
                return True
            i += 3
    return True  # audio, or a codec without inter frames we know of


def _seq_delta(a: int, b: int) -> int:
    """``a - b`` in 16-bit sequence space, in -32768..32767."""
    d = (a - b) & 0xFFFF
    return d - 0x10000 if d >= 0x8000 else d


def starts_frame(mime: str | None, payload: bytes) -> bool:
    """Whether an RTP payload is the first packet of a video frame, by its codec's own header
    (RFC 7741 VP8: S bit and partition 0; RFC 6184 H.264: a parameter set, an access-unit
    delimiter, or a slice whose first macroblock is 0). Needed only after a gap, when the
    packet before it is unknown."""
    if not payload or mime is None:
        return False
    mime = mime.lower()
    if mime == "video/vp8":
        return bool(payload[0] & 0x10) and (payload[0] & 0x07) == 0
    if mime == "video/h264":
        nal = payload[0] & 0x1F
        if nal == 24:  # STAP-A: parameter sets aggregated ahead of a keyframe
            return True
        if nal == 28:  # FU-A: its start fragment carries the inner header
            if len(payload) < 3 or not payload[1] & 0x80:
                return False
            nal, first = payload[1] & 0x1F, payload[2]
        elif 1 <= nal <= 23 and len(payload) > 1:
            first = payload[1]
        else:
            return False
        if nal in (6, 7, 8, 9):  # SEI, SPS, PPS, AUD come before a picture's slices
            return True
        return nal in (1, 5) and bool(first & 0x80)  # ue(v) first_mb_in_slice == 0
    return False


class FrameAssembler(JitterBuffer):
    """aiortc's ``JitterBuffer`` interface for video, releasing frames on the marker bit."""

    def __init__(self, capacity: int = 1024, *, max_wait: float = 0.2, pli_interval: float = 0.3,
                 mime_of: Callable[[Any], str | None] = lambda packet: None,
                 keyframe: Callable[[str | None, bytes], bool] = is_keyframe,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(capacity=capacity, is_video=True)
        self._packets_by_seq: dict[int, Any] = {}
        self._head: int | None = None  # the next frame starts here, once ``_synced``
        self._synced = False
        self._newest: int | None = None
        self._hole_since: float | None = None
        self._need_keyframe = True  # a decoder can start only at a keyframe
        self._last_pli = -1e9
        self._max_wait = max_wait
        self._pli_interval = pli_interval
        self._mime_of = mime_of
        self._keyframe = keyframe
        self._clock = clock
        #: Counters for tests and stats: frames released, frames dropped, keyframe requests.
        self.released = 0
        self.dropped = 0
        self.plis = 0

    def add(self, packet: Any) -> tuple[bool, JitterFrame | None]:
        seq = packet.sequence_number
        now = self._clock()
        if self._head is None:
            self._head = self._newest = seq
            self._last_pli = now  # the stream starts with a keyframe: ask only if it does not
        assert self._newest is not None
        if _seq_delta(seq, self._head) < 0:
            return self._pli(now) if self._need_keyframe else False, None  # too late: dropped already
        if _seq_delta(seq, self._head) >= self.capacity:
            self._restart(seq)
        self._packets_by_seq[seq] = packet
        if _seq_delta(seq, self._newest) > 0:
            self._newest = seq
        if not self._synced:
            self._sync()
        frame = self._take_frame() if self._synced else None
        if frame is None and self._hole_stuck(now) and self._drop_head():
            frame = self._take_frame()
        pli = self._pli(now) if self._need_keyframe else False
        return pli, frame

    # --- assembly -----------------------------------------------------------------------

    def _take_frame(self) -> JitterFrame | None:
        """The complete frame at the head, if any (frames that cannot start a decoder are dropped)."""
        while True:
            run = self._complete_run()
            if run is None:
                return None
            data = b"".join(p._data for p in run)
            self._forget(run)
            if self._need_keyframe and not self._keyframe(self._mime_of(run[0]), data):
                self.dropped += 1
                continue
            self._need_keyframe = False
            self.released += 1
            return JitterFrame(data=data, timestamp=run[0].timestamp)

    def _complete_run(self) -> list[Any] | None:
        assert self._head is not None
        first = self._packets_by_seq.get(self._head)
        if first is None:
            return None
        run = [first]
        seq = self._head
        while not run[-1].marker:
            seq = (seq + 1) & 0xFFFF
            packet = self._packets_by_seq.get(seq)
            if packet is None:
                return None
            if packet.timestamp != first.timestamp:  # the marker was lost with nothing missing
                return run
            run.append(packet)
        return run

    def _forget(self, run: list[Any]) -> None:
        for packet in run:
            self._packets_by_seq.pop(packet.sequence_number, None)
        self._head = (run[-1].sequence_number + 1) & 0xFFFF
        self._hole_since = None

    # --- healing ------------------------------------------------------------------------

    def _hole_stuck(self, now: float) -> bool:
        """A packet is missing between the head and the newest: wait ``max_wait`` for its
        retransmission (NACK), then give up on it."""
        assert self._head is not None and self._newest is not None
        span = _seq_delta(self._newest, self._head) + 1
        if len(self._packets_by_seq) >= span:
            self._hole_since = None
            return False
        if self._hole_since is None:
            self._hole_since = now
        return now - self._hole_since >= self._max_wait

    def _drop_head(self) -> bool:
        """Drop up to the first frame boundary after the head; then only a keyframe may pass."""
        assert self._head is not None
        ends = [s for s, pk in self._packets_by_seq.items() if pk.marker]
        if not ends:
            return False
        end = min(ends, key=lambda s: _seq_delta(s, self._head or 0))
        for s in [s for s in self._packets_by_seq if _seq_delta(s, end) <= 0]:
            del self._packets_by_seq[s]
        self._head, self._synced = (end + 1) & 0xFFFF, True
        self._lost_picture()
        return True

    def _sync(self) -> None:
        """Find where a frame starts (after a restart, or at the very first packet)."""
        assert self._head is not None
        for seq in sorted(self._packets_by_seq, key=lambda s: _seq_delta(s, self._head or 0)):
            packet = self._packets_by_seq[seq]
            before = self._packets_by_seq.get((seq - 1) & 0xFFFF)
            if starts_frame(self._mime_of(packet), packet.payload) or (
                    before is not None and (before.marker or before.timestamp != packet.timestamp)):
                for s in [s for s in self._packets_by_seq if _seq_delta(s, seq) < 0]:
                    del self._packets_by_seq[s]
                self._head, self._synced = seq, True
                return

    def _restart(self, seq: int) -> None:
        """A jump past the buffer: forget everything, look for the next frame start."""
        self._packets_by_seq.clear()
        self._head = self._newest = seq
        self._synced = False
        self._lost_picture()

    def _lost_picture(self) -> None:
        """Something was dropped: only a keyframe may pass now, and it is asked for at once."""
        self._hole_since = None
        self._need_keyframe = True
        self._last_pli = -1e9
        self.dropped += 1

    def _pli(self, now: float) -> bool:
        if now - self._last_pli < self._pli_interval:
            return False
        self._last_pli = now
        self.plis += 1
        return True

    def remove(self, count: int) -> None:  # pragma: no cover - aiortc calls it only on its own buffer
        pass


def install(receiver: RTCRtpReceiver) -> FrameAssembler | None:
    """Give a video ``receiver`` a :class:`FrameAssembler` (idempotent; audio is left alone)."""
    require("aiortc", "core.media.frames")
    current = receiver.__dict__.get(_ATTR)
    if current is None:
        raise RuntimeError("RTCRtpReceiver has no _RTCRtpReceiver__jitter_buffer any more")
    if isinstance(current, FrameAssembler):
        return current
    if not getattr(current, "_is_video", False):
        return None
    codecs = receiver.__dict__.get("_RTCRtpReceiver__codecs", {})  # payload type → codec, live

    def mime_of(packet: Any) -> str | None:
        codec = codecs.get(packet.payload_type)
        return codec.mimeType if codec is not None else None

    assembler = FrameAssembler(mime_of=mime_of)
    receiver.__dict__[_ATTR] = assembler
    return assembler


def assemble_remote_video(pc: RTCPeerConnection) -> None:
    """Every remote video track ``pc`` gets from now on has a :class:`FrameAssembler`,
    installed on its receiver as aiortc announces the track (before its first packet)."""
    @pc.on("track")
    def _assemble_frames(track: Any) -> None:
        if track.kind == "video":
            for transceiver in pc.getTransceivers():
                if transceiver.receiver.track is track:
                    install(transceiver.receiver)
