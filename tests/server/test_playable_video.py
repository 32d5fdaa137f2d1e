"""Videos browsers cannot play (MPEG-4 Part 2, HEVC) get an H.264 copy that the report plays,
made by the job and stored with its outputs (local store and S3); the original stays
downloadable, H.264 uploads get no copy, and deleting the job deletes the copy."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from analysis.playable import is_browser_playable, pixel_format
from analysis.video import probe
from server.context import JOBS
from storage import LocalStorage
from tests.server.conftest import SignedIn, sign_up, wait_for_job
from tests.server.test_uploads import upload_multipart, upload_single

# The outer doubles corners of the Denmark Open 2019 camera (homography_matrix.csv, id 29).
DENMARK_COURT = {
    "far_left": [448.0, 256.6],
    "far_right": [818.2, 256.2],
    "near_right": [981.2, 646.4],
    "near_left": [278.8, 649.0],
}
# The All England camera's, read off its first frame.
ALL_ENGLAND_COURT = {
    "far_left": [400, 380],
    "far_right": [877, 380],
    "near_right": [1006, 668],
    "near_left": [272, 668],
}
# A side view of one player: any court inside the 1920x1080 picture will do.
PHONE_COURT = {
    "far_left": [700, 400],
    "far_right": [1220, 400],
    "near_right": [1700, 1000],
    "near_left": [220, 1000],
}


@pytest.fixture(scope="session")
def mpeg4_clip(shared_data) -> Path:
    """A real rally in MPEG-4 Part 2 (1280x720, 25 fps, 172 frames), which Chromium cannot
    play."""
    return shared_data / "shuttleset_denmark2019" / "1_01_01.mp4"


async def analysed_upload(user: SignedIn, video: Path, court: dict, upload=upload_single) -> dict:
    ticket = await upload(user, video.read_bytes(), court=court)
    confirm = await user.call("POST", f"/api/v1/upload/confirm/{ticket['job_id']}")
    assert confirm.status == 202, await confirm.text()
    job = await wait_for_job(user, ticket["job_id"])
    assert job["status"] == "done", job
    return job


async def download(url: str, path: Path) -> aiohttp.ClientResponse:
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as response:
            path.write_bytes(await response.read())
            return response


def top_level_boxes(path: Path) -> list[str]:
    """The MP4's top-level box types in file order."""
    data, boxes, offset = path.read_bytes(), [], 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        boxes.append(kind.decode("latin-1"))
        if size == 1:
            size = struct.unpack(">Q", data[offset + 8 : offset + 16])[0]
        offset += size if size else len(data)
    return boxes


async def check_playable_copy(job: dict, original: Path, tmp_path: Path, size: tuple[int, int]):
    """The job's copy is downloadable, H.264 4:2:0 of `size`, streams (index first) and holds
    the original's frames over the original's duration."""
    copy = tmp_path / "playable.mp4"
    response = await download(job["outputs"]["playable_video"], copy)
    assert response.status == 200
    assert response.content_type == "video/mp4"
    source, made = probe(original), probe(copy)
    assert not is_browser_playable(source)
    assert made.codec == "h264" and pixel_format(made.path) == "yuv420p"
    assert is_browser_playable(made)
    assert (made.width, made.height) == size
    assert made.frames == source.frames
    assert made.duration == pytest.approx(source.duration, abs=0.05)
    boxes = top_level_boxes(copy)
    assert boxes.index("moov") < boxes.index("mdat"), boxes  # plays before it has all arrived


async def check_original_downloadable(job: dict, original: Path, tmp_path: Path) -> None:
    saved = tmp_path / "original"
    response = await download(job["outputs"]["video_download"], saved)
    assert response.status == 200
    assert saved.read_bytes() == original.read_bytes()
    assert "attachment" in response.headers["Content-Disposition"]
    assert "match.mp4" in response.headers["Content-Disposition"]


