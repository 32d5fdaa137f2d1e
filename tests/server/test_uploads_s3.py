"""The upload path with S3 (moto's server over real HTTP): the browser's presigned PUTs go
straight to the bucket, the job reads the video from it and writes its outputs back."""

from __future__ import annotations

import aiohttp
import pytest

from tests.server.conftest import sign_up, wait_for_job
from tests.server.test_uploads import comparable, upload_multipart, upload_single


@pytest.mark.parametrize("upload", [upload_single, upload_multipart])
async def test_clip_through_s3_gives_the_cli_report(
    s3_client, moto_endpoint, clip, cli_report, upload
):
    alice = await sign_up(s3_client, "alice@example.com")
    data = clip.video.read_bytes()
    ticket = await upload(alice, data, court=clip.corners)
    assert ticket.get("upload_url", ticket.get("parts", [{}])[0].get("url")).startswith(
        moto_endpoint
    )
    confirm = await alice.call("POST", f"/api/v1/upload/confirm/{ticket['job_id']}")
    assert confirm.status == 202, await confirm.text()
    job = await wait_for_job(alice, ticket["job_id"])
    assert job["status"] == "done", job
    assert job["storage_type"] == "s3"
    report = await (await alice.call("GET", f"/api/v1/jobs/{job['id']}/report")).json()
    assert comparable(report) == comparable(cli_report)

    async with aiohttp.ClientSession() as http:
        async with http.get(job["outputs"]["heatmap_far"]) as response:
            assert response.status == 200
            assert (await response.read()).startswith(b"\x89PNG")
    assert (await alice.call("DELETE", f"/api/v1/jobs/{job['id']}")).status == 204
    async with aiohttp.ClientSession() as http:
        async with http.get(job["outputs"]["report"]) as response:
            assert response.status == 404
        async with http.get(job["outputs"]["video"]) as response:
            assert response.status == 404
