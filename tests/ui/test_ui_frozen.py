"""A remote video that stopped arriving is marked on its tile ("Reconnecting…", ``tile-video-frozen``).

The fact is the core's (``RemoteVideoTrack.is_frozen``, set by the media watchdog: see
tests/call/test_call_media_watchdog.py); the bridge turns its ``frozen`` / ``unfrozen``
events into ``video_frozen_changed(tile key, frozen)``, and the tile shows or hides the
mark over the last frame.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QLabel

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))

from core.publication import RemoteTrackPublication
from core.track import LocalAudioTrack, LocalDataTrack, RemoteVideoTrack
from harness import RoomHarness, remote_participant
from ui.bridge import RoomBridge, tile_key
from ui.tile import ParticipantTile

pytestmark = pytest.mark.ui


def test_the_tile_shows_and_hides_the_frozen_mark(qtbot: Any, make_frame: Any) -> None:
    tile = ParticipantTile("ada", "Ada")
    qtbot.addWidget(tile)
    tile.resize(320, 240)
    tile.show()
    tile.set_frame(make_frame(160, 120))
    mark = tile.findChild(QLabel, "tile-video-frozen")
    assert mark is not None and mark.isHidden() and not tile.video_frozen

    tile.set_video_frozen(True)
    assert mark.isVisible() and tile.video_frozen
    assert "video frozen" in tile.accessibleName()
    assert not mark.pixmap().isNull() and mark.width() > 0
    assert tile.rect().contains(mark.geometry())
    assert tile.video_rect().intersects(mark.geometry())  # over the (last) picture

    tile.set_video_frozen(False)
    assert mark.isHidden() and "video frozen" not in tile.accessibleName()


async def test_the_bridge_signals_a_frozen_remote_video(qapp: Any) -> None:
    bob = remote_participant("bob", [("video", "camera")])
    mic = LocalAudioTrack(name="microphone")
    h = await RoomHarness.connect(tracks=[mic, LocalDataTrack("chat")], participants=[bob])
    h.subscribe_with_media(*(t.sid for t in bob.tracks))
    bridge = RoomBridge(h.room, audio_track=mic, owned_tracks=[mic])
    seen: list[tuple[str, bool]] = []
    bridge.video_frozen_changed.connect(lambda key, frozen: seen.append((key, frozen)))
    bridge.start()
    track = next(pub.track for p in h.room.participants.values() for pub in p.video_tracks.values()
                 if isinstance(pub, RemoteTrackPublication) and isinstance(pub.track, RemoteVideoTrack))
    assert isinstance(track, RemoteVideoTrack)

    track._set_frozen(True)
    track._set_frozen(True)  # no change, no signal
    track._set_frozen(False)
    assert seen == [(tile_key(bob.sid, "camera"), True), (tile_key(bob.sid, "camera"), False)]
    bridge.leave()
