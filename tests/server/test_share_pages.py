"""The report page's sharing, CSV download and small things in headless Chromium, on a phone
and a desktop window: a share link made on the report page opens the report, its video and
heatmaps in a browser without an account and stops once revoked; the shots download as
CSV; analysing again asks first; heatmap labels are legible on a phone; a short password
is explained once."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from analysis.heatmap import label_height
from tests.server.test_pages import wait_for, watch_errors
from tests.server.test_shares import analysed_job

SCREENS = {
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 2,
        "has_touch": True,
        "is_mobile": True,
    },
    "desktop": {"viewport": {"width": 1366, "height": 768}},
}
LEGIBLE_PX = 9  # CSS pixels of a letter's height


async def signed_in_page(browser, client, user, screen: str, errors: list[str]):
    context = await browser.new_context(**SCREENS[screen], accept_downloads=True)
    page = await context.new_page()
    watch_errors(page, errors)
    await page.goto(str(client.make_url("/static/login.html")))
    await page.evaluate(f"localStorage.setItem('badminton.token', {json.dumps(user.token)})")
    return page


async def asked(questions: list[str], count: int) -> None:
    """Waits until the page has asked `count` questions (confirm dialogs)."""
    for _ in range(100):
        if len(questions) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the page asked {len(questions)} questions, not {count}")


async def downloaded_shots(page) -> tuple[str, str]:
    """Clicks the report page's CSV button: the file's name and text."""
    async with page.expect_download() as download_info:
        await page.click("#download-shots")
    download = await download_info.value
    return download.suggested_filename, Path(await download.path()).read_bytes().decode()


async def opened_share_link(page, browser, client, screen: str, errors: list[str]):
    """Makes a share link on the report page and opens it in a browser that has never
    signed in; that browser's page."""
    await page.click("#make-share")
    item = page.locator("#share-list .share-item")
    await item.first.wait_for()
    url = await item.first.locator("input.share-url").input_value()
    assert url.startswith(str(client.make_url("/static/shared.html#")))
    coach_context = await browser.new_context(**SCREENS[screen], accept_downloads=True)
    coach = await coach_context.new_page()
    watch_errors(coach, errors)
    await coach.goto(url)
    return coach


@pytest.mark.parametrize("screen", sorted(SCREENS))
async def test_share_link_and_csv_from_the_report_page(client, alice, browser, clip, screen):
    job = await analysed_job(alice, clip)
    report = await (await alice.call("GET", f"/api/v1/jobs/{job['id']}/report")).json()
    csv_text = await (await alice.call("GET", f"/api/v1/jobs/{job['id']}/shots.csv")).text()
    errors: list[str] = []
    page = await signed_in_page(browser, client, alice, screen, errors)
    await page.goto(str(client.make_url(f"/static/report.html?job={job['id']}")))
    await page.wait_for_selector("#report", state="visible", timeout=60_000)

    # The shots as a CSV file named after the video.
    assert await downloaded_shots(page) == ("match-shots.csv", csv_text)

    # A share link, opened in a browser that has never signed in.
    coach = await opened_share_link(page, browser, client, screen, errors)
    await coach.wait_for_selector("#report", state="visible", timeout=30_000)
    assert (await coach.text_content("#report-title")) == "match.mp4"
    total = await coach.text_content("#summary-total-shots")
    assert total == str(report["summary"]["total_shots"])
    assert await coach.locator("#shot-table .shot-row").count() == len(report["shots"])
    assert await coach.locator("#rally-table .rally-row").count() == len(report["rallies"])
    await wait_for(coach, "document.querySelector('#report-video').videoWidth > 0")
    for side in ("near", "far"):
        await wait_for(coach, f"document.querySelector('#heatmap-{side}').naturalWidth > 0")
    # Read-only: nothing there changes the report or makes links.
    for control in ("#make-share", "#court-fix", "#reanalyse", "#sign-out"):
        assert await coach.locator(control).count() == 0
    # A shot seeks the video.
    first = min(report["shots"], key=lambda shot: shot["time"])
    await coach.locator("#shot-table .shot-row .seek").nth(1).click()
    second = sorted(shot["time"] for shot in report["shots"])[1]
    await wait_for(
        coach,
        f"Math.abs(document.querySelector('#report-video').currentTime - {second - 0.5}) < 0.6",
    )
    assert first["time"] <= second
    async with coach.expect_download() as download_info:
        await coach.click("#shared-csv")
    shared_csv = await download_info.value
    assert shared_csv.suggested_filename == "match-shots.csv"
    assert Path(await shared_csv.path()).read_bytes().decode() == csv_text

    # Revoked on the report page: the shared page no longer opens.
    await page.locator("#share-list .share-item .share-revoke").first.click()
    await wait_for(page, "document.querySelectorAll('#share-list .share-item').length === 0")
    await coach.reload()
    await coach.wait_for_selector("#report-error", state="visible")
    assert "revoked" in await coach.text_content("#report-error")
    assert await coach.is_hidden("#report")
    assert errors == []


