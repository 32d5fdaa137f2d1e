"""The end of an upload with S3 (moto's server over real HTTP, reached through a switch that can
cut it off): a late PUT cannot touch the analysed video, a job deleted while S3 is down loses
nothing, and objects of the wrong size or left unconfirmed are removed."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import pytest
from aiobotocore.session import get_session
from sqlmodel import func, select

from server.app import create_app
from server.context import DB
from server.models import StorageCleanup, utcnow
from tests.server.conftest import sign_up, wait_for_job
from tests.server.tcp_switch import TcpSwitch
from tests.server.test_uploads import COURT, put_bytes, request_upload, upload_single

VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(5000)  # looks like MP4, does not decode


@pytest.fixture
async def s3_switch(moto_endpoint):
    switch = TcpSwitch(int(moto_endpoint.rsplit(":", 1)[1]))
    await switch.start()
    yield switch
    await switch.close()


@pytest.fixture
def bucket() -> str:
    return f"matches-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def bucket_s3(moto_endpoint):
    """A client straight to moto, to look at the bucket whatever the switch says."""
    async with get_session().create_client(
        "s3",
        region_name="eu-west-1",
        endpoint_url=moto_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ) as client:
        yield client


@pytest.fixture
def make_client(aiohttp_client, settings, s3_switch, bucket, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")

    async def make(**overrides):
        s3_settings = replace(
            settings,
            s3_bucket=bucket,
            s3_endpoint_url=s3_switch.endpoint,
            aws_region="eu-west-1",
            **overrides,
        )
        return await aiohttp_client(create_app(s3_settings))

    return make


async def keys(s3, bucket: str, prefix: str = "") -> list[str]:
    listed = await s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for item in listed.get("Contents", []))


async def until(condition, timeout: float = 60.0) -> None:
    """Waits for the server's background sweep to bring about `condition`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        assert loop.time() < deadline, "the sweep did not get there"
        await asyncio.sleep(0.2)


async def test_a_late_put_cannot_touch_the_analysed_video(make_client, bucket, bucket_s3):
    client = await make_client(upload_url_ttl_s=5, upload_sweep_s=0.2)
    alice = await sign_up(client, "alice@example.com")
    ticket = await upload_single(alice, VIDEO, court=COURT)
    confirm = await alice.call("POST", f"/api/v1/upload/confirm/{ticket['job_id']}")
    assert confirm.status == 202, await confirm.text()
    job = await wait_for_job(alice, ticket["job_id"], timeout=120)
    assert job["status"] == "failed"  # the analysis ran on the bytes confirmed

    late = b"\x00\x00\x00\x18ftypmp42" + b"\xff" * 5000
    put = await put_bytes(ticket["upload_url"], late, "video/mp4")
    assert put.status == 200  # S3 takes a PUT on a URL still valid...
    video = await bucket_s3.get_object(Bucket=bucket, Key=ticket["file_key"])
    assert await video["Body"].read() == VIDEO  # ...but no URL names the analysed video
    assert ticket["file_key"] not in ticket["upload_url"]

    # What the late PUT made is removed once the URL has expired.
    uploads = f"users/{alice.id}/uploads/"
    await until(lambda: _empty(bucket_s3, bucket, uploads))
    assert await keys(bucket_s3, bucket, f"users/{alice.id}/videos/") == [ticket["file_key"]]


async def test_deleting_a_job_while_s3_is_down_loses_nothing(
    make_client, s3_switch, bucket, bucket_s3
):
    client = await make_client(upload_sweep_s=0.2)
    alice = await sign_up(client, "alice@example.com")
    ticket = await upload_single(alice, VIDEO, court=COURT)
    confirm = await alice.call("POST", f"/api/v1/upload/confirm/{ticket['job_id']}")
    assert confirm.status == 202
    await wait_for_job(alice, ticket["job_id"], timeout=120)
    assert await keys(bucket_s3, bucket) == [ticket["file_key"]]

    s3_switch.switch_off()
    deleted = await alice.call("DELETE", f"/api/v1/jobs/{ticket['job_id']}")
    assert deleted.status == 202, await deleted.text()
    assert (await alice.call("GET", f"/api/v1/jobs/{ticket['job_id']}")).status == 404
    assert await keys(bucket_s3, bucket) == [ticket["file_key"]]  # not yet gone...
    async with client.app[DB].session() as session:  # ...but not forgotten either
        pending = (await session.exec(select(func.count()).select_from(StorageCleanup))).one()
    assert pending > 0

    s3_switch.switch_on()
    await until(lambda: _empty(bucket_s3, bucket, ""))

    async def nothing_due() -> bool:  # left: the checks for late PUTs, due at URL expiry
        async with client.app[DB].session() as session:
            stmt = select(StorageCleanup).where(StorageCleanup.due_at <= utcnow())
            return (await session.exec(stmt)).all() == []

    await until(nothing_due)
    assert (await client.get("/api/v1/health")).status == 200


async def test_an_object_of_the_wrong_size_is_deleted_at_confirm(make_client, bucket, bucket_s3):
    client = await make_client()
    alice = await sign_up(client, "alice@example.com")
    ticket = await request_upload(alice, VIDEO, court=COURT)
    signed = parse_qs(urlsplit(ticket["upload_url"]).query)["X-Amz-SignedHeaders"][0]
    assert "content-length" in signed.split(";")  # S3 itself refuses another length
    bigger = VIDEO + bytes(1_000_000)
    assert (await put_bytes(ticket["upload_url"], bigger, "video/mp4")).status == 200  # moto
    confirm = await alice.call("POST", f"/api/v1/upload/confirm/{ticket['job_id']}")
    assert confirm.status == 400
    body = await confirm.json()
    assert str(len(bigger)) in body["error"] and "discarded" in body["error"]
    assert await keys(bucket_s3, bucket) == []
    job = await (await alice.call("GET", f"/api/v1/jobs/{ticket['job_id']}")).json()
    assert job["status"] == "failed" and "discarded" in job["error"]


async def test_abandoned_uploads_and_their_parts_are_swept(make_client, bucket, bucket_s3):
    client = await make_client(upload_url_ttl_s=3, upload_sweep_s=0.2)
    alice = await sign_up(client, "alice@example.com")
    single = await upload_single(alice, VIDEO)  # never confirmed
    body = {"filename": "long.mp4", "content_type": "video/mp4", "size": 11 * 2**20}
    init = await alice.call("POST", "/api/v1/upload/multipart/init", json=body)
    multipart = await init.json()
    put = await put_bytes(multipart["parts"][0]["url"], bytes(5 * 2**20), None)
    assert put.status == 200  # one part of three, then the client went away

    async def swept() -> bool:
        listed = await bucket_s3.list_multipart_uploads(Bucket=bucket)
        return not listed.get("Uploads") and await _empty(bucket_s3, bucket, "")

    await until(swept)
    for ticket in (single, multipart):
        job = await (await alice.call("GET", f"/api/v1/jobs/{ticket['job_id']}")).json()
        assert job["status"] == "failed" and "expired" in job["error"], job


async def _empty(s3, bucket: str, prefix: str) -> bool:
    return await keys(s3, bucket, prefix) == []
