"""A private Xvfb display for a test, painted with known colours through libX11 (ctypes)."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import subprocess
import time
from pathlib import Path


def available() -> bool:
    return shutil.which("Xvfb") is not None and ctypes.util.find_library("X11") is not None


def _free_display() -> int:
    for n in range(90, 200):
        if not os.path.exists(f"/tmp/.X11-unix/X{n}") and not os.path.exists(f"/tmp/.X{n}-lock"):
            return n
    raise RuntimeError("no free X display number")


class Xvfb:
    """``Xvfb :N`` of ``size`` (24-bit); ``paint_root(rgb)``, ``window(name, rgb, rect)``."""

    def __init__(self, size: tuple[int, int] = (320, 240)) -> None:
        self.number = _free_display()
        self.display = f":{self.number}"
        self.proc = subprocess.Popen(["Xvfb", self.display, "-screen", "0", f"{size[0]}x{size[1]}x24",
                                      "-nolisten", "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.x = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
        self.x.XOpenDisplay.restype = ctypes.c_void_p
        self.x.XOpenDisplay.argtypes = [ctypes.c_char_p]
        self.x.XDefaultRootWindow.restype = ctypes.c_ulong
        self.x.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
        self.x.XCreateSimpleWindow.restype = ctypes.c_ulong
        self.x.XCreateSimpleWindow.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_int,
                                               ctypes.c_uint, ctypes.c_uint, ctypes.c_uint, ctypes.c_ulong,
                                               ctypes.c_ulong]
        for name in ("XSetWindowBackground",):
            getattr(self.x, name).argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]
        for name in ("XClearWindow", "XMapWindow"):
            getattr(self.x, name).argtypes = [ctypes.c_void_p, ctypes.c_ulong]
        self.x.XStoreName.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_char_p]
        self.x.XFlush.argtypes = [ctypes.c_void_p]
        self.x.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
        self.x.XCloseDisplay.argtypes = [ctypes.c_void_p]
        deadline = time.monotonic() + 10
        self.dpy = None
        while not self.dpy:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Xvfb {self.display} did not start")
            time.sleep(0.05)
            self.dpy = self.x.XOpenDisplay(self.display.encode())
        self.root = self.x.XDefaultRootWindow(self.dpy)

    @staticmethod
    def _pixel(rgb: tuple[int, int, int]) -> int:
        return (rgb[0] << 16) | (rgb[1] << 8) | rgb[2]

    def paint_root(self, rgb: tuple[int, int, int]) -> None:
        self.x.XSetWindowBackground(self.dpy, self.root, self._pixel(rgb))
        self.x.XClearWindow(self.dpy, self.root)
        self.x.XSync(self.dpy, 0)

    def window(self, name: str, rgb: tuple[int, int, int], rect: tuple[int, int, int, int]) -> int:
        """A mapped top-level window of one colour; returns its id."""
        x, y, w, h = rect
        window = self.x.XCreateSimpleWindow(self.dpy, self.root, x, y, w, h, 0, 0, self._pixel(rgb))
        self.x.XStoreName(self.dpy, window, name.encode())
        self.x.XMapWindow(self.dpy, window)
        self.x.XSync(self.dpy, 0)
        return int(window)

    def close(self) -> None:
        if self.dpy:
            self.x.XCloseDisplay(self.dpy)
            self.dpy = None
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def save_png(frame: object, path: Path) -> Path:
    """An ``av.VideoFrame`` as a PNG (an artifact of what a remote participant saw)."""
    import av

    assert isinstance(frame, av.VideoFrame)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="image2") as out:
        stream = out.add_stream("png")
        stream.width, stream.height, stream.pix_fmt = frame.width, frame.height, "rgb24"
        for packet in stream.encode(frame.reformat(format="rgb24")):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path
