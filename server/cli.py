"""``confab-server``: run the room server, print a token (``confab-server token ...``) or an
invite link (``confab-server invite --room R``)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path

from .config import ServerConfig

log = logging.getLogger("server")


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port (0-65535; 0 picks a free one)")
    return port


def _version(ap: argparse.ArgumentParser) -> None:
    from core.release import version_line

    ap.add_argument("--version", action="version", version=version_line("confab-server"))


def _server_parser() -> argparse.ArgumentParser:
    d = ServerConfig()
    ap = argparse.ArgumentParser(prog="confab-server", description="Confab room server "
                                 "(Twilio Video REST Rooms API and signaling protocol). "
                                 "`confab-server token --help` mints access tokens, "
                                 "`confab-server invite --help` prints invite links.")
    _version(ap)
    ap.add_argument("--host", default=d.host, help="address to bind (default %(default)s)")
    ap.add_argument("--port", type=_port, default=d.port, help="port; 0 picks a free one (default %(default)s)")
    ap.add_argument("--data-dir", type=Path, default=Path(os.environ.get("CONFAB_DATA_DIR", "confab-data")),
                    help="SQLite database and credentials (default ./confab-data or $CONFAB_DATA_DIR)")
    ap.add_argument("--dev", action="store_true", help="enable POST /dev/token (demo and tests)")
    ap.add_argument("--account-sid", help="use this account SID (or $CONFAB_ACCOUNT_SID)")
    ap.add_argument("--api-key", metavar="SK…:SECRET",
                    help="use this API key (or $CONFAB_API_KEY_SID and $CONFAB_API_KEY_SECRET)")
    ap.add_argument("--session-timeout", type=float, default=d.session_timeout_s, metavar="S",
                    help="seconds a dropped participant may resume (default %(default)s)")
    ap.add_argument("--heartbeat-min-ms", type=int, default=d.heartbeat_min_ms,
                    help="lowest negotiated TCMP heartbeat interval (default %(default)s)")
    ap.add_argument("--heartbeat-max-ms", type=int, default=d.heartbeat_max_ms,
                    help="highest negotiated TCMP heartbeat interval (default %(default)s)")
    ap.add_argument("--timeout-unit-seconds", type=float,
                    default=_env_float("CONFAB_TIMEOUT_UNIT_SECONDS", d.timeout_unit_seconds),
                    help="length of a minute of Empty/UnusedRoomTimeout (tests; default %(default)s)")
    ap.add_argument("--no-ad-hoc-rooms", action="store_true",
                    help="refuse connects to rooms not created by REST (53106)")
    ap.add_argument("--default-room-type", default=d.default_room_type,
                    choices=["go", "peer-to-peer", "group-small", "group"],
                    help="type of ad-hoc rooms (default %(default)s)")
    ap.add_argument("--group-media", default=d.group_media, choices=["forward", "mesh"],
                    help="media of group/group-small rooms: the forwarder or a mesh (default %(default)s)")
    ap.add_argument("--max-tracks-per-participant", type=int, default=d.max_tracks_per_participant)
    ap.add_argument("--max-tracks-per-room", type=int, default=d.max_tracks_per_room)
    ap.add_argument("--max-server-tracks", type=int, default=d.max_server_tracks,
                    help="server-wide published-track capacity (53305; default %(default)s)")
    ap.add_argument("--max-rooms", type=int, default=d.max_rooms,
                    help="in-progress rooms at once (53103 beyond; default %(default)s)")
    ap.add_argument("--max-connections", type=int, default=d.max_connections,
                    help="signaling WebSockets open at once (53006 beyond; default %(default)s)")
    ap.add_argument("--max-connections-per-address", type=int, default=d.max_connections_per_address,
                    help="signaling WebSockets from one address (53006 beyond; default %(default)s)")
    ap.add_argument("--max-messages-per-second", type=float, default=d.max_messages_per_s, metavar="N",
                    help=f"signaling frames one client may send a second (burst {d.message_burst}; "
                         "53004 beyond; default %(default)s)")
    ap.add_argument("--send-timeout", type=float, default=d.send_timeout_s, metavar="S",
                    help="a client that reads nothing we send for S seconds is cut off (default %(default)s)")
    ap.add_argument("--idle-timeout", type=float, default=d.idle_timeout_s, metavar="S",
                    help="close TCP connections with no complete HTTP request after S seconds "
                         "(half-open sockets; default %(default)s)")
    turn = ap.add_argument_group("TURN (clients behind NAT or with ice_transport_policy='relay')")
    turn.add_argument("--turn-url", action="append", default=[], metavar="URL",
                      help="a TURN server to hand to clients, e.g. turn:turn.example.org:3478?transport=udp "
                           "(repeatable; the TURN server runs coturn's use-auth-secret)")
    turn.add_argument("--turn-secret", metavar="S", help="the TURN server's static-auth-secret")
    turn.add_argument("--turn-secret-file", type=Path, metavar="F",
                      help="a file holding it (read for every request: rotate it without a restart)")
    turn.add_argument("--turn-ttl", type=int, default=d.turn_ttl_s, metavar="S",
                      help="seconds the TURN credentials stay valid (default %(default)s)")
    tls = ap.add_argument_group("TLS (serve https:// and wss://)")
    tls.add_argument("--tls-cert", type=Path, metavar="F", help="PEM certificate (with its chain)")
    tls.add_argument("--tls-key", type=Path, metavar="F", help="PEM private key of --tls-cert")
    ap.add_argument("--log-level", default=os.environ.get("CONFAB_LOG_LEVEL", "INFO"))
    return ap


def _check_turn_and_tls(ap: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    for url in args.turn_url:
        if not url.startswith(("turn:", "turns:")):
            ap.error(f"--turn-url must be a turn: or turns: URL, got {url!r}")
    if args.turn_url and not (args.turn_secret or args.turn_secret_file):
        ap.error("--turn-url needs --turn-secret or --turn-secret-file (coturn's static-auth-secret)")
    if (args.turn_secret or args.turn_secret_file) and not args.turn_url:
        ap.error("--turn-secret and --turn-secret-file need --turn-url")
    if args.turn_ttl <= 0:
        ap.error("--turn-ttl must be positive")
    if bool(args.tls_cert) != bool(args.tls_key):
        ap.error("--tls-cert and --tls-key go together")
    for flag in ("tls_cert", "tls_key", "turn_secret_file"):
        path = getattr(args, flag)
        if path is not None and not path.is_file():
            ap.error(f"--{flag.replace('_', '-')}: no such file: {path}")


def _key_options(ap: argparse.ArgumentParser) -> None:
    """The server's credentials: its data directory (never created here) or given outright."""
    ap.add_argument("--data-dir", type=Path, default=None,
                    help="the running server's --data-dir (default ./confab-data or $CONFAB_DATA_DIR)")
    ap.add_argument("--ttl", type=int, default=3600, help="seconds (default %(default)s, max 86400)")
    ap.add_argument("--account-sid")
    ap.add_argument("--api-key", metavar="SK…:SECRET")
    _version(ap)


