"""Uploads and jobs on the embedded default (SQLite + local storage): a real clip sent through
the presigned flow over HTTP ends in the same report as `badminton analyze`; bad uploads,
foreign users and forged URLs get clear errors."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import aiohttp
import pytest

from server.app import create_app
from tests.server.conftest import SignedIn, sign_up, wait_for_job


async def put_bytes(url: str, data: bytes, content_type: str | None) -> aiohttp.ClientResponse:
    headers = {"Content-Type": content_type} if content_type else {}
    async with aiohttp.ClientSession() as http:
        async with http.put(url, data=data, headers=headers) as response:
            await response.read()
            return response


async def request_upload(user: SignedIn, data: bytes, court=None, **overrides) -> dict:
    body = {"filename": "match.mp4", "content_type": "video/mp4", "size": len(data)}
    if court is not None:
        body["court"] = court
    body.update(overrides)
    response = await user.call("POST", "/api/v1/upload/request", json=body)
    assert response.status == 201, await response.text()
    return await response.json()


async def upload_single(user: SignedIn, data: bytes, court=None) -> dict:
    ticket = await request_upload(user, data, court)
    put = await put_bytes(ticket["upload_url"], data, ticket["headers"]["Content-Type"])
    assert put.status == 200
    return ticket


async def upload_multipart(user: SignedIn, data: bytes, court=None) -> dict:
    body = {"filename": "match.mp4", "content_type": "video/mp4", "size": len(data)}
    if court is not None:
        body["court"] = court
    response = await user.call("POST", "/api/v1/upload/multipart/init", json=body)
    assert response.status == 201, await response.text()
    ticket = await response.json()
    size = ticket["part_size"]
    parts = []
    for part in ticket["parts"]:
        n = part["part_number"]
        put = await put_bytes(part["url"], data[(n - 1) * size : n * size], None)
        assert put.status == 200, put.status
        parts.append({"part_number": n, "etag": put.headers["ETag"]})
    done = await user.call(
        "POST",
        "/api/v1/upload/multipart/complete",
        json={"job_id": ticket["job_id"], "parts": parts},
    )
    assert done.status == 200, await done.text()
    return ticket


def comparable(report: dict) -> dict:
    return {k: v for k, v in report.items() if k != "heatmaps"}


async def test_clip_upload_gives_the_cli_report(client, alice, clip, cli_report, settings):
    data = clip.video.read_bytes()
    ticket = await upload_single(alice, data, court=clip.corners)
    confirm = await alice.call("POST", f"/api/v1/upload/confirm/{ticket['job_id']}")
    assert confirm.status == 202, await confirm.text()
    assert (await confirm.json())["status"] == "queued"

    job = await wait_for_job(alice, ticket["job_id"])
    assert job["status"] == "done", job
    assert job["progress"] == 1.0
    assert job["remaining_s"] is None  # only running jobs have an estimate
    assert list(settings.work_dir.iterdir()) == []  # the job's folder went with it
    assert job["summary"] == cli_report["summary"]
    report = await (await alice.call("GET", f"/api/v1/jobs/{job['id']}/report")).json()
    assert comparable(report) == comparable(cli_report)
    assert report["court"]["source"] == "given"

    # The output URLs are signed and work without the bearer token.
    async with aiohttp.ClientSession() as http:
        for name, magic in (("heatmap_near", b"\x89PNG"), ("heatmap_far", b"\x89PNG")):
            async with http.get(job["outputs"][name]) as response:
                assert response.status == 200
                assert (await response.read()).startswith(magic)
        async with http.get(job["outputs"]["video"]) as response:
            assert await response.read() == data

    listed = await (await alice.call("GET", "/api/v1/jobs")).json()
    assert [j["id"] for j in listed["jobs"]] == [job["id"]]

    assert (await alice.call("DELETE", f"/api/v1/jobs/{job['id']}")).status == 204
    assert (await alice.call("GET", f"/api/v1/jobs/{job['id']}")).status == 404
    async with aiohttp.ClientSession() as http:
        async with http.get(job["outputs"]["report"]) as response:
            assert response.status == 404


async def test_multipart_upload_of_a_non_video_fails_cleanly(client, alice):
    data = bytes(range(256)) * (11 * 1024 * 1024 // 256)  # 11 MiB: three parts
    ticket = await upload_multipart(alice, data, court=COURT)
    assert len(ticket["parts"]) == 3
    confirm = await alice.call("POST", f"/api/v1/upload/confirm/{ticket['job_id']}")
    assert confirm.status == 422
    assert "not a video" in (await confirm.json())["error"]
    job = await (await alice.call("GET", f"/api/v1/jobs/{ticket['job_id']}")).json()
    assert job["status"] == "failed" and "not a video" in job["error"]
    assert (await client.get("/api/v1/health")).status == 200


async def test_truncated_video_fails_with_a_reason(client, alice, clip):
    data = clip.video.read_bytes()[:200_000]
    ticket = await upload_single(alice, data, court=clip.corners)
    confirm = await alice.call("POST", f"/api/v1/upload/confirm/{ticket['job_id']}")
    assert confirm.status == 202
    job = await wait_for_job(alice, ticket["job_id"], timeout=120)
    assert job["status"] == "failed"
    assert "match.mp4" in job["error"], job["error"]


COURT = {
    "far_left": [400, 300],
    "far_right": [880, 300],
    "near_right": [1100, 650],
    "near_left": [180, 650],
}


@pytest.mark.parametrize(
    "overrides, status, message",
    [
        ({"content_type": "image/png"}, 400, "video type"),
        ({"size": 0}, 400, "size"),
        ({"size": "12"}, 400, "size"),
        ({"filename": ""}, 400, "filename"),
        ({"size": 200 * 1024 * 1024}, 413, "multipart"),
        ({"court": {"far_left": [0, 0]}}, 400, "court"),
        ({"court": {**COURT, "near_left": [1100, 300]}}, 400, "court"),
    ],
)
async def test_upload_request_rejects_bad_input(client, alice, overrides, status, message):
    body = {"filename": "match.mp4", "content_type": "video/mp4", "size": 1000, **overrides}
    response = await alice.call("POST", "/api/v1/upload/request", json=body)
    assert response.status == status
    assert message in (await response.json())["error"]


async def test_confirm_needs_the_bytes(client, alice):
    data = b"\x00\x00\x00\x18ftypmp42" + bytes(1000)
    ticket = await request_upload(alice, data)
    early = await alice.call(
        "POST", f"/api/v1/upload/confirm/{ticket['job_id']}", json={"court": COURT}
    )
    assert early.status == 400 and "not arrived" in (await early.json())["error"]
    await put_bytes(ticket["upload_url"], data, "video/mp4")
    # No court anywhere is no error: the job looks for it on the video.
    no_court = await alice.call("POST", f"/api/v1/upload/confirm/{ticket['job_id']}")
    assert no_court.status == 202, await no_court.text()
    assert (await no_court.json())["court"] is None
    report = await alice.call("GET", f"/api/v1/jobs/{ticket['job_id']}/report")
    assert report.status == 409


async def test_other_users_cannot_touch_a_job(client, alice, bob):
    data = b"\x00\x00\x00\x18ftypmp42" + bytes(1000)
    ticket = await upload_single(alice, data, court=COURT)
    job_id = ticket["job_id"]
    for method, path in [
        ("GET", f"/api/v1/jobs/{job_id}"),
        ("GET", f"/api/v1/jobs/{job_id}/report"),
        ("GET", f"/api/v1/jobs/{job_id}/outputs"),
        ("DELETE", f"/api/v1/jobs/{job_id}"),
        ("POST", f"/api/v1/upload/confirm/{job_id}"),
    ]:
        response = await bob.call(method, path)
        assert response.status == 404, (method, path, response.status)
    abort = await bob.call("POST", "/api/v1/upload/multipart/abort", json={"job_id": job_id})
    assert abort.status == 404
    assert (await (await bob.call("GET", "/api/v1/jobs")).json())["jobs"] == []
    # Alice's job is untouched.
    job = await (await alice.call("GET", f"/api/v1/jobs/{job_id}")).json()
    assert job["status"] == "uploading"


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


async def test_signed_urls_cannot_be_forged(client, alice, bob):
    data = b"\x00\x00\x00\x18ftypmp42" + bytes(1000)
    ticket = await request_upload(alice, data)
    url = ticket["upload_url"]
    forged = [
        with_query(url, sig="0" * 64),
        with_query(url, expires=str(int(with_query_expiry(url)) + 3600)),
        url.replace(alice.id, bob.id),
        with_query(url, ct="video/webm"),
    ]
    for bad in forged:
        response = await put_bytes(bad, data, "video/mp4")
        assert response.status == 403, bad
    wrong_type = await put_bytes(url, data, "video/webm")
    assert wrong_type.status == 403
    assert (await put_bytes(url, data, "video/mp4")).status == 200


def with_query_expiry(url: str) -> str:
    return dict(parse_qsl(urlsplit(url).query))["expires"]


async def test_expired_upload_url_is_rejected(aiohttp_client, settings):
    client = await aiohttp_client(create_app(replace(settings, upload_url_ttl_s=1)))
    alice = await sign_up(client, "alice@example.com")
    data = b"\x00\x00\x00\x18ftypmp42" + bytes(1000)
    ticket = await request_upload(alice, data)
    import asyncio

    await asyncio.sleep(2.1)
    response = await put_bytes(ticket["upload_url"], data, "video/mp4")
    assert response.status == 403
    async with aiohttp.ClientSession() as http:
        async with http.put(
            ticket["upload_url"], data=data, headers={"Content-Type": "video/mp4"}
        ) as again:
            assert "expired" in (await again.json())["error"]


async def test_court_can_be_corrected_after_the_job(client, alice, bob):
    data = b"\x00\x00\x00\x18ftypmp42" + bytes(5000)  # looks like MP4, does not decode
    ticket = await upload_single(alice, data)
    path = f"/api/v1/jobs/{ticket['job_id']}/court"
    early = await alice.call("POST", path, json={"court": COURT})
    assert early.status == 409  # still uploading
    confirm = await alice.call(
        "POST", f"/api/v1/upload/confirm/{ticket['job_id']}", json={"court": COURT}
    )
    assert confirm.status == 202
    job = await wait_for_job(alice, ticket["job_id"], timeout=120)
    assert job["status"] == "failed" and "match.mp4" in job["error"]

    moved = {**COURT, "far_left": [410, 305]}
    assert (await bob.call("POST", path, json={"court": moved})).status == 404
    bad = await alice.call("POST", path, json={"court": {"far_left": [1, 2]}})
    assert bad.status == 400
    again = await alice.call("POST", path, json={"court": moved})
    assert again.status == 202
    assert (await again.json())["court"]["far_left"] == [410.0, 305.0]
    job = await wait_for_job(alice, ticket["job_id"], timeout=120)
    assert job["status"] == "failed" and job["court"]["far_left"] == [410.0, 305.0]
