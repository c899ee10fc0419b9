"""A participant who lies, in a peer-to-peer room: media stays bound to its publisher.

The server refuses a track id already used in the room (53300); the liar then keeps sending
media labelled with the victim's track id on its own connections anyway (injected below
through its media layer, as a hostile client would). Observers still show only the
victim's video for the victim's track, and nothing of the liar's.
"""

from __future__ import annotations

import asyncio

import pytest

from callutil import FrameLog, camera, remote_of, subscribed, until
from core import LocalVideoTrack, TwilioError
from core.local_tracks import local_source
from core.media.sources import SyntheticVideoSource

pytestmark = pytest.mark.media


async def test_media_labelled_with_another_participants_track_id_is_never_shown_as_theirs(join) -> None:
    victim_camera = camera("victim", 320, 240)
    await join("victim", tracks=[victim_camera])
    observer = await join("observer")
    await until(lambda: subscribed(observer, "victim", "video"))
    frames = FrameLog()
    subscribed(observer, "victim", "video").add_sink(frames)
    await until(lambda: len(frames.sizes) >= 3)

    liar = await join("liar")
    source = SyntheticVideoSource(160, 120, 15)
    source._id = victim_camera.id
    forged = LocalVideoTrack(source, name="camera")
    with pytest.raises(TwilioError) as refused:
        await liar.local_participant.publish_track(forged)
    assert refused.value.code == 53300
    # The lie goes on below signaling: the liar's connections carry the forged track.
    liar._signaling.media.mesh.add_media(forged.id, local_source(forged))
    await until(lambda: any(s.role == "send" and forged.id in s.transceivers
                            for s in liar._signaling.media.mesh.sessions().values()))

    publication = next(iter(remote_of(observer, "victim").video_tracks.values()))
    track = publication.track
    since = len(frames.sizes)
    await asyncio.sleep(2.0)
    assert len(frames.sizes) - since >= 10
    assert set(frames.sizes[since:]) == {(320, 240)}
    assert publication.is_subscribed and publication.track is track  # never re-subscribed to the lie
    liar_seen = remote_of(observer, "liar")
    assert liar_seen is not None and not liar_seen.video_tracks
