"""The buckets behind the sign-in limits, on a clock the test moves: how long a limited
account waits, that it may try again then, and how addresses are grouped."""

from __future__ import annotations

import pytest

from server.login_limits import LoginLimits, TooManyFailures, client_key


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_limited_account_waits_then_gets_one_more_try():
    clock = Clock()
    limits = LoginLimits(per_account=3, per_address=100, window_s=60.0, clock=clock)
    for _ in range(3):
        limits.attempt("alice@example.com", "192.0.2.1")
    with pytest.raises(TooManyFailures) as refused:
        limits.attempt("alice@example.com", "192.0.2.1")
    assert refused.value.retry_after == 20  # window / limit
    clock.now += 19.5
    with pytest.raises(TooManyFailures) as refused:
        limits.attempt("alice@example.com", "192.0.2.1")
    assert refused.value.retry_after == 1  # refused tries do not add to the wait
    clock.now += 0.5
    limits.attempt("alice@example.com", "192.0.2.1")  # one more
    with pytest.raises(TooManyFailures):
        limits.attempt("alice@example.com", "192.0.2.1")
    clock.now += 60.0
    for _ in range(3):  # drained: the whole allowance again
        limits.attempt("alice@example.com", "192.0.2.1")


def test_success_clears_the_account_but_not_the_address():
    clock = Clock()
    limits = LoginLimits(per_account=2, per_address=3, window_s=60.0, clock=clock)
    limits.attempt("mallory@example.com", "192.0.2.9")
    limits.attempt("alice@example.com", "192.0.2.9")
    limits.attempt("mallory@example.com", "192.0.2.9")
    limits.succeeded("mallory@example.com", "192.0.2.9")  # an account of their own
    limits.attempt("mallory@example.com", "192.0.2.9")
    with pytest.raises(TooManyFailures):
        limits.attempt("bob@example.com", "192.0.2.9")  # the address's 4th failure


@pytest.mark.parametrize(
    "address, key",
    [
        ("192.0.2.1", "192.0.2.1"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::7", "2001:db8:1:2::/64"),
        (None, "unknown"),
    ],
)
def test_addresses_are_limited_per_host_or_ipv6_subnet(address, key):
    assert client_key(address) == key
