"""Hooks over aiortc's internals: each checked against the pinned version, each only when asked.

Run in a fresh interpreter where process state matters (what a production client imports).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _fresh(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=60, check=True)
    return done.stdout.strip()


def test_fault_injection_is_installed_only_when_a_loss_is_asked_for() -> None:
    out = _fresh("""
        import asyncio
        from aiortc import RTCPeerConnection
        import core  # everything a client imports
        from core.media import faults
        async def main():
            pc = RTCPeerConnection()
            loss = faults.OutgoingLoss()
            loss.attach(pc)
            print(faults.installed())
            loss.set_fraction(0.1)
            print(faults.installed())
            await pc.close()
        asyncio.run(main())
    """)
    assert out.split() == ["False", "True"]


def test_the_hooks_refuse_an_aiortc_they_were_not_written_for() -> None:
    out = _fresh("""
        import aiortc
        from core.media import frames, ice_restart, keep_negotiated, faults, peers, rtp_hooks
        from server.forwarder import passthrough, rtp_writer
        aiortc.__version__ = "9.9.9"  # what each hook checks when it is installed or used
        for install in (keep_negotiated.install, faults.install, rtp_hooks.install,
                        lambda: frames.install(None), lambda: passthrough.pass_through_receiver(None, print),
                        lambda: peers.LocalFeed("t", "video", None), lambda: peers.start_pending_media(None),
                        lambda: passthrough.send_only_receiver(None), lambda: rtp_writer.RtpWriter(None, None),
                        lambda: ice_restart.offer_restarts_ice(None, None),
                        lambda: ice_restart.prepare(None).send(None)):
            try:
                install()
                print("installed")
            except RuntimeError as exc:
                print("refused" if "9.9.9" in str(exc) else exc)
    """)
    assert out.split() == ["refused"] * 11


async def test_receiver_statistics_fail_loudly_when_aiortc_renames_them() -> None:
    import pytest
    from aiortc import RTCPeerConnection

    from core.media import rtp_hooks

    pc = RTCPeerConnection()
    receiver = pc.addTransceiver("video").receiver
    try:
        assert rtp_hooks.stream_counters(receiver) == []
        del receiver.__dict__["_RTCRtpReceiver__remote_streams"]
        with pytest.raises(RuntimeError, match="remote_streams"):
            rtp_hooks.stream_counters(receiver)
    finally:
        await pc.close()


def test_events_refuse_a_pyee_they_were_not_written_for() -> None:
    out = _fresh("""
        import pyee
        pyee.__version__ = "1.0.0"
        try:
            import core.events
            print("imported")
        except RuntimeError as exc:
            print("refused" if "pyee 13.0.1" in str(exc) else exc)
    """)
    assert out == "refused"
