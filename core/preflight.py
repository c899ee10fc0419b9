"""``run_preflight``: twilio-video.js's pre-call test — can this machine send and receive media?

As in the browser SDK (``lib/preflight/preflighttest.ts``): acquire synthetic audio and
640×480 video, fetch the server's ICE servers over signaling with the token (an ``ice``
hello), loop the media through two local peer connections — the sender relay-only when the
server hands out a TURN server, so the test crosses it — and sample the receiver's stats
every second for ``duration``. ``progress`` fires with each step's name, then ``completed``
with a :class:`PreflightTestReport` or ``failed`` with the error and the report so far.

Confab differences: with no TURN server configured (a LAN or loopback server) the two
connections meet directly; ``selected_ice_candidate_pair_stats`` is ``None`` (aiortc keeps
the nominated pair private); no Insights telemetry is sent.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiortc import RTCPeerConnection

from . import protocol as p
from .errors import MediaConnectionError, SignalingConnectionTimeoutError, TwilioError
from .events import EventEmitter
from .join import DEFAULT_URL, ice_server, is_loopback_url
from .media import loopback
from .media.negotiation import max_bundle
from .media.sinks import AudioFanout, VideoFanout
from .media.sources import SyntheticAudioSource, SyntheticVideoSource
from .signaling_transport import SignalingTransport

__all__ = ["PROGRESS", "PreflightTest", "PreflightTestReport", "Stat", "TimeMeasurement", "run_preflight"]

T = TypeVar("T")

#: ``progress`` names, in the order they usually come (ICE, connection and DTLS race).
PROGRESS = ("mediaAcquired", "connected", "iceConnected", "peerConnectionConnected", "dtlsConnected",
            "mediaSubscribed", "mediaStarted")
DEFAULT_DURATION_S = 10.0
STEP_GRACE_S = 10.0  # each step may take the test's duration plus this, as in twilio-video.js


@dataclass
class TimeMeasurement:
    """Milliseconds since the epoch; ``duration`` in ms once it ended."""

    start: float = field(default_factory=lambda: time.time() * 1000.0)
    end: float | None = None

    @property
    def duration(self) -> float | None:
        return None if self.end is None else self.end - self.start

    def restart(self) -> None:
        self.start, self.end = time.time() * 1000.0, None

    def stop(self) -> None:
        self.end = time.time() * 1000.0


@dataclass(frozen=True)
class Stat:
    min: float
    max: float
    average: float

    @classmethod
    def of(cls, values: Iterable[float]) -> Stat | None:
        values = list(values)
        return cls(min(values), max(values), sum(values) / len(values)) if values else None


@dataclass
class PreflightTestReport:
    test_timing: TimeMeasurement
    #: ``connect`` (ICE servers fetched), ``ice``, ``peer_connection``, ``dtls``, ``media`` (to the first frame).
    network_timing: dict[str, TimeMeasurement]
    #: ``jitter`` (s, audio), ``rtt`` (ms), ``packet_loss`` (% of packets, audio and video).
    stats: dict[str, Stat | None]
    ice_candidate_stats: list[dict[str, Any]]
    selected_ice_candidate_pair_stats: dict[str, Any] | None = None
    #: ``(ms since the test started, progress name)`` for each progress event.
    progress_events: list[tuple[float, str]] = field(default_factory=list)


class PreflightTest(EventEmitter):
    """Events: ``progress(name)``, ``completed(report)``, ``failed(error, report)``."""

    def __init__(self, token: str, url: str, duration: float) -> None:
        super().__init__()
        self._duration = duration
        self._stopped = False
        self._timing = TimeMeasurement()
        self._network = {name: TimeMeasurement() for name in ("connect", "ice", "peer_connection", "dtls", "media")}
        self._samples: dict[str, list[float]] = {"jitter": [], "rtt": [], "packet_loss": []}
        self._candidates: list[dict[str, Any]] = []
        self._progress: list[tuple[float, str]] = []
        self._error: BaseException | None = None
        self._report: PreflightTestReport | None = None
        self._task = asyncio.get_running_loop().create_task(self._run(token, url))

    def stop(self) -> None:
        """Stop the test: it ends with ``failed`` (``RuntimeError("stopped")``)."""
        self._stopped = True
        self._task.cancel()

    async def wait(self) -> PreflightTestReport:
        """The report once the test ended (raises the test's error if it failed)."""
        await asyncio.shield(self._task)
        if self._error is not None:
            raise self._error
        assert self._report is not None
        return self._report

    # -- the test ------------------------------------------------------------------------

    async def _run(self, token: str, url: str) -> None:
        pcs: list[RTCPeerConnection] = []
        sources: list[Any] = []
        fanouts: list[Any] = []
        try:
            sources = [SyntheticAudioSource("speech"), SyntheticVideoSource(640, 480, fps=30, label="preflight")]
            self._step_done("mediaAcquired")
            servers = await self._step(self._ice_servers(token, url), SignalingConnectionTimeoutError())
            self._network["connect"].stop()
            self._step_done("connected")
            relay = any(u.startswith(("turn:", "turns:")) for s in servers for u in _urls(s))
            with loopback.gathering_on_loopback(is_loopback_url(url)):
                sender = RTCPeerConnection(max_bundle(loopback.rtc_configuration(servers, "relay" if relay else "all")))
                receiver = RTCPeerConnection(max_bundle(loopback.rtc_configuration(servers)))
                pcs += [sender, receiver]
                started = asyncio.get_running_loop().create_future()
                tracks = await self._step(self._connect(sender, receiver, sources), MediaConnectionError())
            self._step_done("mediaSubscribed")
            def first_frame() -> None:
                if not started.done():
                    started.set_result(None)

            for track in tracks:
                fanout = (VideoFanout if track.kind == "video" else AudioFanout)(track, on_started=first_frame)
                fanout.start()
                fanouts.append(fanout)
            await self._step(asyncio.shield(started), MediaConnectionError())
            self._network["media"].stop()
            self._step_done("mediaStarted")
            await self._step(self._sample(sender, receiver), None)
            self._candidates = _candidates(receiver)
            self._report = self._report_now()
            self.emit("completed", self._report)
        except asyncio.CancelledError:
            self._fail(RuntimeError("stopped") if self._stopped else asyncio.CancelledError())
            if not self._stopped:
                raise
        except (TwilioError, TimeoutError, OSError, RuntimeError) as exc:
            self._fail(exc)
        finally:
            for fanout in fanouts:
                await fanout.stop()
            for pc in pcs:
                await pc.close()
            for source in sources:
                source.stop()

    async def _step(self, awaitable: Any, timeout_error: BaseException | None) -> Any:
        try:
            return await asyncio.wait_for(awaitable, self._duration + STEP_GRACE_S)
        except TimeoutError as exc:
            raise (timeout_error or exc) from exc

    async def _ice_servers(self, token: str, url: str) -> list[Any]:
        self._network["connect"].restart()
        session = SignalingTransport(url, on_message=lambda body: None, on_state=lambda state, error: None,
                                     sync_body=lambda: p.Sync(session="", token=token))
        try:
            return [ice_server(s) for s in await session.acquire_ice(token)]
        finally:
            await session.abandon()

    async def _connect(self, sender: RTCPeerConnection, receiver: RTCPeerConnection, sources: list[Any]) -> list[Any]:
        tracks: list[Any] = []
        both = asyncio.get_running_loop().create_future()

        @receiver.on("track")
        def _on_track(track: Any) -> None:
            tracks.append(track)
            if len(tracks) == len(sources) and not both.done():
                both.set_result(None)

        connected = asyncio.get_running_loop().create_future()

        @sender.on("connectionstatechange")
        def _connected() -> None:
            if connected.done():
                return
            if sender.connectionState == "connected":
                connected.set_result(None)
            elif sender.connectionState in ("failed", "closed"):
                connected.set_exception(MediaConnectionError())

        self._watch(sender)
        for source in sources:
            sender.addTrack(source)
        self._network["media"].restart()
        await sender.setLocalDescription(await sender.createOffer())
        await receiver.setRemoteDescription(sender.localDescription)
        await receiver.setLocalDescription(await receiver.createAnswer())
        await sender.setRemoteDescription(receiver.localDescription)
        await both
        await connected  # as twilio-video.js: connected first, then "mediaSubscribed"
        return tracks

    def _watch(self, pc: RTCPeerConnection) -> None:
        """ICE, connection and DTLS timings (each from its 'checking'/'connecting' to 'connected')."""
        self._on_state(pc, "iceconnectionstatechange", lambda: pc.iceConnectionState, "checking", "ice", "iceConnected")
        self._on_state(pc, "connectionstatechange", lambda: pc.connectionState, "connecting", "peer_connection",
                       "peerConnectionConnected")

        @pc.on("connectionstatechange")
        def _dtls() -> None:  # aiortc's DTLS transport has no state events: read it with the connection's
            transport = next((s.transport for s in pc.getSenders() if s.transport is not None), None)
            if transport is not None and transport.state == "connected" and self._network["dtls"].end is None:
                self._network["dtls"].stop()
                self._step_done("dtlsConnected")

    def _on_state(self, pc: RTCPeerConnection, event: str, state: Callable[[], str], begins: str,
                  timing: str, progress: str) -> None:
        def changed() -> None:  # (aiortc's ICE state goes checking → completed, never "connected")
            if state() == begins:
                self._network[timing].restart()
                if timing == "peer_connection":
                    self._network["dtls"].restart()  # aiortc starts DTLS once ICE connects; near enough
            elif state() in ("connected", "completed") and self._network[timing].end is None:
                self._network[timing].stop()
                self._step_done(progress)

        pc.on(event, changed)

    async def _sample(self, sender: RTCPeerConnection, receiver: RTCPeerConnection) -> None:
        deadline = time.monotonic() + self._duration
        last: tuple[int, int] | None = None
        while True:
            await asyncio.sleep(max(0.0, min(1.0, deadline - time.monotonic())))
            received, lost, jitter = 0, 0, 0.0
            for r in receiver.getReceivers():
                for s in (await r.getStats()).values():
                    if getattr(s, "type", None) == "inbound-rtp":
                        received += s.packetsReceived or 0
                        lost += max(0, s.packetsLost or 0)
                        if s.kind == "audio" and s.jitter is not None:
                            jitter = max(jitter, s.jitter / 48000.0)  # RTP units of Opus's 48 kHz clock
            rtts = [s.roundTripTime for snd in sender.getSenders() for s in (await snd.getStats()).values()
                    if getattr(s, "type", None) == "remote-inbound-rtp" and s.roundTripTime is not None]
            self._samples["jitter"].append(jitter)
            if rtts:
                self._samples["rtt"].append(max(rtts) * 1000.0)
            if last is not None:
                packets, missing = received - last[0], lost - last[1]
                if packets + missing > 0:
                    self._samples["packet_loss"].append(min(100.0, 100.0 * missing / (packets + missing)))
            last = (received, lost)
            if time.monotonic() >= deadline:
                return

    # -- outcome -------------------------------------------------------------------------

    def _step_done(self, name: str) -> None:
        self._progress.append((time.time() * 1000.0 - self._timing.start, name))
        self.emit("progress", name)

    def _report_now(self) -> PreflightTestReport:
        self._timing.stop()
        return PreflightTestReport(
            test_timing=self._timing, network_timing=self._network,
            stats={name: Stat.of(v for v in values if math.isfinite(v)) for name, values in self._samples.items()},
            ice_candidate_stats=self._candidates, progress_events=list(self._progress))

    def _fail(self, error: BaseException) -> None:
        self._error = error
        self._report = self._report_now()
        self.emit("failed", error, self._report)


def _urls(server: Any) -> list[str]:
    urls = server.urls
    return [urls] if isinstance(urls, str) else list(urls)


def _candidates(pc: RTCPeerConnection) -> list[dict[str, Any]]:
    """The receiver's local and remote ICE candidates, as twilio-video.js's iceCandidateStats."""
    out: list[dict[str, Any]] = []
    for transceiver in pc.getTransceivers()[:1]:  # max-bundle: one transport for all
        ice = transceiver.receiver.transport.transport
        pairs = [("local-candidate", c) for c in ice.iceGatherer.getLocalCandidates()]
        pairs += [("remote-candidate", c) for c in ice.getRemoteCandidates()]
        for kind, c in pairs:
            out.append({"type": kind, "candidateType": c.type, "address": c.ip, "port": c.port,
                        "priority": c.priority, "protocol": c.protocol})
    return out


def run_preflight(token: str, *, url: str = DEFAULT_URL, duration: float = DEFAULT_DURATION_S) -> PreflightTest:
    """Start a preflight test (call it inside a running event loop); listen for its events or ``await test.wait()``."""
    if not isinstance(token, str):
        raise TypeError("token must be a string")
    if not isinstance(duration, (int, float)) or isinstance(duration, bool) or duration <= 0:
        raise TypeError("duration must be a positive number of seconds")
    return PreflightTest(token, url, float(duration))
