"""ICE servers for peer connections, with time-limited TURN credentials.

TURN credentials follow the TURN REST scheme coturn checks with `use-auth-secret`: the
username is `<expiry unix time>:<user>`, the password base64(HMAC-SHA1(secret, username)).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

from aiortc import RTCConfiguration, RTCIceServer

from server.config import Settings

TURN_TTL_S = 12 * 3600


def turn_credentials(secret: str, user: str, ttl_s: int = TURN_TTL_S, now: float | None = None):
    expiry = int((time.time() if now is None else now) + ttl_s)
    username = f"{expiry}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers(settings: Settings, user: str) -> list[dict[str, Any]]:
    """The browser's `iceServers`: STUN as configured, TURN with fresh credentials."""
    servers: list[dict[str, Any]] = []
    if settings.stun_urls:
        servers.append({"urls": list(settings.stun_urls)})
    if settings.turn_urls and settings.turn_secret:
        username, credential = turn_credentials(settings.turn_secret, user)
        servers.append(
            {"urls": list(settings.turn_urls), "username": username, "credential": credential}
        )
    return servers


def server_configuration(settings: Settings) -> RTCConfiguration:
    """The server side's own ICE configuration: explicit, never a default public STUN."""
    return RTCConfiguration(
        iceServers=[RTCIceServer(**server) for server in ice_servers(settings, "server")]
    )
