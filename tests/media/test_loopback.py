import aioice.ice
import pytest
from aiortc import RTCIceServer, RTCPeerConnection
from aiortc.rtcicetransport import RTCIceGatherer

from core.media import loopback
from core.media.loopback import (
    disable_loopback_only,
    enable_from_environment,
    enable_loopback_only,
    is_loopback_only,
    loopback_only,
    rtc_configuration,
)
from pairs import media_pair, negotiate, sdp_candidate_addresses


def _machine_addresses() -> list[str]:
    """What aioice itself answers (the machine's IPv4 addresses), past our dispatcher."""
    original = loopback._original_host_addresses
    assert original is not None, "the dispatcher is installed"
    return original(True, False)


@pytest.fixture(autouse=True)
def _restore():
    was = is_loopback_only()
    yield
    (enable_loopback_only if was else disable_loopback_only)()


def test_enable_is_idempotent_and_reversible() -> None:
    disable_loopback_only()
    enable_loopback_only()
    enable_loopback_only()
    assert is_loopback_only()
    assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True) == ["127.0.0.1"]
    assert RTCIceGatherer.getDefaultIceServers() == []
    disable_loopback_only()
    disable_loopback_only()
    assert not is_loopback_only()
    # The dispatcher stays in place but answers as aioice does (the machine's own addresses).
    assert aioice.ice.get_host_addresses(True, False) == _machine_addresses()
    assert [s.urls for s in RTCIceGatherer.getDefaultIceServers()] == ["stun:stun.l.google.com:19302"]


def test_context_manager_nests() -> None:
    disable_loopback_only()
    with loopback_only():
        with loopback_only():
            assert is_loopback_only()
        assert is_loopback_only()  # the inner block did not enable it, so it does not disable it
    assert not is_loopback_only()


def test_enable_from_environment() -> None:
    disable_loopback_only()
    assert enable_from_environment({}) is False
    assert enable_from_environment({loopback.ENV_VAR: "0"}) is False
    assert enable_from_environment({loopback.ENV_VAR: "1"}) is True


def test_rtc_configuration_never_uses_default_stun() -> None:
    assert rtc_configuration().iceServers == []
    cfg = rtc_configuration(["stun:127.0.0.1:3478", RTCIceServer("turn:127.0.0.1", "u", "p")])
    assert cfg.iceServers is not None
    assert [s.urls for s in cfg.iceServers] == ["stun:127.0.0.1:3478", "turn:127.0.0.1"]


@pytest.mark.media
async def test_pair_gathers_only_loopback_candidates() -> None:
    with loopback_only():
        pc1, pc2 = RTCPeerConnection(rtc_configuration()), RTCPeerConnection(rtc_configuration())
        try:
            channel = pc1.createDataChannel("x")
            await negotiate(pc1, pc2)
            for sdp in (pc1.localDescription.sdp, pc2.localDescription.sdp):
                addresses = sdp_candidate_addresses(sdp)
                assert addresses and set(addresses) == {"127.0.0.1"}, sdp
            assert channel.readyState in ("connecting", "open")
        finally:
            await pc1.close()
            await pc2.close()


@pytest.mark.media
async def test_media_pair_sdp_loopback_only() -> None:
    from core.media.sources import SyntheticAudioSource

    async with media_pair([SyntheticAudioSource()]) as pair:
        addresses = sdp_candidate_addresses(pair.sender.localDescription.sdp)
        addresses += sdp_candidate_addresses(pair.receiver.localDescription.sdp)
        assert set(addresses) == {"127.0.0.1"}


def test_loopback_gathering_for_one_connection_leaves_the_process_alone() -> None:
    """A loopback join must not make a later non-loopback connection gather 127.0.0.1 only."""
    disable_loopback_only()
    with loopback.gathering_on_loopback():
        assert aioice.ice.get_host_addresses(True, False) == ["127.0.0.1"]
    assert aioice.ice.get_host_addresses(True, False) == _machine_addresses()
    with loopback.gathering_on_loopback(False):
        assert not is_loopback_only()


@pytest.mark.media
async def test_a_negotiation_that_asked_gathers_on_loopback_and_no_other(tmp_path) -> None:
    """core.connect to a loopback server: its own connections only, not the process."""
    from core import LocalAudioTrack, connect
    from core.media.sources import SyntheticAudioSource
    from server.app import start_server

    disable_loopback_only()
    server = await start_server(port=0, data_dir=tmp_path, dev=True, default_room_type="group")
    try:
        room = await connect(server.token("alice", "r"), url=server.url, name="r",
                             tracks=[LocalAudioTrack(SyntheticAudioSource("tone"))])
        sessions = room._signaling.media.mesh.sessions().values()
        assert sessions and all(sdp_candidate_addresses(s.pc.localDescription.sdp) == ["127.0.0.1"]
                                for s in sessions)
        assert not is_loopback_only()
        assert aioice.ice.get_host_addresses(True, False) == _machine_addresses()
        room.disconnect()
    finally:
        await server.close()
