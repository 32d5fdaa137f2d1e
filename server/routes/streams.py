"""/stream: live sessions (court, start, WebRTC offer, status, recording, viewer links, end),
/view: what a viewer link opens, and /ice-servers."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server.cluster.routing import on_owner_node
from server.cluster.takeover import continuable
from server.context import SETTINGS, STREAMS, absolute_url, current_user, json_body
from server.live.ice import ice_servers
from server.models import StreamSession, StreamStatus, iso
from server.routes.jobs import csv_response
from server.streams import QUALITY_PRESETS

routes = web.RouteTableDef()


# In a cluster, the calls that need a session's live part run on the node holding it; a start,
# or the phone's offer after its node was lost, first puts the session on a node with room.
def _may_start(session: StreamSession) -> bool:
    return session.status != StreamStatus.ENDED or continuable(session)


def _phone_may_return(session: StreamSession) -> bool:
    return session.status == StreamStatus.STREAMING or continuable(session)


def answer_json(description) -> web.Response:
    return web.json_response({"sdp": description.sdp, "type": description.type})


@routes.get("/api/v1/stream/presets")
async def presets(request: web.Request) -> web.Response:
    return web.json_response({"presets": QUALITY_PRESETS})


@routes.get("/api/v1/ice-servers")
async def get_ice_servers(request: web.Request) -> web.Response:
    user = await current_user(request)
    return web.json_response({"iceServers": ice_servers(request.app[SETTINGS], user.id)})


@routes.get("/api/v1/streams")
async def list_sessions(request: web.Request) -> web.Response:
    streams = request.app[STREAMS]
    sessions = await streams.list(await current_user(request))
    return web.json_response({"sessions": [streams.session_json(s) for s in sessions]})


@routes.post("/api/v1/stream/create")
async def create(request: web.Request) -> web.Response:
    streams = request.app[STREAMS]
    session = await streams.create(await current_user(request), await json_body(request))
    return web.json_response(streams.session_json(session), status=201)


@routes.post("/api/v1/stream/{session_id}/setup-court")
async def setup_court(request: web.Request) -> web.Response:
    streams = request.app[STREAMS]
    user = await current_user(request)
    session = await streams.setup_court(
        user, request.match_info["session_id"], await json_body(request)
    )
    return web.json_response(streams.session_json(session))


@routes.post("/api/v1/stream/{session_id}/start")
@on_owner_node(place=_may_start)
async def start(request: web.Request) -> web.Response:
    streams = request.app[STREAMS]
    session = await streams.start(await current_user(request), request.match_info["session_id"])
    return web.json_response(streams.session_json(session))


@routes.post("/api/v1/stream/{session_id}/offer")
@on_owner_node(place=_phone_may_return)
async def publisher_offer(request: web.Request) -> web.Response:
    user = await current_user(request)
    answer = await request.app[STREAMS].publisher_offer(
        user, request.match_info["session_id"], await json_body(request)
    )
    return answer_json(answer)


@routes.get("/api/v1/stream/{session_id}/status")
async def status(request: web.Request) -> web.Response:
    streams = request.app[STREAMS]
    session = await streams.owned(await current_user(request), request.match_info["session_id"])
    return web.json_response(await streams.status_json(session))


@routes.post("/api/v1/stream/{session_id}/recording/start")
@on_owner_node()
async def recording_start(request: web.Request) -> web.Response:
    streams = request.app[STREAMS]
    user = await current_user(request)
    session = await streams.recording_start(user, request.match_info["session_id"])
    return web.json_response(streams.session_json(session))


@routes.post("/api/v1/stream/{session_id}/recording/stop")
@on_owner_node()
async def recording_stop(request: web.Request) -> web.Response:
    user = await current_user(request)
    result = await request.app[STREAMS].recording_stop(user, request.match_info["session_id"])
    return web.json_response({**result, "url": absolute_url(request, result["url"])})


@routes.post("/api/v1/stream/{session_id}/end")
@on_owner_node()
async def end(request: web.Request) -> web.Response:
    user = await current_user(request)
    report = await request.app[STREAMS].end(user, request.match_info["session_id"])
    return web.json_response(report)


@routes.get("/api/v1/stream/{session_id}/report")
async def report(request: web.Request) -> web.Response:
    """The final report of an ended session (409 before, or when nothing was analysed)."""
    streams = request.app[STREAMS]
    session = await streams.owned(await current_user(request), request.match_info["session_id"])
    return web.json_response(await streams.final_report(session))


@routes.get("/api/v1/stream/{session_id}/shots.csv")
async def shots_csv(request: web.Request) -> web.Response:
    """The final report's shots as CSV, as for an upload."""
    streams = request.app[STREAMS]
    session = await streams.owned(await current_user(request), request.match_info["session_id"])
    return csv_response(await streams.final_report(session), session.name or "Live session")


