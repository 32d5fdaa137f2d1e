"""Viewer links: signed, expiring, view-only tokens for one stream session.

A token is `<link id>.<expiry>.<signature>`; the link id names a row that the owner can
revoke, the signature (HMAC-SHA256 with the server's key) binds the link to its session and
expiry so neither can be changed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass


class InvalidViewerToken(ValueError):
    pass


@dataclass(frozen=True)
class ViewerGrant:
    link_id: str
    session_id: str
    expires_at: int


def sign_viewer_token(key: bytes, link_id: str, session_id: str, expires_at: int) -> str:
    return f"{link_id}.{expires_at}.{_signature(key, link_id, session_id, expires_at)}"


def read_viewer_token(token: str) -> tuple[str, int, str]:
    """(link id, expiry, signature) of a well-formed token, not yet checked."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].isalnum() or not parts[1].isdigit():
        raise InvalidViewerToken("malformed viewer link")
    return parts[0], int(parts[1]), parts[2]


def verify_viewer_token(
    key: bytes, token: str, session_id: str, now: float | None = None
) -> ViewerGrant:
    link_id, expires_at, signature = read_viewer_token(token)
    expected = _signature(key, link_id, session_id, expires_at)
    if not hmac.compare_digest(signature, expected):
        raise InvalidViewerToken("invalid viewer link")
    if expires_at <= (time.time() if now is None else now):
        raise InvalidViewerToken("this viewer link has expired")
    return ViewerGrant(link_id, session_id, expires_at)


def _signature(key: bytes, link_id: str, session_id: str, expires_at: int) -> str:
    message = f"viewer|{link_id}|{session_id}|{expires_at}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")
