"""Wire types of Twilio's signaling protocol: TCMP v2 framing carrying RSP v2 bodies.

Both ends use these: the server to validate what clients send, the client to validate
what the server sends (``docs/protocol.md`` lists what we implement and every deviation).
Field names on the wire are Twilio's; Python attributes are snake_case.

Decoding is strict about types and message kinds and lenient about unknown extra fields,
because twilio-video.js sends fields we do not model (``publisher``, ``bandwidth_profile``...).
"""

from __future__ import annotations

from typing import Any, Literal, TypeAlias, TypeVar

import msgspec
from msgspec import Raw as Raw, Struct, field  # Raw re-exported: bodies are Raw

#: Largest signaling frame either side accepts; bigger ones are rejected with 53004 / 53003.
MAX_MESSAGE_BYTES = 256 * 1024
TCMP_VERSION = 2
RSP_VERSION = 2
DEFAULT_HEARTBEAT_MS = 5000
DEFAULT_SESSION_TIMEOUT_S = 30
#: Labels of Twilio's media-signaling (MSP) data channels. The server reserves them: no
#: published track may use one, so no data track can pass for the server's own channels.
MSP_LABELS = frozenset({"active_speaker", "network_quality", "track_priority", "track_switch_off",
                        "render_hints", "publisher_hints", "transceiver"})

TrackKind: TypeAlias = Literal["audio", "video", "data"]
Priority: TypeAlias = Literal["low", "standard", "high"]
ParticipantStateName: TypeAlias = Literal["connected", "reconnecting", "disconnected"]
DescriptionType: TypeAlias = Literal["offer", "answer", "pranswer", "create-offer", "close", "rollback"]


class _Wire(Struct, omit_defaults=True):
    """Base of nested wire structures: defaults are left off the wire."""


# --- shared sub-structures -------------------------------------------------------------


class ErrorBody(_Wire):
    code: int
    message: str = ""


class IceCandidate(_Wire):
    candidate: str
    sdp_mid: str | None = field(default=None, name="sdpMid")
    sdp_m_line_index: int | None = field(default=None, name="sdpMLineIndex")
    username_fragment: str | None = field(default=None, name="usernameFragment")


class IceState(_Wire):
    revision: int
    candidates: list[IceCandidate] = []
    ufrag: str | None = None
    complete: bool = False


class Description(_Wire):
    type: DescriptionType
    revision: int
    sdp: str | None = None


class PeerConnectionMessage(_Wire):
    """One peer connection's offer/answer/close and/or trickled ICE, keyed by its id."""

    id: str
    description: Description | None = None
    ice: IceState | None = None
    #: Confab addition, server to client only: the SID of the participant at the other end.
    participant: str | None = None


class LocalTrackState(_Wire):
    """A track the client publishes, keyed by its local track id."""

    id: str
    kind: TrackKind
    name: str
    enabled: bool = True
    priority: Priority = "standard"


class LocalParticipantState(_Wire):
    revision: int
    tracks: list[LocalTrackState] = []
    #: ``["recordings"]``: the client wants RSP ``warning`` for its recorded tracks (notifyWarnings).
    media_warnings: list[str] | None = None


class SubscribeRule(_Wire):
    type: Literal["include", "exclude"]
    all: bool | None = None
    publisher: str | None = None
    track: str | None = None
    kind: TrackKind | None = None


class Subscribe(_Wire):
    revision: int
    rules: list[SubscribeRule] = []


class Publisher(_Wire):
    name: str | None = None
    sdk_version: str | None = None
    user_agent: str | None = None


class RemoteTrackState(_Wire):
    sid: str
    name: str
    kind: TrackKind
    enabled: bool = True
    priority: Priority = "standard"


class RemoteParticipantState(Struct):
    sid: str
    identity: str
    revision: int
    state: ParticipantStateName = "connected"
    tracks: list[RemoteTrackState] = []


class ParticipantIdentity(Struct):
    sid: str
    identity: str


