"""Requests between nodes carry an HMAC of what they ask, made with the key every node shares
(SECRET_KEY); a node acts on a forwarded request only when that signature holds, so no
header a client sends can make it skip routing."""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "X-Badminton-Node-Signature"
MAX_AGE_S = 60.0  # clock differences between nodes plus a slow forward
_PURPOSE = b"node-to-node requests"


class InvalidNodeSignature(ValueError):
    pass


def _digest(key: bytes, stamp: str, method: str, path_qs: str, body: bytes) -> str:
    node_key = hmac.new(key, _PURPOSE, hashlib.sha256).digest()  # not the key of other uses
    message = "\n".join((stamp, method.upper(), path_qs, hashlib.sha256(body).hexdigest()))
    return hmac.new(node_key, message.encode(), hashlib.sha256).hexdigest()


def sign(key: bytes, method: str, path_qs: str, body: bytes, now: float | None = None) -> str:
    """The header value for a request from one node to another."""
    stamp = str(int(time.time() if now is None else now))
    return f"{stamp}.{_digest(key, stamp, method, path_qs, body)}"


def verify(key: bytes, value: str, method: str, path_qs: str, body: bytes) -> None:
    """Raises InvalidNodeSignature unless `value` signs this very request, recently."""
    stamp, _, signature = value.partition(".")
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > MAX_AGE_S:
        raise InvalidNodeSignature("the node signature is malformed or too old")
    expected = _digest(key, stamp, method, path_qs, body)
    if not hmac.compare_digest(expected, signature):
        raise InvalidNodeSignature("the node signature does not match the request")