@routes.get("/api/v1/stream/{session_id}/outputs")
async def outputs(request: web.Request) -> web.Response:
    streams = request.app[STREAMS]
    session = await streams.owned(await current_user(request), request.match_info["session_id"])
    return web.json_response(await outputs_json(request, session))


async def outputs_json(request: web.Request, session: StreamSession) -> dict[str, Any]:
    """Signed URLs of the session's report, heatmaps and recordings; each recording with its
    place in the session's time (`offset_s`: where its first frame is among the shots' times)."""
    streams = request.app[STREAMS]
    storage, ttl = streams.storage, request.app[SETTINGS].download_url_ttl_s

    async def url(key: str | None) -> str | None:
        return None if key is None else absolute_url(request, await storage.download_url(key, ttl))

    return {
        "report": await url(session.report_key),
        "heatmap_near": await url(session.heatmap_near_key),
        "heatmap_far": await url(session.heatmap_far_key),
        "recordings": [
            {**recording, "url": await url(recording["key"])}
            for recording in streams.recordings_json(session)
        ],
    }


@routes.post("/api/v1/stream/{session_id}/viewers")
async def create_viewer_link(request: web.Request) -> web.Response:
    user = await current_user(request)
    session_id = request.match_info["session_id"]
    link, token = await request.app[STREAMS].create_viewer_link(
        user, session_id, await json_body(request)
    )
    url = absolute_url(request, f"/static/viewer.html#{token}")
    return web.json_response(
        {"id": link.id, "url": url, "token": token, "expires_at": iso(link.expires_at)},
        status=201,
    )


@routes.delete("/api/v1/stream/{session_id}/viewers/{link_id}")
@on_owner_node()
async def revoke_viewer_link(request: web.Request) -> web.Response:
    user = await current_user(request)
    await request.app[STREAMS].revoke_viewer_link(
        user, request.match_info["session_id"], request.match_info["link_id"]
    )
    return web.Response(status=204)


@routes.get("/api/v1/view/{token}")
async def view_info(request: web.Request) -> web.Response:
    streams = request.app[STREAMS]
    session, grant = await streams.viewer_session(request.match_info["token"])
    # TURN credentials cannot be revoked: they end with the link at the latest.
    ice = ice_servers(request.app[SETTINGS], f"viewer-{grant.link_id}", grant.expires_at)
    return web.json_response(
        {
            "name": session.name,
            "status": session.status,
            "court": session.court,
            "frame_size": session.frame_size,
            "live": await streams.live_status(session),
            "report_ready": session.report_key is not None,
            "error": session.error,
            "resumable": continuable(session),
            "iceServers": ice,
        }
    )


@routes.get("/api/v1/view/{token}/report")
async def view_report(request: web.Request) -> web.Response:
    """The final report, read-only, for whoever holds a valid viewer link of the session."""
    streams = request.app[STREAMS]
    session, _ = await streams.viewer_session(request.match_info["token"])
    return web.json_response(await streams.final_report(session))


@routes.get("/api/v1/view/{token}/outputs")
async def view_outputs(request: web.Request) -> web.Response:
    session, _ = await request.app[STREAMS].viewer_session(request.match_info["token"])
    return web.json_response(await outputs_json(request, session))


@routes.post("/api/v1/view/{token}/offer")
@on_owner_node()
async def viewer_offer(request: web.Request) -> web.Response:
    answer = await request.app[STREAMS].viewer_offer(
        request.match_info["token"], await json_body(request)
    )
    return answer_json(answer)
