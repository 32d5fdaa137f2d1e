"""The batch pages in headless Chromium (the system's, driven by Playwright) against a real
server: register, see the court found on a frame of the video (or tap it), accept it, upload
a real clip, watch the progress, open the report and see its numbers and heatmaps, on a
phone-sized screen."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import aiohttp
import pytest

from server.app import create_app
from tests.videos import courtless_video

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CORNERS = ("far_left", "far_right", "near_right", "near_left")
PHONE = {"width": 390, "height": 844}


async def wait_for(page, expression: str, timeout: float = 30_000) -> None:
    """Waits until a JavaScript expression is true in the page. Playwright's wait_for_function
    evaluates its string inside the page, which the pages' CSP forbids (no 'unsafe-eval');
    this checks it from outside, as page.evaluate does, every 100 ms."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout / 1000
    while not await page.evaluate(expression):
        if loop.time() > deadline:
            raise AssertionError(f"still false after {timeout / 1000:g} s: {expression}")
        await asyncio.sleep(0.1)


def watch_errors(page, errors: list[str]) -> None:
    """Collects the page's uncaught errors and every Content-Security-Policy violation (which
    Chromium reports on the console)."""
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda message: (
            errors.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )


async def phone_signed_up(browser, server, email: str, errors: list[str]):
    """A phone-sized page, its errors collected, with a new account registered on the sign-in
    page."""
    page = await browser.new_page(viewport=PHONE, device_scale_factor=2, has_touch=True)
    watch_errors(page, errors)
    await page.goto(str(server.make_url("/static/login.html#register")))
    await page.fill("#email", email)
    await page.fill("#password", "a long enough password")
    await page.click("#register")
    await page.wait_for_url("**/jobs.html")
    return page


async def click_video_pixel(page, x: float, y: float, video: str = "#preview") -> None:
    """Taps the video where its own pixel (x, y) is shown (it may be letterboxed)."""
    box = await page.locator(video).bounding_box()
    vw, vh = await page.evaluate(
        f"() => [document.querySelector('{video}').videoWidth,"
        f" document.querySelector('{video}').videoHeight]"
    )
    scale = min(box["width"] / vw, box["height"] / vh)
    left = box["x"] + (box["width"] - vw * scale) / 2
    top = box["y"] + (box["height"] - vh * scale) / 2
    await page.mouse.click(left + x * scale, top + y * scale)


