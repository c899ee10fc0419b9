"""Which TLS certificates the client trusts for ``https://``/``wss://`` servers.

The system's CA store, plus the PEM file named by ``$CONFAB_CA_FILE`` when it is set — the
one way to trust a self-signed or private-CA server, for the SDK (``core.connect``) and for
the apps (``confab --ca-file F``, ``confab-bot --ca-file F`` set it). Read at each connection,
so a process can set it before its first call.
"""

from __future__ import annotations

import os
import ssl

__all__ = ["CA_FILE_ENV", "client_ssl", "trust_ca_file", "untrusted_message"]

CA_FILE_ENV = "CONFAB_CA_FILE"


def client_ssl() -> ssl.SSLContext | bool:
    """What aiohttp's ``ssl=`` gets: True (system store) or a context that also trusts the file.

    Raises ``OSError`` naming the variable when the file cannot be loaded."""
    path = os.environ.get(CA_FILE_ENV)
    if not path:
        return True
    context = ssl.create_default_context()
    try:
        context.load_verify_locations(cafile=path)
    except OSError as exc:  # ssl.SSLError is an OSError too
        raise OSError(f"{CA_FILE_ENV}={path}: cannot load it as PEM certificates ({exc})") from None
    return context


def trust_ca_file(path: str | os.PathLike[str]) -> None:
    """Trust ``path`` as well from now on, in this process and its children (``--ca-file``).

    Raises ``OSError`` at once when it is not a readable PEM file."""
    os.environ[CA_FILE_ENV] = str(path)
    client_ssl()


def untrusted_message(reason: str) -> str:
    """The human message of a certificate the client does not trust."""
    return (f"The server's TLS certificate is not trusted ({reason}): give its certificate or CA "
            f"with {CA_FILE_ENV}=FILE (confab/confab-bot --ca-file FILE)")
