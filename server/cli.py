"""``confab-server``: run the room server, or print a token (``confab-server token ...``)."""

from __future__ import annotations

import argparse
import asyncio
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


def _server_parser() -> argparse.ArgumentParser:
    d = ServerConfig()
    ap = argparse.ArgumentParser(prog="confab-server", description="Confab room server "
                                 "(Twilio Video REST Rooms API and signaling protocol). "
                                 "`confab-server token --help` mints access tokens.")
    ap.add_argument("--host", default=d.host, help="address to bind (default %(default)s)")
    ap.add_argument("--port", type=int, default=d.port, help="port; 0 picks a free one (default %(default)s)")
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
    ap.add_argument("--log-level", default=os.environ.get("CONFAB_LOG_LEVEL", "INFO"))
    return ap


def _token_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="confab-server token",
                                 description="Print an access token signed with the server's API key.")
    ap.add_argument("--data-dir", type=Path, default=Path(os.environ.get("CONFAB_DATA_DIR", "confab-data")))
    ap.add_argument("--identity", required=True)
    ap.add_argument("--room", default=None, help="restrict the token to this room")
    ap.add_argument("--ttl", type=int, default=3600, help="seconds (default %(default)s, max 86400)")
    ap.add_argument("--account-sid")
    ap.add_argument("--api-key", metavar="SK…:SECRET")
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
    return _serve(argv)


def _token(argv: list[str]) -> int:
    from core.token import AccessToken

    from .credentials import load_or_create

    args = _token_parser().parse_args(argv)
    key_sid, key_secret = _split_key(args.api_key)
    try:
        creds = load_or_create(args.data_dir, account_sid=args.account_sid, api_key_sid=key_sid,
                               api_key_secret=key_secret)
        token = AccessToken(creds.account_sid, creds.api_key_sid, creds.api_key_secret,
                            identity=args.identity, ttl=args.ttl, room=args.room).to_jwt()
    except ValueError as exc:
        print(f"confab-server token: {exc}", file=sys.stderr)
        return 2
    print(token)
    return 0


def _serve(argv: list[str]) -> int:
    args = _server_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    key_sid, key_secret = _split_key(args.api_key)
    config = ServerConfig(
        host=args.host, port=args.port, data_dir=args.data_dir, dev=args.dev,
        account_sid=args.account_sid, api_key_sid=key_sid, api_key_secret=key_secret,
        session_timeout_s=args.session_timeout, heartbeat_min_ms=args.heartbeat_min_ms,
        heartbeat_max_ms=args.heartbeat_max_ms, timeout_unit_seconds=args.timeout_unit_seconds,
        ad_hoc_rooms=not args.no_ad_hoc_rooms, default_room_type=args.default_room_type,
        group_media=args.group_media,
        max_tracks_per_participant=args.max_tracks_per_participant,
        max_tracks_per_room=args.max_tracks_per_room, max_server_tracks=args.max_server_tracks)
    try:
        asyncio.run(_run(config))
    except KeyboardInterrupt:
        pass
    except (OSError, ValueError) as exc:
        print(f"confab-server: {exc}", file=sys.stderr)
        return 1
    return 0


async def _run(config: ServerConfig) -> None:
    from .app import start_server

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover (Windows)
            pass
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