def shown_corners(text: str) -> list[float]:
    """The 8 numbers of the corners the page lists (#court-values)."""
    return [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", text)]


async def test_upload_and_report_pages(aiohttp_server, settings, browser, clip):
    server = await aiohttp_server(create_app(settings))
    errors: list[str] = []
    page = await phone_signed_up(browser, server, "coach@example.com", errors)
    expected = [v for name in CORNERS for v in clip.corners[name]]

    await page.goto(str(server.make_url("/static/upload.html")))
    await page.set_input_files("#file", str(clip.video))
    # The court is found on a frame of the video and drawn over it, waiting to be confirmed.
    await page.wait_for_selector("#court-accept:not([hidden])", timeout=60_000)
    assert "Court found" in await page.text_content("#court-detect-status")
    found = shown_corners(await page.text_content("#court-values"))
    assert found == pytest.approx(expected, abs=10), found
    assert await page.is_disabled("#start-upload")  # not before it is confirmed

    # Tapping stays possible: start again and tap the four corners.
    await page.click("#reset-corners")
    assert await page.text_content("#court-values") == ""
    for name in CORNERS:
        await click_video_pixel(page, *clip.corners[name])
    # One CSS pixel of the phone screen is ~3 video pixels.
    tapped = shown_corners(await page.text_content("#court-values"))
    assert tapped == pytest.approx(expected, abs=4), tapped

    # Found once more, accepted as it is, uploaded and analysed.
    await page.click("#court-detect")
    await page.wait_for_selector("#court-accept:not([hidden])", timeout=60_000)
    assert shown_corners(await page.text_content("#court-values")) == found
    await page.click("#court-accept")
    assert "accepted" in await page.text_content("#court-detect-status")
    await page.click("#start-upload")
    await page.wait_for_url("**/report.html?job=*", timeout=60_000)
    await page.wait_for_selector("#report", state="visible", timeout=240_000)

    # The page shows the report the server made, with the court the page found.
    token = await page.evaluate("localStorage.getItem('badminton.token')")
    job_id = page.url.rsplit("=", 1)[-1]
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as http:
        async with http.get(server.make_url(f"/api/v1/jobs/{job_id}/report"), headers=headers) as r:
            report = await r.json()
    assert [v for name in CORNERS for v in report["court"][name]] == pytest.approx(found, abs=0.1)
    assert report["summary"]["total_shots"] > 0
    total = await page.text_content("#summary-total-shots")
    assert total.strip() == str(report["summary"]["total_shots"])
    rows = await page.locator("#rally-table tbody tr").count()
    assert rows == len(report["rallies"])
    bars = await page.eval_on_selector_all(
        "#shot-chart g[data-type]", "gs => gs.map(g => [g.dataset.type, +g.dataset.count])"
    )
    distribution = report["summary"]["shot_distribution"]
    assert {t: n for t, n in bars if n} == distribution
    assert len(bars) == 9  # every shot type has its bar, empty or not
    for heatmap in ("#heatmap-near", "#heatmap-far"):
        await wait_for(
            page,
            f"document.querySelector('{heatmap}').complete"
            f" && document.querySelector('{heatmap}').naturalWidth > 0",
        )
    wide = await page.evaluate(
        "document.documentElement.scrollWidth > document.documentElement.clientWidth"
    )
    assert not wide, "the report scrolls sideways on a phone"

    await page.goto(str(server.make_url("/static/jobs.html")))
    row = page.locator(".job-row")
    await row.first.wait_for()
    assert await row.count() == 1
    assert await row.first.get_attribute("data-status") == "done"
    assert errors == []


async def test_a_job_that_found_no_court_can_have_it_marked(
    aiohttp_server, settings, browser, tmp_path
):
    server = await aiohttp_server(create_app(settings))
    errors: list[str] = []
    page = await phone_signed_up(browser, server, "floor@example.com", errors)
    token = await page.evaluate("localStorage.getItem('badminton.token')")
    headers = {"Authorization": f"Bearer {token}"}
    data = courtless_video(tmp_path / "floor.mp4")
    async with aiohttp.ClientSession() as http:
        body = {"filename": "floor.mp4", "content_type": "video/mp4", "size": len(data)}
        async with http.post(
            server.make_url("/api/v1/upload/request"), json=body, headers=headers
        ) as response:
            ticket = await response.json()
        async with http.put(
            ticket["upload_url"], data=data, headers={"Content-Type": "video/mp4"}
        ) as response:
            assert response.status == 200
        confirm = server.make_url(f"/api/v1/upload/confirm/{ticket['job_id']}")
        async with http.post(confirm, headers=headers) as response:
            assert response.status == 202

    await page.goto(str(server.make_url(f"/static/report.html?job={ticket['job_id']}")))
    await page.wait_for_selector("#job-error", state="visible", timeout=120_000)
    assert "no badminton court found" in await page.text_content("#job-error")
    # The video opens at once for the corners to be tapped, and the job runs again with them.
    await page.wait_for_selector("#court-fix[open]")
    await wait_for(page, "document.querySelector('#court-fix-video').videoWidth > 0")
    corners = {
        "far_left": (200, 90),
        "far_right": (440, 90),
        "near_right": (600, 330),
        "near_left": (40, 330),
    }
    for name in CORNERS:
        await click_video_pixel(page, *corners[name], video="#court-fix-video")
    page.once("dialog", lambda dialog: dialog.accept())
    await page.click("#reanalyse:not([disabled])")
    await page.wait_for_selector("#court-fix", state="hidden")
    async with aiohttp.ClientSession() as http:
        async with http.get(
            server.make_url(f"/api/v1/jobs/{ticket['job_id']}"), headers=headers
        ) as response:
            job = await response.json()
    assert job["status"] in ("queued", "running", "done")
    for name in CORNERS:
        assert job["court"][name] == pytest.approx(corners[name], abs=4)
    assert errors == []


async def test_running_jobs_show_the_time_left(aiohttp_server, settings, browser):
    server = await aiohttp_server(create_app(settings))
    page = await browser.new_page()
    await page.goto(str(server.make_url("/static/login.html")))
    texts = await page.evaluate(
        """async () => {
          const { statusText } = await import("/static/js/job-status.js");
          const running = (progress, remaining_s) => ({ status: "running", progress, remaining_s });
          return [
            statusText(running(0.01, null)),
            statusText(running(0.2, 30)),
            statusText(running(0.42, 359)),
            statusText(running(0.1, 3900)),
            statusText(running(0.1, 7200)),
            statusText({ status: "done", progress: 1, remaining_s: null }),
          ];
        }"""
    )
    assert texts == [
        "Analysing 1%",
        "Analysing 20%, less than a minute left",
        "Analysing 42%, about 6 min left",
        "Analysing 10%, about 1 h 5 min left",
        "Analysing 10%, about 2 h left",
        "Done",
    ]


async def test_the_capture_page_says_what_each_quality_costs(aiohttp_server, settings, browser):
    server = await aiohttp_server(create_app(settings))
    errors: list[str] = []
    page = await phone_signed_up(browser, server, "presets@example.com", errors)
    await page.goto(str(server.make_url("/static/capture.html")))
    await page.wait_for_selector("#create-session:not([disabled])")
    info = {}
    for quality in ("low", "medium", "high", "max"):
        await page.select_option("#quality", quality)
        info[quality] = await page.text_content("#quality-info")
    assert info["low"].startswith("5 frames per second, about 400 kbps")
    assert "many shots are missed" in info["low"]
    assert info["medium"].startswith("10 frames per second")
    assert not any("missed" in info[q] for q in ("medium", "high", "max"))
    assert errors == []
