"""A local track whose source stalls without ending is muted, and unmuted when frames come back."""

from __future__ import annotations

import asyncio
from typing import Any

from aiortc.mediastreams import MediaStreamTrack

from core.local_tracks import local_source
from core.media.sources import SyntheticAudioSource
from core.track import LocalAudioTrack


class Stalling(MediaStreamTrack):
    """A microphone that can be made to stop delivering (a device another program took)."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._inner = SyntheticAudioSource("tone")
        self.flowing = asyncio.Event()
        self.flowing.set()

    async def recv(self) -> Any:
        await self.flowing.wait()
        return await self._inner.recv()


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
