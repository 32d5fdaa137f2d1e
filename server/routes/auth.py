"""/auth: register, sign in, sign out, who am I."""

from __future__ import annotations

from aiohttp import web

from server.accounts import Credentials
from server.context import ACCOUNTS, bearer_token, current_user, json_body, user_json
from server.login_limits import TooManyFailures

routes = web.RouteTableDef()


@routes.post("/api/v1/auth/register")
async def register(request: web.Request) -> web.Response:
    accounts = request.app[ACCOUNTS]
    user = await accounts.register(Credentials.parse(await json_body(request)))
    token = await accounts.issue_token(user)
    return web.json_response({"token": token, "user": user_json(user)}, status=201)


@routes.post("/api/v1/auth/login")
async def login(request: web.Request) -> web.Response:
    accounts = request.app[ACCOUNTS]
    credentials = Credentials.parse(await json_body(request))
    try:
        user = await accounts.login(credentials, request.remote)
    except TooManyFailures as exc:
        return web.json_response(
            {"error": exc.message, "detail": exc.detail},
            status=exc.status,
            headers={"Retry-After": str(exc.retry_after)},
        )
    token = await accounts.issue_token(user)
    return web.json_response({"token": token, "user": user_json(user)})


@routes.post("/api/v1/auth/logout")
async def logout(request: web.Request) -> web.Response:
    await current_user(request)
    await request.app[ACCOUNTS].revoke(bearer_token(request))
    return web.Response(status=204)


@routes.get("/api/v1/auth/me")
async def me(request: web.Request) -> web.Response:
    return web.json_response(user_json(await current_user(request)))
