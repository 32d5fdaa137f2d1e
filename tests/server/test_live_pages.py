"""The live pages in headless Chromium with a fake camera playing a real clip: the phone's
capture page marks the court, streams, shows live results, records, shares a viewer link and
ends with the report; a coach's browser opens the link and gets the video and the results."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess

import aiohttp
import pytest

from analysis.video import iter_frames, probe
from server.app import create_app
from tests.conftest import require
from tests.server.test_pages import (
    CHROMIUM,
    CHROMIUM_ARGS,
    CORNERS,
    phone_signed_up,
    wait_for,
    watch_errors,
)


@pytest.fixture(scope="module")
def camera_clip(clip, tmp_path_factory):
    """The clip as the raw .y4m Chromium's fake camera plays (10 fps, looped)."""
    ffmpeg = shutil.which("ffmpeg")
    require(ffmpeg is not None, "ffmpeg (Debian package ffmpeg)")
    path = tmp_path_factory.mktemp("camera") / "clip.y4m"
    subprocess.run(
        [
            ffmpeg,
            "-loglevel",
            "error",
            "-i",
            str(clip.video),
            "-r",
            "10",
            "-pix_fmt",
            "yuv420p",
            str(path),
        ],
        check=True,
    )
    return path


@pytest.fixture
async def camera_browser(camera_clip):
    require(CHROMIUM.exists(), "the system chromium (Debian package chromium)")
    from playwright.async_api import async_playwright

    args = [
        *CHROMIUM_ARGS,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={camera_clip}",
    ]
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=args)
        yield browser
        await browser.close()


async def number(page, selector: str) -> float:
    """The first number shown in an element."""
    found = re.search(r"\d+(?:\.\d+)?", (await page.text_content(selector)) or "")
    return float(found.group()) if found else 0.0


async def test_capture_and_viewer_pages(aiohttp_server, settings, camera_browser, clip, tmp_path):
    server = await aiohttp_server(create_app(settings))
    errors: list[str] = []
    phone = await phone_signed_up(camera_browser, server, "player@example.com", errors)

    await phone.goto(str(server.make_url("/static/capture.html")))
    await phone.select_option("#quality", "medium")
    await phone.fill("#session-name", "Tuesday training")
    await phone.click("#create-session")
    await wait_for(phone, "document.querySelector('#preview').videoWidth > 0")
    # The court is found on the camera's picture and drawn over the preview.
    await phone.wait_for_selector("#court-accept:not([hidden])", timeout=60_000)
    shown = await phone.text_content("#court-values")
    found = [float(v) for v in re.findall(r"\d+(?:\.\d+)?", shown)]
    expected = [v for name in CORNERS for v in clip.corners[name]]
    assert found == pytest.approx(expected, abs=10), found
    assert await phone.is_disabled("#start-stream")
    # "Looks right" saves it to the session.
    await phone.click("#court-accept")
    await phone.wait_for_selector("#start-stream:not([disabled])")
    token = await phone.evaluate("localStorage.getItem('badminton.token')")
    session_id = phone.url.rsplit("=", 1)[-1]
    async with aiohttp.ClientSession() as http:
        async with http.get(
            server.make_url(f"/api/v1/stream/{session_id}/status"),
            headers={"Authorization": f"Bearer {token}"},
        ) as response:
            saved = (await response.json())["court"]
    assert [v for name in CORNERS for v in saved[name]] == pytest.approx(found, abs=0.1)
    await phone.click("#start-stream")
    await phone.wait_for_selector("#conn-state[data-state=connected]", timeout=30_000)

    # Live results arrive: shots counted, stats shown.
    await wait_for(
        phone, "parseInt(document.querySelector('#total-shots').textContent) > 0", timeout=90_000
    )
    # Shots come within a second of the hit; the rates come with the next status poll.
    await wait_for(
        phone, "parseFloat(document.querySelector('#stat-fps').textContent) > 0", timeout=10_000
    )

    # A coach opens the viewer link in another browser context.
    await phone.click("#share-viewer")
    await phone.wait_for_selector("#viewer-link-box:not([hidden])")
    viewer_url = await phone.input_value("#viewer-url")
    coach = await (await camera_browser.new_context()).new_page()
    watch_errors(coach, errors)
    await coach.goto(viewer_url)
    await coach.wait_for_selector("#viewer-status[data-state=live]", timeout=30_000)
    await wait_for(coach, "document.querySelector('#remote-video').currentTime > 1", timeout=30_000)
    await wait_for(
        coach, "parseInt(document.querySelector('#total-shots').textContent) > 0", timeout=60_000
    )

    # Record a few seconds; the recording plays.
    await phone.click("#record-toggle")
    await asyncio.sleep(4)
    await phone.click("#record-toggle")
    await phone.wait_for_selector("#recording-link:not([hidden])", timeout=30_000)
    href = await phone.get_attribute("#recording-link", "href")
    async with aiohttp.ClientSession() as http:
        async with http.get(href) as response:
            assert response.status == 200
            (tmp_path / "recording.mp4").write_bytes(await response.read())
    assert sum(1 for _ in iter_frames(tmp_path / "recording.mp4")) >= 10
    # The browser sends H.264 (the server's answer prefers it), recorded as it came: a file
    # encoded again on the server would carry libx264's settings.
    assert probe(tmp_path / "recording.mp4").codec == "h264"
    assert b"x264 - core" not in (tmp_path / "recording.mp4").read_bytes()
    player = await camera_browser.new_page()  # and a browser plays it
    await player.goto(href)
    await player.wait_for_function(
        "(v => v && v.readyState >= 2 && v.videoWidth > 0)(document.querySelector('video'))",
        timeout=20_000,
    )
    await player.close()

    # Ending shows the report on the phone and tells the coach.
    phone.once("dialog", lambda dialog: dialog.accept())  # "End the session?"
    await phone.click("#end-session")
    await phone.wait_for_selector("#final-report:not([hidden])", timeout=60_000)
    assert await number(phone, "#final-total-shots") > 0
    assert await phone.locator("#final-recordings a").count() == 1
    await coach.wait_for_selector("#viewer-status[data-state=ended]", timeout=30_000)
    assert errors == []
