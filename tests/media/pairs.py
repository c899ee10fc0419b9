"""Reusable helpers for media tests: a real aiortc pair over loopback, fake tracks."""

from __future__ import annotations

import asyncio
import contextlib
import fractions
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

import av
import numpy as np
from aiortc import RTCPeerConnection, RTCRtpSender
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from core.media.loopback import loopback_only, rtc_configuration


@dataclass
class Pair:
    """``sender`` publishes, ``receiver`` gets the remote tracks (in ``remote``)."""

    sender: RTCPeerConnection
    receiver: RTCPeerConnection
    remote: dict[str, MediaStreamTrack] = field(default_factory=dict)

    @property
    def video(self) -> MediaStreamTrack:
        return self.remote["video"]

    @property
    def audio(self) -> MediaStreamTrack:
        return self.remote["audio"]


async def negotiate(offerer: RTCPeerConnection, answerer: RTCPeerConnection) -> None:
    await offerer.setLocalDescription(await offerer.createOffer())
    await answerer.setRemoteDescription(offerer.localDescription)
    await answerer.setLocalDescription(await answerer.createAnswer())
    await offerer.setRemoteDescription(answerer.localDescription)


def _prefer(pc: RTCPeerConnection, codec: str) -> None:
    caps = RTCRtpSender.getCapabilities("video").codecs
    preferred = [c for c in caps if c.mimeType.lower() == f"video/{codec.lower()}"]
    for transceiver in pc.getTransceivers():
        if transceiver.kind == "video":
            transceiver.setCodecPreferences(preferred)


@contextlib.asynccontextmanager
async def media_pair(
    tracks: Iterable[MediaStreamTrack], *, video_codec: str | None = None, timeout: float = 5.0
) -> AsyncIterator[Pair]:
    """Two peer connections in this process, loopback-only ICE, ``tracks`` sent one way."""
    with loopback_only():
        sender = RTCPeerConnection(rtc_configuration())
        receiver = RTCPeerConnection(rtc_configuration())
        pair = Pair(sender, receiver)
        expected = 0
        got_all = asyncio.Event()

        @receiver.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            pair.remote[track.kind] = track
            if len(pair.remote) >= expected:
                got_all.set()

        try:
            for track in tracks:
                sender.addTrack(track)
                expected += 1
            if video_codec:
                _prefer(sender, video_codec)
            await negotiate(sender, receiver)
            await asyncio.wait_for(got_all.wait(), timeout)
            yield pair
        finally:
            await sender.close()
            await receiver.close()


def sdp_candidate_addresses(sdp: str) -> list[str]:
    """Connection addresses of every ``a=candidate`` line."""
    return [line.split()[4] for line in sdp.splitlines() if line.startswith("a=candidate:")]


class FakeVideoTrack(MediaStreamTrack):
    """Yields frames of the given sizes, ``interval`` apart, then ends (MediaStreamError)."""

    kind = "video"

    def __init__(self, sizes: Iterable[tuple[int, int]], interval: float = 0.0) -> None:
        super().__init__()
        self._sizes = iter(sizes)
        self._interval = interval
        self.sent = 0

    async def recv(self) -> av.VideoFrame:
        if self._interval:
            await asyncio.sleep(self._interval)
        else:
            await asyncio.sleep(0)
        try:
            w, h = next(self._sizes)
        except StopIteration:
            self.stop()
            raise MediaStreamError from None
        frame = av.VideoFrame.from_ndarray(np.full((h * 3 // 2, w), self.sent % 256, np.uint8),
                                           format="yuv420p")
        frame.pts = self.sent * 3000
        frame.time_base = fractions.Fraction(1, 90000)
        self.sent += 1
        return frame


class FakeAudioTrack(MediaStreamTrack):
    """Yields the given s16 stereo sample blocks as 960-sample frames, then ends."""

    kind = "audio"

    def __init__(self, blocks: Iterable[np.ndarray]) -> None:
        super().__init__()
        self._blocks = iter(blocks)
        self.sent = 0

    async def recv(self) -> av.AudioFrame:
        await asyncio.sleep(0)
        try:
            block = next(self._blocks)
        except StopIteration:
            self.stop()
            raise MediaStreamError from None
        frame = av.AudioFrame.from_ndarray(block.reshape(1, -1), format="s16", layout="stereo")
        frame.sample_rate = 48000
        frame.pts = self.sent * 960
        self.sent += 1
        return frame
