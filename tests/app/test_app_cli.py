"""``confab`` command line: parsing and its checks (the app itself runs in test_app_demo)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.main import _check, parser

pytestmark = pytest.mark.ui


def parse(*argv: str):
    ap = parser()
    args = ap.parse_args(list(argv))
    _check(ap, args)
    return args


def test_commands() -> None:
    assert parse().command is None
    args = parse("join", "--url", "http://127.0.0.1:7880", "--room", "r", "--name", "Ada")
    assert (args.command, args.url, args.room, args.name, args.token) == (
        "join", "http://127.0.0.1:7880", "r", "Ada", None)
    assert parse("join", "--url", "http://h:1", "--token", "a.b.c").token == "a.b.c"
    args = parse("demo", "--screenshot", "shot.png", "--quit-after", "8")
    assert (args.command, args.screenshot, args.quit_after, args.bots) == ("demo", Path("shot.png"), 8.0, 3)


def test_options_before_the_subcommand_are_kept() -> None:
    args = parse("--quit-after", "2", "--screenshot", "s.png", "demo")
    assert args.quit_after == 2.0 and args.screenshot == Path("s.png")


@pytest.mark.parametrize("argv", [
    ("join", "--url", "http://h:1"),                      # neither a token nor room + name
    ("join", "--url", "http://h:1", "--room", "r"),       # a room without a name
    ("demo", "--screenshot", "s.png"),                    # a screenshot needs --quit-after
    ("demo", "--quit-after", "-1"),
    ("demo", "--bots", "7"),
])
def test_rejected(argv: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        parse(*argv)
    assert exc.value.code == 2
