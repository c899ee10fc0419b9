"""Time-limited TURN credentials in the TURN REST scheme (coturn's ``use-auth-secret``).

The server and the TURN server share one secret. For each ``ice`` request the server hands
out, per configured ``turn:`` URL::

    username   = "<expiry unix time>:<identity>"
    credential = base64(HMAC-SHA1(secret, username))

which coturn (``use-auth-secret`` + ``static-auth-secret=SECRET``) checks on its own and
refuses once the expiry has passed: nobody stores anything, and a leaked credential lasts
``ttl`` seconds at most. The secret comes from ``--turn-secret`` or from ``--turn-secret-file``
(read again for every request, so it can be rotated without a restart); when it cannot be
had, the request fails with 53501 (ConfigurationAcquireTurnFailedError).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core import protocol as p
from core.errors import ConfigurationAcquireTurnFailedError

if TYPE_CHECKING:
    from .config import ServerConfig

__all__ = ["TurnCredentials", "credential"]


def credential(secret: str, username: str) -> str:
    """The TURN REST password of ``username``: base64(HMAC-SHA1(secret, username))."""
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


@dataclass(frozen=True)
class TurnCredentials:
    """The TURN servers of ``iced`` messages: URLs, the shared secret (or its file), lifetime."""

    urls: tuple[str, ...]
    secret: str | None = None
    secret_file: Path | None = None
    ttl_s: int = 86400

    @classmethod
    def of(cls, config: ServerConfig) -> TurnCredentials:
        return cls(tuple(config.turn_urls), config.turn_secret, config.turn_secret_file, config.turn_ttl_s)

    @property
    def enabled(self) -> bool:
        return bool(self.urls)

    def _secret(self) -> str:
        secret = self.secret
        if self.secret_file is not None:
            try:
                secret = self.secret_file.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigurationAcquireTurnFailedError(
                    f"Unable to acquire TURN credentials: cannot read the TURN secret ({exc})") from None
        if not secret:
            raise ConfigurationAcquireTurnFailedError("Unable to acquire TURN credentials: no TURN secret")
        return secret

    def ice_servers(self, identity: str, now: float | None = None) -> list[p.IceServer]:
        """One ICE server (all the URLs) valid for ``ttl_s`` from ``now``; 53501 without a secret."""
        if not self.urls:
            return []
        expiry = int(time.time() if now is None else now) + self.ttl_s
        username = f"{expiry}:{identity}"
        return [p.IceServer(urls=list(self.urls), username=username,
                            credential=credential(self._secret(), username))]
