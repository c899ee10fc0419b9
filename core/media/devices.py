"""Media devices: synthetic ones always, real ones where the machine has them.

Listing never raises and never opens a device: it reads ``/dev``, ``/sys``
and ``/proc`` (Linux) and ``$DISPLAY``, so it takes milliseconds.  Synthetic
devices come first in every list.  Real devices are reached through PyAV's
libavdevice (``v4l2`` cameras, ``alsa`` audio, ``x11grab`` screens) via
``aiortc.contrib.media.MediaPlayer``.  Other platforms (avfoundation, dshow)
are not listed yet.

Device ids are ``"<backend>:<name>"``: ``synthetic:camera``, ``v4l2:/dev/video0``,
``alsa:default``, ``alsa:plughw:0,0``, ``x11grab::0``.
"""

from __future__ import annotations

import glob
import logging
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from aiortc.mediastreams import MediaStreamTrack

from .playback import AudioPlayback, ensure_alsa_config
from .sources import SyntheticAudioSource, SyntheticVideoSource

__all__ = [
    "Device",
    "DeviceError",
    "DeviceKind",
    "get_device",
    "list_audio_inputs",
    "list_audio_outputs",
    "list_screens",
    "list_video_inputs",
    "open_audio_input",
    "open_audio_output",
    "open_screen",
    "open_video_input",
]

log = logging.getLogger(__name__)

DeviceKind = Literal["videoinput", "audioinput", "audiooutput", "screen"]


@dataclass(frozen=True)
class Device:
    id: str
    name: str
    kind: DeviceKind

    @property
    def backend(self) -> str:
        return self.id.split(":", 1)[0]

    @property
    def address(self) -> str:
        """The backend's own name for the device (path, ALSA PCM, X display)."""
        return self.id.split(":", 1)[1]

    @property
    def synthetic(self) -> bool:
        return self.backend == "synthetic"


class DeviceError(RuntimeError):
    """A device could not be found or opened."""


SYNTHETIC_CAMERA = Device("synthetic:camera", "Synthetic camera", "videoinput")
SYNTHETIC_TONE = Device("synthetic:tone", "Synthetic tone", "audioinput")
SYNTHETIC_SPEECH = Device("synthetic:speech", "Synthetic speech", "audioinput")
SYNTHETIC_OUTPUT = Device("synthetic:null", "No output (discard audio)", "audiooutput")
SYNTHETIC_SCREEN = Device("synthetic:screen", "Synthetic screen", "screen")
_SYNTHETIC = {d.id: d for d in (SYNTHETIC_CAMERA, SYNTHETIC_TONE, SYNTHETIC_SPEECH,
                                SYNTHETIC_OUTPUT, SYNTHETIC_SCREEN)}


@lru_cache(maxsize=1)
def _formats() -> frozenset[str]:
    try:
        import av

        names: set[str] = set()
        for entry in av.formats_available:
            names.update(entry.split(","))
        return frozenset(names)
    except Exception:  # pragma: no cover - PyAV is a dependency
        return frozenset()


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return None


def _v4l2_devices() -> list[Device]:
    if "v4l2" not in _formats():
        return []
    devices = []
    for path in sorted(glob.glob("/dev/video*"), key=lambda p: (len(p), p)):
        node = os.path.basename(path)
        index = _read(f"/sys/class/video4linux/{node}/index")
        if index not in (None, "0"):  # index > 0: metadata nodes of the same camera
            continue
        name = _read(f"/sys/class/video4linux/{node}/name") or node
        devices.append(Device(f"v4l2:{path}", name, "videoinput"))
    return devices


_PCM_LINE = re.compile(r"^(\d+)-(\d+):\s*([^:]*?)\s*:\s*([^:]*?)\s*:(.*)$")


def _alsa_pcms(direction: str) -> list[Device]:
    """ALSA PCMs from /proc/asound/pcm with ``direction`` 'playback' or 'capture'."""
    if "alsa" not in _formats():
        return []
    text = _read("/proc/asound/pcm")
    if not text:
        return []
    kind: DeviceKind = "audioinput" if direction == "capture" else "audiooutput"
    cards = {}
    for line in (_read("/proc/asound/cards") or "").splitlines():
        m = re.match(r"^\s*(\d+)\s+\[[^\]]*\]:\s*(.*?)\s*-\s*(.*)$", line)
        if m:
            cards[m.group(1)] = m.group(3)
    found = []
    for line in text.splitlines():
        m = _PCM_LINE.match(line)
        if not m or direction not in m.group(5):
            continue
        card, dev = int(m.group(1)), int(m.group(2))
        card_name = cards.get(str(card), f"card {card}")
        found.append(Device(f"alsa:plughw:{card},{dev}", f"{card_name}: {m.group(3)}", kind))
    if found:
        label = "Default microphone" if direction == "capture" else "Default speaker"
        found.insert(0, Device("alsa:default", f"{label} (ALSA)", kind))
    return found


def list_video_inputs() -> list[Device]:
    """Cameras: the synthetic camera, then V4L2 capture nodes."""
    return [SYNTHETIC_CAMERA, *_safe(_v4l2_devices)]


def list_audio_inputs() -> list[Device]:
    """Microphones: the synthetic tone and speech, then ALSA capture PCMs."""
    return [SYNTHETIC_TONE, SYNTHETIC_SPEECH, *_safe(lambda: _alsa_pcms("capture"))]


