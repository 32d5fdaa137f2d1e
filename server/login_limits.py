"""Limits on failed sign-ins, per account and per client address, against password guessing.

Each account and each address has a leaky bucket: an attempt adds window/limit seconds to it
and it drains in real time, so `limit` failures fit in the window and past them one more try
is allowed each window/limit. An attempt is counted before its password is checked (a burst
of parallel guesses cannot all get through) and taken back when it succeeds. The buckets
live in this process's memory: a number per key, empty ones forgotten."""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable

from server.errors import ApiError

MAX_KEYS = 100_000  # beyond this, the buckets that filled longest ago are forgotten


class TooManyFailures(ApiError):
    status = 429

    def __init__(self, retry_after: float) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(
            f"too many failed sign-ins; try again in {self.retry_after} s",
            detail={"retry_after": self.retry_after},
        )


class FailureLimiter:
    """One leaky bucket per key."""

    def __init__(
        self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.window_s = window_s
        self.cost_s = window_s / limit
        self.clock = clock
        self._empty_at: dict[str, float] = {}  # when each key's bucket has drained

    def wait(self, key: str) -> float:
        """Seconds before `key` may try again (0: now)."""
        empty_at = self._empty_at.get(key)
        if empty_at is None:
            return 0.0
        return max(0.0, empty_at - self.clock() - (self.window_s - self.cost_s))

    def add(self, key: str) -> None:
        now = self.clock()
        empty_at = max(self._empty_at.pop(key, now), now) + self.cost_s
        self._empty_at[key] = empty_at  # re-inserted: the dict stays in order of last use
        if len(self._empty_at) > MAX_KEYS:
            self._forget_old(now)

    def take_back(self, key: str) -> None:
        if key in self._empty_at:
            self._empty_at[key] -= self.cost_s

    def forget(self, key: str) -> None:
        self._empty_at.pop(key, None)

    def _forget_old(self, now: float) -> None:
        for key in [k for k, empty_at in self._empty_at.items() if empty_at <= now]:
            del self._empty_at[key]
        while len(self._empty_at) > MAX_KEYS * 9 // 10:
            del self._empty_at[next(iter(self._empty_at))]


class LoginLimits:
    def __init__(
        self,
        per_account: int,
        per_address: int,
        window_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.accounts = FailureLimiter(per_account, window_s, clock)
        self.addresses = FailureLimiter(per_address, window_s, clock)

    def attempt(self, email: str, address: str | None) -> None:
        """Counts a sign-in attempt as failed until `succeeded`; raises TooManyFailures (and
        counts nothing) when the account or the address must wait."""
        where = client_key(address)
        wait = max(self.accounts.wait(email), self.addresses.wait(where))
        if wait > 0:
            raise TooManyFailures(wait)
        self.accounts.add(email)
        self.addresses.add(where)

    def succeeded(self, email: str, address: str | None) -> None:
        """The account starts afresh; the address only gets this attempt back (an attacker
        signing in to an account of their own must not clear their address)."""
        self.accounts.forget(email)
        self.addresses.take_back(client_key(address))


def client_key(address: str | None) -> str:
    """The unit an address is limited by: the address itself, or its /64 for IPv6 (one
    subscriber usually has a whole /64)."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return address or "unknown"
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)