@pytest.mark.parametrize("screen", sorted(SCREENS))
async def test_heatmap_labels_and_corner_picture_on_the_report(
    client, alice, browser, clip, screen
):
    job = await analysed_job(alice, clip)
    errors: list[str] = []
    page = await signed_in_page(browser, client, alice, screen, errors)
    await page.goto(str(client.make_url(f"/static/report.html?job={job['id']}")))
    await page.wait_for_selector("#report", state="visible", timeout=60_000)
    for side in ("near", "far"):
        await wait_for(page, f"document.querySelector('#heatmap-{side}').naturalWidth > 0")
    boxes = await page.evaluate(
        """() => ["near", "far"].map((side) => {
          const image = document.querySelector(`#heatmap-${side}`);
          const box = image.getBoundingClientRect();
          return { left: box.left, top: box.top, width: box.width, natural: image.naturalWidth };
        })"""
    )
    near, far = boxes
    if screen == "phone":
        # One above the other, each as wide as the card allows, labels legible.
        assert far["top"] > near["top"] and far["left"] == near["left"]
        card = await page.locator("#heatmaps-title").evaluate(
            "h => h.parentElement.clientWidth - 32"
        )
        assert near["width"] >= card - 1
        assert label_height() * near["width"] / near["natural"] >= LEGIBLE_PX
        # The court's corner picture spans the screen.
        await page.click("#court-fix summary")
        frame = await page.locator("#court-fix .picker-frame").bounding_box()
        assert (frame["x"], frame["width"]) == (0, 390)
    else:
        assert far["top"] == near["top"] and far["left"] > near["left"]
        await page.click("#court-fix summary")
        frame = await page.locator("#court-fix .picker-frame").bounding_box()
        card = await page.locator("#court-fix").bounding_box()
        assert card["x"] < frame["x"] and frame["x"] + frame["width"] < card["x"] + card["width"]

    # Analysing again asks first; saying no keeps the report.
    await wait_for(page, "document.querySelector('#court-fix-video').videoWidth > 0")
    await page.click("#court-fix-undo")
    box = await page.locator("#court-fix-video").bounding_box()
    await page.mouse.click(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.9)
    await page.wait_for_selector("#reanalyse:not([disabled])")
    questions: list[str] = []

    async def answer(dialog, accept: bool) -> None:
        questions.append(dialog.message)
        await (dialog.accept() if accept else dialog.dismiss())

    page.once("dialog", lambda dialog: answer(dialog, False))
    await page.click("#reanalyse")
    await asked(questions, 1)
    assert "again" in questions[0]
    assert await page.is_visible("#report")
    status = (await (await alice.call("GET", f"/api/v1/jobs/{job['id']}")).json())["status"]
    assert status == "done"
    page.once("dialog", lambda dialog: answer(dialog, True))
    await page.click("#reanalyse")
    await asked(questions, 2)
    await page.wait_for_selector("#job-state", state="visible")
    status = (await (await alice.call("GET", f"/api/v1/jobs/{job['id']}")).json())["status"]
    assert status in ("queued", "running", "done")
    assert errors == []


@pytest.mark.parametrize("screen", sorted(SCREENS))
async def test_a_short_password_is_explained_once(client, browser, screen):
    context = await browser.new_context(**SCREENS[screen])
    page = await context.new_page()
    errors: list[str] = []
    watch_errors(page, errors)
    await page.goto(str(client.make_url("/static/login.html#register")))
    assert await page.is_visible("#password-hint")
    await page.fill("#email", "short@example.com")
    await page.fill("#password", "short")
    await page.click("#register")
    await page.wait_for_selector("#auth-error", state="visible")
    shown = await page.evaluate(
        """() => [...document.querySelectorAll("main p")]
          .filter((p) => p.checkVisibility() && /8 characters/.test(p.textContent))
          .map((p) => p.id)"""
    )
    assert shown == ["auth-error"]
    assert errors == []
