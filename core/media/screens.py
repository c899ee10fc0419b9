"""What a screen share can capture on X11: each screen of ``$DISPLAY`` and its top-level windows.

Listing asks the X server directly through libX11 (ctypes; no extra package): the screens and
their sizes, then the mapped, named top-level windows. Capture is FFmpeg's ``x11grab`` through
``aiortc``'s ``MediaPlayer`` (``core.media.devices.open_screen``). Targets are

* ``:0`` or ``:0.1`` — a whole screen;
* ``:0@0x2a00007`` — one window (``x11grab``'s ``window_id``; it follows the window).

A capture bigger than the share's size is scaled down (aspect kept) by :class:`ScaledTrack`,
so a 4K screen costs the encoder what 1280x720 does; every frame leaves it as a yuv420p copy.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from functools import lru_cache
from typing import Any

import av
from aiortc.mediastreams import MediaStreamTrack

__all__ = ["ScaledTrack", "grab_options", "list_x11_targets"]

_MAX_WINDOWS = 20


class _WindowAttributes(ctypes.Structure):
    _fields_ = [("x", ctypes.c_int), ("y", ctypes.c_int), ("width", ctypes.c_int),
                ("height", ctypes.c_int), ("border_width", ctypes.c_int), ("depth", ctypes.c_int),
                ("visual", ctypes.c_void_p), ("root", ctypes.c_ulong), ("c_class", ctypes.c_int),
                ("bit_gravity", ctypes.c_int), ("win_gravity", ctypes.c_int),
                ("backing_store", ctypes.c_int), ("backing_planes", ctypes.c_ulong),
                ("backing_pixel", ctypes.c_ulong), ("save_under", ctypes.c_int),
                ("colormap", ctypes.c_ulong), ("map_installed", ctypes.c_int),
                ("map_state", ctypes.c_int), ("all_event_masks", ctypes.c_long),
                ("your_event_mask", ctypes.c_long), ("do_not_propagate_mask", ctypes.c_long),
                ("override_redirect", ctypes.c_int), ("screen", ctypes.c_void_p)]


_IS_VIEWABLE = 2


@lru_cache(maxsize=1)
def _xlib() -> Any:
    name = ctypes.util.find_library("X11")
    if name is None:
        raise OSError("libX11 not found")
    lib = ctypes.CDLL(name)
    lib.XOpenDisplay.restype = ctypes.c_void_p
    lib.XOpenDisplay.argtypes = [ctypes.c_char_p]
    lib.XCloseDisplay.argtypes = [ctypes.c_void_p]
    lib.XScreenCount.argtypes = [ctypes.c_void_p]
    lib.XDisplayWidth.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.XDisplayHeight.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.XRootWindow.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.XRootWindow.restype = ctypes.c_ulong
    lib.XQueryTree.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(ctypes.c_ulong),
                               ctypes.POINTER(ctypes.c_ulong),
                               ctypes.POINTER(ctypes.POINTER(ctypes.c_ulong)),
                               ctypes.POINTER(ctypes.c_uint)]
    lib.XFetchName.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(ctypes.c_char_p)]
    lib.XGetWindowAttributes.argtypes = [ctypes.c_void_p, ctypes.c_ulong,
                                         ctypes.POINTER(_WindowAttributes)]
    lib.XFree.argtypes = [ctypes.c_void_p]
    return lib


def _windows(lib: Any, dpy: int, root: int, display: str) -> list[tuple[str, str]]:
    parent, root_ret = ctypes.c_ulong(), ctypes.c_ulong()
    children, count = ctypes.POINTER(ctypes.c_ulong)(), ctypes.c_uint()
    if not lib.XQueryTree(dpy, root, ctypes.byref(root_ret), ctypes.byref(parent),
                          ctypes.byref(children), ctypes.byref(count)):
        return []
    found = []
    try:
        for i in range(count.value):
            window = children[i]
            attrs = _WindowAttributes()
            if not lib.XGetWindowAttributes(dpy, window, ctypes.byref(attrs)):
                continue
            if attrs.map_state != _IS_VIEWABLE or attrs.override_redirect or attrs.width < 32:
                continue
            name = ctypes.c_char_p()
            if lib.XFetchName(dpy, window, ctypes.byref(name)) and name.value:
                title = name.value.decode("utf-8", "replace")
                lib.XFree(name)
                found.append((f"{display}@{window:#x}", f"Window: {title} ({attrs.width}x{attrs.height})"))
    finally:
        if children:
            lib.XFree(children)
    return found[-_MAX_WINDOWS:][::-1]  # topmost first


def list_x11_targets(display: str | None = None) -> list[tuple[str, str]]:
    """(target, name) of each screen of ``display`` (default ``$DISPLAY``), then its windows."""
    display = display or os.environ.get("DISPLAY")
    if not display:
        return []
    lib = _xlib()
    dpy = lib.XOpenDisplay(display.encode())
    if not dpy:
        return []
    try:
        base = display.split(".")[0]
        screens = lib.XScreenCount(dpy)
        targets = []
        for n in range(screens):
            size = f"{lib.XDisplayWidth(dpy, n)}x{lib.XDisplayHeight(dpy, n)}"
            label = f"Entire screen ({size})" if screens == 1 else f"Screen {n + 1} ({size})"
            targets.append((base if screens == 1 else f"{base}.{n}", label))
        for n in range(screens):
            targets += _windows(lib, dpy, lib.XRootWindow(dpy, n), base if screens == 1 else f"{base}.{n}")
        return targets
    finally:
        lib.XCloseDisplay(dpy)


def grab_options(target: str, width: int | None, height: int | None, fps: float) -> tuple[str, dict[str, str]]:
    """(display, x11grab options) for a target; the size is applied later by ``ScaledTrack``."""
    display, _, window = target.partition("@")
    options = {"framerate": f"{fps:g}", "draw_mouse": "1"}
    if window:
        options["window_id"] = str(int(window, 0))
    return display, options


class ScaledTrack(MediaStreamTrack):
    """``source``'s frames as yuv420p of their own, scaled down to fit ``width`` x ``height``
    (never up; None: any size), aspect kept.

    Always a copy: x11grab's frames live in a shared-memory image the grabber fills again for
    the next frame, and the encoder and the self-view each read a frame from other threads
    (with x11grab's frames passed on as they were, a test of the app hung in one such read).
    """

    kind = "video"

    def __init__(self, source: MediaStreamTrack, width: int | None = None, height: int | None = None) -> None:
        super().__init__()
        self.source = source
        self.width, self.height = width, height

    async def recv(self) -> av.VideoFrame:
        frame = await self.source.recv()
        assert isinstance(frame, av.VideoFrame)
        scale = min(self.width / frame.width, self.height / frame.height, 1.0) if self.width and self.height else 1.0
        w, h = max(2, int(frame.width * scale) & ~1), max(2, int(frame.height * scale) & ~1)
        out: av.VideoFrame = frame.reformat(width=w, height=h, format="yuv420p")
        out.pts, out.time_base = frame.pts, frame.time_base
        return out

    def stop(self) -> None:
        super().stop()
        self.source.stop()
