"""The media forwarder of group rooms (architecture §4): pass-through media, dominant speaker,
network quality. ``Forwarder`` is a ``MediaBackend`` (``server/mesh.py``); ``passthrough`` holds the
documented hook over aiortc; ``audit`` counts codec use (tests assert the forwarder uses none)."""

from .backend import Forwarder, RoomView

__all__ = ["Forwarder", "RoomView"]
