"""Audio playback to an output device through PyAV's libavdevice muxers.

``AudioPlayback`` is an audio sink (``AudioFanout.set_output(playback)``).  It
resamples every frame to s16 at the device's rate and writes it from its own
thread with ``container.mux``; an output *device* muxer (``alsa``, ``oss``)
blocks until the hardware takes the samples, which paces the thread.  A
bounded queue in front (``max_latency_ms``) drops the oldest audio when the
device falls behind, so latency cannot grow without limit.

This PyAV build has the ``alsa`` and ``oss`` output devices (no ``pulse``), so
``format="pulse"`` writes the same s16 to a PulseAudio sink through ``pacat``
(``core.media.pulse``); a ``pacat`` paces itself on the server's clock too.
The CI machine has no sound device, so tests drive the same
class with a file muxer (``format="wav"``) — that checks resampling, queueing
and muxing, not real-time device behaviour.
"""

from __future__ import annotations

import collections
import fractions
import glob
import logging
import os
import subprocess
import threading
from collections.abc import Callable
from typing import Any

import av

__all__ = ["AudioPlayback", "ensure_alsa_config"]

log = logging.getLogger(__name__)

_SYSTEM_ALSA_DIR = "/usr/share/alsa"


def ensure_alsa_config() -> None:
    """Point PyAV's bundled alsa-lib at the system ALSA configuration.

    The libasound inside the PyAV wheel looks for its configuration under its
    build prefix (``/tmp/vendor/share/alsa``), so even the ``default`` and
    ``null`` PCMs are unknown until ``ALSA_CONFIG_DIR``/``ALSA_CONFIG_PATH``
    name the system files.  Sets each only when unset and the system directory
    exists; must run before the process first uses ALSA. ``ALSA_PLUGIN_DIR`` names the system
    plugins too: with PulseAudio installed, the system configuration's hook loads
    ``libasound_module_conf_pulse.so``, and failing to find it under the wheel's prefix makes
    every PCM, ``null`` included, unknown.
    """
    conf = os.path.join(_SYSTEM_ALSA_DIR, "alsa.conf")
    if os.path.exists(conf):
        os.environ.setdefault("ALSA_CONFIG_DIR", _SYSTEM_ALSA_DIR)
        os.environ.setdefault("ALSA_CONFIG_PATH", conf)
        plugins = sorted(glob.glob("/usr/lib/*/alsa-lib")) + sorted(glob.glob("/usr/lib/alsa-lib"))
        if plugins:
            os.environ.setdefault("ALSA_PLUGIN_DIR", plugins[0])


class AudioPlayback:
    """Play frames on ``device`` with the PyAV output format ``format`` (e.g. ``alsa``)."""

    def __init__(
        self,
        device: str = "default",
        format: str = "alsa",
        *,
        sample_rate: int = 48000,
        layout: str = "stereo",
        max_latency_ms: int = 200,
        on_error: Callable[[BaseException], Any] | None = None,
    ) -> None:
        self.device = device
        self.format = format
        self.sample_rate = sample_rate
        self.layout = layout
        self._on_error = on_error
        self._queue: collections.deque[av.AudioFrame] = collections.deque(
            maxlen=max(1, max_latency_ms // 20)
        )
        self._cond = threading.Condition()
        self._closing = False
        self.frames_written = 0
        self.frames_dropped = 0
        self.error: BaseException | None = None
        self.opened = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"confab-playback {device}", daemon=True)
        self._thread.start()

    def __call__(self, frame: av.AudioFrame) -> None:
        """Queue a frame for playback (never blocks; drops the oldest when full)."""
        with self._cond:
            if self._closing or self.error is not None:
                return
            if len(self._queue) == self._queue.maxlen:
                self.frames_dropped += 1
            self._queue.append(frame)
            self._cond.notify()

    def _next(self) -> av.AudioFrame | None:
        with self._cond:
            self._cond.wait_for(lambda: self._queue or self._closing)
            return self._queue.popleft() if self._queue else None

    def _run(self) -> None:
        output: _Output | None = None
        try:
            output = _PacatOutput(self) if self.format == "pulse" else _MuxerOutput(self)
            resampler = av.AudioResampler(format="s16", layout=self.layout, rate=self.sample_rate)
            self.opened.set()
            while True:
                frame = self._next()
                if frame is None:
                    break
                frame.pts = None  # the resampler restamps from its own count
                for out in resampler.resample(frame):
                    output.write(out)
                self.frames_written += 1
            output.finish()
        except Exception as exc:  # noqa: BLE001 - no device, device lost, ...: reported, never raised
            self.error = exc
            log.warning("audio playback on %s:%s failed: %s", self.format, self.device, exc)
            if self._on_error is not None:
                try:
                    self._on_error(exc)
                except Exception:
                    log.exception("playback on_error callback failed")
        finally:
            self.opened.set()
            if output is not None:
                try:
                    output.close()
                except Exception as exc:  # noqa: BLE001 - closing a failed device
                    log.debug("closing playback output: %s", exc)

    def close(self, timeout: float = 2.0) -> None:
        """Play what is queued, then close the device (blocks up to ``timeout``)."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()


class _Output:
    def write(self, frame: av.AudioFrame) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        pass

    def close(self) -> None:
        pass


class _MuxerOutput(_Output):
    """A libavdevice output device (or a file muxer) opened with PyAV."""

    def __init__(self, playback: AudioPlayback) -> None:
        if playback.format == "alsa":
            ensure_alsa_config()
        self.container = av.open(playback.device, mode="w", format=playback.format)
        self.stream = self.container.add_stream("pcm_s16le", rate=playback.sample_rate,
                                                layout=playback.layout)
        self.container.start_encoding()  # opens the device now, so errors show up at once
        self.time_base = fractions.Fraction(1, playback.sample_rate)
        self.samples = 0

    def write(self, frame: av.AudioFrame) -> None:
        frame.pts = self.samples
        frame.time_base = self.time_base
        self.samples += frame.samples
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def finish(self) -> None:
        for packet in self.stream.encode(None):
            self.container.mux(packet)

    def close(self) -> None:
        self.container.close()


class _PacatOutput(_Output):
    """A PulseAudio sink through ``pacat`` (raw interleaved s16 on its stdin)."""

    def __init__(self, playback: AudioPlayback) -> None:
        from .pulse import open_pacat

        channels = 1 if playback.layout == "mono" else 2
        self.proc = open_pacat(playback.device, channels)

    def write(self, frame: av.AudioFrame) -> None:
        if self.proc.poll() is not None or self.proc.stdin is None:
            raise OSError(f"pacat exited with status {self.proc.returncode}")
        self.proc.stdin.write(bytes(frame.planes[0])[: frame.samples * 2 * len(frame.layout.channels)])
        self.proc.stdin.flush()

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(1.0)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
