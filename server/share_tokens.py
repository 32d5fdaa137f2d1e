"""Share links: signed, expiring, read-only tokens for one finished report.

A token is `<share id>.<expiry>.<signature>`; the share id names a row its owner can revoke,
the signature (HMAC-SHA256 with the server's key) binds the share to its report (kind and
id) and expiry so none of them can be changed. A viewer link's token never passes as one:
the signed message starts with another word.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time


class InvalidShareToken(ValueError):
    pass


class ExpiredShareToken(InvalidShareToken):
    pass


def sign_share_token(
    key: bytes, share_id: str, report_kind: str, report_id: str, expires_at: int
) -> str:
    signature = _signature(key, share_id, report_kind, report_id, expires_at)
    return f"{share_id}.{expires_at}.{signature}"


def read_share_token(token: str) -> tuple[str, int, str]:
    """(share id, expiry, signature) of a well-formed token, not yet checked."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].isalnum() or not parts[1].isdigit():
        raise InvalidShareToken("malformed share link")
    return parts[0], int(parts[1]), parts[2]


def verify_share_token(
    key: bytes, token: str, report_kind: str, report_id: str, now: float | None = None
) -> int:
    """The token's expiry, once its signature is right for this report and it has not
    expired."""
    share_id, expires_at, signature = read_share_token(token)
    expected = _signature(key, share_id, report_kind, report_id, expires_at)
    if not hmac.compare_digest(signature, expected):
        raise InvalidShareToken("invalid share link")
    if expires_at <= (time.time() if now is None else now):
        raise ExpiredShareToken("this share link has expired")
    return expires_at


def _signature(key: bytes, share_id: str, kind: str, report_id: str, expires_at: int) -> str:
    message = f"share|{share_id}|{kind}|{report_id}|{expires_at}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")
