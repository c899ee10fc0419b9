"""Media for Confab: sources, sinks, pixel conversion, levels and loopback-only ICE.

Modules: ``convert`` (frame -> RGB at a tile's size), ``loopback`` (127.0.0.1-only
ICE, ``rtc_configuration``), ``stamp`` (frame counter + timestamp in pixels),
``sources`` (synthetic video/audio tracks), ``devices`` (enumeration, opening),
``levels`` (audio level of frames), ``sinks`` (video/audio fan-out, latest-frame
holders), ``playback`` (audio output through PyAV).
"""

from .convert import fit_size, to_rgb
from .devices import (
    Device,
    DeviceError,
    list_audio_inputs,
    list_audio_outputs,
    list_screens,
    list_video_inputs,
    open_audio_input,
    open_audio_output,
    open_screen,
    open_video_input,
)
from .levels import AudioLevel, frame_level, samples_level
from .loopback import disable_loopback_only, enable_loopback_only, loopback_only, rtc_configuration
from .playback import AudioPlayback
from .sinks import AudioFanout, LatestFrameSink, ThreadedSink, VideoFanout
from .sources import SyntheticAudioSource, SyntheticVideoSource
from .stamp import Stamp, read_stamp

__all__ = [
    "AudioFanout",
    "AudioLevel",
    "AudioPlayback",
    "Device",
    "DeviceError",
    "LatestFrameSink",
    "Stamp",
    "SyntheticAudioSource",
    "SyntheticVideoSource",
    "ThreadedSink",
    "VideoFanout",
    "disable_loopback_only",
    "enable_loopback_only",
    "fit_size",
    "frame_level",
    "list_audio_inputs",
    "list_audio_outputs",
    "list_screens",
    "list_video_inputs",
    "loopback_only",
    "open_audio_input",
    "open_audio_output",
    "open_screen",
    "open_video_input",
    "read_stamp",
    "rtc_configuration",
    "samples_level",
    "to_rgb",
]
