"""HMAC-SHA256 signed, expiring URLs for the local store, shaped like S3's presigned URLs."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from urllib.parse import urlencode

from .base import SignatureError

# Parameters each operation signs; only those listed as required must be present. `len` is
# the exact body length a write URL takes.
SIGNED_FIELDS: dict[str, tuple[str, ...]] = {
    "put": ("expires", "ct", "len"),
    "part": ("expires", "upload", "part", "len"),
    "get": ("expires", "filename"),
}
REQUIRED_FIELDS: dict[str, frozenset[str]] = {
    "put": frozenset({"expires", "ct"}),
    "part": frozenset({"expires", "upload", "part"}),
    "get": frozenset({"expires"}),
}
MIN_SECRET_BYTES = 16


class UrlSigner:
    """Signs and verifies (operation, key, parameters) with a server-side secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"the signing secret needs at least {MIN_SECRET_BYTES} bytes")
        self._secret = secret

    def sign(
        self, op: str, key: str, params: Mapping[str, str], expires_in: int,
        now: float | None = None,
    ) -> dict[str, str]:
        """The query parameters (op, params, expires, sig) of a URL valid for `expires_in` s."""
        _check_op(op)
        unknown = set(params) - set(SIGNED_FIELDS[op])
        if unknown:
            raise ValueError(f"cannot sign {sorted(unknown)} for operation {op!r}")
        issued = time.time() if now is None else now
        signed = {**params, "expires": str(int(issued) + expires_in)}
        return {"op": op, **signed, "sig": self._digest(op, key, signed)}

    def verify(
        self, op: str, key: str, query: Mapping[str, str], now: float | None = None
    ) -> dict[str, str]:
        """The signed parameters (op included) of a valid URL; raises SignatureError otherwise.

        The signature is checked before the expiry, so a URL whose expiry was edited is
        reported as tampered rather than as expired.
        """
        _check_op(op)
        if query.get("op") != op:
            raise SignatureError(f"URL is not signed for operation {op!r}")
        missing = (REQUIRED_FIELDS[op] | {"sig"}) - set(query)
        if missing:
            raise SignatureError(f"URL lacks parameter(s) {sorted(missing)}")
        signed = {name: query[name] for name in SIGNED_FIELDS[op] if name in query}
        expected = self._digest(op, key, signed)
        if not hmac.compare_digest(expected.encode(), str(query["sig"]).encode()):
            raise SignatureError("URL signature does not match: the URL was tampered with")
        current = time.time() if now is None else now
        if int(signed["expires"]) < current:
            raise SignatureError(f"URL expired at unix time {signed['expires']}")
        return {"op": op, **signed}

    def _digest(self, op: str, key: str, params: Mapping[str, str]) -> str:
        # urlencode escapes '&' and '=', so no two parameter sets share a canonical form.
        canonical = f"v1\n{op}\n{key}\n{urlencode(sorted(params.items()))}"
        return hmac.new(self._secret, canonical.encode("utf-8"), hashlib.sha256).hexdigest()


def _check_op(op: str) -> None:
    if op not in SIGNED_FIELDS:
        raise ValueError(f"unknown signed operation {op!r}")
