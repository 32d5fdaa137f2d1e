"""Live sessions on a cluster of two real `badminton serve` nodes sharing Redis and a
PostgreSQL database: a session is reachable through either node, the cluster's capacity is
the sum of the nodes', and a session whose node dies goes on on the other one."""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import subprocess
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from redis.asyncio import Redis

from tests.server import test_upload_lifecycle_s3 as s3_lifecycle
from tests.server.conftest import SignedIn
from tests.server.live_client import ClipTrack, LiveClient
from tests.server.server_process import started
from tests.server.test_live import connect, create_session
from tests.server.test_live_limits import set_up_session
from tests.server.test_recording_pieces import read, until_pieces

FPS = 10
LOST = "the server holding this session stopped"
bucket = s3_lifecycle.bucket  # a fresh bucket on moto's S3 server, and a client to it
bucket_s3 = s3_lifecycle.bucket_s3
_redis_databases = itertools.count(1)  # one Redis database per test: no node of another


@dataclass
class Node:
    url: str
    process: subprocess.Popen
    log: Path
    http: aiohttp.ClientSession
    redis_url: str

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
async def start_nodes(tmp_path, postgres_url, redis_url):
    """Starts N more nodes (returns all so far) on a fresh database and Redis database;
    stops them at the end."""
    nodes: list[Node] = []
    database = f"cluster_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(postgres_url.replace("postgresql+asyncpg", "postgresql"))
    await admin.execute(f"CREATE DATABASE {database}")
    await admin.close()
    redis_db = f"{redis_url.rsplit('/', 1)[0]}/{next(_redis_databases)}"
    redis = Redis.from_url(redis_db)
    await redis.flushdb()

    async def start(count: int, **settings: str) -> list[Node]:
        env = {
            "DATABASE_URL": postgres_url.rsplit("/", 1)[0] + "/" + database,
            "REDIS_URL": redis_db,
            "SECRET_KEY": "one key for every node",
            "NODE_HEARTBEAT_S": "1",
            **settings,
        }
        for _ in range(count):  # one after the other: the first one runs the migrations
            process, port, log = await started(tmp_path / f"node{len(nodes)}", env)
            url = f"http://127.0.0.1:{port}"
            nodes.append(Node(url, process, log, aiohttp.ClientSession(), redis_db))
        return nodes

    yield start
    for node in nodes:
        if node.process.poll() is None:
            node.process.send_signal(signal.SIGINT)
    for node in nodes:
        try:
            node.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            node.process.kill()
        await node.http.close()
    await redis.aclose()


class On(SignedIn):
    """A signed-in user's calls through one node."""

    def __init__(self, node: Node, token: str) -> None:
        super().__init__(node.http, "", token, "")
        self.node = node

    async def call(self, method: str, path: str, **kwargs):
        return await self.node.http.request(
            method, self.node.url + path, headers=self.headers, **kwargs
        )


async def register(node: Node, email: str) -> str:
    async with node.http.post(
        node.url + "/api/v1/auth/register",
        json={"email": email, "password": "correct horse battery"},
    ) as response:
        assert response.status == 201, await response.text()
        return (await response.json())["token"]


def anonymous(node: Node) -> On:
    user = On(node, "")
    user.headers = {}
    return user


async def status_of(user: On, session_id: str) -> dict:
    response = await user.call("GET", f"/api/v1/stream/{session_id}/status")
    assert response.status == 200, await response.text()
    return await response.json()


