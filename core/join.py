"""``await connect(token, url=...)``: signaling session + mesh media → a connected Room.

This module is the glue of architecture §2: it builds the signaling-state layer, opens the
WebSocket session on it, and wires the aiortc media (``core.media.peers``) to it both ways —
offers/answers out through signaling, remote tracks and data channels in as media facts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlparse

from aiortc import RTCConfiguration, RTCDataChannel, RTCIceServer
from aiortc.mediastreams import MediaStreamTrack

from . import connect_options, protocol as p
from .connect_options import BandwidthProfile
from .errors import TwilioError
from .local_tracks import create_local_tracks, local_source
from .logger import DEFAULT_LOGGER_NAME, Logger
from .media import loopback
from .media.faults import OutgoingLoss
from .media.ice_policy import check_relay
from .media.negotiation import max_bundle, send_json
from .media.peers import MediaOptions, MeshMedia
from .media.sinks import AudioFanout, VideoFanout
from .media.stats import collect_stats
from .media_health import MediaHealth
from .network_quality import NetworkQualityConfiguration
from .participant import LocalParticipant
from .peer_to_peer import PeerToPeerFeatures
from .room import Room
from .signaling import EncodingParameters, RoomSignaling
from .signaling_transport import SignalingTransport
from .track import LocalAudioTrack, LocalDataTrack, LocalVideoTrack

__all__ = ["connect", "DEFAULT_URL"]

log = logging.getLogger(__name__)

#: How long a closed data channel's track waits for its replacement on a rebuilt connection.
#: Time while that connection is still being rebuilt (closed, its successor not connected) does
#: not count, up to DATA_REBIND_MAX_S in all; the wait is checked every DATA_REBIND_TICK_S.
DATA_REBIND_S = 5.0
DATA_REBIND_MAX_S = 30.0
DATA_REBIND_TICK_S = 0.5

DEFAULT_URL = "http://127.0.0.1:7880"
SDK_VERSION = "0.1.0"


def is_loopback_url(url: str) -> bool:
    return loopback.is_loopback_host(urlparse(url if "://" in url else "ws://" + url).hostname or "")


class _TransportAdapter:
    """``RoomSignaling``'s transport seam over :class:`SignalingTransport`.

    The layer sends ``Disconnect`` and then calls ``close()`` on a local leave; the session
    sends its own ``disconnect`` + ``bye``, so the first is dropped here.
    """

    def __init__(self) -> None:
        self.session: SignalingTransport | None = None
        self.closing: asyncio.Task[None] | None = None

    def send(self, body: Any) -> None:
        if self.session is not None and not isinstance(body, p.Disconnect):
            self.session.send(body)

    def close(self) -> None:
        if self.session is not None and self.closing is None:
            self.closing = asyncio.get_running_loop().create_task(self.session.disconnect())


class _MeshRoomMedia:
    """Feeds one RoomSignaling from a :class:`MeshMedia` and the local participant's tracks.

    In group rooms the server is the one peer (a publish and a subscribe connection) and
    sends dominant speaker and network quality as MSP messages on data channels it names in
    ``connected.media_signaling``; those channels go to ``signaling.handle_msp``. In
    peer-to-peer rooms :class:`~core.peer_to_peer.PeerToPeerFeatures` computes both.
    """

    def __init__(self, signaling: RoomSignaling, configuration: Any, options: MediaOptions) -> None:
        self.signaling = signaling
        signaling.media = self  # type: ignore[attr-defined]  # RoomSignaling declares no media attribute
        self.faults = OutgoingLoss()
        self._configuration, self._options = configuration, options
        self._retired: set[asyncio.Task[None]] = set()  # closing meshes replaced by rebuild_media()
        self.mesh = self._new_mesh()
        self.fanouts: dict[tuple[str | None, str], VideoFanout | AudioFanout] = {}  # (peer, track id)
        self.msp_channels: dict[str, RTCDataChannel] = {}
        self._msp_pending: dict[tuple[str, str], dict[str, Any]] = {}  # (channel, track): latest message
        self.p2p = PeerToPeerFeatures(signaling, self.mesh, self.stats)
        self.health = MediaHealth(signaling, self)  # ICE/DTLS and media stalls: reconnecting, rebuilds
        signaling.on("networkQualityConfigurationChanged", lambda config: self._send_nq_configuration())
        signaling.on("mspOutgoing", self._send_msp)
        self.local_participant: LocalParticipant | None = None
        signaling.on("peerConnections", self._peer_connections)
        signaling.on("stateChanged", self._state_changed)
        signaling.on("rejoined", self.rebuild_media)
        signaling.on("encodingParametersChanged", lambda params: self.mesh.set_max_bitrates(
            params.max_audio_bitrate, params.max_video_bitrate))
        signaling.local_participant.on("localTrackAdded", lambda tsig: self._publish(tsig.id))
        signaling.local_participant.on("localTrackRemoved", lambda tsig: self._unpublish(tsig.id))
        self._track_listeners: dict[str, list[tuple[Any, str, Any]]] = {}
        self.closed: asyncio.Task[None] | None = None
        # While connecting, the first negotiations are awaited and their errors reject connect().
        self.negotiating: list[asyncio.Task[Any]] | None = []
        self.connect_errors: list[TwilioError] = []

    def _new_mesh(self) -> MeshMedia:
        """A MeshMedia whose events count only while it is ``self.mesh`` (see rebuild_media)."""
        signaling = self.signaling
        mesh: MeshMedia

        def live(fn: Callable[..., None]) -> Callable[..., None]:
            def call(*args: Any) -> None:
                if self.mesh is mesh:
                    fn(*args)
            return call

        mesh = MeshMedia(
            send=live(lambda message: signaling.send_peer_connections([message])),
            on_remote_track=live(self._remote_track),
            on_remote_data=live(self._remote_data),
            on_local_channel=self._local_channel,  # an old mesh still detaches its channels
            on_error=live(self._media_error),
            configuration=self._configuration,
            options=self._options,
            faults=self.faults,
        )
        return mesh

    def rebuild_media(self) -> None:
        """Drop every peer connection and remote track; publish the local tracks on new ones.

        The shared "start the media over" entry point: after a rejoin (the server restarted,
        ``rejoined``) the server's ``connected`` asks for new connections right after this.
        Remote tracks are dropped at once (``media_track_removed``: subscribers see
        ``trackUnsubscribed``); the old connections close in the background.
        """
        old, self.mesh = self.mesh, self._new_mesh()
        self.p2p.mesh = self.mesh
        self.msp_channels = {}
        fanouts, self.fanouts = self.fanouts, {}
        for (peer, track_id), fanout in fanouts.items():
            self.signaling.media_track_removed(track_id, peer, fanout)
        for track_id in list(self._track_listeners):
            for emitter, event, listener in self._track_listeners.pop(track_id):
                emitter.remove_listener(event, listener)
        if self.local_participant is not None:
            self.attach(self.local_participant)

        async def retire() -> None:
            await old.close()
            for fanout in fanouts.values():
                await fanout.stop()

        task = asyncio.get_running_loop().create_task(retire())
        self._retired.add(task)
        task.add_done_callback(self._retired.discard)

    async def first_negotiation(self) -> None:
        """Wait for the offers the ``connected`` message asked for; raise the first failure (53400)."""
        if self.negotiating:
            await asyncio.gather(*self.negotiating, return_exceptions=True)
        self.negotiating = None
        if self.connect_errors:
            raise self.connect_errors[0]

    def attach(self, local_participant: LocalParticipant) -> None:
        self.local_participant = local_participant
        for track_id in list(local_participant._local_tracks):
            self._publish(track_id)

    # local → media
    def _publish(self, track_id: str) -> None:
        if self.local_participant is None:
            return  # connect-time tracks: published by attach()
        track = self.local_participant._local_tracks.get(track_id)
        if isinstance(track, LocalDataTrack):
            self.mesh.add_data(track.id, ordered=track.ordered, max_packet_life_time=track.max_packet_life_time,
                               max_retransmits=track.max_retransmits)
        elif isinstance(track, (LocalAudioTrack, LocalVideoTrack)):
            self.mesh.add_media(track.id, local_source(track), enabled=track.is_enabled)
            listeners = [(track, "enabled", lambda t: self.mesh.set_enabled(t.id, True)),
                         (track, "disabled", lambda t: self.mesh.set_enabled(t.id, False))]
            for emitter, event, listener in listeners:
                emitter.on(event, listener)
            self._track_listeners[track.id] = listeners

    def _unpublish(self, track_id: str) -> None:
        self.mesh.remove(track_id)
        for emitter, event, listener in self._track_listeners.pop(track_id, []):
            emitter.remove_listener(event, listener)

    def _local_channel(self, track_id: str, channel: RTCDataChannel, attached: bool) -> None:
        track = self.local_participant._local_tracks.get(track_id) if self.local_participant else None
        if isinstance(track, LocalDataTrack):
            (track._attach_channel if attached else track._detach_channel)(channel)

    # signaling → media
    def _peer_connections(self, messages: Sequence[p.PeerConnectionMessage], full: bool) -> None:
        for message in messages:
            task = self.mesh.handle(message)
            if task is not None and self.negotiating is not None:
                self.negotiating.append(task)

    # media → signaling
    def _remote_track(self, track_id: str, kind: str, track: MediaStreamTrack, peer: str | None) -> None:
        """Media for ``track_id`` (its m-line's ``a=msid``) from ``peer`` (None: the server)."""
        sig = self.signaling
        for key, old in list(self.fanouts.items()):
            # a recycled transceiver (same receiver track, relayed): its old track is gone
            if getattr(old.track, "source", old.track) is getattr(track, "source", track) and key != (peer, track_id):
                self._drop_fanout(key)
        fanout: VideoFanout | AudioFanout
        if kind == "video":
            fanout = VideoFanout(track, on_started=lambda: sig.media_started(track_id, peer),
                                 on_dimensions=lambda w, h: sig.media_dimensions(track_id, w, h, peer),
                                 on_ended=lambda: self._drop_fanout((peer, track_id), fanout))
        else:
            def on_level(level: Any) -> None:
                sig.media_audio_level(track_id, level.level, peer)
                self.p2p.audio_level(track_id, level.dbov)

            fanout = AudioFanout(track, on_started=lambda: sig.media_started(track_id, peer), on_level=on_level,
                                 on_ended=lambda: self._drop_fanout((peer, track_id), fanout))
        replaced = self.fanouts.pop((peer, track_id), None)
        if replaced is not None:
            asyncio.get_running_loop().create_task(replaced.stop())
        self.fanouts[(peer, track_id)] = fanout
        fanout.start()
        sig.media_track_added(track_id, kind, fanout, peer)

    def _drop_fanout(self, key: tuple[str | None, str], only: Any = None) -> None:
        if only is not None and self.fanouts.get(key) is not only:
            return  # an old fanout ending after a newer one took its key
        fanout = self.fanouts.pop(key, None)
        if fanout is not None:
            if not fanout.ended:
                asyncio.get_running_loop().create_task(fanout.stop())
            self.signaling.media_track_removed(key[1], key[0], fanout)

    def _remote_data(self, label: str, channel: RTCDataChannel, peer: str | None) -> None:
        sig = self.signaling
        # MSP only on channels the server itself opened (its own connection, never a peer's).
        msp = {name for name, ch in sig.media_signaling.items() if ch.transport.label == label} \
            if peer is None else set()
        if msp:
            self._msp_channel(label, msp, channel)
            return
        channel.on("message", lambda data: sig.data_message(label, data, peer))
        # A rebuilt connection (media watchdog) closes the old channel and opens one of the
        # same label on the new one: a close waits for that, so the track stays subscribed.
        channel.on("close", lambda: self._data_closed(label, peer, channel, time.monotonic()))
        if not sig.media_replaced(label, peer, channel):
            sig.media_track_added(label, "data", channel, peer)

    def _data_closed(self, label: str, peer: str | None, channel: RTCDataChannel, since: float) -> None:
        """Unsubscribe ``channel``'s track once DATA_REBIND_S have passed since its close with no
        channel of the same label taking over; time while the connection is rebuilt not counted."""
        loop = asyncio.get_running_loop()

        def tick(left: float) -> None:
            if left <= 0 or time.monotonic() - since >= DATA_REBIND_MAX_S:
                self.signaling.media_track_removed(label, peer, channel)
                return
            step = min(left, DATA_REBIND_TICK_S)
            loop.call_later(step, tick, left if self.mesh.rebuilding(peer) else left - step)

        tick(DATA_REBIND_S)

    # MSP (group rooms): JSON from the server's media-signaling channels
    def _msp_channel(self, label: str, names: set[str], channel: RTCDataChannel) -> None:
        sig = self.signaling
        for name in names:
            self.msp_channels[name] = channel

        @channel.on("message")
        def _on_message(data: Any) -> None:
            try:
                message = json.loads(data)
            except (TypeError, ValueError):
                log.debug("bad MSP message on %s", label)
                return
            if isinstance(message, dict):
                sig.handle_msp(message)

        def _on_open() -> None:
            send_json(channel, {"type": "ready"})
            self._flush_msp(names, channel)
            if "network_quality" in names:
                self._send_nq_configuration()

        if channel.readyState == "open":
            _on_open()
        else:
            channel.on("open", _on_open)

    def _send_msp(self, message: dict[str, Any]) -> None:
        """A client MSP message (``track_priority`` …) on the server's channel of that name.

        Until that channel is open the latest message per track waits (twilio-video.js sends
        its priorities when the channel is ready); a server that names no such channel in
        ``connected.media_signaling`` gets none, as in twilio-video.js."""
        name = message["type"]
        if name not in self.signaling.media_signaling:
            log.debug("the server serves no %s MSP channel: not sent", name)
            return
        channel = self.msp_channels.get(name)
        if channel is not None and channel.readyState == "open":
            send_json(channel, message)
        else:
            self._msp_pending[(name, str(message.get("track")))] = message

    def _flush_msp(self, names: set[str], channel: RTCDataChannel) -> None:
        for key in [k for k in self._msp_pending if k[0] in names]:
            send_json(channel, self._msp_pending.pop(key))

    def _send_nq_configuration(self) -> None:
        config = self.signaling.network_quality_configuration
        channel = self.msp_channels.get("network_quality")
        if config is not None and channel is not None:
            send_json(channel, {"type": "network_quality", "reportLevel": int(config.local),
                                 "remoteReportLevel": int(config.remote)})

    def _media_error(self, error: TwilioError, peer: str | None, role: str) -> None:
        """53400/53402: rejects connect() while connecting; later, the peer's tracks fail to subscribe."""
        log.warning("media error with %s (%s connection): %s", peer, role, error)
        if self.negotiating is not None:
            self.connect_errors.append(error)
        elif role == "receive" and peer is not None:
            self.signaling.media_failed(peer, error)

    def _state_changed(self, state: str, error: TwilioError | None) -> None:
        if state == "disconnected" and self.closed is None:
            self.closed = asyncio.get_running_loop().create_task(self.close())

    async def close(self) -> None:
        await self.health.stop()
        await self.p2p.close()
        await self.mesh.close()
        for task in list(self._retired):
            await task
        fanouts, self.fanouts = list(self.fanouts.values()), {}
        for fanout in fanouts:
            await fanout.stop()

    async def stats(self) -> list[Any]:
        return await collect_stats(self.mesh, self.fanouts, self.local_participant)


async def connect(
    token: str,
    *,
    url: str = DEFAULT_URL,
    name: str | None = None,
    audio: bool | dict[str, Any] | None = None,
    video: bool | dict[str, Any] | None = None,
    tracks: Sequence[Any] | None = None,
    automatic_subscription: bool | None = True,
    dominant_speaker: bool | None = False,
    network_quality: bool | dict[str, int] | NetworkQualityConfiguration | None = False,
    preferred_audio_codecs: Sequence[str | Mapping[str, Any]] | None = (),
    preferred_video_codecs: Sequence[str | Mapping[str, Any]] | str | None = (),
    max_audio_bitrate: int | None = None,
    max_video_bitrate: int | None = None,
    ice_servers: Sequence[RTCIceServer | str] | None = None,
    ice_transport_policy: str | None = "all",
    loopback_only: bool | None = None,
    bandwidth_profile: Mapping[str, Any] | BandwidthProfile | None = None,
    rtc_configuration: RTCConfiguration | Mapping[str, Any] | None = None,
    log_level: str | Mapping[str, str] | None = None,
    logger_name: str | None = None,
    region: str | None = None,
    environment: str | None = None,
    notify_warnings: Sequence[str] | None = None,
    insights: bool | None = None,
    network_monitor: bool | None = None,
) -> Room:
    """Join a room; resolves with a connected Room whose ``participants`` holds everyone present.

    Raises the server's TwilioError (bad token 201xx, room full 53105, …) or a signaling error
    (53000) when the server cannot be reached. ``loopback_only`` (default: when ``url`` is a
    loopback address) gathers ICE candidates on 127.0.0.1 only. An option given as ``None``
    takes its default. Codec preferences are names or ``{"codec": name, ...}`` mappings, as in
    twilio-video.js; ``preferred_video_codecs="auto"`` means VP8 (Confab sends no simulcast).
    ``ice_transport_policy="relay"`` sends media only through the TURN server (the server's, from
    ``confab-server --turn-url``, or one in ``ice_servers``); connect() checks first that it grants
    a relay: none configured → 53501, refused or unreachable → 53405 (core/media/ice_policy.py).
    ``rtc_configuration`` (an RTCConfiguration or ``{"iceServers": [...], "iceTransportPolicy":
    ...}``) wins over ``ice_servers``/``ice_transport_policy``. ``log_level`` sets the SDK's
    loggers (core/logger.py; left alone when not given). ``bandwidth_profile``, ``region``,
    ``notify_warnings``, ``insights`` and ``network_monitor`` are checked as twilio-video.js
    checks them (core/connect_options.py).
    """
    if not isinstance(token, str):
        raise TypeError("token must be a string")
    if log_level is not None:
        Logger.get_logger(logger_name or DEFAULT_LOGGER_NAME).set_level(log_level)
    profile = connect_options.bandwidth_profile(bandwidth_profile)
    connect_options.check_region(region)
    warnings = connect_options.notify_warnings(notify_warnings)
    connect_options.check_flag(insights, "insights")
    connect_options.check_flag(network_monitor, "network_monitor")
    if rtc_configuration is not None:
        ice_servers, ice_transport_policy = connect_options.ice_settings(rtc_configuration)
    automatic_subscription = True if automatic_subscription is None else automatic_subscription
    dominant_speaker = bool(dominant_speaker)
    ice_transport_policy = ice_transport_policy or "all"
    audio_codecs = _codec_names(preferred_audio_codecs, "preferred_audio_codecs")
    video_codecs = _codec_names(preferred_video_codecs, "preferred_video_codecs")
    if tracks is not None and not isinstance(tracks, (list, tuple)):
        raise TypeError("tracks must be a list of LocalTracks or MediaStreamTracks")
    if ice_transport_policy not in ("all", "relay"):
        raise ValueError("ice_transport_policy must be 'all' or 'relay'")
    if loopback_only is None:
        loopback_only = is_loopback_url(url)

    owned: list[Any] = []
    if tracks is None:
        if audio is None and video is None:
            audio = video = True
        owned = create_local_tracks(audio=audio or False, video=video or False)
        tracks = owned
    nq = _network_quality_configuration(network_quality)

    adapter = _TransportAdapter()
    signaling = RoomSignaling(
        adapter, token=token, name=name, network_quality=nq,
        encoding_parameters=EncodingParameters(max_audio_bitrate, max_video_bitrate), notify_warnings=warnings,
    )
    servers: list[Any] = list(ice_servers) if ice_servers is not None else []
    media = _MeshRoomMedia(
        signaling, lambda: max_bundle(loopback.rtc_configuration(servers, ice_transport_policy)),
        MediaOptions(audio_codecs, video_codecs, max_audio_bitrate, max_video_bitrate,
                     loopback_only=loopback_only))
    signaling.stats_provider = media.stats
    local_participant = LocalParticipant(signaling.local_participant, tracks, owned_tracks=owned)
    media.attach(local_participant)

    session = SignalingTransport(url, on_message=signaling.handle_message, on_state=signaling.transport_state,
                                 sync_body=signaling.sync_message, rejoin_body=signaling.rejoin_message)
    adapter.session = session
    body = signaling.connect_message(
        automatic_subscription=automatic_subscription, dominant_speaker=dominant_speaker,
        ice_servers="overrode" if ice_servers is not None else "acquire",
        bandwidth_profile=profile.payload() if profile is not None else None,
        media_signaling=dict.fromkeys(("track_priority", *(connect_options.BANDWIDTH_CHANNELS if profile else ())),
                                      _DATA_CHANNEL),
        publisher=p.Publisher(name="confab", sdk_version=SDK_VERSION, user_agent="confab-python"),
    )
    room: Room | None = None
    try:
        if ice_servers is None:
            servers.extend(ice_server(s) for s in await session.acquire_ice(token))
        if ice_transport_policy == "relay":
            await check_relay(loopback.rtc_configuration(servers).iceServers or [])
        connected = await session.connect(body)
        signaling.handle_message(connected)
        await signaling.wait_connected()
        room = Room(signaling, local_participant)
        media.p2p.start(dominant_speaker)
        media.health.start(room)
        await media.first_negotiation()
    except BaseException:  # a failure, or connect() cancelled: leave nothing behind
        if room is not None:
            room.disconnect()
        await session.abandon()
        for track in owned:
            track.stop()
        await media.close()
        raise
    return room


_DATA_CHANNEL = {"transports": [{"type": "data-channel"}]}


def _codec_names(value: Any, option: str) -> list[str]:
    """``preferred_*_codecs`` as codec names: ``None`` → none; ``"auto"`` (video) → VP8."""
    if value is None:
        return []
    if value == "auto" and option == "preferred_video_codecs":
        return ["VP8"]
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{option} must be a list of codec names or {{'codec': name}} mappings"
                        + (" or 'auto'" if option == "preferred_video_codecs" else ""))
    names = []
    for item in value:
        name = item.get("codec") if isinstance(item, Mapping) else item
        if not isinstance(name, str) or not name:
            raise TypeError(f"{option}: each codec must be a name or {{'codec': name}}, not {item!r}")
        names.append(name)
    return names


def ice_server(server: p.IceServer) -> RTCIceServer:
    """An ICE server of the server's ``iced`` message as aiortc takes it (connect() and the preflight)."""
    return RTCIceServer(urls=server.urls, username=server.username, credential=server.credential)


def _network_quality_configuration(value: Any) -> NetworkQualityConfiguration | None:
    if value is False or value is None:
        return None
    if value is True:
        return NetworkQualityConfiguration()
    if isinstance(value, NetworkQualityConfiguration):
        return value
    if isinstance(value, dict):
        return NetworkQualityConfiguration(**value)
    raise TypeError("network_quality must be a bool, a dict {local, remote} or a NetworkQualityConfiguration")

