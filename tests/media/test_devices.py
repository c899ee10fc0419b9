import time

import pytest

from core.media.devices import (
    Device,
    DeviceError,
    get_device,
    list_audio_inputs,
    list_audio_outputs,
    list_screens,
    list_video_inputs,
    open_audio_input,
    open_audio_output,
    open_screen,
    open_video_input,
)
from core.media.sources import SyntheticAudioSource, SyntheticVideoSource


def test_enumeration_is_fast_and_real_devices_come_before_synthetic_ones() -> None:
    start = time.monotonic()
    video, mics, speakers, screens = (
        list_video_inputs(), list_audio_inputs(), list_audio_outputs(), list_screens()
    )
    assert time.monotonic() - start < 0.5
    assert video[-1] == Device("synthetic:camera", "Synthetic camera", "videoinput")
    assert [d.name for d in mics[-2:]] == ["Synthetic tone", "Synthetic speech"]
    assert speakers[-1].id == "synthetic:null" and speakers[-1].kind == "audiooutput"
    assert screens[-1].name == "Synthetic screen" and screens[-1].kind == "screen"
    for listed in (video, mics, speakers, screens):
        synthetic = [d.synthetic for d in listed]
        assert synthetic == sorted(synthetic)  # every real device before every synthetic one
    for devices, kind in ((video, "videoinput"), (mics, "audioinput"),
                          (speakers, "audiooutput"), (screens, "screen")):
        assert all(d.kind == kind for d in devices)
        assert len({d.id for d in devices}) == len(devices)


async def test_open_synthetic_devices() -> None:
    cam = open_video_input(None, 320, 240, 15)
    assert isinstance(cam, SyntheticVideoSource) and (cam.width, cam.height, cam.fps) == (320, 240, 15)
    frame = await cam.recv()
    assert (frame.width, frame.height) == (320, 240)
    screen = open_screen("synthetic:screen")
    assert isinstance(screen, SyntheticVideoSource) and screen.width == 1280
    assert screen.chroma != cam.chroma
    tone = open_audio_input("synthetic:tone")
    speech = open_audio_input(list_audio_inputs()[-1])
    assert isinstance(tone, SyntheticAudioSource) and tone.signal == "tone"
    assert isinstance(speech, SyntheticAudioSource) and speech.signal == "speech"
    assert open_audio_output(None) is None
    for track in (cam, screen, tone, speech):
        track.stop()


def test_bad_devices_raise_device_error() -> None:
    with pytest.raises(DeviceError):
        get_device("nonsense", "videoinput")
    with pytest.raises(DeviceError):
        open_video_input("synthetic:tone")
    with pytest.raises(DeviceError):
        open_video_input("v4l2:/dev/video-does-not-exist")
    with pytest.raises(DeviceError):
        open_audio_input("carrier-pigeon:1")
