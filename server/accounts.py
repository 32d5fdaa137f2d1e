"""User accounts: registration, sign-in (argon2id-hashed passwords, failed attempts limited),
revocable bearer tokens."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import select

from server.config import Settings
from server.db import Database
from server.errors import BadRequest, Conflict, Unauthorized
from server.login_limits import LoginLimits
from server.models import AuthToken, User, utcnow
from server.passwords import (
    MAX_LENGTH,
    hash_password,
    needs_rehash,
    password_problem,
    verify_password,
)

log = logging.getLogger(__name__)

MAX_EMAIL = 254  # the longest address SMTP can deliver to (RFC 5321)
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
T = TypeVar("T")


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
        if not isinstance(email, str):
            raise BadRequest("a valid email address is required")
        email = email.strip()
        if len(email) > MAX_EMAIL:
            raise BadRequest(f"the email address is longer than {MAX_EMAIL} characters")
        if not EMAIL.match(email):
            raise BadRequest("a valid email address is required")
        if not isinstance(password, str):
            raise BadRequest("a password is required")
        if len(password) > MAX_LENGTH:
            raise BadRequest(f"the password is longer than {MAX_LENGTH} characters")
        return cls(email.lower(), password)


class Accounts:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.token_ttl = timedelta(seconds=settings.token_ttl_s)
        self.limits = LoginLimits(
            settings.login_failures_per_account,
            settings.login_failures_per_address,
            settings.login_failure_window_s,
        )
        # Hashing has threads of its own: a flood of sign-ins queues here instead of taking
        # the default pool that file transfers use.
        self._hashing = ThreadPoolExecutor(
            settings.password_hash_threads, thread_name_prefix="password-hash"
        )

    def close(self) -> None:
        self._hashing.shutdown(wait=False, cancel_futures=True)

    async def register(self, credentials: Credentials, is_admin: bool = False) -> User:
        problem = password_problem(credentials.password)
        if problem is not None:
            raise BadRequest(problem)
        password_hash = await self._hash(hash_password, credentials.password)
        async with self.db.session() as session:
            if await self._find(session, credentials.email) is not None:
                raise Conflict("an account with this email already exists")
            user = User(email=credentials.email, password_hash=password_hash, is_admin=is_admin)
            session.add(user)
            await session.commit()
            return user

    async def login(self, credentials: Credentials, address: str | None = None) -> User:
        """The account, when the password is right; TooManyFailures when this account or
        this client address has failed too often lately."""
        self.limits.attempt(credentials.email, address)
        async with self.db.session() as session:
            user = await self._find(session, credentials.email)
        stored = user.password_hash if user else None
        valid = await self._hash(verify_password, credentials.password, stored)
        if user is None or not valid:
            raise Unauthorized("wrong email or password")
        self.limits.succeeded(credentials.email, address)
        if needs_rehash(user.password_hash):
            await self._rehash(user, credentials.password)
        return user

    async def _rehash(self, user: User, password: str) -> None:
        """Replaces a hash of an older scheme now that the password is known."""
        new_hash = await self._hash(hash_password, password)
        try:
            async with self.db.session() as session:
                stored = await session.get(User, user.id)
                if stored is not None and stored.password_hash == user.password_hash:
                    stored.password_hash = new_hash
                    session.add(stored)
                    await session.commit()
        except SQLAlchemyError as exc:  # the sign-in stands; the next one tries again
            log.warning("user %s: password hash not upgraded: %s", user.id, exc)
            return
        user.password_hash = new_hash
        log.info("user %s: password hash upgraded", user.id)

    async def _hash(self, function: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._hashing, function, *args)

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
