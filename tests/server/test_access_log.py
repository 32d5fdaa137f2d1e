"""The access log of a real `badminton serve` process never holds a usable signed URL."""

from __future__ import annotations

import asyncio
import signal
from urllib.parse import parse_qs, urlsplit

import aiohttp

from tests.server.server_process import free_port, spawn_server


async def test_signed_url_query_strings_stay_out_of_the_log(tmp_path):
    port = free_port()
    server, log_path = spawn_server(tmp_path, port)
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(300):
                try:
                    async with http.get(f"{base}/health") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                assert server.poll() is None, log_path.read_text()
                await asyncio.sleep(0.1)
            credentials = {"email": "alice@example.com", "password": "correct horse battery"}
            async with http.post(f"{base}/auth/register", json=credentials) as response:
                token = (await response.json())["token"]
            body = {"filename": "match.mp4", "content_type": "video/mp4", "size": 10}
            headers = {"Authorization": f"Bearer {token}"}
            async with http.post(f"{base}/upload/request", json=body, headers=headers) as r:
                url = (await r.json())["upload_url"]
            viewer_token = "vt" + "x" * 40  # valid or not, a link token is logged blanked
            async with http.get(f"{base}/view/{viewer_token}") as response:
                assert response.status == 403  # not a link the server made
            put_headers = {"Content-Type": "video/mp4"}
            async with http.put(url, data=b"0123456789", headers=put_headers) as response:
                assert response.status == 200
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)

    text = log_path.read_text()
    signature = parse_qs(urlsplit(url).query)["sig"][0]
    assert f'"PUT {urlsplit(url).path} HTTP/1.1" 200' in text, text  # the request is logged
    assert signature not in text
    assert "sig=" not in text and token not in text
    assert '"GET /api/v1/view/- HTTP/1.1"' in text and viewer_token not in text
