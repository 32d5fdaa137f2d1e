"""Share links to finished reports: made, listed and revoked by the report's owner, opened by
anyone holding one. A share names its report by kind and id, so that any kind of report
(an uploaded match today) can be shared the same way."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import col, func, select

from server.config import Settings
from server.db import Database
from server.errors import ApiError, BadRequest, Conflict, NotFound
from server.models import ReportShare, User, iso, utcnow
from server.share_tokens import (
    ExpiredShareToken,
    InvalidShareToken,
    read_share_token,
    sign_share_token,
    verify_share_token,
)

MIN_SHARE_TTL_S = 60


class Gone(ApiError):
    status = 410


class Shares:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.key = settings.signing_key()
        self._lock = asyncio.Lock()  # counting usable links and adding one is one step

    def token(self, share: ReportShare) -> str:
        expires = int(share.expires_at.timestamp())
        return sign_share_token(self.key, share.id, share.report_kind, share.report_id, expires)

    def ttl(self, body: dict[str, Any]) -> int:
        """The lifetime asked for (`ttl_s`), the configured one by default and at most."""
        longest = self.settings.share_link_ttl_s
        ttl = body.get("ttl_s", longest)
        whole = isinstance(ttl, int) and not isinstance(ttl, bool)
        if not whole or not MIN_SHARE_TTL_S <= ttl <= longest:
            raise BadRequest(f"ttl_s must be a whole number from {MIN_SHARE_TTL_S} to {longest}")
        return ttl

    async def create(self, owner: User, kind: str, report_id: str, ttl_s: int) -> ReportShare:
        """A new link to a report the caller has checked is the owner's and finished."""
        async with self._lock, self.db.session() as db:
            now = utcnow()
            usable = (await db.exec(self._usable(kind, report_id, now, func.count()))).one()
            cap = self.settings.max_share_links
            if usable >= cap:
                raise Conflict(f"this report has {usable} share links, its most: revoke one first")
            share = ReportShare(
                owner_id=owner.id,
                report_kind=kind,
                report_id=report_id,
                expires_at=now + timedelta(seconds=ttl_s),
            )
            db.add(share)
            await db.commit()
        return share

    async def usable(self, kind: str, report_id: str) -> list[ReportShare]:
        """The report's links that still open it, newest first."""
        query = self._usable(kind, report_id, utcnow(), ReportShare)
        async with self.db.session() as db:
            return list((await db.exec(query.order_by(col(ReportShare.created_at).desc()))).all())

    async def revoke(self, owner: User, kind: str, report_id: str, share_id: str) -> None:
        async with self.db.session() as db:
            share = await db.get(ReportShare, share_id)
            if (
                share is None
                or share.owner_id != owner.id
                or (share.report_kind, share.report_id) != (kind, report_id)
            ):
                raise NotFound("no such share link")
            if share.revoked_at is None:
                share.revoked_at = utcnow()
                db.add(share)
                await db.commit()

    async def open(self, token: str) -> ReportShare:
        """The share a token names, after checking its signature, expiry and revocation:
        404 for a token that was never handed out, 410 for one that has stopped working."""
        try:
            share_id, _, _ = read_share_token(token)
        except InvalidShareToken as exc:
            raise NotFound(str(exc)) from exc
        async with self.db.session() as db:
            share = await db.get(ReportShare, share_id)
        if share is None:
            raise NotFound("no such share link")
        try:
            verify_share_token(self.key, token, share.report_kind, share.report_id)
        except ExpiredShareToken as exc:
            raise Gone(str(exc)) from exc
        except InvalidShareToken as exc:
            raise NotFound(str(exc)) from exc
        if share.revoked_at is not None:
            raise Gone("this share link was revoked")
        return share

    @staticmethod
    def _usable(kind: str, report_id: str, now: datetime, what: Any) -> Any:
        return (
            select(what)
            .select_from(ReportShare)
            .where(
                ReportShare.report_kind == kind,
                ReportShare.report_id == report_id,
                col(ReportShare.revoked_at).is_(None),
                col(ReportShare.expires_at) > now,
            )
        )


def share_json(share: ReportShare, token: str, url: str) -> dict[str, Any]:
    return {
        "id": share.id,
        "kind": share.report_kind,
        "report_id": share.report_id,
        "url": url,
        "token": token,
        "created_at": iso(share.created_at),
        "expires_at": iso(share.expires_at),
    }
