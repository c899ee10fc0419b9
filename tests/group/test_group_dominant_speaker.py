"""Dominant speaker from a script of speakers: group rooms (server-side) and peer-to-peer rooms (client-side).

Speakers are synthetic tones switched on and off at scripted times; an observer with no
tracks asked for ``dominant_speaker=True``. Every real change of speaker must be followed
within 1.0 s; bursts shorter than 300 ms (a cough) must never take the highlight, whether
someone else holds it or nobody does yet; the speaker leaving resets it to ``None``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from callutil import JoinFn, until
from core import LocalAudioTrack
from core.media.sources import SyntheticAudioSource
from server.app import RunningServer

pytestmark = pytest.mark.media

SPEAKERS = ("alice", "bob", "carol")
#: (at seconds, who, speaking)
SCRIPT = [
    (0.3, "bob", True), (0.5, "bob", False),        # 200 ms burst with nobody dominant yet
    (1.2, "alice", True),
    (3.6, "alice", False), (3.6, "bob", True),
    (6.0, "bob", False), (6.0, "carol", True),
    (7.0, "alice", True), (7.25, "alice", False),    # 250 ms cough while carol speaks
    (7.9, "bob", True), (8.18, "bob", False),        # 280 ms
    (8.8, "carol", False),                           # the room falls silent: carol stays
]
CHANGES = [(1.2, "alice"), (3.6, "bob"), (6.0, "carol")]
MAX_LAG_S = 1.0


@pytest.mark.parametrize("room_type", ["group", "peer-to-peer"])
async def test_the_dominant_speaker_follows_the_script(join: JoinFn, server: RunningServer, room_type: str) -> None:
    name = f"ds-{room_type}"
    if room_type != "group":
        server.registry.create_room(_options(room_type, name))
    sources = {}
    rooms = {}
    for speaker in SPEAKERS:
        sources[speaker] = SyntheticAudioSource("tone", label=speaker)
        sources[speaker].set_speaking(False)
        track = LocalAudioTrack(sources[speaker], name="microphone")
        rooms[speaker] = await join(speaker, room=name, tracks=[track], dominant_speaker=True)
    observer = await join("observer", room=name, dominant_speaker=True)
    seen: list[tuple[float, str | None]] = []
    observer.on("dominantSpeakerChanged", lambda p: seen.append((time.monotonic(), p.identity if p else None)))
    # Everyone hears everyone before the script starts.
    await asyncio.sleep(1.5)
    assert observer.dominant_speaker is None and not seen
    t0 = time.monotonic()
    for at, who, speaking in SCRIPT:
        await asyncio.sleep(max(0.0, t0 + at - time.monotonic()))
        sources[who].set_speaking(speaking)
    await asyncio.sleep(max(0.0, t0 + 9.6 - time.monotonic()))
    identities = [who for _, who in seen]
    assert identities == [who for _, who in CHANGES], [(round(t - t0, 2), who) for t, who in seen]
    lags = [t - (t0 + at) for (t, _), (at, _) in zip(seen, CHANGES, strict=False)]
    assert all(0 < lag <= MAX_LAG_S for lag in lags), lags
    print(f"{room_type}: switch lags {[round(x, 3) for x in lags]} s")
    # A speaker sees the others the same way (never itself).
    assert rooms["alice"].dominant_speaker is not None and rooms["alice"].dominant_speaker.identity == "carol"
    # The dominant speaker leaves: None.
    rooms["carol"].disconnect()
    await until(lambda: seen[-1][1] is None, timeout=5)
    assert observer.dominant_speaker is None


def _options(room_type: str, name: str) -> Any:
    from server.rooms import RoomOptions

    return RoomOptions(type=room_type, unique_name=name)