async def eventually(check, timeout: float = 60.0):
    """Polls an async condition until it returns something true (a deadline, not a
    measurement); returns that."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = await check()
        if result:
            return result
        assert loop.time() < deadline, "the condition did not come true in time"
        await asyncio.sleep(0.3)


async def test_a_session_is_reachable_through_either_node(start_nodes, clip):
    a, b = await start_nodes(2, MAX_LIVE_SESSIONS="2")
    token = await register(a, "coach@example.com")
    alice_a, alice_b = On(a, token), On(b, token)
    session_id = await create_session(alice_a, clip, quality="medium")  # held by node A

    # A node-to-node header a client makes up is refused, not obeyed.
    forged = await b.http.post(
        f"{b.url}/api/v1/stream/{session_id}/offer",
        json={"sdp": "v=0", "type": "offer"},
        headers={**alice_b.headers, "X-Badminton-Node-Signature": "1700000000.00ff"},
    )
    assert forged.status == 403

    # Whatever reaches Redis on the session's channel, from the start.
    bus = Redis.from_url(a.redis_url)
    pubsub = bus.pubsub()
    published: list[dict] = []
    await pubsub.subscribe(f"badminton:live:{session_id}")

    async def collect() -> None:
        async for item in pubsub.listen():
            if item["type"] == "message":
                published.extend(json.loads(item["data"]))

    collector = asyncio.create_task(collect())

    phone = LiveClient(ClipTrack(clip.video, FPS))
    await connect(alice_b, f"/api/v1/stream/{session_id}/offer", phone)  # through node B
    link = await alice_b.call("POST", f"/api/v1/stream/{session_id}/viewers", json={})
    assert link.status == 201
    viewer = LiveClient()
    await connect(anonymous(b), f"/api/v1/view/{(await link.json())['token']}/offer", viewer)

    await asyncio.wait_for(phone.track.done.wait(), 120)
    await asyncio.sleep(2.0)  # the last hits are decided a little after their frame
    shots = phone.shots()
    assert shots, "no shot came back"
    assert viewer.video_frames > FPS
    assert viewer.shots() == shots

    # Every node answers the status with the numbers the session's node published.
    same = ("total_shots", "shot_distribution", "last_shot", "viewers", "publisher_connected")

    async def agreed() -> dict | None:
        on_a, on_b = await status_of(alice_a, session_id), await status_of(alice_b, session_id)
        live_a, live_b = on_a["live"], on_b["live"]
        if live_a is None or live_b is None or live_a["viewers"] != 1:
            return None
        if live_a["total_shots"] != len(shots):
            return None
        return on_b if all(live_a[k] == live_b[k] for k in same) else None

    on_b = await eventually(agreed)
    assert on_b["status"] == "streaming" and on_b["total_shots"] == len(shots)
    assert on_b["live"]["fps"]["analysed"] >= 0

    # The data-channel messages went out on Redis as well.
    sent = [m["shot_id"] for m in phone.of_type("shot_detected")]
    await eventually(
        lambda: asyncio.sleep(0, [m["shot_id"] for m in published if m["type"] == "shot_detected"])
    )
    assert [m["shot_id"] for m in published if m["type"] == "shot_detected"] == sent

    ended = await alice_b.call("POST", f"/api/v1/stream/{session_id}/end")
    assert ended.status == 200, await ended.text()
    report = await ended.json()
    await eventually(lambda: asyncio.sleep(0, phone.of_type("session_ended")))
    assert report["summary"]["total_shots"] == len(phone.shots())  # with the last decisions
    for user in (alice_a, alice_b):
        final = await status_of(user, session_id)
        assert final["status"] == "ended" and final["live"] is None
    collector.cancel()
    await pubsub.aclose()
    await bus.aclose()
    await phone.close()
    await viewer.close()


async def test_the_cluster_holds_the_sum_of_its_nodes_sessions(start_nodes, clip):
    a, b = await start_nodes(
        2, MAX_LIVE_SESSIONS="4", MAX_LIVE_SESSIONS_PER_USER="5", PUBLISHER_GRACE_S="300"
    )
    alice, bob = await register(a, "alice@example.com"), await register(b, "bob@example.com")
    # Every start through node A: the sessions go where there is room.
    for _ in range(5):
        await create_session(On(a, alice), clip, quality="low")
    # The per-account limit counts the sessions on every node.
    later = await set_up_session(On(b, alice), clip)
    refused = await On(a, alice).call("POST", f"/api/v1/stream/{later}/start")
    assert refused.status == 409, await refused.text()
    for _ in range(3):
        await create_session(On(a, bob), clip, quality="low")

    # Eight sessions: both nodes are full, whatever node the ninth start reaches.
    for node in (a, b):
        ninth = await set_up_session(On(node, bob), clip)
        full = await On(node, bob).call("POST", f"/api/v1/stream/{ninth}/start")
        assert full.status == 503, await full.text()
        assert int(full.headers["Retry-After"]) >= 1
        assert "8 live streams" in (await full.json())["error"]
    registry = Redis.from_url(a.redis_url)
    entries = [json.loads(v) for v in await registry.mget(await registry.keys("badminton:node:*"))]
    await registry.aclose()
    assert sorted((e["url"], e["capacity"], e["free"]) for e in entries) == sorted(
        [(a.url, 4, 0), (b.url, 4, 0)]
    )


async def test_a_session_goes_on_when_its_node_dies(start_nodes, clip):
    settings = {"MAX_LIVE_SESSIONS": "2", "PUBLISHER_GRACE_S": "120"}
    (a,) = await start_nodes(1, **settings)
    token = await register(a, "coach@example.com")
    alice_a = On(a, token)
    session_id = await create_session(alice_a, clip, quality="medium")  # held by node A
    idle = await create_session(alice_a, clip, quality="medium")  # on A too, no phone
    a, b = await start_nodes(1, **settings)
    alice_b = On(b, token)
    phone = LiveClient(ClipTrack(clip.video, FPS, loop=True))
    await connect(alice_b, f"/api/v1/stream/{session_id}/offer", phone)
    await eventually(lambda: asyncio.sleep(0, phone.of_type("shot_detected")))
    await asyncio.sleep(0.5)  # what the phone got has gone to Redis as well
    link = await alice_b.call("POST", f"/api/v1/stream/{session_id}/viewers", json={})
    viewer_path = f"/api/v1/view/{(await link.json())['token']}/offer"

    a.process.kill()  # kill -9: no goodbye, its registry entry just stops being renewed
    a.process.wait()
    await phone.close()

    async def marked_ended() -> dict | None:
        status = await status_of(alice_b, session_id)
        return status if status["status"] == "ended" else None

    lost = await eventually(marked_ended)
    assert lost["error"] == LOST
    assert len(lost["gaps"]) == 1 and lost["gaps"][0]["to"] is None
    assert lost["resumable"] is True  # the pages wait for the phone rather than end it
    # A coach's page meanwhile is told to try again, not that the stream is over.
    probe = LiveClient()
    waiting = await anonymous(b).call("POST", viewer_path, json=await probe.offer())
    assert waiting.status == 503 and int(waiting.headers["Retry-After"]) >= 1
    await probe.close()
    # A lost session ended by its owner is over for good: no phone continues it.
    assert (await status_of(alice_b, idle))["error"] == LOST
    given_up = await alice_b.call("POST", f"/api/v1/stream/{idle}/end")
    assert given_up.status == 200 and (await given_up.json())["report"] is None
    assert (await alice_b.call("POST", f"/api/v1/stream/{idle}/start")).status == 409

    # The phone reconnects through the node still alive: the session goes on there.
    before = phone.shots()
    again = LiveClient(ClipTrack(clip.video, FPS, loop=True))
    await connect(alice_b, f"/api/v1/stream/{session_id}/offer", again)
    await eventually(lambda: asyncio.sleep(0, again.of_type("shot_detected")))
    # The results carry on from those before the gap: numbers, times and totals.
    after = again.of_type("shot_detected")
    assert after[0]["shot_id"] > max(s["shot_id"] for s in before)
    assert after[0]["timestamp"] > before[-1]["timestamp"]
    assert again.of_type("stats_update")[-1]["total_shots"] > len(before)

    async def streaming() -> dict | None:
        status = await status_of(alice_b, session_id)
        live = status["live"]
        return status if live is not None and live["publisher_connected"] else None

    resumed = await eventually(streaming)
    assert resumed["status"] == "streaming" and resumed["error"] is None
    assert resumed["resumable"] is False
    viewer = LiveClient()  # the coach's page connects again, to the session's new node
    await connect(anonymous(b), viewer_path, viewer)
    await eventually(lambda: asyncio.sleep(0, viewer.of_type("live_status")))
    gap = resumed["gaps"][0]
    assert gap["from"] is not None and gap["to"] is not None and gap["from"] <= gap["to"]

    ended = await alice_b.call("POST", f"/api/v1/stream/{session_id}/end")
    assert ended.status == 200, await ended.text()
    report = await ended.json()
    assert report["gaps"] == [gap]
    kept = [(s["shot_id"], s["type"], s["time"]) for s in report["shots"][: len(before)]]
    assert kept == [(s["shot_id"], s["shot"], s["timestamp"]) for s in before]
    assert report["summary"]["total_shots"] > len(before)
    gap_s = (_utc(gap["to"]) - _utc(gap["from"])).total_seconds()
    later = [s for s in report["shots"] if s["shot_id"] > before[-1]["shot_id"]]
    assert later and all(s["time"] >= before[-1]["timestamp"] + gap_s for s in later)
    await again.close()
    await viewer.close()


def _utc(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


async def test_a_node_taken_for_lost_keeps_its_sessions(start_nodes, clip):
    """A node that stalls past its heartbeats' expiry (a busy machine) is taken for lost;
    when it answers again, its sessions still live there stream on."""
    a, b = await start_nodes(2, MAX_LIVE_SESSIONS="2", PUBLISHER_GRACE_S="120")
    token = await register(a, "coach@example.com")
    alice_a, alice_b = On(a, token), On(b, token)
    session_id = await create_session(alice_a, clip, quality="medium")  # held by node A
    phone = LiveClient(ClipTrack(clip.video, FPS, loop=True))
    await connect(alice_a, f"/api/v1/stream/{session_id}/offer", phone)
    await eventually(lambda: asyncio.sleep(0, phone.of_type("position_update")))

    a.process.send_signal(signal.SIGSTOP)
    try:

        async def marked_ended() -> dict | None:
            status = await status_of(alice_b, session_id)
            return status if status["status"] == "ended" else None

        assert (await eventually(marked_ended))["error"] == LOST
    finally:
        a.process.send_signal(signal.SIGCONT)

    async def streaming_again() -> dict | None:
        status = await status_of(alice_b, session_id)
        return status if status["status"] == "streaming" else None

    again = await eventually(streaming_again)
    assert again["error"] is None and again["gaps"][0]["to"] is not None
    heard = len(phone.messages)
    await eventually(lambda: asyncio.sleep(0, len(phone.messages) > heard + 10))
    ended = await alice_b.call("POST", f"/api/v1/stream/{session_id}/end")
    assert ended.status == 200 and (await ended.json())["gaps"] == again["gaps"]
    await phone.close()


async def test_a_lost_nodes_recording_is_kept_up_to_its_last_piece(
    start_nodes, clip, moto_endpoint, bucket, bucket_s3
):
    """The node holding a recording session dies with its disk: another node marks the
    session lost and joins the pieces the dead node stored into the session's recording."""
    settings = {
        "S3_BUCKET": bucket,
        "S3_ENDPOINT_URL": moto_endpoint,
        "AWS_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "RECORDING_FLUSH_S": "1",
        "PUBLISHER_GRACE_S": "120",
    }
    (a,) = await start_nodes(1, **settings)
    token = await register(a, "coach@example.com")
    alice_a = On(a, token)
    session_id = await create_session(alice_a, clip, quality="medium")
    a, b = await start_nodes(1, **settings)
    phone = LiveClient(ClipTrack(clip.video, FPS, loop=True))
    await connect(alice_a, f"/api/v1/stream/{session_id}/offer", phone)
    recording = await alice_a.call("POST", f"/api/v1/stream/{session_id}/recording/start")
    assert recording.status == 200, await recording.text()
    found = await until_pieces(bucket_s3, bucket, "users/", 3)
    a.process.kill()  # kill -9, and its disk is never read again
    a.process.wait()
    await phone.close()
    # Read before the other node takes the node for lost (3 heartbeats) and joins them.
    stored = await until_pieces(bucket_s3, bucket, "users/", len(found))
    joined = b"".join([await read(bucket_s3, bucket, k) for k in sorted(stored)])

    alice_b = On(b, token)

    async def kept() -> list | None:
        response = await alice_b.call("GET", f"/api/v1/stream/{session_id}/outputs")
        return (await response.json()).get("recordings") if response.status == 200 else None

    (kept_recording,) = await eventually(kept)
    assert kept_recording["cut_short"] is True
    assert (await status_of(alice_b, session_id))["error"] == LOST
    async with b.http.get(kept_recording["url"]) as response:
        assert response.status == 200
        video = await response.read()
    # Joined from every piece the dead node stored: it plays, as long as they do.
    frames, duration = _decoded(video)
    assert frames >= 2 * FPS and abs(kept_recording["duration_s"] - duration) < 0.5
    assert abs(duration - _decoded(joined)[1]) <= 1 / FPS


def _decoded(data: bytes) -> tuple[int, float]:
    import io

    import av

    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        times = [float(f.pts * stream.time_base) for f in container.decode(stream)]
    return len(times), (max(times) - min(times)) if times else 0.0
