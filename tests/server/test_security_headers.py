"""Security headers on every response, and every page working in Chromium under the strict
Content-Security-Policy without one violation, while inline script and style are blocked."""

from __future__ import annotations

from dataclasses import replace

import aiohttp
from yarl import URL

from server.app import create_app
from server.security_headers import content_security_policy
from tests.server.test_pages import phone_signed_up, wait_for

UPLOAD = {"filename": "m.mp4", "content_type": "video/mp4", "size": 4}


def assert_secured(response, what: str) -> None:
    headers = response.headers
    policy = headers.get("Content-Security-Policy", "")
    directives = {d.split()[0]: d.split()[1:] for d in policy.split("; ") if d}
    assert directives.get("script-src") == ["'self'"], (what, policy)
    assert directives.get("style-src") == ["'self'"], (what, policy)
    assert directives.get("frame-ancestors") == ["'none'"], (what, policy)
    assert directives.get("object-src") == ["'none'"], (what, policy)
    assert "unsafe" not in policy, (what, policy)
    assert headers.get("X-Content-Type-Options") == "nosniff", what
    assert headers.get("X-Frame-Options") == "DENY", what
    assert headers.get("Referrer-Policy") == "no-referrer", what


async def test_every_kind_of_response_carries_the_headers(aiohttp_server, settings):
    server = await aiohttp_server(create_app(settings))
    async with aiohttp.ClientSession() as http:

        async def check(method: str, path: str, status: int, **kwargs) -> dict:
            async with http.request(method, server.make_url(path), **kwargs) as response:
                assert response.status == status, (path, await response.text())
                assert_secured(response, f"{method} {path}")
                return await response.json() if response.content_type.endswith("json") else {}

        for page in ("/", "/static/login.html", "/static/capture.html", "/static/viewer.html"):
            await check("GET", page, 200)
        await check("GET", "/static/js/api.js", 200)
        await check("GET", "/static/css/app.css", 200)
        await check("GET", "/static/nothing.html", 404)
        await check("GET", "/api/v1/health", 200)
        await check("GET", "/api/v1/nothing", 404)
        await check("GET", "/api/v1/auth/me", 401)
        await check("POST", "/api/v1/auth/login", 400, data=b"{")
        signed = await check(
            "POST",
            "/api/v1/auth/register",
            201,
            json={"email": "a@example.com", "password": "long enough pw"},
        )
        auth = {"Authorization": f"Bearer {signed['token']}"}
        upload = await check("POST", "/api/v1/upload/request", 201, json=UPLOAD, headers=auth)
        signed_path = URL(upload["upload_url"]).raw_path_qs
        headers = {"Content-Type": "video/mp4"}
        await check("PUT", signed_path, 200, data=b"abcd", headers=headers)
        await check("PUT", signed_path + "x", 403, data=b"abcd", headers=headers)
        outputs = await check("GET", "/api/v1/jobs", 200, headers=auth)
        assert outputs["jobs"][0]["id"] == upload["job_id"]


def test_the_policy_lets_pages_reach_the_bucket_and_cdn(settings):
    s3 = replace(settings, s3_bucket="videos", s3_endpoint_url="http://127.0.0.1:9000")
    policy = content_security_policy(s3)
    connect = next(d for d in policy.split("; ") if d.startswith("connect-src")).split()
    assert {"'self'", "http://127.0.0.1:9000", "http://videos.127.0.0.1:9000"} <= set(connect)
    aws = content_security_policy(replace(settings, s3_bucket="videos", aws_region="eu-west-1"))
    media = next(d for d in aws.split("; ") if d.startswith("media-src")).split()
    assert "https://videos.s3.eu-west-1.amazonaws.com" in media
    cdn = content_security_policy(replace(settings, cloudfront_domain="d1.cloudfront.net"))
    images = next(d for d in cdn.split("; ") if d.startswith("img-src")).split()
    assert "https://d1.cloudfront.net" in images
    local = content_security_policy(settings)
    assert "amazonaws" not in local and "http:" not in local


async def test_every_page_works_under_the_policy(aiohttp_server, settings, browser):  # noqa: F811
    server = await aiohttp_server(create_app(settings))
    errors: list[str] = []
    email = "csp@example.com"
    page = await phone_signed_up(browser, server, email, errors)
    token = await page.evaluate("() => localStorage.getItem('badminton.token')")
    assert token
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
        async with http.post(server.make_url("/api/v1/upload/request"), json=UPLOAD) as response:
            job_id = (await response.json())["job_id"]
        async with http.post(server.make_url("/api/v1/stream/create"), json={}) as response:
            session_id = (await response.json())["id"]
        viewers = server.make_url(f"/api/v1/stream/{session_id}/viewers")
        async with http.post(viewers, json={}) as response:
            viewer_token = (await response.json())["token"]

    signed_in_email = f"document.querySelector('#user-email').textContent === '{email}'"
    # Each page, and a sign that its module script ran and talked to the API.
    pages = {
        "/": "document.querySelector('#status').textContent === 'Server status: ok'",
        "/static/jobs.html": "document.querySelector('.job-row') !== null",
        "/static/upload.html": signed_in_email,
        f"/static/report.html?job={job_id}": (
            "document.querySelector('#job-status').textContent.trim() !== ''"
        ),
        "/static/capture.html": "document.querySelector('#quality').options.length === 4",
        f"/static/viewer.html#{viewer_token}": (
            "!document.querySelector('#viewer-status').textContent.startsWith('Opening')"
        ),
    }
    for path, ready in pages.items():
        await page.goto(str(server.make_url(path)))
        await wait_for(page, ready, timeout=15_000)
        # The stylesheet applies: the top bar is laid out by app.css.
        display = await page.evaluate(
            "() => getComputedStyle(document.querySelector('header')).display"
        )
        assert display == "flex", path
    assert errors == []

    # What the policy is for: script and style written into the page do not run.
    await page.goto(str(server.make_url("/static/login.html")))
    injected = await page.evaluate(
        """async () => {
          const script = document.createElement("script");
          script.textContent = "window.injected = true";
          document.head.append(script);
          const box = document.createElement("div");
          box.setAttribute("style", "width: 123px");
          box.setAttribute("onclick", "window.clicked = true");
          document.body.append(box);
          box.click();
          await new Promise((resolve) => setTimeout(resolve, 100));
          return [window.injected === true, window.clicked === true, box.offsetWidth];
        }"""
    )
    assert injected[:2] == [False, False]
    assert injected[2] != 123
    assert len(errors) >= 3 and all("Content Security Policy" in e for e in errors), errors
