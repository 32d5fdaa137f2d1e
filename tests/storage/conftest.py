"""Storage fixtures: a moto S3 server over real HTTP, a fresh bucket per test, both backends
behind one parametrized fixture, and the local store's signed URLs served by a tiny app."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
from aiobotocore.session import AioSession, get_session

from storage import MIN_PART_SIZE, LocalStorage, S3Storage, Storage
from tests.storage.local_app import create_file_app

REGION = "eu-west-1"
CREDENTIALS = {"access_key_id": "testing", "secret_access_key": "testing"}
APP_ORIGIN = "http://app.example"
SECRET = b"0123456789abcdef0123456789abcdef"


@dataclass
class Backend:
    """A storage and the base URL its relative presigned URLs are served from."""

    storage: Storage
    base_url: str = ""

    def absolute(self, url: str) -> str:
        return url if url.startswith(("http://", "https://")) else self.base_url + url


@pytest.fixture(scope="session")
def aio_session() -> AioSession:
    """One botocore session for all tests: each new one reloads the service models."""
    return get_session()


@pytest.fixture
async def s3_storage(moto_endpoint: str, aio_session: AioSession) -> AsyncIterator[S3Storage]:
    # Multipart above 5 MiB (S3's smallest part) so a few MiB already exercise it.
    storage = S3Storage(
        f"test-{uuid.uuid4().hex[:20]}",
        REGION,
        endpoint_url=moto_endpoint,
        multipart_threshold=MIN_PART_SIZE,
        part_size=MIN_PART_SIZE,
        session=aio_session,
        **CREDENTIALS,
    )
    await storage.ensure_bucket([APP_ORIGIN])
    yield storage
    await storage.close()
    # Drops every bucket so that moto's memory does not grow test after test.
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{moto_endpoint}/moto-api/reset") as response:
            response.raise_for_status()


@pytest.fixture
async def raw_s3(moto_endpoint: str, aio_session: AioSession):
    """A plain aiobotocore client, to look at the bucket behind S3Storage's back."""
    async with aio_session.create_client(
        "s3",
        region_name=REGION,
        endpoint_url=moto_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ) as client:
        yield client


@pytest.fixture
def local_storage(tmp_path) -> LocalStorage:
    return LocalStorage(tmp_path / "store", SECRET)


@pytest.fixture
async def local_backend(local_storage: LocalStorage, aiohttp_server) -> Backend:
    server = await aiohttp_server(create_file_app(local_storage))
    return Backend(local_storage, str(server.make_url("")).rstrip("/"))


@pytest.fixture
def s3_backend(s3_storage: S3Storage) -> Backend:
    return Backend(s3_storage)


@pytest.fixture(params=["local", "s3"])
def backend(request) -> Backend:
    return request.getfixturevalue(f"{request.param}_backend")


@pytest.fixture
def storage(backend: Backend) -> Storage:
    return backend.storage


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture(scope="session")
def big_data() -> bytes:
    """Eleven and a bit MiB: three 5 MiB-or-less parts, and a short last 1 MiB chunk."""
    return random.Random(7).randbytes(11 * 1024 * 1024 + 12_345)
