"""The reference's documents advertise the configured base URL, else the request's own base.

Not a conformance check: it builds its own in-process references with a given configuration.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from spreadapi_conformance.fixtures import load_services
from spreadapi_conformance.reference.app import Reference, create_reference
from spreadapi_conformance.reference.config import ReferenceConfig

FIXTURE_IDS = tuple(load_services())
PLATFORM_PATH = "/api/v1/openapi.json"

CONFIGURED = "https://calc.example.test"
DOCUMENT_PATHS = (PLATFORM_PATH, *(f"/api/v1/services/{fid}/openapi.json" for fid in FIXTURE_IDS))


async def _reference(base_url: str | None) -> Reference:
    return await create_reference(ReferenceConfig(base_url=base_url, warm_up=False))


@pytest.fixture
async def configured() -> AsyncIterator[Reference]:
    reference = await _reference(CONFIGURED)
    yield reference
    await reference.aclose()


@pytest.fixture
async def unconfigured() -> AsyncIterator[Reference]:
    reference = await _reference(None)
    yield reference
    await reference.aclose()


def _client(reference: Reference, base_url: str, **kwargs: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=reference.app), base_url=base_url, **kwargs)


async def _servers(http: httpx.AsyncClient, path: str, **kwargs: Any) -> list[dict[str, Any]]:
    response = await http.get(path, **kwargs)
    assert response.status_code == 200, response.text[:300]
    return response.json()["servers"]


@pytest.mark.parametrize("path", DOCUMENT_PATHS)
async def test_configured_base_url_is_the_only_server(configured, path):
    """A configured base_url is what every document advertises, whatever host the request came to."""
    async with _client(configured, "http://10.0.0.7:8000") as http:
        assert await _servers(http, path) == [{"url": CONFIGURED}]
        assert await _servers(http, path, headers={"Host": "internal.example:9000"}) == [{"url": CONFIGURED}]


async def test_configured_base_url_loses_its_trailing_slash():
    """``https://host/`` advertises ``https://host``, so server URL + operation path has no double slash."""
    reference = await _reference(CONFIGURED + "/")
    try:
        async with _client(reference, "http://10.0.0.7:8000") as http:
            assert await _servers(http, "/api/v1/services/quote/openapi.json") == [{"url": CONFIGURED}]
    finally:
        await reference.aclose()


@pytest.mark.parametrize("path", DOCUMENT_PATHS)
async def test_without_configuration_the_server_follows_the_request(unconfigured, path):
    """Without a base_url the server URL is the request's base: scheme, Host and port, nothing hard-coded."""
    async with _client(unconfigured, "http://other.example:8080") as http:
        assert await _servers(http, path) == [{"url": "http://other.example:8080"}]
        assert await _servers(http, path, headers={"Host": "api.example.org"}) == [{"url": "http://api.example.org"}]
    async with _client(unconfigured, "https://secure.example") as http:
        assert await _servers(http, path) == [{"url": "https://secure.example"}]


async def test_listing_links_agree_with_the_documents(configured):
    """The listing's `openapi` and `endpoint` links start with the same base URL the documents advertise."""
    async with _client(configured, "http://10.0.0.7:8000") as http:
        listing = (await http.get("/api/v1/services")).json()["services"]
    assert {item["id"] for item in listing} == set(FIXTURE_IDS)
    for item in listing:
        assert item["openapi"] == f"{CONFIGURED}/api/v1/services/{item['id']}/openapi.json"
        assert item["endpoint"] == f"{CONFIGURED}/api/v1/services/{item['id']}/execute"
