"""Share links to a finished report over HTTP: the owner makes one, anyone holding it opens
the report, its video and heatmaps without an account; a revoked or expired link stops
working; nobody can make one for another user's job; each report has a cap of usable links."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import datetime

import aiohttp
import pytest

from server.config import ConfigError, Settings
from server.context import SHARES
from server.share_tokens import sign_share_token
from tests.server.conftest import SignedIn, wait_for_job
from tests.server.test_uploads import put_bytes, request_upload

WEEK_S = 7 * 24 * 3600


@pytest.fixture
def settings(settings):
    return replace(settings, max_share_links=3)


async def analysed_job(user: SignedIn, clip, filename: str = "match.mp4") -> dict:
    """The clip uploaded as `filename` and analysed."""
    data = clip.video.read_bytes()
    ticket = await request_upload(user, data, court=clip.corners, filename=filename)
    put = await put_bytes(ticket["upload_url"], data, ticket["headers"]["Content-Type"])
    assert put.status == 200
    confirm = await user.call("POST", f"/api/v1/upload/confirm/{ticket['job_id']}")
    assert confirm.status == 202, await confirm.text()
    job = await wait_for_job(user, ticket["job_id"])
    assert job["status"] == "done", job
    return job


async def anonymous_get(url: str) -> tuple[int, str, bytes, dict]:
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as response:
            return response.status, response.content_type, await response.read(), response.headers


async def test_share_link_lifecycle(client, alice, bob, clip):
    job = await analysed_job(alice, clip)
    shares_path = f"/api/v1/jobs/{job['id']}/shares"
    report = await (await alice.call("GET", f"/api/v1/jobs/{job['id']}/report")).json()

    # Nobody but the owner makes, lists or revokes links of a job.
    assert (await bob.call("POST", shares_path, json={})).status == 404
    assert (await bob.call("GET", shares_path)).status == 404
    assert (await client.post(shares_path, json={})).status == 401

    made = await alice.call("POST", shares_path, json={})
    assert made.status == 201, await made.text()
    link = await made.json()
    origin = str(client.make_url("/")).rstrip("/")
    assert link["url"] == f"{origin}/static/shared.html#{link['token']}"
    expires = datetime.fromisoformat(link["expires_at"].replace("Z", "+00:00")).timestamp()
    assert abs(expires - (time.time() + WEEK_S)) < 60
    assert (await bob.call("DELETE", f"{shares_path}/{link['id']}")).status == 404

    # Opened without an account: the report, its video and heatmaps.
    shared_url = client.make_url("/api/v1/shared/report").with_query(token=link["token"])
    status, _, body, _ = await anonymous_get(str(shared_url))
    assert status == 200, body
    shared = json.loads(body)
    assert shared["kind"] == "job" and shared["title"] == "match.mp4"
    assert shared["report"] == report
    assert (await anonymous_get(shared["outputs"]["video"]))[2] == clip.video.read_bytes()
    for side in ("near", "far"):
        assert (await anonymous_get(shared["outputs"][f"heatmap_{side}"]))[2][:4] == b"\x89PNG"
    csv_url = client.make_url("/api/v1/shared/shots.csv").with_query(token=link["token"])
    status, content_type, body, _ = await anonymous_get(str(csv_url))
    assert (status, content_type) == (200, "text/csv")
    assert len(body.decode().splitlines()) == len(report["shots"]) + 1

    # Forged and malformed tokens open nothing.
    share_id, expiry, signature = link["token"].split(".")
    for forged in (
        f"{share_id}.{int(expiry) + 3600}.{signature}",
        f"{share_id}.{expiry}.{signature[:-2]}xx",
        "garbage",
        f"{'0' * 32}.{expiry}.{signature}",
    ):
        response = await client.get("/api/v1/shared/report", params={"token": forged})
        assert response.status == 404, forged
    assert (await client.get("/api/v1/shared/report")).status == 400

    # A properly signed token whose time is up.
    key = client.app[SHARES].key
    expired = sign_share_token(key, share_id, "job", job["id"], int(time.time()) - 5)
    response = await client.get("/api/v1/shared/report", params={"token": expired})
    assert response.status == 410 and "expired" in (await response.json())["error"]

    listed = await (await alice.call("GET", shares_path)).json()
    assert [s["id"] for s in listed["shares"]] == [link["id"]]
    assert listed["shares"][0]["url"] == link["url"]

    # Revoked: the link stops at once, page data and CSV alike.
    assert (await alice.call("DELETE", f"{shares_path}/{link['id']}")).status == 204
    for path in ("/api/v1/shared/report", "/api/v1/shared/shots.csv"):
        response = await client.get(path, params={"token": link["token"]})
        assert response.status == 410, path
        assert "revoked" in (await response.json())["error"]
    assert (await (await alice.call("GET", shares_path)).json())["shares"] == []

    # The cap counts usable links only; a shorter life may be asked for.
    tokens = []
    for _ in range(3):
        response = await alice.call("POST", shares_path, json={"ttl_s": 120})
        assert response.status == 201
        made = await response.json()
        left = datetime.fromisoformat(made["expires_at"].replace("Z", "+00:00")).timestamp()
        assert abs(left - (time.time() + 120)) < 10
        tokens.append(made)
    over = await alice.call("POST", shares_path, json={})
    assert over.status == 409 and "revoke one" in (await over.json())["error"]
    assert (await alice.call("DELETE", f"{shares_path}/{tokens[0]['id']}")).status == 204
    assert (await alice.call("POST", shares_path, json={})).status == 201
    for ttl in (5, WEEK_S + 1, "600", True, 60.5):
        response = await alice.call("POST", shares_path, json={"ttl_s": ttl})
        assert response.status == 400, ttl

    # A deleted job's links open nothing.
    assert (await alice.call("DELETE", f"/api/v1/jobs/{job['id']}")).status == 204
    response = await client.get("/api/v1/shared/report", params={"token": tokens[1]["token"]})
    assert response.status == 404


async def test_only_a_finished_report_is_shared(client, alice):
    ticket = await alice.call(
        "POST",
        "/api/v1/upload/request",
        json={"filename": "m.mp4", "content_type": "video/mp4", "size": 10},
    )
    job_id = (await ticket.json())["job_id"]
    response = await alice.call("POST", f"/api/v1/jobs/{job_id}/shares", json={})
    assert response.status == 409 and "not ready" in (await response.json())["error"]
    response = await alice.call("GET", f"/api/v1/jobs/{job_id}/shots.csv")
    assert response.status == 409


@pytest.mark.parametrize(
    ("env", "field", "value"),
    [
        ({"SHARE_LINK_TTL_S": "3600"}, "share_link_ttl_s", 3600),
        ({"MAX_SHARE_LINKS": "5"}, "max_share_links", 5),
        ({}, "share_link_ttl_s", WEEK_S),
        ({}, "max_share_links", 20),
    ],
)
def test_share_settings(env, field, value):
    assert getattr(Settings.from_env(env), field) == value


@pytest.mark.parametrize(
    "env", [{"SHARE_LINK_TTL_S": "59"}, {"MAX_SHARE_LINKS": "0"}, {"MAX_SHARE_LINKS": "x"}]
)
def test_unusable_share_settings_are_refused(env):
    with pytest.raises(ConfigError):
        Settings.from_env(env)