class PublishedTrack(_Wire):
    """Server's answer for one local track: ``ready`` with a SID, or ``failed`` with an error."""

    id: str
    state: Literal["created", "ready", "failed"]
    sid: str | None = None
    error: ErrorBody | None = None


class Published(Struct):
    revision: int
    tracks: list[PublishedTrack] = []


class SubscribedTrack(_Wire):
    """Maps a remote track SID to the media track id (SDP msid) or data channel label it arrives on."""

    sid: str
    id: str | None = None
    error: ErrorBody | None = None


class Subscribed(Struct):
    revision: int
    tracks: list[SubscribedTrack] = []


class Recording(Struct):
    revision: int
    is_recording: bool = False


class MediaSignalingTransport(Struct):
    type: Literal["data-channel"] = "data-channel"
    label: str | None = None


class MediaSignalingChannel(Struct):
    transport: MediaSignalingTransport


class ConnectedOptions(Struct):
    session_timeout: int = DEFAULT_SESSION_TIMEOUT_S
    signaling_region: str | None = None
    media_region: str | None = None
    #: Confab addition: the room type, so the client knows mesh from forwarder.
    room_type: str | None = None


class IceServer(_Wire):
    urls: str | list[str]
    username: str | None = None
    credential: str | None = None


# --- RSP: client to server ---------------------------------------------------------------


class _ClientBody(Struct, tag_field="type"):
    pass


class IceRequest(_ClientBody, tag="ice"):
    token: str
    version: int = 1
    edge: str | None = None


class Connect(_ClientBody, tag="connect"):
    token: str
    version: int = RSP_VERSION
    name: str | None = None
    format: str | None = None
    ice_servers: Literal["acquire", "overrode"] | None = None
    publisher: Publisher | None = None
    participant: LocalParticipantState | None = None
    peer_connections: list[PeerConnectionMessage] = []
    subscribe: Subscribe | None = None
    media_signaling: dict[str, Any] | None = None
    bandwidth_profile: dict[str, Any] | None = None


class Update(_ClientBody, tag="update"):
    session: str
    version: int = RSP_VERSION
    participant: LocalParticipantState | None = None
    peer_connections: list[PeerConnectionMessage] = []
    subscribe: Subscribe | None = None
    bandwidth_profile: dict[str, Any] | None = None


class Sync(_ClientBody, tag="sync"):
    session: str
    token: str
    version: int = RSP_VERSION
    name: str | None = None
    participant: LocalParticipantState | None = None
    peer_connections: list[PeerConnectionMessage] = []


class Disconnect(_ClientBody, tag="disconnect"):
    session: str
    version: int = RSP_VERSION


ClientMessage: TypeAlias = IceRequest | Connect | Update | Sync | Disconnect


# --- RSP: server to client ---------------------------------------------------------------


class _ServerBody(Struct, tag_field="type"):
    pass


class Iced(_ServerBody, tag="iced"):
    ice_servers: list[IceServer] = []


class Connected(_ServerBody, tag="connected"):
    session: str
    sid: str
    name: str
    participant: ParticipantIdentity
    version: int = RSP_VERSION
    participants: list[RemoteParticipantState] = []
    peer_connections: list[PeerConnectionMessage] = []
    published: Published | None = None
    subscribed: Subscribed | None = None
    recording: Recording | None = None
    media_signaling: dict[str, MediaSignalingChannel] = {}
    options: ConnectedOptions = field(default_factory=ConnectedOptions)


class ServerUpdate(_ServerBody, tag="update"):
    version: int = RSP_VERSION
    participants: list[RemoteParticipantState] | None = None
    peer_connections: list[PeerConnectionMessage] = []
    published: Published | None = None
    subscribed: Subscribed | None = None
    recording: Recording | None = None
    media_signaling: dict[str, MediaSignalingChannel] | None = None


