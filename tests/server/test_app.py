"""The aiohttp app: health, static pages and JSON errors."""

from __future__ import annotations

from server.app import create_app
from server.config import Settings


async def test_health_and_index(aiohttp_client, tmp_path):
    client = await aiohttp_client(create_app(Settings(data_dir=tmp_path)))
    response = await client.get("/api/v1/health")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}
    page = await client.get("/")
    assert page.status == 200
    assert "Badminton Analyzer" in await page.text()


async def test_unknown_route_is_a_json_404(aiohttp_client, tmp_path):
    client = await aiohttp_client(create_app(Settings(data_dir=tmp_path)))
    response = await client.get("/api/v1/nothing-here")
    assert response.status == 404
    assert response.content_type == "application/json"
    assert (await response.json())["error"] == "Not Found"


def test_settings_from_environment(tmp_path):
    settings = Settings.from_env({"PORT": "9001", "DATA_DIR": str(tmp_path), "HOST": "0.0.0.0"})
    assert (settings.port, settings.data_dir, settings.host) == (9001, tmp_path, "0.0.0.0")
