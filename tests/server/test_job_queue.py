"""Jobs on the Redis queue (REDIS_URL): API nodes that run no jobs (JOB_WORKERS=0) and
`badminton worker` processes, on PostgreSQL and S3, all real processes on loopback.

An upload through one node is analysed by a worker and reads the same through another node;
a worker killed with kill -9 mid-job hands it to the other worker, which runs it to done;
deleting a running job stops its analysis on the worker that has it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid

import aiohttp
import pytest
from aiobotocore.session import get_session

from server.db import Database
from server.models import Job
from tests.server.conftest import SignedIn, sign_up, wait_for_job
from tests.server.job_cluster import Cluster, alive, children, fresh_database, fresh_redis
from tests.server.server_process import free_port
from tests.server.test_job_restart import wait_until_analysing
from tests.server.test_uploads import comparable, upload_single

OUTPUTS = ["heatmap_far.png", "heatmap_near.png", "report.json"]


@pytest.fixture
async def cluster(tmp_path, postgres_url, redis_url, moto_endpoint):
    env = {
        "DATABASE_URL": await fresh_database(postgres_url),
        "REDIS_URL": await fresh_redis(redis_url),
        "S3_BUCKET": f"jobs-{uuid.uuid4().hex[:12]}",
        "S3_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "eu-west-1",
        "SECRET_KEY": uuid.uuid4().hex,
        "JOB_WORKERS": "0",  # the nodes only queue jobs
        # A dead worker's job is taken up within seconds, not the default's tens of them.
        "JOB_HEARTBEAT_S": "2",
        "LOG_LEVEL": "INFO",
    }
    cluster = Cluster(tmp_path, env)
    try:
        yield cluster
    finally:
        cluster.close()


async def start_job(node: SignedIn, clip) -> str:
    ticket = await upload_single(node, clip.video.read_bytes(), court=clip.corners)
    confirm = await node.call("POST", f"/api/v1/upload/confirm/{ticket['job_id']}")
    assert confirm.status == 202, await confirm.text()
    return ticket["job_id"]


async def stored_keys(env: dict[str, str], prefix: str) -> list[str]:
    session = get_session()
    async with session.create_client(
        "s3",
        endpoint_url=env["S3_ENDPOINT_URL"],
        region_name=env["AWS_REGION"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ) as s3:
        listed = await s3.list_objects_v2(Bucket=env["S3_BUCKET"], Prefix=prefix)
    return sorted(item["Key"] for item in listed.get("Contents", []))


async def job_row(env: dict[str, str], job_id: str) -> Job | None:
    db = Database(env["DATABASE_URL"])
    try:
        async with db.session() as session:
            return await session.get(Job, job_id)
    finally:
        await db.close()


async def analysing_worker(workers: list[subprocess.Popen]) -> tuple[subprocess.Popen, int]:
    """The worker whose analysis process runs, and that process."""
    for _ in range(600):
        for worker in workers:
            if children(worker):
                return worker, children(worker)[0]
        await asyncio.sleep(0.1)
    raise AssertionError("no worker runs an analysis")


async def gone(pid: int) -> None:
    for _ in range(600):
        if not alive(pid):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"process {pid} still runs")


async def test_an_upload_through_one_node_is_analysed_by_a_worker_and_read_through_another(
    cluster, clip, cli_report
):
    url_a = await cluster.node()  # migrates the fresh database first
    url_b = await cluster.node()
    metrics_port = free_port()
    worker = cluster.worker(JOB_WORKERS="1", METRICS_TOKEN="scrape", PORT=str(metrics_port))
    async with aiohttp.ClientSession(url_a) as a, aiohttp.ClientSession(url_b) as b:
        alice = await sign_up(a, "alice@example.com")
        job_id = await start_job(alice, clip)
        alice.client = b
        running = await wait_until_analysing(alice, job_id)  # the worker's progress, on B
        assert running["started_at"] is not None
        job = await wait_for_job(alice, job_id)
        assert job["status"] == "done", (job, cluster.log(worker))
        report = await (await alice.call("GET", f"/api/v1/jobs/{job_id}/report")).json()
    assert comparable(report) == comparable(cli_report)
    assert f"job {job_id}: done" in cluster.log(worker)
    row = await job_row(cluster.env, job_id)
    assert row is not None and row.attempts == 1
    # The worker's own /metrics counts the job it ran, and the cluster's job states.
    async with aiohttp.ClientSession() as http:
        scraped = await http.get(
            f"http://127.0.0.1:{metrics_port}/metrics", headers={"Authorization": "Bearer scrape"}
        )
        assert scraped.status == 200
        text = await scraped.text()
    assert 'badminton_job_duration_seconds_count{outcome="done"} 1.0' in text
    assert 'badminton_jobs{state="done"} 1.0' in text


async def test_a_worker_killed_mid_job_hands_it_to_the_other(cluster, clip, cli_report):
    url = await cluster.node()
    workers = [cluster.worker(JOB_WORKERS="1"), cluster.worker(JOB_WORKERS="1")]
    async with aiohttp.ClientSession(url) as http:
        alice = await sign_up(http, "alice@example.com")
        job_id = await start_job(alice, clip)
        await wait_until_analysing(alice, job_id)
        victim, analysis = await analysing_worker(workers)
        victim.kill()  # kill -9: no chance to hand the job back
        victim.wait(timeout=30)
        await gone(analysis)
        # Its analysis went with it, unfinished, rather than running on for nobody.
        assert list(cluster.work_dir(victim).glob("job-*/out/report.json")) == []
        (survivor,) = [w for w in workers if w is not victim]
        job = await wait_for_job(alice, job_id)
        assert job["status"] == "done", (job, cluster.log(survivor))
        report = await (await alice.call("GET", f"/api/v1/jobs/{job_id}/report")).json()
    assert comparable(report) == comparable(cli_report)
    assert f"job {job_id}: done" in cluster.log(survivor)
    row = await job_row(cluster.env, job_id)
    assert row is not None and row.attempts == 2  # the killed run counts, as a restart's does
    keys = await stored_keys(cluster.env, row.s3_output_prefix + "/")
    assert keys == [f"{row.s3_output_prefix}/{name}" for name in OUTPUTS]


async def test_deleting_a_running_job_stops_it_on_its_worker(cluster, clip):
    url = await cluster.node()
    worker = cluster.worker(JOB_WORKERS="1")
    async with aiohttp.ClientSession(url) as http:
        alice = await sign_up(http, "alice@example.com")
        job_id = await start_job(alice, clip)
        await wait_until_analysing(alice, job_id)
        _, analysis = await analysing_worker([worker])
        row = await job_row(cluster.env, job_id)
        assert row is not None
        assert (await alice.call("DELETE", f"/api/v1/jobs/{job_id}")).status == 204
        await gone(analysis)
        for _ in range(300):  # the worker clears the job's folder after the analysis
            if not list(cluster.work_dir(worker).glob("job-*")):
                break
            await asyncio.sleep(0.1)
        assert list(cluster.work_dir(worker).glob("job-*")) == []
        assert worker.poll() is None  # the worker goes on
        assert (await alice.call("GET", f"/api/v1/jobs/{job_id}")).status == 404
        # The worker takes the next job as usual.
        next_id = await start_job(alice, clip)
        job = await wait_for_job(alice, next_id)
        assert job["status"] == "done", (job, cluster.log(worker))
    assert await job_row(cluster.env, job_id) is None
    assert await stored_keys(cluster.env, row.s3_output_prefix + "/") == []
    assert await stored_keys(cluster.env, row.s3_video_key) == []


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"REDIS_URL": "", "JOB_WORKERS": "1"}, "set REDIS_URL"),
        ({"REDIS_URL": "redis://127.0.0.1:1/0", "JOB_WORKERS": "0"}, "JOB_WORKERS must be"),
        ({"REDIS_URL": "redis://127.0.0.1:1/0", "JOB_HEARTBEAT_S": "0"}, "JOB_HEARTBEAT_S"),
    ],
)
def test_a_worker_refuses_settings_it_cannot_work_with(tmp_path, env, message):
    result = subprocess.run(
        [sys.executable, "-m", "server.cli", "worker"],
        capture_output=True,
        text=True,
        env={**os.environ, "DATA_DIR": str(tmp_path), **env},
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
