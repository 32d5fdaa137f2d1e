"""TURN: time-limited credentials from the API, and a relay-only WebRTC connection through a
real coturn started here with the project's turn.conf and a generated secret."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest
from aiortc import RTCConfiguration, RTCIceServer
from aiortc.rtcconfiguration import RTCIceTransportPolicy

from server.app import create_app
from server.config import ConfigError, Settings
from server.live.ice import turn_credentials
from tests.conftest import require
from tests.server.conftest import sign_up
from tests.server.live_client import ClipTrack, LiveClient
from tests.server.test_live import connect, create_session

TURN_CONF = Path(__file__).resolve().parents[2] / "turn.conf"


def test_turn_rest_credentials():
    username, password = turn_credentials("s3cret", "alice", ttl_s=600, now=1_700_000_000)
    assert username == "1700000600:alice"
    expected = hmac.new(b"s3cret", b"1700000600:alice", hashlib.sha1).digest()
    assert base64.b64decode(password) == expected


async def test_ice_servers_endpoint(aiohttp_client, settings):
    settings = replace(
        settings,
        turn_secret="s3cret",
        turn_urls=("turn:turn.example.com:3478",),
        stun_urls=("stun:stun.example.com:3478",),
        turn_ttl_s=600,
    )
    client = await aiohttp_client(create_app(settings))
    alice = await sign_up(client, "alice@example.com")
    body = await (await alice.call("GET", "/api/v1/ice-servers")).json()
    stun, turn = body["iceServers"]
    assert stun == {"urls": ["stun:stun.example.com:3478"]}
    expiry, user = turn["username"].split(":")
    assert user == alice.id and 0 < int(expiry) - time.time() <= 600
    digest = hmac.new(b"s3cret", turn["username"].encode(), hashlib.sha1).digest()
    assert turn["credential"] == base64.b64encode(digest).decode()
    assert (await client.get("/api/v1/ice-servers")).status == 401


def turn_expiry(servers: list[dict]) -> int:
    turn = next(s for s in servers if "username" in s)
    return int(turn["username"].split(":")[0])


async def test_a_viewer_links_turn_credentials_end_with_the_link(aiohttp_client, settings, clip):
    settings = replace(settings, turn_secret="s3cret", turn_urls=("turn:turn.example.com",))
    client = await aiohttp_client(create_app(settings))
    alice = await sign_up(client, "alice@example.com")
    session_id = await create_session(alice, clip)
    links = f"/api/v1/stream/{session_id}/viewers"
    short = await (await alice.call("POST", links, json={"ttl_s": 60})).json()
    link_expiry = int(short["token"].split(".")[1])
    viewer = await (await client.get(f"/api/v1/view/{short['token']}")).json()
    assert time.time() < turn_expiry(viewer["iceServers"]) <= link_expiry
    assert viewer["iceServers"][0]["username"].endswith(f":viewer-{short['id']}")
    # A week-long link still gets credentials of a few hours at most.
    week = await (await alice.call("POST", links, json={"ttl_s": 7 * 24 * 3600})).json()
    viewer = await (await client.get(f"/api/v1/view/{week['token']}")).json()
    assert turn_expiry(viewer["iceServers"]) <= time.time() + settings.turn_ttl_s
    assert settings.turn_ttl_s <= 6 * 3600
    assert (await alice.call("POST", f"/api/v1/stream/{session_id}/end")).status == 200


@pytest.mark.parametrize(
    "env, message",
    [
        ({"TURN_TTL_S": "86400"}, "TURN_TTL_S must be between"),
        ({"TURN_TTL_S": "10"}, "TURN_TTL_S must be between"),
        ({"MAX_VIEWERS_PER_LINK": "0"}, "MAX_VIEWERS_PER_LINK must be at least 1"),
        ({"MAX_VIEWER_LINKS": "-1"}, "MAX_VIEWER_LINKS must be at least 1"),
        ({"MAX_LIVE_SESSIONS_PER_USER": "0"}, "MAX_LIVE_SESSIONS_PER_USER must be at least 1"),
        ({"PUBLISHER_GRACE_S": "0"}, "PUBLISHER_GRACE_S must be more than 0"),
    ],
)
def test_live_limits_are_validated(env, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


def test_live_limits_defaults():
    settings = Settings.from_env({})
    assert settings.max_live_sessions_per_user == 2
    assert (settings.max_viewers_per_link, settings.max_viewer_links) == (10, 20)
    assert settings.turn_ttl_s == 3 * 3600


def free_port(kind=socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def coturn(tmp_path):
    """coturn on loopback with the project's turn.conf, a fresh secret and free ports; loopback
    peers are allowed here only because the test's media server lives on 127.0.0.1."""
    binary = shutil.which("turnserver")
    require(binary is not None, "coturn (Debian package coturn)")
    secret = secrets.token_hex(16)
    port = free_port()
    relay = free_port()
    lines = [
        line
        for line in TURN_CONF.read_text().splitlines()
        if not line.startswith(
            (
                "static-auth-secret",
                "listening-port",
                "tls-listening-port",
                "min-port",
                "max-port",
                "log-file",
            )
        )
    ]
    lines += [
        f"static-auth-secret={secret}",
        f"listening-port={port}",
        "listening-ip=127.0.0.1",
        "relay-ip=127.0.0.1",
        f"min-port={relay}",
        f"max-port={relay + 20}",
        "allow-loopback-peers",
        "allowed-peer-ip=127.0.0.1",
        "no-tls",
        "no-dtls",
        f"log-file={tmp_path / 'turn.log'}",
        f"pidfile={tmp_path / 'turn.pid'}",
    ]
    config = tmp_path / "turn.conf"
    config.write_text("\n".join(lines) + "\n")
    process = subprocess.Popen(
        [binary, "-c", str(config), "--no-stdout-log"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)
    assert process.poll() is None, "coturn did not start"
    yield secret, port, tmp_path
    process.terminate()
    process.wait(timeout=10)


async def test_relay_only_connection_through_coturn(aiohttp_client, settings, clip, coturn):
    secret, port, _ = coturn
    settings = replace(
        settings, turn_secret=secret, turn_urls=(f"turn:127.0.0.1:{port}?transport=udp",)
    )
    client = await aiohttp_client(create_app(settings))
    alice = await sign_up(client, "alice@example.com")
    servers = (await (await alice.call("GET", "/api/v1/ice-servers")).json())["iceServers"]
    configuration = RTCConfiguration(
        iceServers=[RTCIceServer(**server) for server in servers],
        iceTransportPolicy=RTCIceTransportPolicy.RELAY,
    )
    session_id = await create_session(alice, clip)
    publisher = LiveClient(ClipTrack(clip.video, 10, loop=True), configuration)
    await connect(alice, f"/api/v1/stream/{session_id}/offer", publisher)

    gatherer = publisher.pc.getTransceivers()[0].sender.transport.transport.iceGatherer
    kinds = {candidate.type for candidate in gatherer.getLocalCandidates()}
    assert kinds == {"relay"}
    publisher.channel.send('{"type": "ping", "t": 1}')
    for _ in range(200):
        if publisher.of_type("pong") and publisher.of_type("position_update"):
            break
        await asyncio.sleep(0.05)
    assert publisher.of_type("pong"), "no answer through the relay"
    assert publisher.of_type("position_update"), "no video analysed through the relay"
    assert (await alice.call("POST", f"/api/v1/stream/{session_id}/end")).status == 200
    await publisher.close()

    # A tampered credential gets no relay from coturn, so no candidate at all.
    forged = RTCConfiguration(
        iceServers=[
            RTCIceServer(**{**servers[0], "credential": "AAAA" + servers[0]["credential"][4:]})
        ],
        iceTransportPolicy=RTCIceTransportPolicy.RELAY,
    )
    intruder = LiveClient(ClipTrack(clip.video, 10), forged)
    await intruder.offer()
    gatherer = intruder.pc.getTransceivers()[0].sender.transport.transport.iceGatherer
    assert gatherer.getLocalCandidates() == []
    await intruder.close()

    # Nor does a credential past its expiry: what bounds a viewer's TURN access is its time.
    username, credential = turn_credentials(secret, "viewer-late", ttl_s=-60)
    expired = RTCConfiguration(
        iceServers=[RTCIceServer(servers[0]["urls"], username, credential)],
        iceTransportPolicy=RTCIceTransportPolicy.RELAY,
    )
    late = LiveClient(ClipTrack(clip.video, 10), expired)
    await late.offer()
    gatherer = late.pc.getTransceivers()[0].sender.transport.transport.iceGatherer
    assert gatherer.getLocalCandidates() == []
    await late.close()
