"""Fixtures for the MCP checks.

``mcp_target`` is the target under test with its MCP endpoints running (in process: the app's
lifespan, entered per test because the SDK's session managers live in the test's event loop); the
checks that use only it and ``client`` are marked ``conformance`` and run against any target.
The others reach into an in-process reference: ``reference`` is one seeded deployment shared by
the session (its lifespan entered per test), ``fresh`` a new one per test on a clock that moves
only when told (expiry), with the OAuth driver of the OAuth suite on top.

``--mcp-revision R`` (repeatable; ``SPREADAPI_MCP_REVISIONS=R1,R2``; certify passes its own option on)
narrows the checks parametrized over a ``revision`` to those revisions: the other variants are skipped
with a "not run" reason, and the property check draws only from the selected ones. Without it every
revision the SDK offers is checked. An unknown revision stops the run (a usage error).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from spreadapi_conformance.reference.app import Reference, create_reference
from spreadapi_conformance.reference.config import ReferenceConfig
from spreadapi_conformance.reference.store import ManualClock, MemoryStore

from ..oauth._support import OAuthDriver
from ._support import REVISIONS, running

HERE = Path(__file__).resolve().parent


def chosen_revisions(config: pytest.Config) -> tuple[str, ...]:
    """The MCP revisions to check: those of --mcp-revision (validated), else every one the SDK offers."""
    chosen = tuple(dict.fromkeys(config.getoption("--mcp-revision") or ()))
    if unknown := [r for r in chosen if r not in REVISIONS]:
        raise pytest.UsageError(f"unknown MCP revision {', '.join(unknown)} (the SDK offers: {', '.join(REVISIONS)})")
    return chosen or REVISIONS


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    chosen = chosen_revisions(config)
    if chosen == REVISIONS:
        return
    reason = f"not run: MCP revision {{}} is not selected (--mcp-revision {', '.join(chosen)})"
    for item in items:
        callspec = getattr(item, "callspec", None)
        revision = callspec.params.get("revision") if callspec is not None else None
        if revision is None or revision in chosen or not item.path.is_relative_to(HERE):
            continue
        item.add_marker(pytest.mark.skip(reason=reason.format(revision)))


@pytest.fixture(scope="session")
def mcp_revisions(pytestconfig: pytest.Config) -> tuple[str, ...]:
    return chosen_revisions(pytestconfig)


@pytest.fixture
async def mcp_target(target: Any) -> AsyncIterator[Any]:
    async with running(target.app):
        yield target


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
