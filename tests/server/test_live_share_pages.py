"""A live session's report shared from the report page, in headless Chromium on a phone and a
desktop window: the owner makes a link on report.html?live=<id>; a browser without an account
opens it, the session's recording plays and a shot seeks it at its place in the recording
(the recording started a while into the session); revoked, the link says so."""

from __future__ import annotations

from tests.server.test_live_shares import ended_live_session
from tests.server.test_pages import wait_for
from tests.server.test_share_pages import (
    SCREENS,
    downloaded_shots,
    opened_share_link,
    signed_in_page,
)

SEEK_LEAD_S = 0.5  # the pages start a shot this much before its hit


async def test_live_share_link_plays_the_recording_and_is_revoked(client, alice, browser, clip):  # noqa: F811
    session_id = await ended_live_session(client, alice, clip)
    path = f"/api/v1/stream/{session_id}"
    report = await (await alice.call("GET", f"{path}/report")).json()
    (recording,) = (await (await alice.call("GET", f"{path}/outputs")).json())["recordings"]
    offset, duration = recording["offset_s"], recording["duration_s"]
    assert offset >= 2.0 and duration > 1.0
    times = sorted(shot["time"] for shot in report["shots"])
    recorded = [t for t in times if offset - 0.05 <= t <= offset + duration + 0.05]
    # A shot well inside the recording, so that playing on from it stays inside.
    inside = [t for t in recorded if offset + SEEK_LEAD_S <= t <= offset + duration - 1.0]
    assert inside, (times, offset, duration)
    target = inside[0]
    csv_text = await (await alice.call("GET", f"{path}/shots.csv")).text()

    errors: list[str] = []
    for screen in sorted(SCREENS):
        page = await signed_in_page(browser, client, alice, screen, errors)
        await page.goto(str(client.make_url(f"/static/report.html?live={session_id}")))
        await page.wait_for_selector("#report", state="visible", timeout=60_000)

        # The owner's CSV of the session, from the report page.
        assert await downloaded_shots(page) == ("Friday singles-shots.csv", csv_text)

        # A browser that has never signed in: the report, read-only.
        coach = await opened_share_link(page, browser, client, screen, errors)
        await coach.wait_for_selector("#report", state="visible", timeout=30_000)
        assert (await coach.text_content("#report-title")) == "Friday singles"
        total = await coach.text_content("#summary-total-shots")
        assert total == str(report["summary"]["total_shots"])
        assert await coach.locator("#shot-table .shot-row").count() == len(times)
        for control in ("#make-share", "#court-fix", "#reanalyse", "#sign-out"):
            assert await coach.locator(control).count() == 0
        for side in ("near", "far"):
            await wait_for(coach, f"document.querySelector('#heatmap-{side}').naturalWidth > 0")

        # Only the shots the recording holds can be played; one of them plays from its place
        # in the recording, not from its time in the session.
        assert await coach.locator("#shot-table .shot-row .seek").count() == len(recorded)
        await wait_for(coach, "document.querySelector('#report-video').readyState >= 1")
        row = coach.locator("#shot-table .shot-row").nth(times.index(target))
        await row.locator(".seek").click()
        expected = target - SEEK_LEAD_S - offset
        await wait_for(
            coach,
            f"Math.abs(document.querySelector('#report-video').currentTime - {expected}) < 0.6"
            " && document.querySelector('#report-video').videoWidth > 0",
            timeout=15_000,
        )
        # And it plays on from there.
        await wait_for(
            coach,
            f"document.querySelector('#report-video').currentTime > {expected + 0.3}",
            timeout=15_000,
        )

        # Revoked on the report page: the shared page says so and shows nothing.
        await page.locator("#share-list .share-item .share-revoke").first.click()
        await wait_for(page, "document.querySelectorAll('#share-list .share-item').length === 0")
        await coach.reload()
        await coach.wait_for_selector("#report-error", state="visible")
        assert "revoked" in await coach.text_content("#report-error")
        assert await coach.is_hidden("#report")
        await coach.context.close()
        await page.context.close()
    assert errors == []
