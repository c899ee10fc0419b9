"""Helpers for the group-room tests (``from groupkit import ...``)."""

from __future__ import annotations

from typing import Any

from core import LocalAudioTrack, LocalVideoTrack
from core.media.sources import SyntheticAudioSource, SyntheticVideoSource


def camera(label: str, width: int = 320, height: int = 240, fps: float = 15) -> LocalVideoTrack:
    return LocalVideoTrack(SyntheticVideoSource(width, height, fps, label=label), name="camera")


def microphone(label: str, kind: str = "tone", **kwargs: Any) -> LocalAudioTrack:
    return LocalAudioTrack(SyntheticAudioSource(kind, label=label, **kwargs), name="microphone")


def remote_of(room: Any, identity: str) -> Any:
    return next((p for p in room.participants.values() if p.identity == identity), None)


def subscribed(room: Any, identity: str, kind: str) -> Any:
    participant = remote_of(room, identity)
    if participant is None:
        return None
    for pub in participant.tracks.values():
        if pub.kind == kind and pub.is_subscribed:
            return pub.track
    return None


def forwarder_of(server: Any, room_name: str) -> Any:
    room = server.registry.find_room(room_name)
    return room.media if room is not None else None
