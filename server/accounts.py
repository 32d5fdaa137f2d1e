"""User accounts: registration, sign-in with scrypt-hashed passwords, revocable bearer tokens."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import select

from server.db import Database
from server.errors import BadRequest, Conflict, Unauthorized
from server.models import AuthToken, User, utcnow

# scrypt at N=2^14, r=8: ~16 MiB and tens of milliseconds per guess (RFC 7914's interactive
# setting); the parameters are stored with each hash so they can be raised later.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return "$".join(
        ["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)]
    )


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        actual = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(actual, base64.b64decode(digest))


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Credentials:
    email: str
    password: str

    @classmethod
    def parse(cls, body: object) -> Credentials:
        if not isinstance(body, dict):
            raise BadRequest("expected a JSON object with email and password")
        email, password = body.get("email"), body.get("password")
        if not isinstance(email, str) or not EMAIL.match(email.strip()):
            raise BadRequest("a valid email address is required")
        if not isinstance(password, str):
            raise BadRequest("a password is required")
        if len(password) > MAX_PASSWORD:
            raise BadRequest(f"the password is longer than {MAX_PASSWORD} characters")
        return cls(email.strip().lower(), password)


class Accounts:
    def __init__(self, db: Database, token_ttl_s: int) -> None:
        self.db = db
        self.token_ttl = timedelta(seconds=token_ttl_s)

    async def register(self, credentials: Credentials, is_admin: bool = False) -> User:
        if len(credentials.password) < MIN_PASSWORD:
            raise BadRequest(f"the password needs at least {MIN_PASSWORD} characters")
        password_hash = await asyncio.to_thread(hash_password, credentials.password)
        async with self.db.session() as session:
            if await self._find(session, credentials.email) is not None:
                raise Conflict("an account with this email already exists")
            user = User(email=credentials.email, password_hash=password_hash, is_admin=is_admin)
            session.add(user)
            await session.commit()
            return user

    async def login(self, credentials: Credentials) -> User:
        async with self.db.session() as session:
            user = await self._find(session, credentials.email)
        # Hash even for an unknown email, so timing does not tell which emails have accounts.
        stored = user.password_hash if user else _DUMMY_HASH
        valid = await asyncio.to_thread(verify_password, credentials.password, stored)
        if user is None or not valid:
            raise Unauthorized("wrong email or password")
        return user

    async def issue_token(self, user: User) -> str:
        token = secrets.token_urlsafe(32)
        async with self.db.session() as session:
            session.add(
                AuthToken(
                    user_id=user.id,
                    token_hash=token_digest(token),
                    expires_at=utcnow() + self.token_ttl,
                )
            )
            await session.commit()
        return token

    async def authenticate(self, token: str) -> User:
        async with self.db.session() as session:
            row = (
                await session.exec(
                    select(AuthToken, User)
                    .join(User, User.id == AuthToken.user_id)
                    .where(AuthToken.token_hash == token_digest(token))
                )
            ).first()
        if row is None:
            raise Unauthorized("invalid token")
        auth, user = row
        if auth.revoked_at is not None:
            raise Unauthorized("this token was signed out")
        if auth.expires_at <= utcnow():
            raise Unauthorized("this token has expired; sign in again")
        return user

    async def revoke(self, token: str) -> None:
        async with self.db.session() as session:
            auth = (
                await session.exec(
                    select(AuthToken).where(AuthToken.token_hash == token_digest(token))
                )
            ).first()
            if auth is not None and auth.revoked_at is None:
                auth.revoked_at = utcnow()
                session.add(auth)
                await session.commit()

    @staticmethod
    async def _find(session, email: str) -> User | None:
        return (await session.exec(select(User).where(User.email == email))).first()


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=32
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


_DUMMY_HASH = hash_password(secrets.token_hex(8))
