"""PulseAudio (and PipeWire's pulse server): microphones and speakers by their real names.

PyAV's libavdevice has no ``pulse`` format, so this talks to the sound server through its own
command-line clients (Debian ``pulseaudio-utils``, present wherever PulseAudio or PipeWire-pulse
is): ``pactl`` lists sources and sinks, ``parec`` records raw s16 into a
:class:`PulseAudioSource` track, ``pacat`` plays raw s16 for :class:`PulsePlayback`.

Listing asks ``pactl`` only when a server socket exists (``$PULSE_SERVER`` or
``$XDG_RUNTIME_DIR/pulse/native``), so a machine without PulseAudio lists nothing at once and
never autospawns a daemon.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fractions
import json
import logging
import os
import shutil
import subprocess
import threading
from typing import IO, Any

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

__all__ = ["PulseAudioSource", "list_sinks", "list_sources", "server_available"]

log = logging.getLogger(__name__)

SAMPLE_RATE = 48000
FRAME_SAMPLES = 960  # 20 ms
_LIST_TIMEOUT_S = 2.0


def server_available() -> bool:
    """A PulseAudio server socket is there and its clients are installed."""
    if shutil.which("pactl") is None:
        return False
    server = os.environ.get("PULSE_SERVER")
    if server:
        path = server.removeprefix("unix:")
        return not path.startswith("/") or os.path.exists(path)
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    return os.path.exists(os.path.join(runtime, "pulse", "native"))


def _pactl_list(what: str) -> list[dict[str, Any]]:
    if not server_available():
        return []
    env = {**os.environ, "PULSE_AUTOSPAWN": "no", "LC_ALL": "C"}
    out = subprocess.run(["pactl", "-f", "json", "list", what], capture_output=True, text=True,
                         timeout=_LIST_TIMEOUT_S, env=env, check=True).stdout
    rows = json.loads(out or "[]")
    return [r for r in rows if isinstance(r, dict) and r.get("name")]


def list_sources() -> list[tuple[str, str]]:
    """(name, description) of every source: microphones first, then monitors of outputs."""
    rows = _pactl_list("sources")
    rows.sort(key=lambda r: r.get("monitor_of_sink") not in (None, "n/a"))
    return [(r["name"], r.get("description") or r["name"]) for r in rows]


def list_sinks() -> list[tuple[str, str]]:
    """(name, description) of every sink (speaker, headset, null sink …)."""
    return [(r["name"], r.get("description") or r["name"]) for r in _pactl_list("sinks")]


def _client(tool: str, device: str, channels: int, **popen: Any) -> subprocess.Popen[bytes]:
    if shutil.which(tool) is None:
        raise OSError(f"{tool} not found (install pulseaudio-utils)")
    args = [tool, f"--device={device}", "--raw", "--format=s16le", f"--rate={SAMPLE_RATE}",
            f"--channels={channels}", "--latency-msec=40", "--client-name=Confab"]
    env = {**os.environ, "PULSE_AUTOSPAWN": "no"}
    return subprocess.Popen(args, env=env, stderr=subprocess.PIPE, **popen)


class PulseAudioSource(MediaStreamTrack):
    """A microphone track recording ``device`` (a source name) in 20 ms mono s16 frames.

    A reader thread fills a short queue (the oldest frames go when the consumer lags, like a
    real microphone); the track ends when ``parec`` does (server gone, source removed).
    """

    kind = "audio"

    def __init__(self, device: str, label: str | None = None) -> None:
        super().__init__()
        self.device = device
        self.label = label or device
        self._proc = _client("parec", device, 1, stdout=subprocess.PIPE)
        self._frames: collections.deque[bytes | None] = collections.deque(maxlen=10)
        self._ready = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._time_base = fractions.Fraction(1, SAMPLE_RATE)
        self._sample = 0
        self._thread = threading.Thread(target=self._read, name=f"confab-parec {device}", daemon=True)

    def _read(self) -> None:
        stdout: IO[bytes] | None = self._proc.stdout
        size = FRAME_SAMPLES * 2
        while stdout is not None:
            chunk = stdout.read(size)
            if not chunk or len(chunk) < size:
                break
            self._push(chunk)
        self._push(None)

    def _push(self, chunk: bytes | None) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        self._frames.append(chunk)
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(self._ready.set)

    async def recv(self) -> av.AudioFrame:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._thread.start()
        while not self._frames:
            if self.readyState != "live":
                raise MediaStreamError
            self._ready.clear()
            await self._ready.wait()
        chunk = self._frames.popleft()
        if chunk is None or self.readyState != "live":
            self.stop()
            raise MediaStreamError
        samples = np.frombuffer(chunk, dtype="<i2").reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._sample
        frame.time_base = self._time_base
        self._sample += FRAME_SAMPLES
        return frame

    def stop(self) -> None:
        super().stop()
        if self._proc.poll() is None:
            self._proc.terminate()
        self._ready.set()


def open_pacat(device: str, channels: int) -> subprocess.Popen[bytes]:
    """A ``pacat`` playing raw s16 at 48 kHz written to its stdin on sink ``device``."""
    return _client("pacat", device, channels, stdin=subprocess.PIPE)
