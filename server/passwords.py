"""Passwords: argon2id hashes (the scrypt hashes of older accounts still verify, and are
replaced at their next sign-in), and what a new password must be.

Hashing is slow on purpose; callers run these functions on threads of their own."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 8
MAX_LENGTH = 1024  # hashing cost grows with the length
COMMON_PASSWORDS = Path(__file__).resolve().parent / "data" / "common_passwords.txt"

# argon2-cffi's defaults are RFC 9106's low-memory profile: argon2id, 64 MiB, 3 passes, 4 lanes.
# They are stored in each hash, so hashes made with weaker ones are redone at sign-in.
_ARGON2 = PasswordHasher()
_SCRYPT = "scrypt"  # the scheme before argon2id: scrypt$N$r$p$salt$digest


def hash_password(password: str) -> str:
    return _ARGON2.hash(password)


def verify_password(password: str, stored: str | None) -> bool:
    """Whether `password` matches the stored hash. With no hash (an unknown account) the
    work is done all the same, so that timing does not tell which accounts exist."""
    if stored is not None and stored.startswith(_SCRYPT + "$"):
        return _verify_scrypt(password, stored)
    try:
        return _ARGON2.verify(stored or _dummy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """True for a hash of an older scheme, or made with weaker settings than today's."""
    try:
        return _ARGON2.check_needs_rehash(stored)
    except (InvalidHashError, ValueError):
        return True


def password_problem(password: str) -> str | None:
    """Why a new password will not do, or None when it will."""
    if len(password) < MIN_LENGTH:
        return f"the password needs at least {MIN_LENGTH} characters"
    if password.strip().lower() in common_passwords():
        return "this password is one of the most common ones and easily guessed; choose another"
    return None


@cache
def common_passwords() -> frozenset[str]:
    """The most common passwords (lowercased), from the list shipped with the server."""
    lines = COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


@cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_hex(16))


def _verify_scrypt(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=64 * 1024 * 1024,
            dklen=32,
        )
    except ValueError:
        return False
    return hmac.compare_digest(actual, base64.b64decode(digest))
