"""Every match in one list and one report page, in headless Chromium on a phone-sized and a
desktop window: an uploaded clip and a live session streamed from a fake camera playing a real
clip (recorded, watched through a viewer link, ended). The list shows both; the live report
plays its recording and a shot seeks it; the viewer page after the end shows the final
numbers once and leads to the report, which the link opens read-only.

With PAGE_SCREENSHOTS_DIR set, the upload report, the live report and the ended viewer page
are saved there as PNG files (desktop size)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import aiohttp

from server.app import create_app
from tests.server.conftest import SignedIn, wait_for_job
from tests.server.test_live_pages import camera_browser, camera_clip  # noqa: F401 (fixtures)
from tests.server.test_pages import (
    PHONE,
    phone_signed_up,
    wait_for,
    watch_errors,
)
from tests.server.test_uploads import upload_single

DESKTOP = {"width": 1366, "height": 768}
SEEK_LEAD_S = 0.5  # the report page starts a shot this much before its hit


async def api_user(http: aiohttp.ClientSession, page) -> SignedIn:
    """The account signed in on the page, for API calls from the test."""
    token = await page.evaluate("localStorage.getItem('badminton.token')")
    return SignedIn(http, "", token, "")


async def get_json(user: SignedIn, path: str):
    response = await user.call("GET", path)
    assert response.status == 200, await response.text()
    return await response.json()


async def upload_clip(user: SignedIn, clip) -> str:
    """An uploaded, analysed match, as the upload page would make it."""
    ticket = await upload_single(user, clip.video.read_bytes(), court=clip.corners)
    confirmed = await user.call("POST", f"/api/v1/upload/confirm/{ticket['job_id']}")
    assert confirmed.status == 202, await confirmed.text()
    job = await wait_for_job(user, ticket["job_id"])
    assert job["status"] == "done", job
    return ticket["job_id"]


async def stream_a_recorded_session(phone, clip) -> str:
    """On the capture page: court, live, recording from the start, some shots. Returns the
    viewer link."""
    await phone.goto(phone.url.replace("jobs.html", "capture.html"))
    await phone.select_option("#quality", "medium")
    await phone.fill("#session-name", "Thursday doubles")
    await phone.click("#create-session")
    await wait_for(phone, "document.querySelector('#preview').videoWidth > 0")
    # The court found on the preview, accepted (which saves it).
    await phone.click("#court-accept", timeout=60_000)
    await phone.wait_for_selector("#start-stream:not([disabled])")
    await phone.click("#start-stream")
    await phone.wait_for_selector("#conn-state[data-state=connected]", timeout=30_000)
    await phone.click("#record-toggle")
    await phone.wait_for_selector("#live-recording:not([hidden])", timeout=10_000)
    await wait_for(
        phone, "parseInt(document.querySelector('#total-shots').textContent) >= 2", timeout=90_000
    )
    await phone.click("#share-viewer")
    await phone.wait_for_selector("#viewer-link-box:not([hidden])")
    return await phone.input_value("#viewer-url")


async def check_matches_page(page, url: str, live_id: str, job_id: str) -> None:
    await page.goto(url)
    await wait_for(page, "document.querySelectorAll('.job-row').length === 2")
    rows = await page.eval_on_selector_all(
        ".job-row", "rs => rs.map(r => [r.dataset.kind, r.dataset.matchId, r.dataset.status])"
    )
    assert rows == [["live", live_id, "ended"], ["upload", job_id, "done"]]
    live_report = page.locator(".job-row[data-kind=live] .job-report")
    assert await live_report.is_visible()
    assert (await live_report.get_attribute("href")).endswith(f"report.html?live={live_id}")
    assert not await page.locator(".job-row[data-kind=live] .job-delete").count()
    wide = await page.evaluate(
        "document.documentElement.scrollWidth > document.documentElement.clientWidth"
    )
    assert not wide, "the list scrolls sideways"


async def check_report_page(page, url: str, report: dict, recordings: list[dict]) -> None:
    """The report shows the numbers, the heatmaps, and a shot click seeks its recording."""
    await page.goto(url)
    await page.wait_for_selector("#report", state="visible", timeout=60_000)
    total = await page.text_content("#summary-total-shots")
    assert total.strip() == str(report["summary"]["total_shots"])
    assert await page.locator("#rally-table tbody tr.rally-row").count() == len(report["rallies"])
    for heatmap in ("#heatmap-near", "#heatmap-far"):
        await wait_for(page, f"document.querySelector('{heatmap}').naturalWidth > 0")
    await wait_for(page, "document.querySelector('#report-video').readyState >= 1")

    # The first shot the recording holds: its row plays it, at its time in the recording.
    times = sorted(shot["time"] for shot in report["shots"])
    recording = recordings[0]
    end = recording["offset_s"] + (recording["duration_s"] or float("inf"))
    recorded = [t for t in times if recording["offset_s"] + SEEK_LEAD_S <= t <= end]
    assert recorded, (times, recording)
    index = times.index(recorded[0])
    button = page.locator(".shot-row").nth(index).locator("button.seek")
    await button.click()
    expected = recorded[0] - SEEK_LEAD_S - recording["offset_s"]
    await wait_for(
        page,
        f"Math.abs(document.querySelector('#report-video').currentTime - {expected}) < 1.0"
        " && document.querySelector('#report-video').videoWidth > 0",
        timeout=15_000,
    )
    wide = await page.evaluate(
        "document.documentElement.scrollWidth > document.documentElement.clientWidth"
    )
    assert not wide, "the report scrolls sideways"


async def check_ended_viewer(page, report: dict) -> None:
    await page.wait_for_selector("#viewer-status[data-state=ended]", timeout=30_000)
    await page.wait_for_selector("#ended-report-link:not([hidden])", timeout=30_000)
    assert (await page.text_content("#ended-total-shots")).strip() == str(
        report["summary"]["total_shots"]
    )
    assert (await page.text_content("#ended-rallies")).strip() == str(len(report["rallies"]))
    assert not await page.locator("#remote-video").is_visible()
    assert not await page.locator("#live-viewers").is_visible()
    assert not await page.locator("#current-rally").is_visible()
    text = await page.inner_text("body")
    assert text.count("session has ended") == 1, text


async def screenshot(page, name: str, tmp_path: Path) -> None:
    folder = Path(os.environ.get("PAGE_SCREENSHOTS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(folder / name), full_page=True)


async def test_uploads_and_live_sessions_share_the_list_and_the_report(
    aiohttp_server,
    settings,
    camera_browser,  # noqa: F811
    clip,
    tmp_path,
):
    server = await aiohttp_server(create_app(settings))
    errors: list[str] = []
    phone = await phone_signed_up(camera_browser, server, "player@example.com", errors)
    phone.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    desktop_context = await camera_browser.new_context(viewport=DESKTOP)
    async with aiohttp.ClientSession(base_url=str(server.make_url("/"))) as http:
        user = await api_user(http, phone)
        job_id = await upload_clip(user, clip)

        viewer_url = await stream_a_recorded_session(phone, clip)
        coach = await desktop_context.new_page()
        watch_errors(coach, errors)
        await coach.goto(viewer_url)
        await coach.wait_for_selector("#viewer-status[data-state=live]", timeout=30_000)
        await coach.wait_for_selector("#live-viewers:has-text('1 watching')", timeout=10_000)
        await phone.click("#end-session")
        await phone.wait_for_selector("#final-report:not([hidden])", timeout=60_000)
        live_id = (await get_json(user, "/api/v1/streams"))["sessions"][0]["id"]
        live_report = await get_json(user, f"/api/v1/stream/{live_id}/report")
        live_outputs = await get_json(user, f"/api/v1/stream/{live_id}/outputs")
        job_report = await get_json(user, f"/api/v1/jobs/{job_id}/report")
        job_outputs = [{"offset_s": 0.0, "duration_s": None}]

        # The coach's page: ended, the final numbers of the report, once, and its link.
        await check_ended_viewer(coach, live_report)
        await screenshot(coach, "viewer-ended.png", tmp_path)
        phone_viewer = await camera_browser.new_page(viewport=PHONE)
        watch_errors(phone_viewer, errors)
        await phone_viewer.goto(viewer_url)
        await check_ended_viewer(phone_viewer, live_report)

        # The link opens the report read-only: no account, nothing of the owner's.
        await coach.click("#ended-report-link")
        await coach.wait_for_url("**/report.html#view=*")
        await check_report_page(coach, coach.url, live_report, live_outputs["recordings"])
        assert not await coach.locator(".topbar nav").is_visible()
        assert not await coach.locator("#court-fix").is_visible()
        assert not await coach.locator("#share-card").is_visible()

        # The owner: one list, one report page for both kinds, on both window sizes.
        desktop = await desktop_context.new_page()
        watch_errors(desktop, errors)
        await desktop.goto(str(server.make_url("/static/login.html")))
        await desktop.evaluate(f"localStorage.setItem('badminton.token', '{user.token}')")
        for page in (phone, desktop):
            await check_matches_page(
                page, str(server.make_url("/static/jobs.html")), live_id, job_id
            )
            await check_report_page(
                page,
                str(server.make_url(f"/static/report.html?live={live_id}")),
                live_report,
                live_outputs["recordings"],
            )
            if page is desktop:
                await screenshot(page, "live-report.png", tmp_path)
            await check_report_page(
                page,
                str(server.make_url(f"/static/report.html?job={job_id}")),
                job_report,
                job_outputs,
            )
            if page is desktop:
                await screenshot(page, "upload-report.png", tmp_path)
    await desktop_context.close()
    assert errors == []
