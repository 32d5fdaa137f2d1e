"""/metrics over HTTP, read as Prometheus reads it: behind its token, requests counted by
route pattern, jobs by state from the database, job durations, the live sessions' rate,
latency and pose budget, storage errors; and nothing that names a user."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace

from prometheus_client.parser import text_string_to_metric_families

from server.app import create_app
from tests.server.conftest import sign_up, wait_for_job
from tests.server.live_client import ClipTrack, LiveClient
from tests.server.tcp_switch import TcpSwitch
from tests.server.test_live import FPS, connect, create_session
from tests.server.test_uploads import COURT, request_upload, upload_single

TOKEN = "metrics-secret-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def scrape(client) -> tuple[str, dict]:
    """The text and every sample as {(name, sorted labels): value}."""
    response = await client.get("/metrics", headers=AUTH)
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith("text/plain")
    text = await response.text()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    return text, samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def make(aiohttp_client, settings, **overrides):
    return await aiohttp_client(create_app(replace(settings, metrics_token=TOKEN, **overrides)))


async def test_metrics_are_off_without_a_token_and_closed_to_others(
    client, aiohttp_client, settings
):
    off = await client.get("/metrics", headers=AUTH)
    assert off.status == 404
    assert "METRICS_TOKEN" in (await off.json())["error"]
    on = await make(aiohttp_client, settings)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        response = await on.get("/metrics", headers=headers)
        assert response.status == 401
        assert "error" in await response.json()


async def test_requests_are_counted_by_route_pattern_without_user_data(aiohttp_client, settings):
    client = await make(aiohttp_client, settings)
    alice = await sign_up(client, "alice@example.com")
    _, before = await scrape(client)
    job_id = uuid.uuid4().hex
    for _ in range(3):
        assert (await alice.call("GET", f"/api/v1/jobs/{job_id}")).status == 404
    assert (await client.get("/api/v1/view/some-viewer-token")).status in (403, 404)
    assert (await client.get("/no/such/page")).status == 404
    text, after = await scrape(client)
    route = {"method": "GET", "route": "/api/v1/jobs/{job_id}", "status": "404"}
    assert (
        value(after, "badminton_http_requests_total", **route)
        - value(before, "badminton_http_requests_total", **route)
        == 3
    )
    timed = {"method": "GET", "route": "/api/v1/jobs/{job_id}"}
    assert value(after, "badminton_http_request_duration_seconds_count", **timed) >= 3
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert value(after, "badminton_http_requests_total", **unmatched) >= 1
    for private in (job_id, "some-viewer-token", "alice", alice.id, alice.token, "/no/such"):
        assert private not in text


async def test_queue_depth_and_wait_come_from_the_database(aiohttp_client, settings, clip):
    client = await make(aiohttp_client, settings, job_workers=0)  # nobody takes the job
    alice = await sign_up(client, "alice@example.com")
    ticket = await upload_single(alice, clip.video.read_bytes(), court=clip.corners)
    _, samples = await scrape(client)
    assert value(samples, "badminton_jobs", state="uploading") == 1
    assert value(samples, "badminton_job_queue_depth") == 0
    confirm = await alice.call("POST", f"/api/v1/upload/confirm/{ticket['job_id']}")
    assert confirm.status == 202
    await asyncio.sleep(1.1)
    _, samples = await scrape(client)
    assert value(samples, "badminton_jobs", state="queued") == 1
    assert value(samples, "badminton_jobs", state="uploading") == 0
    assert value(samples, "badminton_job_queue_depth") == 1
    assert value(samples, "badminton_job_queue_oldest_seconds") >= 1.0


async def test_a_finished_job_is_counted_and_timed(aiohttp_client, settings, clip):
    client = await make(aiohttp_client, settings)
    alice = await sign_up(client, "alice@example.com")
    _, before = await scrape(client)
    ticket = await upload_single(alice, clip.video.read_bytes(), court=clip.corners)
    assert (await alice.call("POST", f"/api/v1/upload/confirm/{ticket['job_id']}")).status == 202
    job = await wait_for_job(alice, ticket["job_id"])
    assert job["status"] == "done", job
    _, after = await scrape(client)
    assert value(after, "badminton_jobs", state="done") == 1
    assert value(after, "badminton_job_queue_depth") == 0
    count = "badminton_job_duration_seconds_count"
    assert value(after, count, outcome="done") - value(before, count, outcome="done") == 1
    total = "badminton_job_duration_seconds_sum"
    assert value(after, total, outcome="done") > value(before, total, outcome="done")


async def test_live_session_rate_latency_and_pose_budget(aiohttp_client, settings, clip):
    client = await make(aiohttp_client, settings, live_pose_budget=40.0)
    alice = await sign_up(client, "alice@example.com")
    _, before = await scrape(client)
    assert value(before, "badminton_live_sessions") == 0
    assert value(before, "badminton_live_pose_budget_use") == 0
    session_id = await create_session(alice, clip)
    publisher = LiveClient(ClipTrack(clip.video, FPS))
    await connect(alice, f"/api/v1/stream/{session_id}/offer", publisher)
    await asyncio.sleep(3.0)  # frames analysed, and one status interval with the phone on
    _, during = await scrape(client)
    assert value(during, "badminton_live_sessions") == 1
    assert value(during, "badminton_live_session_limit") == settings.live_session_limit
    # One High session: 2 players at 15 poses a second of a budget of 40.
    assert value(during, "badminton_live_pose_budget_use") == 0.75
    frames = "badminton_live_frames_analysed_total"
    assert value(during, frames) > value(before, frames)
    latency = "badminton_live_latency_seconds_count"
    assert value(during, latency) - value(before, latency) == value(during, frames) - value(
        before, frames
    )
    fps = "badminton_live_analysed_fps_count"
    assert value(during, fps) > value(before, fps)
    await asyncio.wait_for(publisher.track.done.wait(), 60)
    assert (await alice.call("POST", f"/api/v1/stream/{session_id}/end")).status == 200
    await publisher.close()
    _, after = await scrape(client)
    assert value(after, "badminton_live_sessions") == 0
    assert value(after, "badminton_live_pose_budget_use") == 0


async def test_storage_errors_are_counted(aiohttp_client, settings, moto_endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    switch = TcpSwitch(int(moto_endpoint.rsplit(":", 1)[1]))
    await switch.start()
    try:
        client = await make(
            aiohttp_client,
            settings,
            s3_bucket=f"matches-{uuid.uuid4().hex[:12]}",
            s3_endpoint_url=switch.endpoint,
            aws_region="eu-west-1",
        )
        alice = await sign_up(client, "alice@example.com")
        ticket = await request_upload(alice, b"\x00" * 1000, court=COURT)  # signed, not sent
        _, before = await scrape(client)
        switch.switch_off()
        confirm = await alice.call("POST", f"/api/v1/upload/confirm/{ticket['job_id']}")
        assert confirm.status == 503, await confirm.text()
        _, after = await scrape(client)
    finally:
        await switch.close()
    errors = "badminton_storage_errors_total"
    assert value(after, errors, kind="unavailable") > value(before, errors, kind="unavailable")
