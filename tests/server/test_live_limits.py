"""Live slots and viewer places cannot be held for good: a started session whose phone never
connects ends itself, one account has a limited number of live sessions, a full server says
when to ask again, and viewer links have caps on viewers and on their number."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace

import pytest

from server.app import create_app
from server.context import STREAMS
from tests.server.conftest import SignedIn, sign_up
from tests.server.live_client import ClipTrack, LiveClient
from tests.server.test_live import connect, create_session

FPS = 10


async def set_up_session(user: SignedIn, clip, quality: str = "medium") -> str:
    """A session with its court, not started."""
    created = await user.call("POST", "/api/v1/stream/create", json={"quality": quality})
    session_id = (await created.json())["id"]
    court = await user.call(
        "POST",
        f"/api/v1/stream/{session_id}/setup-court",
        json={"court": clip.corners, "frame_size": [1280, 720]},
    )
    assert court.status == 200, await court.text()
    return session_id


async def status_of(user: SignedIn, session_id: str) -> dict:
    response = await user.call("GET", f"/api/v1/stream/{session_id}/status")
    assert response.status == 200
    return await response.json()


async def wait_until(check, timeout: float = 30.0) -> None:
    """Polls an async condition until it holds (a deadline, not a measurement)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        assert loop.time() < deadline, "the condition did not come true in time"
        await asyncio.sleep(0.2)


def anonymous(client) -> SignedIn:
    viewer = SignedIn(client, "", "", "")
    viewer.headers = {}
    return viewer


async def test_a_started_session_without_a_phone_ends_itself(aiohttp_client, settings, clip):
    grace = 5.0
    client = await aiohttp_client(
        create_app(replace(settings, max_live_sessions=2, publisher_grace_s=grace))
    )
    alice = await sign_up(client, "alice@example.com")
    bob = await sign_up(client, "bob@example.com")
    watched = await create_session(alice, clip, quality="medium")
    publisher = LiveClient(ClipTrack(clip.video, FPS, loop=True))
    await connect(alice, f"/api/v1/stream/{watched}/offer", publisher)
    idle = await create_session(alice, clip, quality="medium")  # started, no phone ever

    # The server is full; the answer says when a slot frees: when the idle one gives up.
    later = await set_up_session(bob, clip)
    refused = await bob.call("POST", f"/api/v1/stream/{later}/start")
    assert refused.status == 503
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= grace
    body = await refused.json()
    assert f"try again in {retry_after} s" in body["error"]
    assert body["detail"] == {"retry_after_s": retry_after}

    async def idle_ended() -> bool:
        return (await status_of(alice, idle))["status"] == "ended"

    await wait_until(idle_ended)
    ended = await (await alice.call("POST", f"/api/v1/stream/{idle}/end")).json()
    assert ended == {"report": None, "reason": "no video arrived within 5 s"}

    # The session with a connected phone goes on, and the freed slot can be taken.
    still = await status_of(alice, watched)
    assert still["status"] == "streaming" and still["live"]["publisher_connected"]
    assert (await bob.call("POST", f"/api/v1/stream/{later}/start")).status == 200
    assert (await alice.call("POST", f"/api/v1/stream/{watched}/end")).status == 200
    assert (await bob.call("POST", f"/api/v1/stream/{later}/end")).status == 200
    await publisher.close()


async def test_a_phone_that_offers_but_never_connects_does_not_hold_its_slot(
    aiohttp_client, settings, clip
):
    client = await aiohttp_client(create_app(replace(settings, publisher_grace_s=2.0)))
    alice = await sign_up(client, "alice@example.com")
    session_id = await create_session(alice, clip, quality="medium")
    # An offer is answered, but the answer is never applied: no connection comes up.
    phone = LiveClient(ClipTrack(clip.video, FPS))
    answer = await alice.call(
        "POST", f"/api/v1/stream/{session_id}/offer", json=await phone.offer()
    )
    assert answer.status == 200

    async def ended() -> bool:
        return (await status_of(alice, session_id))["status"] == "ended"

    await wait_until(ended)
    await phone.close()


async def test_a_phone_that_comes_late_gets_the_whole_grace_to_connect(
    aiohttp_client, settings, clip
):
    grace = 6.0
    client = await aiohttp_client(create_app(replace(settings, publisher_grace_s=grace)))
    alice = await sign_up(client, "alice@example.com")
    session_id = await create_session(alice, clip, quality="medium")
    live = client.app[STREAMS].live[session_id]
    await asyncio.sleep(grace / 2)  # the phone is slow to come
    phone = LiveClient(ClipTrack(clip.video, FPS, loop=True))
    answer = await alice.call(
        "POST", f"/api/v1/stream/{session_id}/offer", json=await phone.offer()
    )
    assert answer.status == 200
    # Counted again from its offer, not from the start of the session.
    assert live.grace_left() > grace / 2 + 1.0
    await phone.accept(await answer.json())
    await asyncio.wait_for(phone.channel_open.wait(), 20)
    status = await status_of(alice, session_id)
    assert status["status"] == "streaming" and status["live"]["publisher_connected"]
    assert (await alice.call("POST", f"/api/v1/stream/{session_id}/end")).status == 200
    await phone.close()


