"""The report page of an MPEG-4 Part 2 upload, which Chromium cannot play as it is, in headless
Chromium on a phone and a desktop screen: its video (the job's H.264 copy) loads and plays,
choosing a shot seeks it there, and the original is offered for download."""

from __future__ import annotations

from server.app import create_app
from tests.server.conftest import sign_up
from tests.server.test_pages import PHONE, wait_for, watch_errors
from tests.server.test_playable_video import ALL_ENGLAND_COURT, analysed_upload

DESKTOP = {"width": 1280, "height": 800}
SEEK_LEAD_S = 0.5  # report.js starts a shot this long before its hit
VIDEO = "document.querySelector('#report-video')"


async def test_report_plays_an_mpeg4_upload(
    aiohttp_server, aiohttp_client, settings, browser, shared_data
):
    video = shared_data / "tracknet_allengland" / "1_03_04.mp4"
    server = await aiohttp_server(create_app(settings))
    coach = await sign_up(await aiohttp_client(server), "coach@example.com")
    job = await analysed_upload(coach, video, ALL_ENGLAND_COURT)
    assert job["summary"]["total_shots"] >= 1

    for viewport in (PHONE, DESKTOP):
        errors: list[str] = []
        page = await browser.new_page(viewport=viewport)
        watch_errors(page, errors)
        await page.goto(str(server.make_url("/static/login.html")))
        await page.evaluate("token => localStorage.setItem('badminton.token', token)", coach.token)
        await page.goto(str(server.make_url(f"/static/report.html?job={job['id']}")))
        await page.wait_for_selector("#report", state="visible")

        await wait_for(page, f"{VIDEO}.readyState >= 2 || {VIDEO}.error !== null")
        state = await page.evaluate(
            f"[{VIDEO}.error && {VIDEO}.error.code, {VIDEO}.videoWidth, {VIDEO}.currentSrc]"
        )
        assert state[:2] == [None, 1280], state
        assert "playable.mp4" in state[2]

        # The last shot: the video seeks to just before its hit and plays on from there.
        row = page.locator("#shot-table .shot-row").last
        start = max(0.0, float(await row.get_attribute("data-time")) - SEEK_LEAD_S)
        await row.locator("button.seek").click()
        await wait_for(page, f"{VIDEO}.currentTime >= {start - 0.05}")
        await wait_for(page, f"!{VIDEO}.paused && {VIDEO}.currentTime > {start + 0.5}")
        assert await page.evaluate(f"{VIDEO}.currentTime") < start + 5
        assert await page.evaluate(f"{VIDEO}.readyState") >= 3

        link = page.locator("#video-original")
        assert await link.is_visible()
        assert await link.text_content() == "Download the original video"
        assert "match.mp4" in (await link.get_attribute("href"))
        assert errors == []
        await page.close()
