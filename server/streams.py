"""Stream sessions: their state in the database, the live sessions in memory, viewer links,
recordings and the final report."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import secrets
import tempfile
import time
from collections.abc import Sequence
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlmodel import col, func, select

from analysis.court import Court, CourtError
from analysis.video_analyzer import write_outputs
from server.cleanup import StorageCleaner, schedule
from server.cluster import takeover
from server.cluster.continuation import Continuation
from server.cluster.nodes import NodeInfo
from server.cluster.takeover import continuable, mark_lost
from server.config import Settings
from server.db import Database
from server.drain import RETRY_AFTER_S as DRAIN_RETRY_AFTER_S
from server.drain import Drain
from server.errors import ApiError, BadRequest, Conflict, NotFound
from server.live.ice import server_configuration
from server.live.offer import OfferError, SessionEndedError
from server.live.recording_pieces import RecordingCopy, cut_short, pieces_prefix
from server.live.session import LiveSession, Recorded
from server.live.viewer_tokens import (
    InvalidViewerToken,
    ViewerGrant,
    read_viewer_token,
    sign_viewer_token,
    verify_viewer_token,
)
from server.models import StreamSession, StreamStatus, User, ViewerLink, iso, utcnow
from server.uploads import parse_court
from storage import Storage, StorageError

if TYPE_CHECKING:
    from server.cluster.cluster import Cluster

log = logging.getLogger(__name__)

# The capture page's quality presets: frames per second, and roughly what 720p VP8/H.264
# needs at that rate. At 5 fps far fewer hits are found than at 10 or 15 (the README's quality
# table has the numbers): the page tells whoever picks Low what it costs.
QUALITY_PRESETS: dict[str, dict[str, Any]] = {
    "low": {
        "label": "Low",
        "fps": 5,
        "kbps": 400,
        "note": "For weak connections: at 5 frames a second many shots are missed.",
    },
    "medium": {"label": "Medium", "fps": 10, "kbps": 800},
    "high": {"label": "High", "fps": 15, "kbps": 1200},
    "max": {"label": "Max", "fps": 30, "kbps": 2500},
}
VIEWER_TTL_S = 4 * 3600
MAX_VIEWER_TTL_S = 7 * 24 * 3600


class Forbidden(ApiError):
    status = 403


class Streams:
    def __init__(
        self,
        db: Database,
        storage: Storage,
        settings: Settings,
        cleaner: StorageCleaner | None = None,
        drain: Drain | None = None,
        cluster: Cluster | None = None,
    ) -> None:
        self.db = db
        self.drain = drain
        self.storage = storage
        self.settings = settings
        self.cleaner = cleaner  # removes a recording's pieces once it is stored whole
        self.cluster = cluster  # None: this process holds every session
        self.own_url = None if cluster is None else cluster.own_url
        self.key = settings.signing_key()
        self.live: dict[str, LiveSession] = {}
        self._live_owner: dict[str, str] = {}  # live session -> its owner's user id
        self._ending: dict[str, asyncio.Task[dict[str, Any] | None]] = {}
        self._link_lock = asyncio.Lock()  # counting links and adding one is one step

    # -- sessions ------------------------------------------------------------------------

    async def create(self, user: User, body: dict[str, Any]) -> StreamSession:
        quality = body.get("quality", "medium")
        if not isinstance(quality, str) or quality not in QUALITY_PRESETS:
            raise BadRequest(f"quality must be one of {', '.join(QUALITY_PRESETS)}")
        name = body.get("name", "")
        if not isinstance(name, str) or len(name) > 200:
            raise BadRequest("name must be text of at most 200 characters")
        session = StreamSession(
            owner_id=user.id, name=name.strip(), quality=quality, output_prefix=""
        )
        session.output_prefix = f"users/{user.id}/streams/{session.id}"
        async with self.db.session() as db:
            db.add(session)
            await db.commit()
        return session

    async def owned(self, user: User, session_id: str) -> StreamSession:
        async with self.db.session() as db:
            session = await db.get(StreamSession, session_id)
        if session is None or session.owner_id != user.id:
            raise NotFound("no such stream session")
        return session

    async def list(self, user: User) -> list[StreamSession]:
        async with self.db.session() as db:
            query = (
                select(StreamSession)
                .where(StreamSession.owner_id == user.id)
                .order_by(col(StreamSession.created_at).desc())
            )
            return list((await db.exec(query)).all())

    async def setup_court(self, user: User, session_id: str, body: dict[str, Any]) -> StreamSession:
        session = await self.owned(user, session_id)
        if session.status != StreamStatus.SETUP:
            raise Conflict(f"the court is set before the stream starts (status {session.status})")
        court = parse_court(body.get("court"))
        if court is None:
            raise BadRequest("court is required: the 4 corners")
        size = body.get("frame_size")
        if (
            not isinstance(size, list)
            or len(size) != 2
            or not all(isinstance(v, int) and 16 <= v <= 8192 for v in size)
        ):
            raise BadRequest("frame_size must be [width, height] of the video the corners are on")
        try:
            Court.from_mapping(court, (size[0], size[1]))
        except CourtError as exc:
            raise BadRequest(f"bad court: {exc}") from exc
        return await self._update(session_id, court=court, frame_size=size)

    async def start(self, user: User, session_id: str) -> StreamSession:
        session = await self.owned(user, session_id)
        self._check_not_ending(session_id)  # before a cluster claims it for this node
        taking_over = self._taking_over(session)
        if session.status == StreamStatus.ENDED and not taking_over:
            raise Conflict("this session has ended")
        if session.court is None or session.frame_size is None:
            raise BadRequest("set up the court first (POST .../setup-court)")
        if session.status == StreamStatus.STREAMING and session.id in self.live:
            return session
        fields: dict[str, Any] = {"status": StreamStatus.STREAMING}
        fields["started_at"] = session.started_at or utcnow()
        continuation = None
        if self.cluster is not None:
            # The account's sessions on every node count; a full node claims nothing.
            self._limit_per_user(await takeover.streaming_sessions(self.db, user.id, session_id))
            self._check_capacity(session.owner_id)
            fields["node_url"] = self.cluster.own_url
            if taking_over:
                gaps = await takeover.gaps_closed_now(self.cluster.bus, session)
                continuation = await self._continuation(session, gaps[-1])
                fields.update(gaps=gaps, ended_at=None, error=None)
            if not await takeover.claim(self.db, session, fields):
                raise Conflict("this session was started on another server at the same moment")
        self._open_live(session, continuation)
        session = await self._update(session_id, **fields)
        if continuation is not None:
            log.info("stream %s: continues here after a gap %s", session_id, fields["gaps"][-1])
        await self._announce()
        return session

    def _check_not_ending(self, session_id: str) -> None:
        """A session whose live part is closing must not open again (it is still marked
        streaming until its report is stored)."""
        if session_id in self._ending:
            raise Conflict("this session has ended")

    def _taking_over(self, session: StreamSession) -> bool:
        """In a cluster: the session's node was lost and this node continues it."""
        if self.cluster is None or session.id in self.live or session.id in self._ending:
            return False
        return continuable(session) or session.status == StreamStatus.STREAMING

    def node_state(self) -> NodeInfo:
        """What this node tells the cluster: its live capacity and what is free of it."""
        assert self.cluster is not None
        limit = self.settings.live_session_limit
        draining = self.drain is not None and self.drain.active
        return NodeInfo(
            url=self.cluster.own_url,
            capacity=limit,
            free=0 if draining else max(0, limit - len(self.live)),
            retry_after_s=self._retry_after_s(),
        )

    async def after_heartbeat(self, lost: list[str]) -> None:
        """After each heartbeat: what lost nodes recorded of the sessions just found lost is
        kept (joined from the pieces they stored), and this node's own sessions if it was
        itself taken for lost."""
        for session_id in lost:
            async with self.db.session() as db:
                session = await db.get(StreamSession, session_id)
            if session is not None:
                await self.keep_recording_of_lost(session)
        await self.keep_own()

    async def keep_own(self) -> None:
        """After a pause longer than its heartbeats' expiry, the other nodes took this one for
        lost and marked its sessions ended: those still live here stream on (the gap closes
        now), unless another node continues one already (then it closes here)."""
        assert self.cluster is not None
        if not self.live:
            return
        async with self.db.session() as db:
            query = select(StreamSession).where(
                col(StreamSession.id).in_(list(self.live)),
                StreamSession.status == StreamStatus.ENDED,
            )
            marked = list((await db.exec(query)).all())
        for session in marked:
            if session.node_url == self.own_url and continuable(session):
                gaps = await takeover.gaps_closed_now(self.cluster.bus, session)
                fields = {"status": StreamStatus.STREAMING, "gaps": gaps, "ended_at": None}
                if await takeover.claim(self.db, session, {**fields, "error": None}):
                    log.warning("stream %s: taken for lost, but still live here", session.id)
                    continue
            await self._end(session.id)

    async def _announce(self) -> None:
        if self.cluster is not None:
            await self.cluster.announce()

    def _publish(self, live: LiveSession, messages: list[dict[str, Any]]) -> None:
        """Puts a session's results on the cluster's bus, with its status when it changed
        (a position alone changes no number of the status)."""
        assert self.cluster is not None
        changed = any(m["type"] != "position_update" for m in messages)
        self.cluster.bus.publish(live.id, messages, live.status() if changed else None)

    async def _continuation(
        self, session: StreamSession, gap: dict[str, str | None]
    ) -> Continuation:
        """How this node's part of a session follows what its lost node published."""
        assert self.cluster is not None
        fps = QUALITY_PRESETS[session.quality]["fps"]
        return await takeover.continuation(self.cluster.bus, session, gap, fps)

    def _check_capacity(self, owner_id: str) -> None:
        """Refuses a new live session past the owner's limit or the server's, or when the
        server is stopping."""
        if self.drain is not None and self.drain.active:
            raise ApiError(
                "this server is shutting down and takes no new live session: try again "
                f"in {DRAIN_RETRY_AFTER_S} s",
                detail={"retry_after_s": DRAIN_RETRY_AFTER_S},
                status=503,
                retry_after_s=DRAIN_RETRY_AFTER_S,
            )
        self._limit_per_user([sid for sid, owner in self._live_owner.items() if owner == owner_id])
        limit = self.settings.live_session_limit
        if len(self.live) >= limit:
            wait = self._retry_after_s()
            raise ApiError(
                f"the server is analysing {limit} live streams, its most: try again in {wait} s",
                detail={"retry_after_s": wait},
                status=503,
                retry_after_s=wait,
            )

    def _limit_per_user(self, mine: list[str]) -> None:
        """Refuses another live session to an account that has `mine` already."""
        if len(mine) >= self.settings.max_live_sessions_per_user:
            raise Conflict(
                f"you have {len(mine)} live sessions, the most one account may have at once: "
                "end one first",
                detail={"live_sessions": mine},
            )

    def _retry_after_s(self) -> int:
        """When a live slot frees for sure: the soonest a session still waiting for its phone
        ends. Without one, nobody knows; a grace time is a fair interval to ask again."""
        waits = [w for live in self.live.values() if (w := live.grace_left()) is not None]
        return max(1, math.ceil(min(waits, default=self.settings.publisher_grace_s)))

    def _open_live(
        self, session: StreamSession, continuation: Continuation | None = None
    ) -> LiveSession:
        """Opens the live part of a session, within the limits (no await from check to
        claim, so concurrent starts cannot both take the last slot), unless it is ending."""
        assert session.court is not None and session.frame_size is not None
        self._check_not_ending(session.id)
        self._check_capacity(session.owner_id)
        fps = QUALITY_PRESETS[session.quality]["fps"]
        size = (session.frame_size[0], session.frame_size[1])
        live = LiveSession(
            session.id,
            Court.from_mapping(session.court, size),
            size,
            partial(server_configuration, self.settings),
            pose_fps=self.settings.live_pose_rate(fps, len(self.live) + 1),
            stream_fps=fps,
            publisher_grace_s=self.settings.publisher_grace_s,
            on_abandoned=self._abandoned,
            on_results=None if self.cluster is None else self._publish,
            continuation=continuation,
        )
        self.live[session.id] = live
        self._live_owner[session.id] = session.owner_id
        self._share_poses()
        if self.cluster is not None:  # every node can tell it is live from now
            self.cluster.bus.publish(live.id, [], live.status())
        return live

    def _share_poses(self) -> None:
        """Spreads the pose budget again when a session opens or closes."""
        sessions = len(self.live)
        for live in self.live.values():
            live.analysis.set_pose_fps(self.settings.live_pose_rate(live.stream_fps, sessions))

    async def publisher_offer(self, user: User, session_id: str, body: dict[str, Any]):
        session = await self.owned(user, session_id)
        if self._taking_over(session):  # the phone reconnects after its node was lost
            session = await self.start(user, session_id)
        if session.status != StreamStatus.STREAMING:
            raise Conflict(f"start the session before sending video (status {session.status})")
        sdp, kind = parse_description(body)
        live = self.live.get(session_id) or self._open_live(session)
        try:
            return await live.publisher_offer(sdp, kind)
        except SessionEndedError as exc:
            raise Conflict(str(exc)) from exc
        except OfferError as exc:
            raise BadRequest(str(exc)) from exc

    async def end(self, user: User, session_id: str) -> dict[str, Any]:
        session = await self.owned(user, session_id)
        if self._taking_over(session) and session.status == StreamStatus.STREAMING:
            assert self.cluster is not None  # its node is gone, and no node marked it yet
            await mark_lost(self.db, self.cluster.bus, session)
            session = await self.owned(user, session_id)
        if session.status == StreamStatus.ENDED:
            if continuable(session):  # no phone will continue it: the gap lasts to the end
                session = await self._end_lost(session)
            return await self.report(session)
        await self._end(session_id)
        return await self.report(await self.owned(user, session_id))

    async def report(self, session: StreamSession) -> dict[str, Any]:
        if session.report_key is None:
            return {"report": None, "reason": session.error or "no video was analysed"}
        return json.loads(await self.storage.get_bytes(session.report_key))

    async def final_report(self, session: StreamSession) -> dict[str, Any]:
        """The report of an ended session; 409 while it runs or when it has none."""
        if session.status != StreamStatus.ENDED:
            raise Conflict(f"the report is written when the session ends (status {session.status})")
        if session.report_key is None:
            raise Conflict(
                f"this session has no report: {session.error or 'no video was analysed'}"
            )
        return json.loads(await self.storage.get_bytes(session.report_key))

    async def _end(self, session_id: str, reason: str | None = None) -> dict[str, Any] | None:
        """Ends a session once, even when its owner and a timeout ask at the same time.
        `reason` is kept as the session's error when it ends without a report."""
        task = self._ending.get(session_id)
        if task is None:
            task = asyncio.create_task(self._finish(session_id, reason), name=f"end-{session_id}")
            self._ending[session_id] = task
        try:
            return await asyncio.shield(task)
        finally:
            if task.done():
                self._ending.pop(session_id, None)

    async def _finish(self, session_id: str, reason: str | None = None) -> dict[str, Any] | None:
        live = self.live.pop(session_id, None)
        self._live_owner.pop(session_id, None)
        self._share_poses()
        report, recording = (None, None) if live is None else await live.close()
        if live is not None and live.continuation is not None:
            report = live.continuation.report(report)  # the part before its node was lost too
        async with self.db.session() as db:
            session = await db.get(StreamSession, session_id)
        if session is None:
            return None
        if self.cluster is not None and live is not None and session.node_url != self.own_url:
            # Another node took the session over meanwhile: only this node's recording is ours.
            if recording is not None and recording.path.exists():
                await self._update(session_id, **await self._keep_recording(session, recording))
            log.info("stream %s: closed here; %s holds it now", session_id, session.node_url)
            return None
        fields: dict[str, Any] = {"status": StreamStatus.ENDED, "ended_at": utcnow()}
        pieces: list[str] = []
        if recording is not None:
            fields.update(await self._keep_recording(session, recording))
            fields["recording_path"] = fields["recording_key"] = None
            pieces = _pieces_of(session)
        if report is not None:
            fields.update(await self._store_report(session, report))
        elif reason is not None:
            fields["error"] = reason
        await self._update(session_id, remove=pieces, **fields)
        log.info("stream %s: ended (%s shots)", session_id, fields.get("total_shots", 0))
        if self.cluster is not None:
            await self.cluster.bus.ended(session_id)
            await self._announce()
        return report

    async def _end_lost(self, session: StreamSession) -> StreamSession:
        """Ends for good a session whose node was lost: its report is what that node
        published before (when it published anything)."""
        assert self.cluster is not None
        gaps = await takeover.gaps_closed_now(self.cluster.bus, session)
        report = (await self._continuation(session, gaps[-1])).report(None)
        fields: dict[str, Any] = {"gaps": gaps}
        if report is not None:
            fields.update(await self._store_report(session, {**report, "gaps": gaps}))
        await self.cluster.bus.ended(session.id)
        return await self._update(session.id, **fields)

    async def _abandoned(self, live: LiveSession) -> None:
        grace = f"{self.settings.publisher_grace_s:g}"
        await self._end(live.id, reason=f"no video arrived within {grace} s")

    async def _store_report(self, session: StreamSession, report: dict[str, Any]) -> dict[str, Any]:
        if session.gaps and "gaps" not in report:  # no analysis while its node was lost
            report = {**report, "gaps": session.gaps}
        with tempfile.TemporaryDirectory(prefix=f"stream-{session.id}-") as tmp:
            report = await asyncio.to_thread(write_outputs, report, tmp)
            keys = {}
            for field, name, content_type in (
                ("report_key", "report.json", "application/json"),
                ("heatmap_near_key", "heatmap_near.png", "image/png"),
                ("heatmap_far_key", "heatmap_far.png", "image/png"),
            ):
                key = f"{session.output_prefix}/{name}"
                await self.storage.put_file(key, Path(tmp) / name, content_type)
                keys[field] = key
        summary = report["summary"]
        return {
            **keys,
            "total_shots": summary["total_shots"],
            "total_rallies": summary["rallies"],
            "stats": {"shot_distribution": summary["shot_distribution"]},
        }

    # -- recording -----------------------------------------------------------------------

    async def recording_start(self, user: User, session_id: str) -> StreamSession:
        session = await self.owned(user, session_id)
        live = self.live.get(session_id)
        if session.status != StreamStatus.STREAMING or live is None:
            raise Conflict("recording needs a streaming session")
        if live.recorder is not None:
            raise Conflict("already recording")
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        name = f"{stamp}-{secrets.token_hex(3)}.mp4"
        path = self.settings.data_dir / "recordings" / session_id / name
        key = f"{session.output_prefix}/recordings/{name}"
        fps = QUALITY_PRESETS[session.quality]["fps"]
        # Noted before the first frame, so a crash leaves a file the next start will store.
        session = await self._update(session_id, recording_path=str(path), recording_key=key)
        # Copied to storage while it records, so that a lost node loses seconds of it.
        note_offset = partial(self._note_offset, session_id, key)
        flush_s = self.settings.recording_flush_s
        live.start_recording(
            path, fps, RecordingCopy(self.storage, path, key, flush_s, note_offset)
        )
        return session

    async def _note_offset(self, session_id: str, key: str) -> None:
        """Once a piece is stored: the recording's place in the session's time, kept for
        when it has to be joined from its pieces."""
        live = self.live.get(session_id)
        offset = None if live is None else live.recording_offset()
        async with self.db.session() as db:
            session = await db.get(StreamSession, session_id)
        spans = {} if session is None else session.recording_spans or {}
        if offset is not None and key not in spans:
            span = {"offset_s": _seconds(offset), "duration_s": None}
            await self._update(session_id, recording_spans={**spans, key: span})

    async def recording_stop(self, user: User, session_id: str) -> dict[str, Any]:
        session = await self.owned(user, session_id)
        live = self.live.get(session_id)
        if live is None or live.recorder is None:
            raise Conflict("not recording")
        recorded = await live.stop_recording()
        assert recorded is not None
        if not recorded.path.exists():  # not one frame arrived while recording
            await self._update(session_id, recording_path=None, recording_key=None)
            raise Conflict("nothing was recorded: no video arrived while recording")
        fields = await self._keep_recording(session, recorded)
        await self._update(
            session_id,
            remove=_pieces_of(session),
            **fields,
            recording_path=None,
            recording_key=None,
        )
        key = fields["recordings"][-1]
        return {
            "key": key,
            "url": await self.storage.download_url(key, self.settings.download_url_ttl_s),
            **fields["recording_spans"][key],
        }

    async def _keep_recording(self, session: StreamSession, recorded: Recorded) -> dict[str, Any]:
        """Stores a finished recording; the session's fields that list it, with its span."""
        key = await self._store_recording(session, recorded.path)
        span = {
            "offset_s": _seconds(recorded.offset_s),
            "duration_s": _seconds(recorded.duration_s),
        }
        return {
            "recordings": [*session.recordings, key],
            "recording_spans": {**(session.recording_spans or {}), key: span},
        }

    def recordings_json(self, session: StreamSession) -> list[dict[str, Any]]:
        """The session's recordings in order, each with its place in the session's time
        (offset and duration null when unknown)."""
        spans = session.recording_spans or {}
        empty = {"offset_s": None, "duration_s": None, "cut_short": False}
        return [{"key": key, **empty, **spans.get(key, {})} for key in session.recordings]

    async def _store_recording(self, session: StreamSession, path: Path) -> str:
        key = session.recording_key or f"{session.output_prefix}/recordings/{path.name}"
        await self.storage.put_file(key, path, "video/mp4")
        path.unlink(missing_ok=True)
        return key

    # -- viewers -------------------------------------------------------------------------

    async def create_viewer_link(
        self, user: User, session_id: str, body: dict[str, Any]
    ) -> tuple[ViewerLink, str]:
        session = await self.owned(user, session_id)
        if session.status == StreamStatus.ENDED:
            raise Conflict("this session has ended")
        ttl = body.get("ttl_s", VIEWER_TTL_S)
        if not isinstance(ttl, int) or not 60 <= ttl <= MAX_VIEWER_TTL_S:
            raise BadRequest(f"ttl_s must be between 60 and {MAX_VIEWER_TTL_S} seconds")
        async with self._link_lock, self.db.session() as db:
            now = utcnow()
            usable_links = (
                select(func.count())
                .select_from(ViewerLink)
                .where(
                    ViewerLink.session_id == session_id,
                    col(ViewerLink.revoked_at).is_(None),
                    col(ViewerLink.expires_at) > now,
                )
            )
            usable = (await db.exec(usable_links)).one()
            cap = self.settings.max_viewer_links
            if usable >= cap:
                raise Conflict(
                    f"this session has {usable} viewer links, its most: revoke one first"
                )
            link = ViewerLink(session_id=session_id, expires_at=now + timedelta(seconds=ttl))
            db.add(link)
            await db.commit()
        expires = int(link.expires_at.timestamp())
        return link, sign_viewer_token(self.key, link.id, session_id, expires)

    async def revoke_viewer_link(self, user: User, session_id: str, link_id: str) -> None:
        await self.owned(user, session_id)
        async with self.db.session() as db:
            link = await db.get(ViewerLink, link_id)
            if link is None or link.session_id != session_id:
                raise NotFound("no such viewer link")
            link.revoked_at = utcnow()
            db.add(link)
            await db.commit()
        live = self.live.get(session_id)
        if live is not None:
            await live.disconnect_viewers(link_id)

    async def viewer_session(self, token: str) -> tuple[StreamSession, ViewerGrant]:
        """The session a viewer token grants, after checking signature, expiry, revocation."""
        try:
            link_id, _, _ = read_viewer_token(token)
        except InvalidViewerToken as exc:
            raise Forbidden(str(exc)) from exc
        async with self.db.session() as db:
            link = await db.get(ViewerLink, link_id)
            session = None if link is None else await db.get(StreamSession, link.session_id)
        if link is None or session is None:
            raise Forbidden("invalid viewer link")
        try:
            grant = verify_viewer_token(self.key, token, session.id)
        except InvalidViewerToken as exc:
            raise Forbidden(str(exc)) from exc
        if link.revoked_at is not None:
            raise Forbidden("this viewer link was revoked")
        return session, grant

    async def viewer_offer(self, token: str, body: dict[str, Any]):
        session, grant = await self.viewer_session(token)
        live = self.live.get(session.id)
        if self._taking_over(session):  # its node was lost: the phone may bring it back
            wait = math.ceil(self.settings.node_heartbeat_s)
            raise ApiError(
                "the server holding this stream stopped; waiting for the phone to reconnect: "
                f"try again in {wait} s",
                detail={"retry_after_s": wait},
                status=503,
                retry_after_s=wait,
            )
        if session.status != StreamStatus.STREAMING or live is None:
            raise Conflict(f"the stream is not live (status {session.status})")
        sdp, kind = parse_description(body)
        # No await from this count to the viewer being added, so the cap holds.
        cap = self.settings.max_viewers_per_link
        if live.viewers_of(grant.link_id) >= cap:
            raise ApiError(
                f"this viewer link is open on {cap} screens, its most: close one, "
                "or ask for another link",
                status=429,
            )
        try:
            return await live.viewer_offer(sdp, kind, grant.link_id)
        except SessionEndedError as exc:
            raise Conflict(str(exc)) from exc
        except OfferError as exc:
            raise BadRequest(str(exc)) from exc

    # -- status --------------------------------------------------------------------------

    async def live_status(self, session: StreamSession) -> dict[str, Any] | None:
        """The live numbers: in a cluster, as the session's node last published them, the
        same on every node."""
        if self.cluster is None:
            live = self.live.get(session.id)
            return live.status() if live else None
        if session.status != StreamStatus.STREAMING:
            return None
        return await self.cluster.bus.status(session.id)

    async def status_json(self, session: StreamSession) -> dict[str, Any]:
        body = self.session_json(session)
        if self.cluster is not None:
            body["live"] = await self.live_status(session)
            if body["live"] is not None:
                body["total_shots"] = body["live"]["total_shots"]
        return body

    def session_json(self, session: StreamSession) -> dict[str, Any]:
        live = self.live.get(session.id)
        return {
            "id": session.id,
            "name": session.name,
            "status": session.status,
            "quality": session.quality,
            "fps": QUALITY_PRESETS[session.quality]["fps"],
            "court": session.court,
            "frame_size": session.frame_size,
            "created_at": iso(session.created_at),
            "started_at": iso(session.started_at),
            "ended_at": iso(session.ended_at),
            "total_shots": live.total_shots if live else session.total_shots,
            "total_rallies": session.total_rallies,
            "recordings": session.recordings,
            "report_key": session.report_key,
            "error": session.error,
            "gaps": session.gaps or [],
            # Ended because its server was lost: the phone's reconnect continues it.
            "resumable": self.cluster is not None and continuable(session),
            "live": live.status() if live else None,
        }

    # -- start-up and shut-down ------------------------------------------------------------

    async def recover(self) -> None:
        """After a restart: recordings cut short are stored, and sessions that were live end
        (their analysis state died with the process)."""
        async with self.db.session() as db:
            leftovers = (
                await db.exec(
                    select(StreamSession).where(
                        (StreamSession.status == StreamStatus.STREAMING)
                        | col(StreamSession.recording_path).is_not(None)
                        | col(StreamSession.recording_key).is_not(None)
                    )
                )
            ).all()
        for session in leftovers:
            if self.cluster is not None and session.node_url != self.cluster.own_url:
                continue  # another node's session, its recording on another machine
            if self.cluster is None or session.status != StreamStatus.STREAMING:
                await self.end_orphaned(session, "the server restarted during the session")
                continue
            await self.keep_recording_of_lost(session)
            await mark_lost(self.db, self.cluster.bus, session)  # its phone may continue it

    async def end_orphaned(self, session: StreamSession, reason: str) -> None:
        """Ends a session whose process is gone, with `reason`, keeping its recording."""
        fields = await self._recovered_recording(session)
        if session.status == StreamStatus.STREAMING:
            fields.update(status=StreamStatus.ENDED, ended_at=utcnow(), error=reason)
        await self._update(session.id, remove=fields.pop("remove"), **fields)

    async def keep_recording_of_lost(self, session: StreamSession) -> None:
        """Stores what a lost node recorded of a session, which its phone may continue."""
        fields = await self._recovered_recording(session)
        await self._update(session.id, remove=fields.pop("remove"), **fields)

    async def _recovered_recording(self, session: StreamSession) -> dict[str, Any]:
        """The recording a session was making when its process went: stored from the file it
        left here, or else joined from the pieces copied while recording (the node and its
        disk are lost), and listed as cut short. With storage unreachable it is tried again
        at the next start. Its fields, and under "remove" the pieces to remove."""
        fields: dict[str, Any] = {"remove": []}
        try:
            fields.update(await self._recover_recording(session))
            fields["recording_path"] = fields["recording_key"] = None
            fields["remove"] = _pieces_of(session)
        except StorageError as exc:
            log.warning("stream %s: recording not recovered yet: %s", session.id, exc)
        return fields

    async def _recover_recording(self, session: StreamSession) -> dict[str, Any]:
        path = Path(session.recording_path) if session.recording_path else None
        scratch = self.settings.data_dir / "recordings" / session.id / "joined.mp4"
        left = await cut_short(self.storage, path, session.recording_key, scratch)
        if left is None:
            return {}
        path, duration = left
        key = await self._store_recording(session, path)
        spans = session.recording_spans or {}
        span = {**spans.get(key, {"offset_s": None}), "duration_s": _seconds(duration)}
        log.info("stream %s: stored the recording cut short: %s (%s s)", session.id, key, duration)
        return {
            "recordings": [*session.recordings, key],
            "recording_spans": {**spans, key: {**span, "cut_short": True}},
        }

    async def close(self) -> None:
        """Server shutdown: every live session ends properly (report and recording stored)."""
        await asyncio.gather(*(self._end(sid) for sid in list(self.live)), return_exceptions=True)

    async def _update(
        self, session_id: str, remove: Sequence[str] = (), **fields: Any
    ) -> StreamSession:
        """Sets the session's fields; what `remove` names goes from storage, recorded for
        the cleanup sweep in the same transaction, so that it goes even if storage fails."""
        async with self.db.session() as db:
            session = await db.get(StreamSession, session_id)
            if session is None:
                raise NotFound("no such stream session")
            for name, value in fields.items():
                setattr(session, name, value)
            db.add(session)
            records = [schedule(db, key) for key in remove]
            await db.commit()
        if records and self.cleaner is not None:
            await self.cleaner.run(records)
        return session


def _pieces_of(session: StreamSession) -> list[str]:
    """The folder of the pieces of the recording the session is making, if any."""
    return [pieces_prefix(session.recording_key)] if session.recording_key else []


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def parse_description(body: dict[str, Any]) -> tuple[str, str]:
    sdp, kind = body.get("sdp"), body.get("type")
    if not isinstance(sdp, str) or not sdp.strip() or len(sdp) > 100_000:
        raise BadRequest("sdp is required: the session description of the offer")
    if kind != "offer":
        raise BadRequest("type must be 'offer'")
    return sdp, kind
