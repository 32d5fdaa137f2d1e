"""The URLs the server hands out (upload URLs, viewer links) name PUBLIC_URL, or without it
the address the server listens on: never the Host header a client sends."""

from __future__ import annotations

from dataclasses import replace

import aiohttp
import pytest
from yarl import URL

from server.app import create_app
from server.config import ConfigError, Settings

FORGED = {"Host": "attacker.example:8443"}
UPLOAD = {"filename": "m.mp4", "content_type": "video/mp4", "size": 4}


async def handed_out_urls(server) -> dict[str, object]:
    """Signs up and asks for an upload URL, multipart part URLs and a viewer link, every
    request with a forged Host header."""
    async with aiohttp.ClientSession() as http:

        async def call(path: str, body: dict, token: str | None = None) -> dict:
            headers = {**FORGED, **({"Authorization": f"Bearer {token}"} if token else {})}
            async with http.post(server.make_url(path), json=body, headers=headers) as response:
                assert response.status in (200, 201), await response.text()
                return await response.json()

        signed = await call(
            "/api/v1/auth/register", {"email": "a@example.com", "password": "long enough pw"}
        )
        token = signed["token"]
        single = await call("/api/v1/upload/request", UPLOAD, token)
        multipart = await call(
            "/api/v1/upload/multipart/init", {**UPLOAD, "size": 12 * 2**20}, token
        )
        session = await call("/api/v1/stream/create", {}, token)
        link = await call(f"/api/v1/stream/{session['id']}/viewers", {}, token)
    return {
        "upload": single["upload_url"],
        "parts": [p["url"] for p in multipart["parts"]],
        "viewer": link["url"],
        "token": link["token"],
    }


async def put_works(server, url: str) -> None:
    """The upload URL's path and signature are accepted by the server itself."""
    target = server.make_url(URL(url).raw_path_qs)
    async with aiohttp.ClientSession() as http:
        headers = {"Content-Type": "video/mp4"}
        async with http.put(target, data=b"abcd", headers=headers) as response:
            assert response.status == 200, await response.text()


async def test_without_public_url_links_name_the_listening_address(aiohttp_server, settings):
    server = await aiohttp_server(create_app(settings))
    urls = await handed_out_urls(server)
    origin = f"http://127.0.0.1:{server.port}"
    assert str(urls["upload"]).startswith(f"{origin}/api/v1/files/")
    assert all(str(u).startswith(f"{origin}/api/v1/files/") for u in urls["parts"])
    assert urls["viewer"] == f"{origin}/static/viewer.html#{urls['token']}"
    assert "attacker" not in repr(urls)
    await put_works(server, str(urls["upload"]))


async def test_public_url_names_every_link(aiohttp_server, settings):
    public = replace(settings, public_url="https://analyzer.example.com/")
    server = await aiohttp_server(create_app(public))
    urls = await handed_out_urls(server)
    assert str(urls["upload"]).startswith("https://analyzer.example.com/api/v1/files/")
    assert all(
        str(u).startswith("https://analyzer.example.com/api/v1/files/") for u in urls["parts"]
    )
    assert urls["viewer"] == f"https://analyzer.example.com/static/viewer.html#{urls['token']}"
    assert "attacker" not in repr(urls)
    await put_works(server, str(urls["upload"]))


def test_public_url_setting_is_checked():
    assert Settings.from_env({"PUBLIC_URL": "https://a.example:8443/"}).public_url == (
        "https://a.example:8443"
    )
    assert Settings.from_env({}).public_url is None
    for bad in ("a.example", "ftp://a.example", "https://a.example/app", "https://a:99999"):
        with pytest.raises(ConfigError):
            Settings.from_env({"PUBLIC_URL": bad})
