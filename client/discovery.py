"""Which gateway to talk to, and with which token.

``--url`` (or ``OPENTRADE_URL``) and ``OPENTRADE_TOKEN`` name them outright. Without a URL, the
gateway running on the home announces itself in ``<home>/gateway.json`` (mode 600: only its
user can read it), with a token for clients of that user on that machine. Tokens are never
taken from the command line, where other users see them in the process list.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from client.errors import GatewayError, NoGateway
from core.api import API_PREFIX, GATEWAY_FILE, GatewayEndpoint
from core.redact import register_secret


@dataclass(frozen=True)
class Target:
    url: str
    token: str
    cafile: Path | None = None
    announced: GatewayEndpoint | None = None  # when the home's file named this gateway

    def ssl_context(self) -> ssl.SSLContext | None:
        """For https: the system's CAs, or the given CA file. A gateway found through the home
        is checked against its own certificate file rather than by host name (clients on the
        machine reach it at 127.0.0.1, which its certificate need not name)."""
        if not self.url.startswith("https://"):
            return None
        context = ssl.create_default_context(cafile=str(self.cafile) if self.cafile else None)
        if self.announced is not None and self.cafile is not None:
            context.check_hostname = False
        return context


def announced(home: Path) -> GatewayEndpoint | None:
    path = home / GATEWAY_FILE
    try:
        return GatewayEndpoint.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValidationError) as exc:
        raise GatewayError(f"{path} cannot be read ({str(exc).splitlines()[0]}); is it from another version?") from None


def find(home: Path, url: str | None = None) -> Target:
    url = (url or os.environ.get("OPENTRADE_URL") or "").rstrip("/").removesuffix(API_PREFIX) or None
    token = os.environ.get("OPENTRADE_TOKEN") or None
    found = announced(home)
    if url is None:
        if found is None:
            raise NoGateway(f"no gateway is running on {home}: start one with 'opentrade gateway', or give --url")
        url = found.url
    mine = found if found is not None and found.url == url else None
    if token is None:
        if mine is None:
            raise GatewayError(f"no token for {url}: set OPENTRADE_TOKEN (make one with 'opentrade token create NAME')")
        token = mine.local_token
    register_secret(token)
    cafile = os.environ.get("OPENTRADE_CAFILE")
    return Target(url=url, token=token, cafile=Path(cafile) if cafile else mine.cafile if mine else None, announced=mine)
