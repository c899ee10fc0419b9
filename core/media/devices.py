"""Media devices: real ones first where the machine has them, synthetic ones always.

Listing never raises and never opens a device: it reads ``/dev``, ``/sys``
and ``/proc`` (Linux), asks a running PulseAudio server (``core.media.pulse``)
and looks at ``$DISPLAY`` (``core.media.screens``).  Real devices come first in
every list, so the first entry (what ``None`` opens) is a real camera or
microphone when there is one; the synthetic ones follow, named as such.  Cameras
are reached through PyAV's libavdevice (``v4l2``) via
``aiortc.contrib.media.MediaPlayer``, as is a recorded file standing in for one
(``file:<path>``, looped); microphones and speakers through PulseAudio's
clients or ALSA; screens through ``x11grab``.  ``$CONFAB_CAMERA_FILES`` lists
recordings as cameras (for tests and demos on machines without one).  Other platforms (avfoundation,
dshow) are not listed yet.

Device ids are ``"<backend>:<name>"``: ``synthetic:camera``, ``v4l2:/dev/video0``,
``file:/tmp/clip.mp4``, ``pulse:alsa_input.usb-…``, ``alsa:default``,
``alsa:plughw:0,0``, ``x11grab::0`` (a screen), ``x11grab::0@0x2a00007`` (a window).
"""

from __future__ import annotations

import glob
import logging
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from aiortc.mediastreams import MediaStreamTrack

from . import pulse
from .playback import AudioPlayback, ensure_alsa_config
from .sources import SyntheticAudioSource, SyntheticVideoSource

