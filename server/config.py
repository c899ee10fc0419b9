"""Server settings: one dataclass shared by the CLI, the app factory and the tests."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from core import protocol


@dataclass
class ServerConfig:
    """Everything ``confab-server`` can be told. Defaults are the production values."""

    host: str = "127.0.0.1"
    port: int = 7880
    data_dir: Path = field(default_factory=lambda: Path("confab-data"))
    #: Adds ``POST /dev/token``.
    dev: bool = False
    #: Credentials to use instead of the ones stored in the data directory.
    account_sid: str | None = None
    api_key_sid: str | None = None
    api_key_secret: str | None = None

    #: Seconds a participant whose WebSocket dropped stays ``reconnecting`` (RSP ``session_timeout``).
    session_timeout_s: float = protocol.DEFAULT_SESSION_TIMEOUT_S
    #: Bounds of the negotiated TCMP heartbeat interval (the client asks in ``hello.timeout``).
    heartbeat_min_ms: int = 1000
    heartbeat_max_ms: int = protocol.DEFAULT_HEARTBEAT_MS
    #: A client silent for this many negotiated intervals is dropped (53002).
    missed_heartbeats: int = 3
    #: How long a new WebSocket may take to send its ``hello`` / its first RSP message.
    handshake_timeout_s: float = 15.0
    #: Messages, and bytes, queued to one slow client before it is dropped (its socket cut).
    max_send_queue: int = 2000
    max_send_buffer_bytes: int = 4 << 20
    #: A client that takes nothing we send for this long (it never reads) is dropped likewise.
    send_timeout_s: float = 10.0
    #: Frames a client may send a second, sustained, and at once; beyond, 53004 and it is cut off.
    max_messages_per_s: float = 50.0
    message_burst: int = 200
    #: A TCP connection without a complete HTTP request for this long is closed (half-open
    #: sockets, slow headers, idle keep-alive); an open WebSocket is not affected.
    idle_timeout_s: float = 10.0
    #: Connections the kernel may hold for accept(): a burst beyond it (a thousand at once) has
    #: its connects dropped, bystanders' included (aiohttp's default is 128).
    listen_backlog: int = 1024
    #: Signaling WebSockets open at once, in all and from one address; beyond either the
    #: upgrade is refused with HTTP 503 and ``{"code": 53006}`` (Video server is busy).
    max_connections: int = 4096
    max_connections_per_address: int = 512
    #: In-progress rooms at once (REST-created and ad hoc): beyond it 53103 (Unable to create Room).
    max_rooms: int = 1000

    #: Length of the "minute" of EmptyRoomTimeout / UnusedRoomTimeout (tests shrink it).
    timeout_unit_seconds: float = 60.0
    #: Rooms created implicitly when a client connects to an unknown name.
    ad_hoc_rooms: bool = True
    default_room_type: str = "group"

    #: Track caps: per participant and per room (53203), server-wide capacity (53305).
    max_tracks_per_participant: int = 32
    max_tracks_per_room: int = 256
    max_server_tracks: int = 10000

    #: Media of group/group-small rooms: "forward" (the forwarder, server/forwarder/) or "mesh".
    group_media: str = "forward"

    #: Status callbacks: per-request timeout.
    callback_timeout_s: float = 5.0

    #: TURN servers handed to clients in ``iced`` (``turn:HOST:PORT?transport=udp``, ...), with
    #: time-limited credentials from the shared secret (or the file holding it): server/turn.py.
    turn_urls: tuple[str, ...] = ()
    turn_secret: str | None = None
    turn_secret_file: Path | None = None
    turn_ttl_s: int = 86400

    #: PEM certificate (chain) and key: serve ``https://`` and ``wss://`` instead of plain HTTP.
    tls_cert: Path | None = None
    tls_key: Path | None = None

    def replace(self, **changes: object) -> ServerConfig:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]  # field names and values are checked by dataclasses.replace at run time
