"""``core.media.negotiation`` over real aiortc pairs: identity by mid and msid, glare, kept ids.

The remote offers here are aiortc's own, rewritten the way twilio-video.js writes them
(tracks without a stream, another extension-id and payload-type numbering), because that is
what Confab meets from a browser.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription

from core import protocol as p
from core.media import keep_negotiated
from core.media.loopback import loopback_only, rtc_configuration
from core.media.negotiation import (
    Negotiation,
    codecs_allowed,
    parse_session,
    remote_media_lines,
    restrict_video_codecs,
)
from core.media.sources import SyntheticAudioSource, SyntheticVideoSource

pytestmark = pytest.mark.media


def browser_style(sdp: str, track_ids: dict[str, str]) -> str:
    """Stream-less msids (``a=msid:- <id>``, empty ``msid-semantic``), as twilio-video.js sends."""
    sdp = re.sub(r"a=msid-semantic:\s*WMS[^\r\n]*", "a=msid-semantic: WMS", sdp)
    for old, new in track_ids.items():
        sdp = re.sub(rf"a=msid:\S+ {re.escape(old)}", f"a=msid:- {new}", sdp)
    return sdp


def renumbered(sdp: str) -> str:
    """Extension ids and the opus payload type as Chromium numbers them, not as aiortc does."""
    ids = {m.group(1): m.group(2) for m in re.finditer(r"a=extmap:(\d+) (\S+)", sdp)}
    remap = {old: str(10 + i) for i, old in enumerate(sorted(set(ids)))}
    sdp = re.sub(r"a=extmap:(\d+) ", lambda m: f"a=extmap:{remap[m.group(1)]} ", sdp)
    opus = re.search(r"a=rtpmap:(\d+) opus/", sdp)
    if opus:
        pt = opus.group(1)
        sdp = re.sub(rf"(m=audio \d+ \S+ ){pt}\b", r"\g<1>111", sdp)
        sdp = re.sub(rf"a=(rtpmap|fmtp|rtcp-fb):{pt} ", r"a=\1:111 ", sdp)
    return sdp


def extmaps(sdp: str, mid: str) -> dict[str, str]:
    section = next(s for s in sdp.split("m=")[1:] if f"a=mid:{mid}\r\n" in s)
    return {m.group(2): m.group(1) for m in re.finditer(r"a=extmap:(\d+) (\S+)", section)}


@pytest.fixture
def loopback() -> Any:
    with loopback_only():
        yield


async def offer_from(pc: RTCPeerConnection) -> str:
    await pc.setLocalDescription(await pc.createOffer())
    return pc.localDescription.sdp


async def test_remote_tracks_are_named_by_their_msid_even_without_a_stream(loopback: Any) -> None:
    browser = RTCPeerConnection(rtc_configuration())
    confab = RTCPeerConnection(rtc_configuration())
    seen: list[tuple[str, str | None]] = []
    negotiation = Negotiation("pc", confab, offerer=False,
                              on_media=lambda line, t: seen.append((line.kind, line.track_id)))
    try:
        audio, video = SyntheticAudioSource("tone"), SyntheticVideoSource(160, 120, 10)
        browser.addTransceiver(audio, direction="sendrecv")
        browser.addTransceiver(video, direction="sendrecv")
        sdp = browser_style(await offer_from(browser), {audio.id: "mic-1", video.id: "cam-1"})
        assert "a=msid:- cam-1" in sdp and "a=msid-semantic: WMS\r\n" in sdp
        answer = await negotiation.answer(p.Description(type="offer", revision=1, sdp=sdp))
        assert answer is not None and answer.revision == 1
        assert seen == [("audio", "mic-1"), ("video", "cam-1")]
        # aiortc's own id for such a track is one it made up: the reason for all this.
        assert {t.receiver.track.id for t in confab.getTransceivers()}.isdisjoint({"mic-1", "cam-1"})
    finally:
        await browser.close()
        await confab.close()


async def test_a_recycled_transceiver_delivers_its_new_track(loopback: Any) -> None:
    """Unpublish + publish in twilio-video.js: same mid, new msid, no aiortc ``track`` event."""
    browser = RTCPeerConnection(rtc_configuration())
    confab = RTCPeerConnection(rtc_configuration())
    seen: list[str | None] = []
    negotiation = Negotiation("pc", confab, offerer=False, on_media=lambda line, t: seen.append(line.track_id))
    try:
        video = SyntheticVideoSource(160, 120, 10)
        transceiver = browser.addTransceiver(video, direction="sendrecv")
        first = browser_style(await offer_from(browser), {video.id: "cam-1"})
        await negotiation.answer(p.Description(type="offer", revision=1, sdp=first))
        await browser.setRemoteDescription(confab.localDescription)
        again = first.replace("a=msid:- cam-1", "a=msid:- cam-2").replace("o=- ", "o=- 1", 1)
        assert (await negotiation.answer(p.Description(type="offer", revision=2, sdp=again))) is not None
        assert seen == ["cam-1", "cam-2"]
        inactive = again.replace("a=sendrecv", "a=inactive")
        await negotiation.answer(p.Description(type="offer", revision=3, sdp=inactive))
        assert seen == ["cam-1", "cam-2"]  # nothing sent on it: nothing delivered
        assert transceiver.mid == "0"
    finally:
        await browser.close()
        await confab.close()


async def test_glare_policy_each_side_offers_only_on_its_own_connection(loopback: Any) -> None:
    ours = RTCPeerConnection(rtc_configuration())
    theirs = RTCPeerConnection(rtc_configuration())
    mine = Negotiation("mine", ours, offerer=True)
    try:
        ours.addTransceiver(SyntheticVideoSource(160, 120, 10), direction="sendonly")
        mine.needs_offer = True
        offer = await mine.offer()
        assert offer is not None and offer.revision == 1
        assert await mine.offer() is None  # one outstanding offer at a time
        # The other side's re-offer on our connection is never answered.
        theirs.addTransceiver(SyntheticAudioSource("tone"), direction="sendrecv")
        extra = await offer_from(theirs)
        assert await mine.answer(p.Description(type="offer", revision=5, sdp=extra)) is None
        assert ours.signalingState == "have-local-offer"
        # A stale answer is ignored, the right one applied.
        await theirs.close()
        theirs = RTCPeerConnection(rtc_configuration())
        await theirs.setRemoteDescription(RTCSessionDescription(offer.sdp or "", "offer"))
        await theirs.setLocalDescription(await theirs.createAnswer())
        reply = theirs.localDescription.sdp
        assert not await mine.accept_answer(p.Description(type="answer", revision=7, sdp=reply))
        assert await mine.accept_answer(p.Description(type="answer", revision=1, sdp=reply))
        assert ours.signalingState == "stable"
    finally:
        await ours.close()
        await theirs.close()


async def test_reoffers_keep_the_remote_numbering(loopback: Any) -> None:
    """Chromium refuses a re-offer that renumbers an extension on an active mid (53400)."""
    browser = RTCPeerConnection(rtc_configuration())
    confab = RTCPeerConnection(rtc_configuration())
    try:
        browser.addTransceiver(SyntheticAudioSource("tone"), direction="sendrecv")
        browser.addTransceiver(SyntheticVideoSource(160, 120, 10), direction="sendrecv")
        offer = renumbered(await offer_from(browser))
        await confab.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        await confab.setLocalDescription(await confab.createAnswer())
        negotiated = {mid: extmaps(offer, mid) for mid in ("0", "1")}
        assert all(int(i) >= 10 for ids in negotiated.values() for i in ids.values())

        before = keep_negotiated.engaged()
        confab.addTransceiver(SyntheticVideoSource(160, 120, 10), direction="sendonly")
        reoffer = await offer_from(confab)
        assert {mid: extmaps(reoffer, mid) for mid in ("0", "1")} == negotiated
        assert keep_negotiated.engaged() - before == 2  # the two negotiated m-lines, not the new one
        audio = reoffer.split("m=audio ", 1)[1].split("m=", 1)[0]
        assert audio.split("\r\n", 1)[0].split()[2] == "111"
        assert "a=rtpmap:111 opus/48000/2" in audio
    finally:
        await browser.close()
        await confab.close()


def test_codec_checks_work_on_parsed_sdp_whatever_the_line_endings() -> None:
    sdp = ("v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nt=0 0\na=group:BUNDLE 0\n"
           "m=video 9 UDP/TLS/RTP/SAVPF 96 97 98\nc=IN IP4 0.0.0.0\na=mid:0\na=sendonly\n"
           "a=msid:- cam\na=rtpmap:96 VP8/90000\na=rtpmap:97 rtx/90000\na=fmtp:97 apt=96\n"
           "a=rtpmap:98 H264/90000\na=fmtp:98 packetization-mode=1;profile-level-id=42e01f\n"
           "a=ice-ufrag:abcd\na=ice-pwd:abcdefghijklmnopqrstuvwx\na=setup:actpass\n"
           "a=fingerprint:sha-256 " + ":".join(["AB"] * 32) + "\n")
    parsed = parse_session(sdp)
    assert remote_media_lines(parsed)[0].track_id == "cam"
    assert codecs_allowed(parsed, ["VP8"]) and codecs_allowed(parsed, ["H264"])
    assert not codecs_allowed(parsed, ["VP9"])
    assert restrict_video_codecs(parsed, ["H264"])
    names = [c.mimeType for c in parsed.media[0].rtp.codecs]
    assert names == ["video/H264"] and parsed.media[0].fmt == [98]
    assert "\r\nm=video 9 UDP/TLS/RTP/SAVPF 98\r\n" in str(parsed)
    with pytest.raises(ValueError):
        parse_session("hello")
