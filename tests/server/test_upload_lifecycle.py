"""The end of an upload on the embedded default (SQLite + local storage), over HTTP: once
confirmed, cancelled or deleted an upload URL writes nothing; a URL takes only the bytes
announced; abandoned uploads and half-written files are removed; per-user quotas hold."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import aiohttp

from server.app import create_app
from server.context import STORAGE
from tests.server.conftest import sign_up, wait_for_job
from tests.server.test_uploads import COURT, put_bytes, request_upload, upload_single

VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(5000)  # looks like MP4, does not decode
OTHER = b"\x00\x00\x00\x18ftypmp42" + b"\xff" * 5000  # as long, other bytes


async def stored_keys(client, user) -> list[str]:
    return await client.app[STORAGE].list_keys(f"users/{user.id}")


async def test_a_finished_upload_cannot_be_replaced_or_recreated(client, alice):
    ticket = await upload_single(alice, VIDEO, court=COURT)
    confirm = await alice.call("POST", f"/api/v1/upload/confirm/{ticket['job_id']}")
    assert confirm.status == 202
    job = await wait_for_job(alice, ticket["job_id"], timeout=120)
    assert job["status"] == "failed"  # analysed (it does not decode)

    late = await put_bytes(ticket["upload_url"], OTHER, "video/mp4")
    assert late.status == 409
    assert await client.app[STORAGE].get_bytes(ticket["file_key"]) == VIDEO
    assert await stored_keys(client, alice) == [ticket["file_key"]]

    assert (await alice.call("DELETE", f"/api/v1/jobs/{ticket['job_id']}")).status == 204
    again = await put_bytes(ticket["upload_url"], OTHER, "video/mp4")
    assert again.status == 409
    assert await stored_keys(client, alice) == []


async def test_a_cancelled_or_deleted_upload_takes_no_more_bytes(client, alice):
    cancelled = await request_upload(alice, VIDEO)
    abort = await alice.call(
        "POST", "/api/v1/upload/multipart/abort", json={"job_id": cancelled["job_id"]}
    )
    assert abort.status == 204
    assert (await put_bytes(cancelled["upload_url"], VIDEO, "video/mp4")).status == 409

    deleted = await upload_single(alice, VIDEO)
    assert (await alice.call("DELETE", f"/api/v1/jobs/{deleted['job_id']}")).status == 204
    assert (await put_bytes(deleted["upload_url"], VIDEO, "video/mp4")).status == 409
    assert await stored_keys(client, alice) == []


async def test_an_upload_url_takes_only_the_announced_bytes(client, alice, settings):
    ticket = await request_upload(alice, bytes(1000))
    oversized = await put_bytes(ticket["upload_url"], bytes(150 * 2**20), "video/mp4")
    assert oversized.status == 413

    async def endless():  # no length announced: the server stops reading past 1000 bytes
        for _ in range(150):
            yield bytes(2**20)

    async with aiohttp.ClientSession() as http:
        headers = {"Content-Type": "video/mp4"}
        async with http.put(ticket["upload_url"], data=endless(), headers=headers) as response:
            assert response.status == 413
            assert "1000 bytes" in (await response.json())["error"]
    short = await put_bytes(ticket["upload_url"], bytes(999), "video/mp4")
    assert short.status == 400
    assert await stored_keys(client, alice) == []
    assert list((settings.files_dir / ".tmp").iterdir()) == []
    assert (await put_bytes(ticket["upload_url"], bytes(1000), "video/mp4")).status == 200


async def test_abandoned_uploads_are_swept(aiohttp_client, settings):
    settings = replace(settings, upload_url_ttl_s=2, upload_sweep_s=0.2)
    client = await aiohttp_client(create_app(settings))
    alice = await sign_up(client, "alice@example.com")
    single = await upload_single(alice, VIDEO)  # sent, never confirmed
    body = {"filename": "long.mp4", "content_type": "video/mp4", "size": 11 * 2**20}
    multipart = await (await alice.call("POST", "/api/v1/upload/multipart/init", json=body)).json()
    part = await put_bytes(multipart["parts"][0]["url"], bytes(5 * 2**20), None)
    assert part.status == 200  # one part of three, then the client went away

    for ticket in (single, multipart):
        job = await wait_for_job(alice, ticket["job_id"], timeout=60)
        assert job["status"] == "failed" and "expired" in job["error"], job
    for _ in range(100):  # the bytes go right after the job is failed
        if not await stored_keys(client, alice) and not list_parts(settings):
            break
        await asyncio.sleep(0.1)
    assert await stored_keys(client, alice) == []
    assert list_parts(settings) == []
    confirm = await alice.call("POST", f"/api/v1/upload/confirm/{single['job_id']}")
    assert confirm.status == 409


def list_parts(settings) -> list:
    return list((settings.files_dir / ".multipart").iterdir())


async def test_half_written_files_are_removed_at_start(aiohttp_client, settings):
    first = await aiohttp_client(create_app(settings))
    await first.close()
    killed_put = settings.files_dir / ".tmp" / ".incoming-killed"
    killed_put.write_bytes(bytes(100_000))  # what a PUT cut by kill -9 leaves

    second = await aiohttp_client(create_app(settings))
    assert (await second.get("/api/v1/health")).status == 200
    assert not killed_put.exists()


async def test_uploads_in_flight_per_user_are_limited(aiohttp_client, settings):
    settings = replace(settings, max_uploads_in_flight=2)
    client = await aiohttp_client(create_app(settings))
    alice = await sign_up(client, "alice@example.com")
    bob = await sign_up(client, "bob@example.com")
    body = {"filename": "match.mp4", "content_type": "video/mp4", "size": 1000}
    answers = await asyncio.gather(
        *(alice.call("POST", "/api/v1/upload/request", json=body) for _ in range(4))
    )
    assert sorted(a.status for a in answers) == [201, 201, 429, 429]
    refused = next(a for a in answers if a.status == 429)
    assert "in progress" in (await refused.json())["error"]
    assert (await bob.call("POST", "/api/v1/upload/request", json=body)).status == 201

    # Cancelling one makes room again.
    job_id = (await next(a for a in answers if a.status == 201).json())["job_id"]
    abort = await alice.call("POST", "/api/v1/upload/multipart/abort", json={"job_id": job_id})
    assert abort.status == 204
    assert (await alice.call("POST", "/api/v1/upload/request", json=body)).status == 201


async def test_stored_bytes_per_user_are_limited(aiohttp_client, settings):
    settings = replace(settings, user_quota_bytes=12_000)
    client = await aiohttp_client(create_app(settings))
    alice = await sign_up(client, "alice@example.com")
    kept = await upload_single(alice, VIDEO, court=COURT)
    confirm = await alice.call("POST", f"/api/v1/upload/confirm/{kept['job_id']}")
    assert confirm.status == 202
    await wait_for_job(alice, kept["job_id"], timeout=120)

    body = {"filename": "b.mp4", "content_type": "video/mp4", "size": 7000}
    over = await alice.call("POST", "/api/v1/upload/request", json=body)
    assert over.status == 403
    answer = await over.json()
    assert "quota" in answer["error"] and answer["detail"]["used_bytes"] == len(VIDEO)
    multipart = await alice.call("POST", "/api/v1/upload/multipart/init", json=body)
    assert multipart.status == 403

    assert (await alice.call("DELETE", f"/api/v1/jobs/{kept['job_id']}")).status == 204
    assert (await alice.call("POST", "/api/v1/upload/request", json=body)).status == 201