def _token_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="confab-server token",
                                 description="Print an access token signed with the server's API key.")
    ap.add_argument("--identity", required=True)
    ap.add_argument("--room", default=None, help="restrict the token to this room")
    _key_options(ap)
    return ap


def _invite_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="confab-server invite",
        description="Print an invite link to a room: http(s)://SERVER/join/ROOM?token=…, which the "
                    "server answers with a page that opens Confab. The token is for one person "
                    "(one identity): print one link per guest.")
    ap.add_argument("--room", required=True, help="the room the link joins")
    ap.add_argument("--name", default="Guest", help="the guest's name, as others see it (default %(default)s)")
    ap.add_argument("--url", default=None,
                    help="the server's address as guests reach it (default http://127.0.0.1:7880)")
    _key_options(ap)
    return ap


def _split_key(value: str | None) -> tuple[str | None, str | None]:
    if not value:
        return None, None
    sid, sep, secret = value.partition(":")
    if not sep or not sid or not secret:
        raise SystemExit("confab-server: --api-key must be SK…:SECRET")
    return sid, secret


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["token"]:
        return _token(argv[1:])
    if argv[:1] == ["invite"]:
        return _invite(argv[1:])
    return _serve(argv)


def _mint(args: argparse.Namespace, prog: str, identity: str, room: str | None) -> str | None:
    """A token from the server's stored (or given) key; None (reported) when there is none.

    Without --data-dir (or $CONFAB_DATA_DIR) it never creates credentials: a token signed with a
    key no server has is refused (20103), so a missing ./confab-data is an error, not a new key.
    A directory named outright is the server's to be: its key is created if absent."""
    from core.token import AccessToken

    from .credentials import FILENAME, load_or_create

    key_sid, key_secret = _split_key(args.api_key)
    chosen = args.data_dir or os.environ.get("CONFAB_DATA_DIR")
    data_dir = Path(chosen or "confab-data")
    given = args.account_sid or key_sid or os.environ.get("CONFAB_API_KEY_SID")
    if not chosen and not given and not (data_dir / FILENAME).is_file():
        print(f"{prog}: no server credentials in ./{data_dir}/ (no {FILENAME}): pass the --data-dir "
              "the server runs with, or --account-sid and --api-key", file=sys.stderr)
        return None
    try:
        creds = load_or_create(data_dir, account_sid=args.account_sid, api_key_sid=key_sid,
                               api_key_secret=key_secret)
        return AccessToken(creds.account_sid, creds.api_key_sid, creds.api_key_secret,
                           identity=identity, ttl=args.ttl, room=room).to_jwt()
    except (OSError, ValueError, KeyError) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return None