def list_audio_outputs() -> list[Device]:
    """Speakers: the discarding null output, then ALSA playback PCMs."""
    return [SYNTHETIC_OUTPUT, *_safe(lambda: _alsa_pcms("playback"))]


def list_screens() -> list[Device]:
    """Screens: the synthetic screen, then the X11 display in ``$DISPLAY`` (x11grab)."""
    def x11() -> list[Device]:
        display = os.environ.get("DISPLAY")
        if not display or "x11grab" not in _formats():
            return []
        return [Device(f"x11grab:{display}", f"Screen {display}", "screen")]

    return [SYNTHETIC_SCREEN, *_safe(x11)]


def _safe(fn) -> list[Device]:  # type: ignore[no-untyped-def]
    try:
        return list(fn())
    except Exception as exc:  # best effort: listing must never raise
        log.debug("device enumeration failed: %s", exc)
        return []


def get_device(device: Device | str | None, kind: DeviceKind) -> Device:
    """Resolve an id (or ``None``: the synthetic default of ``kind``) to a ``Device``."""
    if isinstance(device, Device):
        return device
    if device is None:
        return {
            "videoinput": SYNTHETIC_CAMERA,
            "audioinput": SYNTHETIC_TONE,
            "audiooutput": SYNTHETIC_OUTPUT,
            "screen": SYNTHETIC_SCREEN,
        }[kind]
    if device in _SYNTHETIC:
        return _SYNTHETIC[device]
    if ":" not in device:
        raise DeviceError(f"unknown device id {device!r}")
    return Device(device, device, kind)


def _player_track(file: str, format: str, options: dict[str, str], kind: str) -> MediaStreamTrack:
    from aiortc.contrib.media import MediaPlayer

    try:
        player = MediaPlayer(file, format=format, options=options)
    except Exception as exc:
        raise DeviceError(f"cannot open {format} device {file!r}: {exc}") from exc
    track = player.video if kind == "video" else player.audio
    if track is None:
        raise DeviceError(f"{format} device {file!r} has no {kind} stream")
    return track


def open_video_input(
    device: Device | str | None = None, width: int = 640, height: int = 480, fps: float = 30
) -> MediaStreamTrack:
    """A video track from a camera (or a screen device).  Blocking for real devices.

    Real devices may deliver another size or rate if they cannot do the one asked.
    """
    dev = get_device(device, "videoinput")
    if dev.kind == "screen":
        return open_screen(dev, width, height, fps)
    if dev.synthetic:
        if dev.id != SYNTHETIC_CAMERA.id:
            raise DeviceError(f"{dev.id} is not a camera")
        return SyntheticVideoSource(width, height, fps, label=dev.name)
    if dev.backend == "v4l2":
        options = {"video_size": f"{width}x{height}", "framerate": f"{fps:g}"}
        return _player_track(dev.address, "v4l2", options, "video")
    raise DeviceError(f"unsupported camera backend {dev.backend!r}")


def open_screen(
    device: Device | str | None = None,
    width: int | None = None,
    height: int | None = None,
    fps: float = 15,
) -> MediaStreamTrack:
    """A screen-share video track.

    x11grab captures the whole display at its own size unless ``width`` and
    ``height`` ask for a region from the top-left corner; the synthetic screen
    renders at ``width`` x ``height`` (default 1280x720).
    """
    dev = get_device(device, "screen")
    if dev.synthetic:
        return SyntheticVideoSource(width or 1280, height or 720, fps, label=dev.name)
    if dev.backend == "x11grab":
        options = {"framerate": f"{fps:g}", "draw_mouse": "1"}
        if width and height:
            options["video_size"] = f"{width}x{height}"
        return _player_track(dev.address, "x11grab", options, "video")
    raise DeviceError(f"unsupported screen backend {dev.backend!r}")


def open_audio_input(device: Device | str | None = None) -> MediaStreamTrack:
    """An audio track from a microphone (synthetic tone/speech or ALSA).  Blocking for ALSA."""
    dev = get_device(device, "audioinput")
    if dev.synthetic:
        if dev.id == SYNTHETIC_TONE.id:
            return SyntheticAudioSource("tone", label=dev.name)
        if dev.id == SYNTHETIC_SPEECH.id:
            return SyntheticAudioSource("speech", frequency=140.0, label=dev.name)
        raise DeviceError(f"{dev.id} is not a microphone")
    if dev.backend == "alsa":
        ensure_alsa_config()
        return _player_track(dev.address, "alsa", {"sample_rate": "48000", "channels": "1"}, "audio")
    raise DeviceError(f"unsupported microphone backend {dev.backend!r}")


def open_audio_output(device: Device | str | None = None) -> AudioPlayback | None:
    """A playback sink for ``AudioFanout.set_output``; ``None`` for the null output.

    Opening happens in the playback thread: check ``playback.error`` after
    ``playback.opened.wait()`` to learn whether the device works.
    """
    dev = get_device(device, "audiooutput")
    if dev.synthetic:
        if dev.id != SYNTHETIC_OUTPUT.id:
            raise DeviceError(f"{dev.id} is not an audio output")
        return None
    if dev.backend in ("alsa", "oss"):
        return AudioPlayback(dev.address, dev.backend)
    raise DeviceError(f"unsupported audio output backend {dev.backend!r}")
