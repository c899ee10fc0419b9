"""The server's media errors (53401/53403/53404): the publisher's session ends with the code."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from aiortc import RTCPeerConnection, RTCRtpSender

from callutil import JoinFn, until
from core import protocol as p
from core.errors import TwilioError
from core.media import loopback
from core.media.sources import SyntheticVideoSource
from core.signaling_transport import SignalingTransport
from server.app import RunningServer

pytestmark = pytest.mark.media


async def _room(server: Any, name: str, **params: str) -> None:
    creds = server.credentials
    auth = {"Authorization": aiohttp.encode_basic_auth(creds.api_key_sid, creds.api_key_secret)}
    async with aiohttp.ClientSession(headers=auth) as http:
        async with http.post(server.url + "/v1/Rooms", data={"UniqueName": name, "Type": "group", **params}) as r:
            assert r.status == 201, await r.text()


async def _publish_with_offer(server: Any, room: str, sdp_for: Any) -> TwilioError | None:
    """A raw signaling client that publishes one video track and answers create-offer with ``sdp_for()``."""
    ended: list[TwilioError | None] = []
    def on_state(state: str, error: TwilioError | None) -> None:
        if state == "disconnected":
            ended.append(error)

    session = SignalingTransport(server.url, on_message=lambda body: None, on_state=on_state,
                                 sync_body=lambda: p.Sync(session="", token=""))
    connected = await session.connect(p.Connect(
        token=server.token("publisher", room), name=room,
        participant=p.LocalParticipantState(
            revision=1, tracks=[p.LocalTrackState(id="cam", kind="video", name="cam")])))
    [create_offer] = [e for e in connected.peer_connections if e.description and e.description.type == "create-offer"]
    sdp = await sdp_for()
    session.send(p.Update(session=connected.session, peer_connections=[p.PeerConnectionMessage(
        id=create_offer.id, description=p.Description(type="offer", revision=1, sdp=sdp))]))
    await until(lambda: ended, timeout=10)
    await session.wait_closed()
    return ended[0]


async def _vp8_only_offer() -> str:
    pc = RTCPeerConnection(loopback.rtc_configuration())
    transceiver = pc.addTransceiver(SyntheticVideoSource(160, 120, 10), direction="sendonly")
    transceiver.setCodecPreferences([c for c in RTCRtpSender.getCapabilities("video").codecs
                                     if c.mimeType in ("video/VP8", "video/rtx")])
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    return sdp


async def test_an_offer_without_the_rooms_video_codec_ends_with_53404(server: RunningServer) -> None:
    await _room(server, "h264-only", VideoCodecs="H264")
    error = await _publish_with_offer(server, "h264-only", _vp8_only_offer)
    assert error is not None and error.code == 53404, error


async def test_an_offer_the_server_cannot_apply_ends_with_53403(server: RunningServer) -> None:
    async def no_ice_credentials() -> str:
        return ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
                "c=IN IP4 0.0.0.0\r\na=rtpmap:96 VP8/90000\r\na=sendonly\r\na=mid:0\r\n")

    await _room(server, "strict")
    error = await _publish_with_offer(server, "strict", no_ice_credentials)
    assert error is not None and error.code == 53403, error


async def test_the_room_keeps_serving_the_others(server: RunningServer, join: JoinFn) -> None:
    """A publisher ended with 53404 leaves the other participants' room as it was."""
    await _room(server, "mixed", VideoCodecs="H264")
    watcher = await join("watcher", room="mixed")
    error = await _publish_with_offer(server, "mixed", _vp8_only_offer)
    assert error is not None and error.code == 53404
    await asyncio.sleep(0.3)
    assert watcher.state == "connected" and watcher.participants == {}


async def test_the_rooms_video_codecs_are_what_publishers_send(server: RunningServer, join: JoinFn) -> None:
    from groupkit import camera, subscribed

    await _room(server, "h264-room", VideoCodecs="H264")
    await join("alice", room="h264-room", tracks=[camera("alice", 160, 120, 10)])
    bob = await join("bob", room="h264-room")
    video = await until(lambda: subscribed(bob, "alice", "video"))
    await until(lambda: video.is_started)
    stats = [s for r in await bob.get_stats() for s in r.remote_video_track_stats]
    assert [s.codec for s in stats] == ["H264"]  # aiortc would have picked VP8, first in its offer


async def test_an_offer_with_lf_line_endings_is_checked_all_the_same(server: RunningServer) -> None:
    """The codec check reads parsed SDP: LF-only lines used to slip past it unrestricted."""
    async def lf_only() -> str:
        return (await _vp8_only_offer()).replace("\r\n", "\n")

    await _room(server, "h264-lf", VideoCodecs="H264")
    error = await _publish_with_offer(server, "h264-lf", lf_only)
    assert error is not None and error.code == 53404, error