def _token(argv: list[str]) -> int:
    args = _token_parser().parse_args(argv)
    token = _mint(args, "confab-server token", args.identity, args.room)
    if token is None:
        return 2
    print(token)
    return 0


def _invite(argv: list[str]) -> int:
    from urllib.parse import quote, urlsplit

    from core.identity import unique_identity

    ap = _invite_parser()
    args = ap.parse_args(argv)
    url = (args.url or "http://127.0.0.1:7880").rstrip("/")
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        ap.error(f"--url must be the server's http(s) address, got {args.url!r}")
    if not args.room.strip():
        ap.error("--room must not be empty")
    token = _mint(args, "confab-server invite", unique_identity(args.name), args.room)
    if token is None:
        return 2
    print(f"{parts.scheme}://{parts.netloc}/join/{quote(args.room, safe='')}?token={token}")
    return 0


def _serve(argv: list[str]) -> int:
    ap = _server_parser()
    args = ap.parse_args(argv)
    if not isinstance(logging.getLevelName(args.log_level.upper()), int):
        ap.error(f"--log-level: unknown level {args.log_level!r} (DEBUG, INFO, WARNING, ERROR)")
    for flag in ("session_timeout", "heartbeat_min_ms", "heartbeat_max_ms", "timeout_unit_seconds",
                 "max_tracks_per_participant", "max_tracks_per_room", "max_server_tracks", "max_rooms",
                 "max_connections", "max_connections_per_address", "max_messages_per_second",
                 "send_timeout", "idle_timeout"):
        if getattr(args, flag) < 0:
            ap.error(f"--{flag.replace('_', '-')} must not be negative")
    if args.heartbeat_min_ms > args.heartbeat_max_ms:
        ap.error("--heartbeat-min-ms must not be above --heartbeat-max-ms")
    _check_turn_and_tls(ap, args)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    files = raise_fd_limit()
    if files < args.max_connections + 64:
        log.warning("only %d open files allowed: fewer than --max-connections %d", files, args.max_connections)
    key_sid, key_secret = _split_key(args.api_key)
    config = ServerConfig(
        host=args.host, port=args.port, data_dir=args.data_dir, dev=args.dev,
        account_sid=args.account_sid, api_key_sid=key_sid, api_key_secret=key_secret,
        session_timeout_s=args.session_timeout, heartbeat_min_ms=args.heartbeat_min_ms,
        heartbeat_max_ms=args.heartbeat_max_ms, timeout_unit_seconds=args.timeout_unit_seconds,
        ad_hoc_rooms=not args.no_ad_hoc_rooms, default_room_type=args.default_room_type,
        group_media=args.group_media,
        max_tracks_per_participant=args.max_tracks_per_participant,
        max_tracks_per_room=args.max_tracks_per_room, max_server_tracks=args.max_server_tracks,
        max_rooms=args.max_rooms, max_connections=args.max_connections,
        max_connections_per_address=args.max_connections_per_address,
        turn_urls=tuple(args.turn_url), turn_secret=args.turn_secret, turn_secret_file=args.turn_secret_file,
        max_messages_per_s=args.max_messages_per_second, send_timeout_s=args.send_timeout,
        idle_timeout_s=args.idle_timeout, turn_ttl_s=args.turn_ttl, tls_cert=args.tls_cert, tls_key=args.tls_key)
    try:
        asyncio.run(_run(config))
    except KeyboardInterrupt:
        pass
    except (OSError, ValueError) as exc:
        print(f"confab-server: {exc}", file=sys.stderr)
        return 1
    return 0


def raise_fd_limit() -> int:
    """Lift the soft limit on open files to the hard one (Debian's default soft limit, 1024, is
    below ``--max-connections``): every WebSocket, half-open socket and media port is one."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft


async def _run(config: ServerConfig) -> None:
    from .app import start_server

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # pragma: no cover (Windows)
            loop.add_signal_handler(signum, stop.set)
    running = await start_server(config=config)
    print(f"confab-server listening on {running.url}", flush=True)
    creds = running.credentials
    where = "given on the command line / environment" if creds.source == "given" else creds.source
    print(f"confab-server {'created ' if creds.created else ''}credentials: account {creds.account_sid},"
          f" API key {creds.api_key_sid} ({where})", flush=True)
    if config.dev:
        log.warning("development mode: POST /dev/token hands out tokens to anyone")
    try:
        await stop.wait()
    finally:
        await running.close()
