"""In-process OAuth tests: a fresh reference per test on a MemoryStore whose clock only moves when told."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from spreadapi_conformance.reference.app import Reference, create_reference
from spreadapi_conformance.reference.config import ReferenceConfig
from spreadapi_conformance.reference.store import ManualClock, MemoryStore

from ._support import OAuthDriver


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=1_000_000.0)


@pytest.fixture
def config() -> ReferenceConfig:
    return ReferenceConfig(warm_up=False)


@pytest.fixture
async def reference(config: ReferenceConfig, clock: ManualClock) -> AsyncIterator[Reference]:
    reference = await create_reference(config, store=MemoryStore(clock=clock))
    yield reference
    await reference.aclose()


@pytest.fixture
async def http(reference: Reference) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=reference.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=30) as client:
        yield client


@pytest.fixture
def oauth(http: httpx.AsyncClient, reference: Reference) -> OAuthDriver:
    return OAuthDriver(http, reference)