class Synced(_ServerBody, tag="synced"):
    session: str
    version: int = RSP_VERSION
    participants: list[RemoteParticipantState] = []
    peer_connections: list[PeerConnectionMessage] = []
    published: Published | None = None
    subscribed: Subscribed | None = None
    recording: Recording | None = None
    media_signaling: dict[str, MediaSignalingChannel] = {}


class Disconnected(_ServerBody, tag="disconnected"):
    version: int = RSP_VERSION
    status: Literal["completed"] | None = None


class Error(_ServerBody, tag="error"):
    code: int
    message: str = ""
    version: int = RSP_VERSION


class Warning(_ServerBody, tag="warning"):
    version: int = RSP_VERSION
    states: dict[str, Any] | None = None


ServerMessage: TypeAlias = Iced | Connected | ServerUpdate | Synced | Disconnected | Error | Warning


# --- TCMP framing -------------------------------------------------------------------------


NO_BODY = Raw(b"null")


class _Frame(Struct, tag_field="type", omit_defaults=True):
    pass


class Hello(_Frame, tag="hello"):
    id: str
    version: int = TCMP_VERSION
    timeout: int = DEFAULT_HEARTBEAT_MS
    cookie: str | None = None
    #: The first RSP message (``connect`` or ``ice``) may ride on the hello; ``null`` when absent.
    body: Raw = NO_BODY


class Msg(_Frame, tag="msg"):
    body: Raw


class Heartbeat(_Frame, tag="heartbeat"):
    pass


class Bye(_Frame, tag="bye"):
    pass


class Welcome(_Frame, tag="welcome"):
    negotiated_timeout: int = field(name="negotiatedTimeout")
    cookie: str | None = None


class Busy(_Frame, tag="busy"):
    retry_after: int = field(name="retryAfter")
    keep_alive: bool = field(default=False, name="keepAlive")
    cookie: str | None = None


class Bad(_Frame, tag="bad"):
    reason: str


ClientFrame: TypeAlias = Hello | Msg | Heartbeat | Bye
ServerFrame: TypeAlias = Welcome | Msg | Heartbeat | Busy | Bad | Bye


class ProtocolError(ValueError):
    """A frame or body that does not match its schema (the caller maps it to 53003/53004)."""


_client_frame: msgspec.json.Decoder[ClientFrame] = msgspec.json.Decoder(ClientFrame)
_server_frame: msgspec.json.Decoder[ServerFrame] = msgspec.json.Decoder(ServerFrame)
_client_body: msgspec.json.Decoder[ClientMessage] = msgspec.json.Decoder(ClientMessage)
_server_body: msgspec.json.Decoder[ServerMessage] = msgspec.json.Decoder(ServerMessage)
_T = TypeVar("_T")
_encoder = msgspec.json.Encoder()


def _decode(decoder: msgspec.json.Decoder[_T], data: bytes | str) -> _T:
    if len(data) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message of {len(data)} bytes exceeds {MAX_MESSAGE_BYTES}")
    try:
        return decoder.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise ProtocolError(str(exc)) from None


def decode_client_frame(data: bytes | str) -> Hello | Msg | Heartbeat | Bye:
    return _decode(_client_frame, data)


def decode_server_frame(data: bytes | str) -> Welcome | Msg | Heartbeat | Busy | Bad | Bye:
    return _decode(_server_frame, data)


def decode_client_body(raw: Raw | bytes) -> ClientMessage:
    return _decode(_client_body, bytes(raw))


def decode_server_body(raw: Raw | bytes) -> ServerMessage:
    return _decode(_server_body, bytes(raw))


def encode(obj: Struct | dict[str, Any]) -> bytes:
    """JSON bytes of a frame, body or sub-structure."""
    return _encoder.encode(obj)


def msg_frame(body: Struct) -> bytes:
    """A TCMP ``msg`` frame carrying an RSP body."""
    return encode(Msg(body=Raw(encode(body))))


def to_builtins(obj: Struct) -> Any:
    """Plain dicts and lists of a wire structure (wire field names)."""
    return msgspec.to_builtins(obj)
