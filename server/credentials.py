"""The account SID and API key the server signs and checks tokens with.

Stored as ``credentials.json`` (mode 0600) in the data directory, created on first start.
Explicit values (CLI flags or ``CONFAB_ACCOUNT_SID`` / ``CONFAB_API_KEY_SID`` /
``CONFAB_API_KEY_SECRET``) take precedence and are not written to disk.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from . import sids

log = logging.getLogger(__name__)

FILENAME = "credentials.json"


@dataclass(frozen=True)
class Credentials:
    account_sid: str
    api_key_sid: str
    api_key_secret: str
    #: Where they came from: the file path, or "given" for explicit values.
    source: str
    created: bool = False

    @property
    def secrets(self) -> dict[str, str]:
        """API key SID → secret, as ``core.token.verify_access_token`` wants it."""
        return {self.api_key_sid: self.api_key_secret}

    def __repr__(self) -> str:  # never shows the secret
        return f"Credentials({self.account_sid}, {self.api_key_sid}, source={self.source!r})"


def validate(account_sid: str, api_key_sid: str, api_key_secret: str) -> None:
    if not sids.is_sid(account_sid, sids.ACCOUNT):
        raise ValueError(f"account SID must be AC + 32 hex digits, got {account_sid!r}")
    if not (isinstance(api_key_sid, str) and api_key_sid.startswith(sids.API_KEY) and len(api_key_sid) > 2):
        raise ValueError(f"API key SID must start with SK, got {api_key_sid!r}")
    if not api_key_secret:
        raise ValueError("API key secret must not be empty")


def load_or_create(data_dir: Path, *, account_sid: str | None = None, api_key_sid: str | None = None,
                   api_key_secret: str | None = None) -> Credentials:
    """Explicit values, else the environment, else the data directory's file (created if absent)."""
    account_sid = account_sid or os.environ.get("CONFAB_ACCOUNT_SID") or None
    api_key_sid = api_key_sid or os.environ.get("CONFAB_API_KEY_SID") or None
    api_key_secret = api_key_secret or os.environ.get("CONFAB_API_KEY_SECRET") or None
    path = Path(data_dir) / FILENAME
    stored: dict[str, str] = {}
    if path.exists():
        stored = json.loads(path.read_text(encoding="utf-8"))
    if account_sid or api_key_sid or api_key_secret:
        account_sid = account_sid or stored.get("account_sid")
        if not (account_sid and api_key_sid and api_key_secret):
            raise ValueError("give the account SID, the API key SID and its secret together")
        validate(account_sid, api_key_sid, api_key_secret)
        return Credentials(account_sid, api_key_sid, api_key_secret, source="given")
    if stored:
        creds = Credentials(stored["account_sid"], stored["api_key_sid"], stored["api_key_secret"],
                            source=str(path))
        validate(creds.account_sid, creds.api_key_sid, creds.api_key_secret)
        return creds
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    creds = Credentials(sids.new_sid(sids.ACCOUNT), sids.new_sid(sids.API_KEY), sids.new_secret(),
                        source=str(path), created=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"account_sid": creds.account_sid, "api_key_sid": creds.api_key_sid,
                   "api_key_secret": creds.api_key_secret}, fh, indent=2)
    os.replace(tmp, path)
    log.info("created credentials in %s", path)
    return creds