async def test_mpeg4_upload_gets_a_playable_copy(client, alice, mpeg4_clip, tmp_path, settings):
    job = await analysed_upload(alice, mpeg4_clip, DENMARK_COURT)
    assert job["summary"]["total_shots"] > 0
    await check_playable_copy(job, mpeg4_clip, tmp_path, (1280, 720))
    await check_original_downloadable(job, mpeg4_clip, tmp_path)
    assert list(settings.work_dir.iterdir()) == []
    [stored] = (settings.data_dir / "files").rglob("playable.mp4")
    made = stored.stat()

    # A corrected court analyses the video again and keeps the copy it has.
    court = {**DENMARK_COURT, "near_left": [280.0, 649.0]}
    again = await alice.call("POST", f"/api/v1/jobs/{job['id']}/court", json={"court": court})
    assert again.status == 202, await again.text()
    redone = await wait_for_job(alice, job["id"])
    assert redone["status"] == "done", redone
    await check_playable_copy(redone, mpeg4_clip, tmp_path, (1280, 720))
    assert (stored.stat().st_ino, stored.stat().st_mtime_ns) == (made.st_ino, made.st_mtime_ns)

    assert (await alice.call("DELETE", f"/api/v1/jobs/{job['id']}")).status == 204
    response = await download(redone["outputs"]["playable_video"], tmp_path / "gone")
    assert response.status == 404
    assert not list((settings.data_dir / "files").rglob("playable.mp4"))


async def test_job_deleted_while_its_copy_is_stored_leaves_nothing(
    client, alice, mpeg4_clip, settings, monkeypatch
):
    """A deletion that lands after the analysis, while the outputs go to storage, must not
    leave the copy (the biggest of them) behind."""
    job: dict[str, str] = {}
    deletions: list[int] = []
    put_file = LocalStorage.put_file

    async def delete_first(self, key, path, content_type=None):
        if key.endswith("/playable.mp4") and not deletions:
            response = await alice.call("DELETE", f"/api/v1/jobs/{job['id']}")
            deletions.append(response.status)
        return await put_file(self, key, path, content_type)

    monkeypatch.setattr(LocalStorage, "put_file", delete_first)
    ticket = await upload_single(alice, mpeg4_clip.read_bytes(), court=DENMARK_COURT)
    job["id"] = ticket["job_id"]
    confirm = await alice.call("POST", f"/api/v1/upload/confirm/{job['id']}")
    assert confirm.status == 202, await confirm.text()
    await client.app[JOBS].wait_idle()

    assert deletions == [204]
    assert (await alice.call("GET", f"/api/v1/jobs/{job['id']}")).status == 404
    objects = settings.data_dir / "files" / "objects"
    assert [p for p in objects.rglob("*") if p.is_file()] == []


def test_worker_makes_the_copy_after_the_analysis(shared_data, tmp_path):
    """The copy is a step of the job's process, and its progress runs on to the end."""
    video = shared_data / "tracknet_allengland" / "1_03_04.mp4"
    out = tmp_path / "out"
    command = [sys.executable, "-m", "server.job_worker", str(video)]
    command += [json.dumps(ALL_ENGLAND_COURT), str(out), "15"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    messages = [json.loads(line) for line in result.stdout.splitlines()]
    progress = [m["progress"] for m in messages if "progress" in m]
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert messages[-1]["done"] and messages[-1]["playable"] == "playable.mp4"
    assert probe(out / "playable.mp4").frames == probe(video).frames
    assert (out / "report.json").exists()


async def test_hevc_1080p_upload_gets_a_720p_copy(client, alice, shared_data, tmp_path):
    video = shared_data / "phone_smash_sideview" / "3.mp4"
    assert probe(video).codec == "hevc"
    job = await analysed_upload(alice, video, PHONE_COURT)
    await check_playable_copy(job, video, tmp_path, (1280, 720))


async def test_h264_upload_gets_no_copy(client, alice, clip, settings):
    assert probe(clip.video).codec == "h264"
    job = await analysed_upload(alice, clip.video, clip.corners)
    assert "playable_video" not in job["outputs"]
    assert job["outputs"]["video"]
    assert not list((settings.data_dir / "files").rglob("playable.mp4"))


async def test_playable_copy_through_s3(s3_client, moto_endpoint, mpeg4_clip, clip, tmp_path):
    alice = await sign_up(s3_client, "alice@example.com")
    job = await analysed_upload(alice, mpeg4_clip, DENMARK_COURT, upload_multipart)
    assert job["storage_type"] == "s3"
    assert job["outputs"]["playable_video"].startswith(moto_endpoint)
    await check_playable_copy(job, mpeg4_clip, tmp_path, (1280, 720))
    await check_original_downloadable(job, mpeg4_clip, tmp_path)

    h264 = await analysed_upload(alice, clip.video, clip.corners)
    assert "playable_video" not in h264["outputs"]

    assert (await alice.call("DELETE", f"/api/v1/jobs/{job['id']}")).status == 204
    response = await download(job["outputs"]["playable_video"], tmp_path / "gone")
    assert response.status == 404
