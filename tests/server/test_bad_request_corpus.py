"""A corpus of bad requests sent to every route of the app, signed in and not: whatever the
body, path or value, the answer is never a 5xx and the server keeps answering."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from server.app import create_app
from tests.server.conftest import SignedIn, sign_up
from tests.server.live_client import ClipTrack, LiveClient
from tests.server.test_live import create_session

# Bodies that are not what any route reads.
RAW_BODIES: list[bytes] = [
    b"",
    b"not json",
    b"{",
    b'{"a": 1,}',
    ("[" * 100_000 + "]" * 100_000).encode(),
    ('{"a": ' * 50_000 + "0" + "}" * 50_000).encode(),
    b"[]",
    b"null",
    b"42",
    b'"text"',
    b"NaN",
    b'{"x": Infinity}',
    b'{"x": 1e400}',
    b'{"x": ' + b"9" * 5000 + b"}",
    b"\xff\xfe\x00",
    b'{"\xff": 1}',
    b"\xef\xbb\xbf{}",  # a byte-order mark
]

# Values put in place of each field of a valid body, one field at a time.
BAD_VALUES: list[Any] = [
    None,
    True,
    False,
    "10",
    "",
    "x" * 10_000,
    "\u0000../../etc/passwd",
    int("9" * 400),
    -int("9" * 400),
    1e308,
    -1,
    0,
    1.5,
    [],
    {},
    [[["deep"]]],
    {"a": {"b": None}},
]

SAMPLE_COURT = {
    "far_left": [427, 384],
    "far_right": [860, 382],
    "near_right": [998, 667],
    "near_left": [286, 670],
}

# Path values besides the real ones: absent, huge, odd characters, traversal.
BAD_PATH_VALUES = ["nothing", "9" * 400, "x" * 3000, "%00", "..%2F..%2Fsecret", "%E2%82%28"]


def sdp_variants(sdp: str) -> list[str]:
    """Offers broken in the ways a careless or hostile client breaks them."""
    return [
        sdp.replace("m=video", "m=audio", 1),
        sdp.replace("m=video", "m=text", 1),
        sdp.replace("m=application", "m=video", 1),
        sdp.replace("VP8/90000", "VP8/0"),
        sdp.replace("a=rtpmap:", "a=rtpmap:x"),
        sdp.replace("a=fingerprint:", "a=fingerprint:bogus "),
        sdp.replace("a=ice-ufrag:", "a=ice-ufrag"),
        sdp.replace("a=setup:actpass", "a=setup:nonsense"),
        sdp.replace("UDP/TLS/RTP/SAVPF", "RTP/AVP"),
        sdp.replace("c=IN IP4", "c=IN IP9"),
        sdp.replace(" 97 ", " 99999999999999999999 ", 1),
        sdp + "m=video 9 UDP/TLS/RTP/SAVPF\r\n",
        "v=0\r\n" + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n" * 1000,
        sdp.split("m=")[0],
        sdp[: len(sdp) // 2],
    ]


def mutations(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The body with one field (or one court corner or coordinate) replaced by a bad value."""
    for field in body:
        for bad in BAD_VALUES:
            yield {**body, field: bad}
        yield {k: v for k, v in body.items() if k != field}
        if field == "court":
            for corner in SAMPLE_COURT:
                for bad in BAD_VALUES:
                    yield {**body, "court": {**SAMPLE_COURT, corner: bad}}
                    yield {**body, "court": {**SAMPLE_COURT, corner: [bad, 400]}}


