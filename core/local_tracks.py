"""``create_local_tracks`` and friends: local tracks from devices (synthetic ones always exist).

Each local audio/video track gets a :class:`~core.media.local.LocalSource` the first time the
media layer or a preview needs it; it reports ``started``, dimensions and level to the track.
"""

from __future__ import annotations

import contextlib
from typing import Any

from .media import devices
from .media.levels import AudioLevel
from .media.local import LocalSource
from .track import LocalAudioTrack, LocalVideoTrack

__all__ = ["create_local_tracks", "create_local_audio_track", "create_local_video_track", "local_source"]


def local_source(track: LocalAudioTrack | LocalVideoTrack) -> LocalSource:
    """The track's shared source (created and started on first use; needs a running loop)."""
    source: LocalSource | None = getattr(track, "_local_source", None)
    if source is None:
        on_dimensions = track._media_dimensions if isinstance(track, LocalVideoTrack) else None

        def on_level(level: AudioLevel) -> None:
            track._level = level.level  # type: ignore[union-attr]  # only an audio source reports levels: track is a LocalAudioTrack here

        source = LocalSource(track.media_stream_track, on_started=track._media_started,
                             on_dimensions=on_dimensions, on_level=on_level, on_ended=track._media_ended)
        track._local_source = source  # type: ignore[union-attr]  # the source cache is not declared on the track classes (core/track.py)
        track.on("stopped", lambda _t: _stop_soon(source))
    source.start()
    return source


def _stop_soon(source: LocalSource) -> None:
    import asyncio

    with contextlib.suppress(RuntimeError):  # no loop: nothing is running either
        asyncio.get_running_loop().create_task(source.stop())


def create_local_video_track(device: Any = None, *, name: str | None = None, width: int = 640,
                             height: int = 480, fps: float = 30) -> LocalVideoTrack:
    """A camera track (the synthetic camera unless ``device`` names a real one)."""
    return LocalVideoTrack(devices.open_video_input(device, width, height, fps), name)


def create_local_audio_track(device: Any = None, *, name: str | None = None) -> LocalAudioTrack:
    """A microphone track (the synthetic tone unless ``device`` names a real one)."""
    return LocalAudioTrack(devices.open_audio_input(device), name)


def create_local_tracks(audio: bool | dict[str, Any] = True,
                        video: bool | dict[str, Any] = True) -> list[LocalAudioTrack | LocalVideoTrack]:
    """Audio then video tracks; a dict gives the helper's keyword arguments (``device``, ``name``…)."""
    tracks: list[LocalAudioTrack | LocalVideoTrack] = []
    if audio:
        tracks.append(create_local_audio_track(**(audio if isinstance(audio, dict) else {})))
    if video:
        tracks.append(create_local_video_track(**(video if isinstance(video, dict) else {})))
    return tracks
