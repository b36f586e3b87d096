"""Fixtures for the tests of the reference's MCP endpoints.

``reference`` is one seeded deployment shared by the session (its lifespan entered per test, because
the SDK's session managers live in the test's event loop), ``fresh`` a new one per test on a clock that
moves only when told (expiry), with the OAuth driver of the OAuth suite on top.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from spreadapi_conformance.checks.mcp._support import running
from spreadapi_conformance.reference.app import Reference, create_reference
from spreadapi_conformance.reference.config import ReferenceConfig
from spreadapi_conformance.reference.store import ManualClock, MemoryStore

from ..oauth._support import OAuthDriver


@pytest.fixture(scope="session")
def shared_reference() -> Reference:
    reference = Reference(ReferenceConfig(warm_up=False))
    asyncio.run(reference.seed())  # the memory store is not bound to an event loop
    return reference


@pytest.fixture
async def reference(shared_reference: Reference) -> AsyncIterator[Reference]:
    async with running(shared_reference.app):
        yield shared_reference


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=1_000_000.0)


@pytest.fixture
async def fresh(clock: ManualClock) -> AsyncIterator[Reference]:
    reference = await create_reference(ReferenceConfig(warm_up=False), store=MemoryStore(clock=clock))
    async with running(reference.app):
        yield reference


def _http(reference: Reference) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=reference.app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=30)


@pytest.fixture
async def http(reference: Reference) -> AsyncIterator[httpx.AsyncClient]:
    async with _http(reference) as client:
        yield client


@pytest.fixture
async def fresh_http(fresh: Reference) -> AsyncIterator[httpx.AsyncClient]:
    async with _http(fresh) as client:
        yield client


@pytest.fixture
def oauth(http: httpx.AsyncClient, reference: Reference) -> OAuthDriver:
    return OAuthDriver(http, reference)


@pytest.fixture
def fresh_oauth(fresh_http: httpx.AsyncClient, fresh: Reference) -> OAuthDriver:
    return OAuthDriver(fresh_http, fresh)
