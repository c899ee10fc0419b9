"""A local source that goes quiet: muted, unmuted when it delivers again, reopened by refresh_inactive_media()."""

from __future__ import annotations

import asyncio

import pytest
from aiortc.mediastreams import MediaStreamTrack

from callutil import subscribed, until
from core.local_tracks import local_source
from core.media.sources import SyntheticAudioSource
from core.track import LocalAudioTrack

pytestmark = pytest.mark.media


class Stalling(MediaStreamTrack):
    """A microphone that can be made to stop delivering without ending."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._inner = SyntheticAudioSource("tone")
        self.flowing = asyncio.Event()
        self.flowing.set()

    async def recv(self):
        await self.flowing.wait()
        return await self._inner.recv()


async def test_refresh_inactive_media_reopens_a_stalled_microphone(join) -> None:
    source = Stalling()
    mic = LocalAudioTrack(source)
    mic._constraints = {"device": "synthetic:tone"}  # type: ignore[attr-defined]  # as create_local_audio_track sets it
    alice = await join("alice", tracks=[mic])
    bob = await join("bob")
    audio = await until(lambda: subscribed(bob, "alice", "audio"))
    sid = audio.sid
    events: list[str] = []
    for name in ("muted", "unmuted", "stopped", "started"):
        mic.on(name, lambda t, name=name: events.append(name))
    source.flowing.clear()  # the device goes quiet (another program took it)
    await until(lambda: mic.is_muted, timeout=5)
    await alice.refresh_inactive_media()
    await until(lambda: not mic.is_muted and mic.is_started, timeout=5)
    assert events == ["muted", "stopped", "started", "unmuted"]
    await asyncio.sleep(0.5)
    track = subscribed(bob, "alice", "audio")
    assert track is not None and track.sid == sid  # the same publication carries the new source
    await until(lambda: (track.level or 0) > 0, timeout=5)


async def test_a_stalled_source_is_muted_then_unmuted_and_only_once() -> None:
    source = Stalling()
    track = LocalAudioTrack(source)
    events: list[str] = []
    for name in ("muted", "unmuted", "stopped"):
        track.on(name, lambda t, name=name: events.append(name))
    local_source(track)
    for _ in range(100):
        if track.is_started:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(1.5)
    assert events == [] and not track.is_muted  # a steady source is never muted
    source.flowing.clear()
    for _ in range(100):
        if track.is_muted:
            break
        await asyncio.sleep(0.05)
    assert track.is_muted and events == ["muted"]
    source.flowing.set()
    for _ in range(40):
        if not track.is_muted:
            break
        await asyncio.sleep(0.05)
    assert not track.is_muted and events == ["muted", "unmuted"]
    track.stop()
    await asyncio.sleep(0.3)
    assert events == ["muted", "unmuted", "stopped"]
