"""connect() options as twilio-video.js takes them: None is the default, codec names or mappings, "auto"."""

from __future__ import annotations

import asyncio

import pytest

from callutil import camera, subscribed, until
from core import connect

pytestmark = pytest.mark.media


async def _received_codec(viewer, identity: str) -> str:
    await until(lambda: subscribed(viewer, identity, "video"))
    for _ in range(100):
        reports = await viewer.get_stats()
        codecs = [s.codec for r in reports for s in r.remote_video_track_stats if s.codec]
        if codecs:
            return str(codecs[0])
        await asyncio.sleep(0.05)
    raise AssertionError("no inbound video stats")


@pytest.mark.parametrize(("preferred", "expected"), [([{"codec": "H264"}], "H264"), ("auto", "VP8"),
                                                     (["h264", "vp8"], "H264")])
async def test_preferred_video_codecs_are_what_the_viewer_receives(join, preferred, expected) -> None:
    await join("publisher", tracks=[camera("publisher")], preferred_video_codecs=preferred)
    viewer = await join("viewer")
    assert (await _received_codec(viewer, "publisher")).upper() == expected


async def test_options_given_as_none_take_their_defaults(join) -> None:
    await join("publisher", tracks=[camera("publisher")])
    viewer = await join("viewer", automatic_subscription=None, dominant_speaker=None, network_quality=None,
                        preferred_audio_codecs=None, preferred_video_codecs=None, ice_transport_policy=None)
    await until(lambda: subscribed(viewer, "publisher", "video"))  # automatic subscription is on


async def test_codec_preferences_of_the_wrong_shape_are_a_type_error(server) -> None:
    for bad in ("vp8", [3], [{"name": "VP8"}]):
        with pytest.raises(TypeError):
            await connect(server.token("x", "r"), url=server.url, name="r", tracks=[], preferred_video_codecs=bad)
    with pytest.raises(TypeError):
        await connect(server.token("x", "r"), url=server.url, name="r", tracks=[], preferred_audio_codecs="auto")


async def test_twilio_options_are_taken_and_checked_before_connecting(join, server) -> None:
    from core.errors import SignalingConnectionError

    await join("publisher", tracks=[camera("publisher")])
    viewer = await join("viewer", bandwidth_profile={"video": {"mode": "presentation", "maxSubscriptionBitrate": 1e6}},
                        rtc_configuration={"iceServers": []}, region="ie1", environment="prod",
                        notify_warnings=["recording-media-lost"], insights=False, network_monitor=True)
    await until(lambda: (t := subscribed(viewer, "publisher", "video")) is not None and t.is_started)
    with pytest.raises(SignalingConnectionError) as info:
        await connect(server.token("x", "call"), url=server.url, name="call", tracks=[], region="moon1")
    assert info.value.code == 53000
    with pytest.raises(ValueError):
        await connect(server.token("x", "call"), url=server.url, name="call", tracks=[],
                      bandwidth_profile={"video": {"mode": "mosaic"}})
    assert [p.identity for p in viewer.participants.values()] == ["publisher"]  # the refused ones never joined
