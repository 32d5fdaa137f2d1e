"""The capture page's court step and end in headless Chromium with a fake camera, on a phone
and a desktop window: the court found on the preview can be put aside and tapped instead,
"Go live" says why it waits for a saved court, the corner picture spans a phone's screen,
and ending the session asks first."""

from __future__ import annotations

import pytest

from tests.server.test_live_pages import camera_browser, camera_clip  # noqa: F401 (fixtures)
from tests.server.test_pages import CORNERS, click_video_pixel, wait_for, watch_errors
from tests.server.test_share_pages import SCREENS, asked


@pytest.mark.parametrize("screen", sorted(SCREENS))
async def test_court_hint_and_end_confirmation(client, alice, camera_browser, clip, screen):  # noqa: F811
    errors: list[str] = []
    context = await camera_browser.new_context(**SCREENS[screen])
    page = await context.new_page()
    watch_errors(page, errors)
    await page.goto(str(client.make_url("/static/login.html")))
    await page.evaluate(f"localStorage.setItem('badminton.token', '{alice.token}')")
    await page.goto(str(client.make_url("/static/capture.html")))
    await page.select_option("#quality", "medium")
    await page.click("#create-session")
    await wait_for(page, "document.querySelector('#preview').videoWidth > 0")
    await page.wait_for_selector("#court-accept:not([hidden])", timeout=60_000)
    # Put aside for the corners tapped by hand: the fallback when none is found.
    await page.click("#reset-corners")
    assert await page.is_hidden("#court-accept")
    await page.click("#freeze-frame")
    for name in CORNERS:
        await click_video_pixel(page, *clip.corners[name])

    # Four corners, not saved: "Go live" is grey and the page says why.
    assert await page.is_disabled("#start-stream")
    assert "Save the court first" in await page.text_content("#court-status")
    frame = await page.locator("#camera-step .picker-frame").bounding_box()
    if screen == "phone":
        assert (frame["x"], frame["width"]) == (0, 390)
    else:
        card = await page.locator("#camera-step").bounding_box()
        assert card["x"] < frame["x"] and frame["x"] + frame["width"] < card["x"] + card["width"]
    await page.click("#save-court")
    await page.wait_for_selector("#start-stream:not([disabled])")
    assert "Save the court first" not in await page.text_content("#court-status")

    await page.click("#start-stream")
    await page.wait_for_selector("#conn-state[data-state=connected]", timeout=30_000)
    session_id = (await page.evaluate("location.search")).split("=")[1]
    questions: list[str] = []

    async def answer(dialog, accept: bool) -> None:
        questions.append(dialog.message)
        await (dialog.accept() if accept else dialog.dismiss())

    # Ending asks first: "no" keeps the session live.
    page.once("dialog", lambda dialog: answer(dialog, False))
    await page.click("#end-session")
    await asked(questions, 1)
    assert "End the session?" in questions[0]
    status = await (await alice.call("GET", f"/api/v1/stream/{session_id}/status")).json()
    assert status["status"] == "streaming"
    assert await page.is_visible("#live-step") and await page.is_enabled("#end-session")

    page.once("dialog", lambda dialog: answer(dialog, True))
    await page.click("#end-session")
    await page.wait_for_selector("#final-report:not([hidden])", timeout=60_000)
    status = await (await alice.call("GET", f"/api/v1/stream/{session_id}/status")).json()
    assert status["status"] == "ended"
    assert errors == []