async def test_no_bad_request_gets_a_5xx(aiohttp_client, settings, clip):
    app = create_app(settings)
    client = await aiohttp_client(app)
    alice = await sign_up(client, "alice@example.com")
    anonymous = SignedIn(client, "", "", "")
    anonymous.headers = {}

    # Real resources, so that requests get past "not found" into each route's validation.
    session_id = await create_session(alice, clip)
    link = await (await alice.call("POST", f"/api/v1/stream/{session_id}/viewers", json={})).json()
    upload = {"filename": "m.mp4", "content_type": "video/mp4", "size": 1000}
    job = await (
        await alice.call("POST", "/api/v1/upload/request", json={**upload, "court": SAMPLE_COURT})
    ).json()
    publisher, viewer = LiveClient(ClipTrack(clip.video, 15)), LiveClient()
    publisher_offer, viewer_offer = await publisher.offer(), await viewer.offer()
    real = {
        "session_id": session_id,
        "job_id": job["job_id"],
        "token": link["token"],
        "link_id": link["id"],
        "key": job["file_key"],
    }
    templates: dict[str, dict[str, Any]] = {
        "/api/v1/auth/register": {"email": "new@example.com", "password": "long enough pw"},
        "/api/v1/auth/login": {"email": "alice@example.com", "password": "long enough pw"},
        "/api/v1/upload/request": {**upload, "court": SAMPLE_COURT},
        "/api/v1/upload/multipart/init": {**upload, "size": 200 * 2**20, "court": SAMPLE_COURT},
        "/api/v1/upload/multipart/complete": {
            "job_id": job["job_id"],
            "parts": [{"part_number": 1, "etag": "x"}],
        },
        "/api/v1/upload/multipart/abort": {"job_id": job["job_id"]},
        "/api/v1/upload/confirm/{job_id}": {"court": SAMPLE_COURT},
        "/api/v1/jobs/{job_id}/court": {"court": SAMPLE_COURT},
        "/api/v1/stream/create": {"name": "x", "quality": "high"},
        "/api/v1/stream/{session_id}/setup-court": {
            "court": SAMPLE_COURT,
            "frame_size": [1280, 720],
        },
        "/api/v1/stream/{session_id}/viewers": {"ttl_s": 600},
        "/api/v1/stream/{session_id}/offer": publisher_offer,
        "/api/v1/view/{token}/offer": viewer_offer,
    }

    failures: list[str] = []
    sent = 0

    async def send(user: SignedIn, method: str, path: str, body: bytes | None) -> None:
        nonlocal sent
        sent += 1
        headers = {**user.headers, "Content-Type": "application/json"}
        response = await client.request(method, path, data=body, headers=headers)
        await response.read()
        if response.status >= 500:
            failures.append(f"{method} {path[:80]} {body[:80]!r} -> {response.status}")

    routes = sorted(app.router.routes(), key=lambda r: destructive(r.method, r.resource))
    covered = set()
    for route in routes:
        method, resource = route.method, route.resource
        assert resource is not None
        canonical = resource.canonical
        covered.add((method, canonical))
        paths = [fill(canonical, real)] + [
            fill(canonical, dict.fromkeys(real, bad)) for bad in BAD_PATH_VALUES
        ]
        if isinstance(resource, web.StaticResource):
            paths = ["/static/index.html", "/static/../server/config.py", "/static/%2e%2e/x"]
        for path in dict.fromkeys(paths):
            for body in RAW_BODIES:
                await send(alice, method, path, body)
                await send(anonymous, method, path, body)
        template = templates.get(canonical)
        if template is not None:
            bodies = list(mutations(template))
            if "sdp" in template:
                bodies += [{**template, "sdp": sdp} for sdp in sdp_variants(template["sdp"])]
            user = anonymous if canonical.startswith("/api/v1/auth/") else alice
            for body in bodies:
                await send(user, method, fill(canonical, real), json.dumps(body).encode())

    await publisher.close()
    await viewer.close()
    assert failures == [], f"{len(failures)} of {sent} requests got a 5xx:\n" + "\n".join(
        failures[:40]
    )
    assert set(templates) <= {canonical for _, canonical in covered}
    assert sent > 2000
    assert (await client.get("/api/v1/health")).status == 200


def fill(canonical: str, values: dict[str, str]) -> str:
    path = canonical
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    return path


def destructive(method: str, resource: Any) -> int:
    """Requests that end or delete what the others use go last; signing out last of all."""
    canonical = resource.canonical
    if canonical.endswith("/logout"):
        return 2
    if method == "DELETE" or canonical.endswith(("/end", "/abort")):
        return 1
    return 0
