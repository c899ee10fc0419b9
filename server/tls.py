"""``--tls-cert``/``--tls-key``: the server's TLS context (``https://`` REST, ``wss://`` signaling)."""

from __future__ import annotations

import ssl
from pathlib import Path

__all__ = ["tls_context"]


def tls_context(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    """A server context for the PEM ``cert`` (chain) and ``key``; None (plain HTTP) without them.

    A missing, unreadable or mismatched file raises ``OSError``/``ssl.SSLError`` (an OSError),
    which ``confab-server`` reports in one line before binding anything."""
    if cert is None or key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context
