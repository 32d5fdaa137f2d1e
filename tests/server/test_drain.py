"""SIGTERM on a real `badminton serve` with a phone streaming: the node takes no new live
session (503, Retry-After), says it is not ready, lets the running session finish (or ends it
properly at DRAIN_TIMEOUT_S), puts a job it was running back in the queue, and exits 0; the
jobs are all there after the restart."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from pathlib import Path

import aiohttp

from tests.server.conftest import SignedIn, sign_up
from tests.server.live_client import ClipTrack, LiveClient
from tests.server.server_process import started
from tests.server.test_live import FPS, connect, create_session
from tests.server.test_uploads import upload_single

INTERRUPTED = "the server stopped while the analysis ran"


async def exited(server: subprocess.Popen, log_path: Path, timeout: float = 120) -> int:
    for _ in range(int(timeout / 0.2)):
        if server.poll() is not None:
            return server.returncode
        await asyncio.sleep(0.2)
    server.kill()
    raise AssertionError(f"the server did not exit:\n{log_path.read_text()}")


async def until_not_ready(http: aiohttp.ClientSession) -> dict:
    for _ in range(100):
        async with http.get("/api/v1/ready") as response:
            if response.status == 503:
                return await response.json()
        await asyncio.sleep(0.1)
    raise AssertionError("still ready after SIGTERM")


async def queued_job(alice: SignedIn, clip, video: Path | None = None) -> str:
    data = (video or clip.video).read_bytes()
    ticket = await upload_single(alice, data, court=clip.corners)
    confirm = await alice.call("POST", f"/api/v1/upload/confirm/{ticket['job_id']}")
    assert confirm.status == 202, await confirm.text()
    return ticket["job_id"]


def looped(video: Path, times: int, out: Path) -> Path:
    """The video played `times` times over, in one file (streams copied, not re-encoded)."""
    subprocess.run(
        ["ffmpeg", "-v", "error", "-stream_loop", str(times - 1), "-i", str(video)]
        + ["-c", "copy", "-y", str(out)],
        check=True,
    )
    return out


async def job_after_restart(folder: Path, token: str, job_id: str) -> dict:
    server, port, log_path = await started(folder, {"JOB_WORKERS": "0"})
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            headers = {"Authorization": f"Bearer {token}"}
            async with http.get(f"/api/v1/jobs/{job_id}", headers=headers) as response:
                assert response.status == 200
                return await response.json()
    finally:
        server.send_signal(signal.SIGINT)
        await exited(server, log_path)


async def test_sigterm_lets_the_live_session_finish_and_keeps_the_queue(tmp_path, clip):
    env = {"JOB_WORKERS": "0", "DRAIN_TIMEOUT_S": "300"}
    server, port, log_path = await started(tmp_path, env)
    publisher = LiveClient(ClipTrack(clip.video, FPS, loop=True))
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            alice = await sign_up(http, "alice@example.com")
            job_id = await queued_job(alice, clip)
            session_id = await create_session(alice, clip)
            await connect(alice, f"/api/v1/stream/{session_id}/offer", publisher)

            server.send_signal(signal.SIGTERM)
            not_ready = await until_not_ready(http)
            assert not_ready["detail"]["draining"] is True
            assert not_ready["error"] == "not ready: draining"

            # A new session is refused with a clear reason and when to ask again.
            other = await sign_up(http, "bob@example.com")
            created = await other.call("POST", "/api/v1/stream/create", json={"quality": "high"})
            new_id = (await created.json())["id"]
            court = {"court": clip.corners, "frame_size": [1280, 720]}
            await other.call("POST", f"/api/v1/stream/{new_id}/setup-court", json=court)
            refused = await other.call("POST", f"/api/v1/stream/{new_id}/start")
            assert refused.status == 503
            assert "shutting down" in (await refused.json())["error"]
            assert int(refused.headers["Retry-After"]) > 0

            # The running session goes on until its owner ends it.
            await asyncio.sleep(3.0)
            assert server.poll() is None
            status = await (await alice.call("GET", f"/api/v1/stream/{session_id}/status")).json()
            assert status["status"] == "streaming" and status["live"]["fps"]["analysed"] > 0
            ended = await alice.call("POST", f"/api/v1/stream/{session_id}/end")
            assert ended.status == 200
            assert (await ended.json())["summary"]["total_shots"] >= 0
        assert await exited(server, log_path) == 0, log_path.read_text()
    finally:
        await publisher.close()
        if server.poll() is None:
            server.kill()
    assert "drained" in log_path.read_text()
    job = await job_after_restart(tmp_path, alice.token, job_id)
    assert job["status"] == "queued"


async def test_at_the_drain_timeout_sessions_end_and_running_jobs_go_back(tmp_path, clip):
    env = {"JOB_WORKERS": "1", "DRAIN_TIMEOUT_S": "2"}
    server, port, log_path = await started(tmp_path, env)
    publisher = LiveClient(ClipTrack(clip.video, FPS, loop=True))
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            alice = await sign_up(http, "alice@example.com")
            # A job far longer than the drain timeout on any machine.
            job_id = await queued_job(alice, clip, looped(clip.video, 8, tmp_path / "long.mp4"))
            session_id = await create_session(alice, clip)
            await connect(alice, f"/api/v1/stream/{session_id}/offer", publisher)
            for _ in range(600):
                job = await (await alice.call("GET", f"/api/v1/jobs/{job_id}")).json()
                if job["status"] != "queued":
                    break
                await asyncio.sleep(0.1)
            assert job["status"] == "running", job
            await asyncio.sleep(1.0)  # some frames analysed
            server.send_signal(signal.SIGTERM)
            assert await exited(server, log_path) == 0, log_path.read_text()
    finally:
        await publisher.close()
        if server.poll() is None:
            server.kill()
    log = log_path.read_text()
    assert "drain timeout: ending 1 live sessions" in log
    assert f"job {job_id}: queued again" in log
    job = await job_after_restart(tmp_path, alice.token, job_id)
    assert job["status"] == "queued" and job["error"] == INTERRUPTED, job
    # The session was ended properly at the stop: its report is stored.
    server, port, log_path = await started(tmp_path, {"JOB_WORKERS": "0"})
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            headers = {"Authorization": f"Bearer {alice.token}"}
            async with http.get(f"/api/v1/stream/{session_id}/report", headers=headers) as r:
                assert r.status == 200, await r.text()
                assert "summary" in await r.json()
    finally:
        server.send_signal(signal.SIGINT)
        await exited(server, log_path)
