"""``create_local_tracks`` and friends: local tracks from devices (synthetic ones always exist).

Each local audio/video track gets a :class:`~core.media.local.LocalSource` the first time the
media layer or a preview needs it; it reports ``started``, dimensions and level to the track.
The source reads the device through a :class:`~core.media.switchable.SwitchableTrack`, so
:func:`restart_track` (``LocalTrack.restart``) swaps the device under every sender and the
preview at once: same track id, same publication, no renegotiation.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

from .media import devices
from .media.levels import AudioLevel
from .media.local import LocalSource
from .media.processing import ProcessedTrack
from .media.switchable import SwitchableTrack
from .track import LocalAudioTrack, LocalVideoTrack

__all__ = ["create_local_tracks", "create_local_audio_track", "create_local_video_track", "local_source",
           "restart_track"]


def local_source(track: LocalAudioTrack | LocalVideoTrack) -> LocalSource:
    """The track's shared source (created and started on first use; needs a running loop)."""
    source: LocalSource | None = getattr(track, "_local_source", None)
    if source is None:
        on_dimensions = track._media_dimensions if isinstance(track, LocalVideoTrack) else None

        def on_level(level: AudioLevel) -> None:
            track._level = level.level  # type: ignore[union-attr]  # only an audio source reports levels: track is a LocalAudioTrack here

        switch = SwitchableTrack(track.media_stream_track, on_switched=track._media_started)
        track._switch = switch  # type: ignore[union-attr]  # restart() swaps the device in it
        # Video goes through the track's processor (add_processor) before preview and senders.
        feed = ProcessedTrack(switch, track) if isinstance(track, LocalVideoTrack) else switch
        source = LocalSource(feed, on_started=track._media_started, on_dimensions=on_dimensions,
                             on_level=on_level, on_ended=track._media_ended, on_muted=track._media_muted)
        track._local_source = source  # type: ignore[union-attr]  # the source cache is not declared on the track classes (core/track.py)
        track.on("stopped", lambda t: None if getattr(t, "_restarting", False) else _stop_soon(source))
    source.start()
    return source


def _stop_soon(source: LocalSource) -> None:
    import asyncio

    with contextlib.suppress(RuntimeError):  # no loop: nothing is running either
        asyncio.get_running_loop().create_task(source.stop())


def create_local_video_track(device: Any = None, *, name: str | None = None, width: int = 640,
                             height: int = 480, fps: float = 30) -> LocalVideoTrack:
    """A camera track (``device``: an id of ``list_video_inputs()``; None: the first, a real one
    when there is one)."""
    track = LocalVideoTrack(devices.open_video_input(device, width, height, fps), name)
    track._constraints = {"device": device, "width": width, "height": height, "fps": fps}  # type: ignore[attr-defined]  # restart's defaults
    return track


def create_local_audio_track(device: Any = None, *, name: str | None = None) -> LocalAudioTrack:
    """A microphone track (``device``: an id of ``list_audio_inputs()``; None: the first)."""
    track = LocalAudioTrack(devices.open_audio_input(device), name)
    track._constraints = {"device": device}  # type: ignore[attr-defined]  # restart's defaults
    return track


async def restart_track(track: LocalAudioTrack | LocalVideoTrack, constraints: Mapping[str, Any]) -> None:
    """Open the device again (``constraints`` over the creating helper's arguments, e.g.
    ``{"device": id}``) and carry on from it: ``stopped`` now, ``started`` at its first frame.

    The old device is released only once the new one opened: a device that fails to open
    raises ``DeviceError`` and leaves the track as it was.
    """
    base: dict[str, Any] | None = getattr(track, "_constraints", None)
    if base is None:
        raise TypeError("restart() works only on tracks made by create_local_tracks() or connect()")
    unknown = set(constraints) - set(base)
    if unknown:
        raise TypeError(f"unknown constraints for a {track.kind} track: {', '.join(sorted(unknown))}")
    options = {**base, **constraints}
    if isinstance(track, LocalVideoTrack):
        media = await asyncio.to_thread(devices.open_video_input, options["device"], options["width"],
                                        options["height"], options["fps"])
    else:
        media = await asyncio.to_thread(devices.open_audio_input, options["device"])
    track._constraints = options  # type: ignore[union-attr]  # restart's state lives on the track, undeclared in core/track.py
    old = track._media_stream_track
    if track.is_stopped:  # its source ended with it: the next use makes a new one
        track._local_source = track._switch = None  # type: ignore[union-attr]  # as above: the undeclared source cache
    track._restarting = True  # type: ignore[union-attr]  # keeps the shared source through 'stopped'
    try:
        track._mark_stopped()
    finally:
        track._restarting = False  # type: ignore[union-attr]  # as above
    track._media_stream_track = media
    track._is_stopped = False
    track._is_started = False
    switch: SwitchableTrack | None = getattr(track, "_switch", None)
    if switch is not None:
        switch.switch(media)
    with contextlib.suppress(Exception):
        old.stop()


def create_local_tracks(audio: bool | dict[str, Any] = True,
                        video: bool | dict[str, Any] = True) -> list[LocalAudioTrack | LocalVideoTrack]:
    """Audio then video tracks; a dict gives the helper's keyword arguments (``device``, ``name``…)."""
    tracks: list[LocalAudioTrack | LocalVideoTrack] = []
    if audio:
        tracks.append(create_local_audio_track(**(audio if isinstance(audio, dict) else {})))
    if video:
        tracks.append(create_local_video_track(**(video if isinstance(video, dict) else {})))
    return tracks