__all__ = [
    "Device",
    "default_device",
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
    except Exception:  # noqa: BLE001  # pragma: no cover - PyAV is a dependency
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


def _pulse(kind: DeviceKind) -> list[Device]:
    found = pulse.list_sources() if kind == "audioinput" else pulse.list_sinks()
    return [Device(f"pulse:{name}", description, kind) for name, description in found]


def _audio(kind: DeviceKind) -> list[Device]:
    """PulseAudio's devices when a server runs (its ALSA ``default`` is the same sound), else ALSA's."""
    return _safe(lambda: _pulse(kind)) or _safe(
        lambda: _alsa_pcms("capture" if kind == "audioinput" else "playback"))


def _camera_files() -> list[Device]:
    """Recordings named in ``$CONFAB_CAMERA_FILES`` (``os.pathsep``-separated), as cameras."""
    paths = [p for p in os.environ.get("CONFAB_CAMERA_FILES", "").split(os.pathsep) if p]
    return [Device(f"file:{p}", f"Recording {os.path.basename(p)}", "videoinput") for p in paths]


def list_video_inputs() -> list[Device]:
    """Cameras: V4L2 capture nodes, recordings standing in for cameras, then the synthetic camera."""
    return [*_safe(_v4l2_devices), *_safe(_camera_files), SYNTHETIC_CAMERA]


def list_audio_inputs() -> list[Device]:
    """Microphones: PulseAudio sources (or ALSA capture PCMs), then the synthetic tone and speech."""
    return [*_audio("audioinput"), SYNTHETIC_TONE, SYNTHETIC_SPEECH]


def list_audio_outputs() -> list[Device]:
    """Speakers: PulseAudio sinks (or ALSA playback PCMs), then the discarding null output."""
    return [*_audio("audiooutput"), SYNTHETIC_OUTPUT]


def list_screens() -> list[Device]:
    """Screens, then windows, of the X11 display in ``$DISPLAY`` (x11grab); the synthetic screen last."""
    def x11() -> list[Device]:
        if "x11grab" not in _formats():
            return []
        from .screens import list_x11_targets

        return [Device(f"x11grab:{target}", name, "screen") for target, name in list_x11_targets()]

    return [*_safe(x11), SYNTHETIC_SCREEN]


def _safe(fn: Callable[[], Iterable[Device]]) -> list[Device]:
    try:
        return list(fn())
    except Exception as exc:  # noqa: BLE001 - best effort: listing must never raise
        log.debug("device enumeration failed: %s", exc)
        return []


def default_device(kind: DeviceKind) -> Device:
    """What ``None`` opens: the first listed camera, microphone or screen (a real one when
    present), and for output the null one (playing needs an explicit choice, see ``attach``)."""
    if kind == "audiooutput":
        return SYNTHETIC_OUTPUT
    lister = {"videoinput": list_video_inputs, "audioinput": list_audio_inputs, "screen": list_screens}[kind]
    return lister()[0]


def get_device(device: Device | str | None, kind: DeviceKind) -> Device:
    """Resolve an id (or ``None``: ``default_device(kind)``) to a ``Device``."""
    if isinstance(device, Device):
        return device
    if device is None:
        return default_device(kind)
    if device in _SYNTHETIC:
        return _SYNTHETIC[device]
    if ":" not in device:
        raise DeviceError(f"unknown device id {device!r}")
    return Device(device, device, kind)


def _player_track(file: str, format: str | None, options: dict[str, str], kind: str,
                  loop: bool = False) -> MediaStreamTrack:
    from aiortc.contrib.media import MediaPlayer

    if format is None and not os.path.exists(file):
        raise DeviceError(f"no such file {file!r}")
    try:
        player = MediaPlayer(file, format=format, options=options, loop=loop)
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
        # A person, not a test card (the self-view is mirrored: no caption to read backwards).
        return SyntheticVideoSource(width, height, fps, label=dev.name, look="avatar", caption="")
    if dev.backend == "v4l2":
        options = {"video_size": f"{width}x{height}", "framerate": f"{fps:g}"}
        return _player_track(dev.address, "v4l2", options, "video")
    if dev.backend == "file":  # a recording standing in for a camera: same player, looped
        return _player_track(dev.address, None, {}, "video", loop=True)
    raise DeviceError(f"unsupported camera backend {dev.backend!r}")


def open_screen(
    device: Device | str | None = None,
    width: int | None = None,
    height: int | None = None,
    fps: float = 15,
) -> MediaStreamTrack:
    """A screen-share video track.

    x11grab captures a whole screen or one window (``list_screens``), scaled down to
    fit ``width`` x ``height`` when given; the synthetic screen renders at
    ``width`` x ``height`` (default 1280x720).
    """
    dev = get_device(device, "screen")
    if dev.synthetic:
        return SyntheticVideoSource(width or 1280, height or 720, fps, label=dev.name)
    if dev.backend == "x11grab":
        from .screens import ScaledTrack, grab_options

        display, options = grab_options(dev.address, width, height, fps)
        return ScaledTrack(_player_track(display, "x11grab", options, "video"), width, height)
    raise DeviceError(f"unsupported screen backend {dev.backend!r}")


def open_audio_input(device: Device | str | None = None) -> MediaStreamTrack:
    """An audio track from a microphone (PulseAudio, ALSA, or synthetic tone/speech).  Blocking."""
    dev = get_device(device, "audioinput")
    if dev.synthetic:
        if dev.id == SYNTHETIC_TONE.id:
            return SyntheticAudioSource("tone", label=dev.name)
        if dev.id == SYNTHETIC_SPEECH.id:
            return SyntheticAudioSource("speech", frequency=140.0, label=dev.name)
        raise DeviceError(f"{dev.id} is not a microphone")
    if dev.backend == "pulse":
        try:
            return pulse.PulseAudioSource(dev.address, label=dev.name)
        except OSError as exc:
            raise DeviceError(f"cannot record from {dev.address!r}: {exc}") from exc
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
    if dev.backend in ("alsa", "oss", "pulse"):
        return AudioPlayback(dev.address, dev.backend)
    raise DeviceError(f"unsupported audio output backend {dev.backend!r}")
