"""connect()'s bandwidth profile, log levels, region and the other options twilio-video.js checks."""

from __future__ import annotations

import logging
from typing import Any

import pytest

import core
from core.connect_options import bandwidth_profile, check_region, ice_settings, notify_warnings
from core.errors import SignalingConnectionError
from core.logger import Logger, apply_log_level, log_levels


def test_bandwidth_profile_takes_either_spelling_and_sends_twilio_wire_names() -> None:
    profile = bandwidth_profile({"video": {"mode": "collaboration", "maxSubscriptionBitrate": 2_500_000,
                                           "dominant_speaker_priority": "high", "trackSwitchOffMode": "detected",
                                           "client_track_switch_off_control": "manual"}})
    assert profile is not None and profile.video.mode == "collaboration"
    assert profile.video.client_track_switch_off_control == "manual"
    assert profile.video.content_preferences_mode == "auto"
    # What twilio-video.js's createBandwidthProfilePayload sends: only what was given, wire names.
    assert profile.payload() == {"video": {"mode": "collaboration", "max_subscription_bandwidth": 2_500_000,
                                           "active_speaker_priority": "high", "track_switch_off": "detected"}}
    empty = bandwidth_profile({})
    assert empty is not None and empty.payload() == {"video": {}}
    assert bandwidth_profile(None) is None


@pytest.mark.parametrize(("video", "error", "words"), [
    ({"mode": "mosaic"}, ValueError, "mode must be one of ['grid', 'collaboration', 'presentation']"),
    ({"maxSubscriptionBitrate": "fast"}, TypeError, "maxSubscriptionBitrate must be a number"),
    ({"maxSubscriptionBitrate": float("nan")}, TypeError, "must be a number"),
    ({"dominantSpeakerPriority": "top"}, ValueError, "['low', 'standard', 'high']"),
    ({"clientTrackSwitchOffControl": "off"}, ValueError, "['auto', 'manual']"),
    ({"maxTracks": 3, "clientTrackSwitchOffControl": "auto"}, TypeError, "max_tracks is deprecated"),
    ({"renderDimensions": {"high": {"width": "wide", "height": 720}}}, TypeError, "renderDimensions"),
    ({"zoom": 2}, TypeError, "no option 'zoom'"),
])
def test_bandwidth_profile_mistakes_are_refused_as_the_sdk_refuses_them(video: Any, error: type, words: str) -> None:
    with pytest.raises(error) as info:
        bandwidth_profile({"video": video})
    assert words in str(info.value)
    with pytest.raises(TypeError):
        bandwidth_profile({"video": "grid"})


def test_deprecated_options_turn_their_replacements_off() -> None:
    profile = bandwidth_profile({"video": {"maxTracks": 2, "renderDimensions": {"low": {"width": 176, "height": 144}}}})
    assert profile is not None
    assert (profile.video.client_track_switch_off_control, profile.video.content_preferences_mode) == ("disabled",
                                                                                                       "disabled")
    assert profile.payload()["video"] == {"max_tracks": 2, "render_dimensions": {"low": {"width": 176, "height": 144}}}


def test_region_warnings_and_rtc_configuration() -> None:
    assert check_region(None) == "gll" and check_region("de1") == "de1"
    with pytest.raises(SignalingConnectionError) as info:
        check_region("moon1")
    assert info.value.code == 53000
    assert notify_warnings(["recording-media-lost"]) == ("recording-media-lost",)
    with pytest.raises(ValueError):
        notify_warnings(["all"])
    with pytest.raises(TypeError):
        notify_warnings("recording-media-lost")
    servers, policy = ice_settings({"iceServers": [{"urls": "turn:127.0.0.1:3478", "username": "u",
                                                    "credential": "c"}], "iceTransportPolicy": "relay"})
    assert policy == "relay" and servers[0].urls == "turn:127.0.0.1:3478" and servers[0].credential == "c"
    with pytest.raises(TypeError):
        ice_settings({"iceServers": [{"username": "no urls"}]})
    from aiortc import RTCConfiguration, RTCIceServer, RTCIceTransportPolicy
    relay = RTCConfiguration(iceServers=[RTCIceServer(urls="turn:127.0.0.1")],
                             iceTransportPolicy=RTCIceTransportPolicy.RELAY)
    assert ice_settings(relay) == ([relay.iceServers[0]], "relay")  # type: ignore[index]  # iceServers is Optional in aiortc's stubs


def test_log_levels_set_the_loggers_behind_each_component() -> None:
    from core.logger import _COMPONENTS

    saved = {n: logging.getLogger(n).level for names in _COMPONENTS.values() for n in names}
    try:
        assert log_levels("info") == dict.fromkeys(("default", "signaling", "media", "webrtc"), "info")
        apply_log_level({"default": "error", "signaling": "debug"})
        assert logging.getLogger("core").level == logging.ERROR
        assert logging.getLogger("core.signaling").level == logging.DEBUG
        assert logging.getLogger("core.media").level == logging.ERROR  # takes default's level
        logger = Logger.get_logger()
        assert logger is core.Logger.get_logger("twilio-video")
        logger.set_level("off")
        assert logger.get_level() == "off" and not logging.getLogger("aiortc").isEnabledFor(logging.CRITICAL)
        with pytest.raises(ValueError, match=r"level must be one of \['debug', 'info', 'warn', 'error', 'off'\]"):
            logger.set_level("verbose")
        with pytest.raises(ValueError):
            log_levels({"video": "info"})
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def test_is_supported_names_the_codecs_it_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    from core import support

    assert core.is_supported() is True and support.missing_codecs() == []
    monkeypatch.setattr(support, "_NEEDED", {**support._NEEDED, "vp9x": ("no-such-codec",)})
    assert support.missing_codecs() == ["vp9x"]
