"""A private PulseAudio daemon for a test: null sinks as speakers, their monitors as microphones.

``PulseServer(tmp_path, ["spk_a", "spk_b"])`` starts ``pulseaudio`` on its own socket (no
D-Bus, no autospawn, no real hardware); ``env()`` is what a client needs (``PULSE_SERVER``).
``play_tone(sink, hz)`` keeps a ``pacat`` playing a sine into a sink, so that sink's
``.monitor`` source is a microphone hearing that tone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import numpy as np

RATE = 48000


def available() -> bool:
    return all(shutil.which(tool) for tool in ("pulseaudio", "pactl", "parec", "pacat"))


def description(sink: str) -> str:
    return sink.replace("_", " ").capitalize()


def dominant_hz(samples: np.ndarray, rate: int = RATE) -> float:
    """The loudest frequency of a mono signal."""
    x = samples.astype(np.float64) * np.hanning(len(samples))
    spectrum = np.abs(np.fft.rfft(x))
    spectrum[:5] = 0  # no DC
    return float(np.argmax(spectrum) * rate / len(samples))


class PulseServer:
    def __init__(self, home: Path, sinks: list[str]) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.socket = home / "native"
        self._env = {**os.environ, "HOME": str(home), "XDG_RUNTIME_DIR": str(home),
                     "PULSE_SERVER": f"unix:{self.socket}", "PULSE_AUTOSPAWN": "no"}
        args = ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no",
                "--disallow-exit", "--log-target=stderr", "--log-level=error",
                f"--load=module-native-protocol-unix socket={self.socket} auth-anonymous=1"]
        for sink in sinks:  # "desk_speakers" is described as "Desk speakers", as a real one would be
            args.append(f"--load=module-null-sink sink_name={sink} "
                        f"sink_properties=\"device.description='{description(sink)}'\"")
        self.proc = subprocess.Popen(args, env=self._env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        self._players: list[subprocess.Popen[bytes]] = []
        self._stop = threading.Event()
        deadline = time.monotonic() + 10
        while subprocess.run(["pactl", "info"], env=self._env, capture_output=True).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"pulseaudio did not start: {self.proc.stderr.read() if self.proc.stderr else ''!r}")
            time.sleep(0.1)

    def env(self) -> dict[str, str]:
        return {"PULSE_SERVER": self._env["PULSE_SERVER"], "XDG_RUNTIME_DIR": self._env["XDG_RUNTIME_DIR"]}

    def play_tone(self, sink: str, hz: float) -> None:
        proc = subprocess.Popen(["pacat", f"--device={sink}", "--raw", "--format=s16le", f"--rate={RATE}",
                                 "--channels=1", "--latency-msec=50"], env=self._env, stdin=subprocess.PIPE,
                                stderr=subprocess.DEVNULL)
        self._players.append(proc)

        def feed() -> None:
            n = 0
            block = RATE // 10
            while not self._stop.is_set() and proc.poll() is None and proc.stdin is not None:
                t = (n + np.arange(block)) / RATE
                try:
                    proc.stdin.write((0.4 * 32767 * np.sin(2 * np.pi * hz * t)).astype("<i2").tobytes())
                    proc.stdin.flush()
                except (BrokenPipeError, ValueError):
                    return
                n += block

        threading.Thread(target=feed, daemon=True).start()

    def close(self) -> None:
        self._stop.set()
        for proc in [*self._players, self.proc]:
            proc.terminate()
        for proc in [*self._players, self.proc]:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
