"""``confab-server token``, explicit credentials, ``python -m server``."""

from __future__ import annotations

import os
import subprocess
import sys

import aiohttp

from core.token import verify_access_token
from srvutil import ROOT, ServerProcess

ACCOUNT = "AC" + "1" * 32
KEY = "SK" + "2" * 32
SECRET = "s3cret-for-tests"


def test_token_subcommand(tmp_path) -> None:
    out = subprocess.run([sys.executable, "-m", "server", "token", "--data-dir", str(tmp_path),
                          "--identity", "carol", "--room", "r1", "--ttl", "120"],
                         capture_output=True, text=True, cwd=ROOT, check=True, timeout=30)
    token = out.stdout.strip()
    import json
    creds = json.loads((tmp_path / "credentials.json").read_text())
    claims = verify_access_token(token, {creds["api_key_sid"]: creds["api_key_secret"]},
                                 account_sid=creds["account_sid"], room="r1")
    assert claims["grants"]["identity"] == "carol" and claims["exp"] - claims["iat"] == 120
    assert oct((tmp_path / "credentials.json").stat().st_mode & 0o777) == "0o600"
    bad = subprocess.run([sys.executable, "-m", "server", "token", "--data-dir", str(tmp_path),
                          "--identity", "x", "--ttl", "999999"], capture_output=True, text=True,
                         cwd=ROOT, timeout=30)
    assert bad.returncode == 2 and "ttl" in bad.stderr and "Traceback" not in bad.stderr


def test_help_runs_as_module() -> None:
    out = subprocess.run([sys.executable, "-m", "server", "--help"], capture_output=True, text=True,
                         cwd=ROOT, timeout=30)
    assert out.returncode == 0 and "--timeout-unit-seconds" in out.stdout


async def test_given_credentials_flags_and_env(tmp_path) -> None:
    s = ServerProcess(tmp_path / "flags", ["--account-sid", ACCOUNT, "--api-key", f"{KEY}:{SECRET}"])
    s.data_dir.mkdir()
    s.start()
    try:
        auth = {"Authorization": aiohttp.encode_basic_auth(KEY, SECRET)}
        async with aiohttp.ClientSession(s.url, headers=auth) as http:
            async with http.post("/v1/Rooms", data={"UniqueName": "given"}) as r:
                assert r.status == 201 and (await r.json())["account_sid"] == ACCOUNT
        assert not (s.data_dir / "credentials.json").exists()  # given ones are not stored
    finally:
        assert s.stop() == 0
    s.assert_clean()
    os.environ.update(CONFAB_ACCOUNT_SID=ACCOUNT, CONFAB_API_KEY_SID=KEY, CONFAB_API_KEY_SECRET=SECRET)
    try:
        out = subprocess.run([sys.executable, "-m", "server", "token", "--data-dir", str(tmp_path / "env"),
                              "--identity", "dave"], capture_output=True, text=True, cwd=ROOT,
                             check=True, timeout=30)
    finally:
        for name in ("CONFAB_ACCOUNT_SID", "CONFAB_API_KEY_SID", "CONFAB_API_KEY_SECRET"):
            os.environ.pop(name)
    verify_access_token(out.stdout.strip(), {KEY: SECRET}, account_sid=ACCOUNT)
