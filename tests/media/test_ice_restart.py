"""ICE restart in place (core/media/ice_restart.py): the data channel and the media survive it.

Two real aiortc connections over loopback; the offerer restarts ICE (new ufrag/pwd, the same
certificate), the answerer answers through ``Negotiation.answer`` as Confab does.
"""

from __future__ import annotations

import asyncio
import itertools
import re

import pytest
from aiortc import RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from core import protocol as p
from core.media import ice_restart
from core.media.loopback import loopback_only, rtc_configuration
from core.media.negotiation import Negotiation, rebuilt_by_offerer
from pairs import FakeVideoTrack

pytestmark = pytest.mark.media

_UFRAG = re.compile(r"^a=ice-ufrag:(\S+)", re.MULTILINE)


def _ufrag(sdp: str) -> str:
    match = _UFRAG.search(sdp)
    assert match is not None
    return match.group(1)


async def _frames(track: MediaStreamTrack, count: int) -> None:
    for _ in range(count):
        await track.recv()


async def test_a_restarted_ice_keeps_the_data_channel_and_the_media() -> None:
    with loopback_only():
        offerer, answerer = RTCPeerConnection(rtc_configuration()), RTCPeerConnection(rtc_configuration())
        negotiation = Negotiation("pc", answerer, offerer=False, loopback_only=True)
        received: asyncio.Queue[str] = asyncio.Queue()
        remote: dict[str, MediaStreamTrack] = {}
        opened = asyncio.Event()

        @answerer.on("datachannel")
        def _on_channel(channel: RTCDataChannel) -> None:
            channel.on("message", received.put_nowait)
            opened.set()

        @answerer.on("track")
        def _on_track(track: MediaStreamTrack) -> None:
            remote[track.kind] = track

        try:
            offerer.addTrack(FakeVideoTrack(itertools.repeat((160, 120)), interval=1 / 30))
            channel = offerer.createDataChannel("data")
            await offerer.setLocalDescription(await offerer.createOffer())
            answer = await negotiation.answer(p.Description(type="offer", revision=1, sdp=offerer.localDescription.sdp))
            assert answer is not None and answer.sdp
            await offerer.setRemoteDescription(RTCSessionDescription(answer.sdp, "answer"))
            await asyncio.wait_for(opened.wait(), 10)
            channel.send("before")
            assert await asyncio.wait_for(received.get(), 5) == "before"
            await asyncio.wait_for(_frames(remote["video"], 5), 10)
            first_answer = answer.sdp
            old = [t._connection for t in ice_restart.ice_transports(offerer) + ice_restart.ice_transports(answerer)]

            await ice_restart.prepare(offerer)  # the offering half: new credentials, same DTLS
            await offerer.setLocalDescription(await offerer.createOffer())
            offer_sdp = offerer.localDescription.sdp
            assert not rebuilt_by_offerer(answerer, offer_sdp)
            restart = await negotiation.answer(p.Description(type="offer", revision=2, sdp=offer_sdp))
            assert restart is not None and restart.sdp
            assert _ufrag(restart.sdp) != _ufrag(first_answer)  # answered with new credentials
            await offerer.setRemoteDescription(RTCSessionDescription(restart.sdp, "answer"))
            await asyncio.gather(*ice_restart.complete(offerer, restart.sdp))
            for _ in range(100):  # the answerer's side connects when the offerer's checks arrive
                if all(c._closed for c in old):
                    break
                await asyncio.sleep(0.05)
            assert all(c._closed for c in old)  # everything now goes over the new connections

            assert channel.readyState == "open"
            for n in range(3):
                channel.send(f"after {n}")
            assert [await asyncio.wait_for(received.get(), 5) for _ in range(3)] == ["after 0", "after 1", "after 2"]
            await asyncio.wait_for(_frames(remote["video"], 20), 10)  # media keeps flowing
            assert offerer.connectionState == answerer.connectionState == "connected"
            assert {t.state for t in ice_restart.ice_transports(offerer) + ice_restart.ice_transports(answerer)} \
                == {"completed"}
        finally:
            await offerer.close()
            await answerer.close()


async def test_an_offer_with_a_new_fingerprint_is_a_rebuilt_connection() -> None:
    with loopback_only():
        first, rebuilt, answerer = (RTCPeerConnection(rtc_configuration()) for _ in range(3))
        try:
            for pc in (first, rebuilt):
                pc.createDataChannel("data")
            await first.setLocalDescription(await first.createOffer())
            await answerer.setRemoteDescription(first.localDescription)
            await answerer.setLocalDescription(await answerer.createAnswer())
            await rebuilt.setLocalDescription(await rebuilt.createOffer())
            assert not ice_restart.offer_restarts_ice(answerer, rebuilt.localDescription.sdp)
            assert rebuilt_by_offerer(answerer, rebuilt.localDescription.sdp)
        finally:
            for pc in (first, rebuilt, answerer):
                await pc.close()