async def test_one_account_cannot_take_every_live_slot(aiohttp_client, settings, clip):
    client = await aiohttp_client(create_app(replace(settings, max_live_sessions=4)))
    alice = await sign_up(client, "alice@example.com")
    bob = await sign_up(client, "bob@example.com")
    mine = [await create_session(alice, clip, quality="low") for _ in range(2)]  # the default
    third = await set_up_session(alice, clip)
    refused = await alice.call("POST", f"/api/v1/stream/{third}/start")
    assert refused.status == 409
    body = await refused.json()
    assert "end one first" in body["error"]
    assert sorted(body["detail"]["live_sessions"]) == sorted(mine)
    assert (await status_of(alice, third))["status"] == "setup"
    # Someone else still gets a slot; alice gets hers back by ending one.
    await create_session(bob, clip, quality="low")
    assert (await alice.call("POST", f"/api/v1/stream/{mine[0]}/end")).status == 200
    assert (await alice.call("POST", f"/api/v1/stream/{third}/start")).status == 200


async def test_viewers_per_link_are_capped(aiohttp_client, settings, clip):
    client = await aiohttp_client(
        create_app(replace(settings, max_viewers_per_link=1, publisher_grace_s=3.0))
    )
    alice = await sign_up(client, "alice@example.com")
    session_id = await create_session(alice, clip, quality="medium")
    publisher = LiveClient(ClipTrack(clip.video, FPS, loop=True))
    await connect(alice, f"/api/v1/stream/{session_id}/offer", publisher)
    created = await alice.call("POST", f"/api/v1/stream/{session_id}/viewers", json={})
    token = (await created.json())["token"]
    coach = anonymous(client)
    offer_path = f"/api/v1/view/{token}/offer"

    first = LiveClient()
    await connect(coach, offer_path, first)
    second = LiveClient()
    refused = await coach.call("POST", offer_path, json=await second.offer())
    assert refused.status == 429
    assert "its most" in (await refused.json())["error"]
    # A second link gives its own places.
    other = await alice.call("POST", f"/api/v1/stream/{session_id}/viewers", json={})
    other_path = f"/api/v1/view/{(await other.json())['token']}/offer"
    await connect(coach, other_path, second)

    # When the first viewer leaves, its place is free again.
    await first.close()
    third = LiveClient()
    offer = await third.offer()

    async def place_free() -> bool:
        response = await coach.call("POST", offer_path, json=offer)
        if response.status == 429:
            return False
        assert response.status == 200, await response.text()
        await third.accept(await response.json())
        return True

    await wait_until(place_free)
    await asyncio.wait_for(third.channel_open.wait(), 20)

    # An offer whose answer is never used takes a place only for the grace time.
    await third.close()
    stalled = LiveClient()
    stalled_offer = await stalled.offer()

    async def stalled_taken() -> bool:
        return (await coach.call("POST", offer_path, json=stalled_offer)).status == 200

    await wait_until(stalled_taken)
    late = LiveClient()
    late_offer = await late.offer()
    assert (await coach.call("POST", offer_path, json=late_offer)).status == 429

    async def stalled_dropped() -> bool:
        response = await coach.call("POST", offer_path, json=late_offer)
        return response.status == 200

    await wait_until(stalled_dropped)
    assert (await alice.call("POST", f"/api/v1/stream/{session_id}/end")).status == 200
    for peer in (publisher, second, stalled, late):
        await peer.close()


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
async def test_viewer_links_per_session_are_capped(
    aiohttp_client, settings, clip, database, request
):
    if database == "postgres":
        settings = replace(settings, database_url=request.getfixturevalue("postgres_url"))
    client = await aiohttp_client(create_app(replace(settings, max_viewer_links=2)))
    alice = await sign_up(client, f"links-{uuid.uuid4().hex[:8]}@example.com")
    session_id = await create_session(alice, clip, quality="low")
    path = f"/api/v1/stream/{session_id}/viewers"
    links = [await (await alice.call("POST", path, json={})).json() for _ in range(2)]
    refused = await alice.call("POST", path, json={})
    assert refused.status == 409
    assert "revoke one first" in (await refused.json())["error"]
    # A revoked link no longer counts.
    revoke = await alice.call("DELETE", f"{path}/{links[0]['id']}")
    assert revoke.status == 204
    assert (await alice.call("POST", path, json={})).status == 201
    assert (await alice.call("POST", path, json={})).status == 409
