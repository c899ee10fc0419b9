"""A participant who lies, in a group room: the forwarder and the clients stay truthful.

The liar is a real Confab client whose local tracks carry chosen ids (the fault injected here):
(a) its camera uses another participant's track id; (b) its data track is named like the
server's media-signaling channel. Either publication fails with 53300, and no observer ever
sees the liar's media or messages as someone else's.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from callutil import EventLog, FrameLog, JoinFn, camera, remote_of, subscribed, until
from core import LocalDataTrack, LocalVideoTrack, TwilioError
from core.media.sources import SyntheticVideoSource

pytestmark = pytest.mark.media


def _video_with_id(track_id: str, width: int, height: int) -> LocalVideoTrack:
    source = SyntheticVideoSource(width, height, 15)
    source._id = track_id  # the lie: aiortc's track id is the msid on the wire
    return LocalVideoTrack(source, name="camera")


async def test_a_track_id_taken_by_another_participant_is_refused_and_never_forwarded(join: JoinFn) -> None:
    victim_camera = camera("victim", 320, 240)
    victim = await join("victim", tracks=[victim_camera])
    observer = await join("observer")
    await until(lambda: subscribed(observer, "victim", "video"))
    frames = FrameLog()
    subscribed(observer, "victim", "video").add_sink(frames)
    await until(lambda: len(frames.sizes) >= 3)

    liar_camera = _video_with_id(victim_camera.id, 160, 120)
    liar = await join("liar")
    with pytest.raises(TwilioError) as refused:
        await liar.local_participant.publish_track(liar_camera)
    assert refused.value.code == 53300

    since = len(frames.sizes)
    await asyncio.sleep(2.0)  # long enough for the liar's media to reach the forwarder
    assert len(frames.sizes) - since >= 10
    assert set(frames.sizes[since:]) == {(320, 240)}
    liar_seen = remote_of(observer, "liar")
    assert liar_seen is not None and not liar_seen.video_tracks
    assert victim.state == "connected"


async def test_a_data_track_named_like_a_media_signaling_channel_is_refused(join: JoinFn) -> None:
    speaker = await join("speaker", tracks=[camera("speaker")])
    observer = await join("observer", dominant_speaker=True)
    changes = EventLog(observer, "dominantSpeakerChanged")

    forged = LocalDataTrack()
    forged._id = "active_speaker"  # the lie: the label of the server's MSP channel
    liar = await join("liar")
    with pytest.raises(TwilioError) as refused:
        await liar.local_participant.publish_track(forged)
    assert refused.value.code == 53300
    fake = "PA" + "0" * 32
    for _ in range(20):
        forged.send(json.dumps({"type": "active_speaker", "participant": fake}))
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    assert all(args[0] is None or args[0].sid != fake for args in changes.of("dominantSpeakerChanged"))
    assert observer.dominant_speaker is None or observer.dominant_speaker.sid != fake
    assert speaker.state == "connected"


async def test_every_subscriber_of_a_quick_join_decodes_the_publisher(join: JoinFn) -> None:
    """The join race: a subscribe offer that overtook ``connected`` used to be dropped (~1 in 10)."""
    await join("publisher", tracks=[camera("publisher", 160, 120)])
    joins = 12
    for n in range(joins):
        room = await join(f"viewer-{n}")
        await until(lambda: subscribed(room, "publisher", "video"), timeout=8)
        frames = FrameLog()
        subscribed(room, "publisher", "video").add_sink(frames)
        await until(lambda: frames.sizes, timeout=8)
        room.disconnect()
