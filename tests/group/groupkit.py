"""Helpers for the group-room tests (``from groupkit import ...``); the call helpers are shared."""

from __future__ import annotations

from typing import Any

from callutil import camera, microphone, remote_of, subscribed

__all__ = ["camera", "microphone", "remote_of", "subscribed", "forwarder_of"]


def forwarder_of(server: Any, room_name: str) -> Any:
    room = server.registry.find_room(room_name)
    return room.media if room is not None else None
