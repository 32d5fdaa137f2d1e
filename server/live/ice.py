"""ICE servers for peer connections, with time-limited TURN credentials.

TURN credentials follow the TURN REST scheme coturn checks with `use-auth-secret`: the
username is `<expiry unix time>:<user>`, the password base64(HMAC-SHA1(secret, username)).
They cannot be revoked, only expire, so they live no longer than what they were handed out
for: `TURN_TTL_S` at most, and for a viewer link no longer than the link.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

from aiortc import RTCConfiguration, RTCIceServer

from server.config import Settings


def turn_credentials(secret: str, user: str, ttl_s: int, now: float | None = None):
    expiry = int((time.time() if now is None else now) + ttl_s)
    username = f"{expiry}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers(
    settings: Settings, user: str, expires_at: float | None = None
) -> list[dict[str, Any]]:
    """The browser's `iceServers`: STUN as configured, TURN with fresh credentials that expire
    after `TURN_TTL_S`, or at `expires_at` (unix time) when that is sooner."""
    servers: list[dict[str, Any]] = []
    if settings.stun_urls:
        servers.append({"urls": list(settings.stun_urls)})
    if settings.turn_urls and settings.turn_secret:
        now = time.time()
        ttl_s = settings.turn_ttl_s
        if expires_at is not None:
            ttl_s = max(0, min(ttl_s, int(expires_at - now)))
        username, credential = turn_credentials(settings.turn_secret, user, ttl_s, now)
        servers.append(
            {"urls": list(settings.turn_urls), "username": username, "credential": credential}
        )
    return servers


def server_configuration(settings: Settings) -> RTCConfiguration:
    """The server side's own ICE configuration: explicit, never a default public STUN."""
    return RTCConfiguration(
        iceServers=[RTCIceServer(**server) for server in ice_servers(settings, "server")]
    )
