"""Uploads without a court: the job finds it on the video first, says so in the report, and
fails with the reason when the video shows none (its court can then be marked by hand)."""

from __future__ import annotations

import math

import pytest

from tests.server.conftest import wait_for_job
from tests.server.test_uploads import COURT, upload_single
from tests.videos import courtless_video

pytestmark = pytest.mark.asyncio


async def test_a_job_without_a_court_finds_it(client, alice, clip):
    ticket = await upload_single(alice, clip.video.read_bytes())
    confirm = await alice.call("POST", f"/api/v1/upload/confirm/{ticket['job_id']}")
    assert confirm.status == 202, await confirm.text()

    job = await wait_for_job(alice, ticket["job_id"])
    assert job["status"] == "done", job
    report = await (await alice.call("GET", f"/api/v1/jobs/{job['id']}/report")).json()
    assert report["court"]["source"] == "detected"
    assert 0.0 < report["court"]["confidence"] <= 1.0
    for name, (x, y) in clip.corners.items():
        found = report["court"][name]
        assert math.hypot(found[0] - x, found[1] - y) <= 10.0, (name, found, (x, y))
        # The job keeps the corners it used, for the report page to show and adjust.
        assert job["court"][name] == pytest.approx(found, abs=0.05)
    assert report["summary"]["total_shots"] > 0


async def test_a_video_with_no_court_fails_with_the_reason(client, alice, tmp_path):
    data = courtless_video(tmp_path / "floor.mp4")
    ticket = await upload_single(alice, data)
    confirm = await alice.call("POST", f"/api/v1/upload/confirm/{ticket['job_id']}")
    assert confirm.status == 202, await confirm.text()

    job = await wait_for_job(alice, ticket["job_id"], timeout=120)
    assert job["status"] == "failed", job
    assert job["error"].startswith("no badminton court found: mark the four corners")
    # Its video stays reachable, for the corners to be marked on it.
    outputs = await alice.call("GET", f"/api/v1/jobs/{job['id']}/outputs")
    assert outputs.status == 200, await outputs.text()
    urls = await outputs.json()
    assert set(urls) == {"video", "video_download"}
    async with client.session.get(urls["video"]) as response:
        assert await response.read() == data
    again = await alice.call("POST", f"/api/v1/jobs/{job['id']}/court", json={"court": COURT})
    assert again.status == 202, await again.text()
