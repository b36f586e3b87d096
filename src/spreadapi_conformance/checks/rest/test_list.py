"""REST-LIST: discovery: the service list with pagination and each service's details (behaviour 2.9, 2.10)."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import httpx
import pytest

from ..answers import json_value, objects
from ..premise import control_failed
from ._support import FIXTURE_IDS, error_json, excerpt, ok_json

if TYPE_CHECKING:
    from ..target import Target


pytestmark = pytest.mark.conformance


async def listing(client: httpx.AsyncClient, target: Target, **params: Any) -> dict[str, Any]:
    response = await client.get(target.path("services"), params=params)
    body = ok_json(response)
    assert isinstance(body.get("services"), list), f"no services list: {excerpt(response)}"
    assert isinstance(body.get("pagination"), dict), f"no pagination object: {excerpt(response)}"
    return body


async def every_service(client: httpx.AsyncClient, target: Target) -> dict[str, dict[str, Any]]:
    """Every listed service by id, walking the pages."""
    found: dict[str, dict[str, Any]] = {}
    offset = 0
    for _ in range(1000):
        body = await listing(client, target, limit=100, offset=offset)
        found.update({s["id"]: s for s in body["services"]})
        if not body["pagination"].get("hasMore"):
            return found
        offset += len(body["services"]) or 100
    pytest.fail("the list never stops saying hasMore")


def listed(found: dict[str, dict[str, Any]], target: Target, fixture_id: str) -> dict[str, Any]:
    published = target.published(fixture_id)
    assert published.id in found, f"{published.id!r} is not listed; listed: {sorted(found)[:20]}"
    return found[published.id]


async def details(client: httpx.AsyncClient, target: Target, fixture_id: str) -> dict[str, Any]:
    response = await client.get(target.path("details", fixture=fixture_id))
    return ok_json(response)


@pytest.mark.parametrize("fixture_id", FIXTURE_IDS)
async def test_published_service_listed(client, target, fixture_id):
    """REST-LIST-001 MUST: every published fixture service is listed with its id and a name (2.10)."""
    item = listed(await every_service(client, target), target, fixture_id)
    assert isinstance(item.get("name"), str) and item["name"], f"listed as {item!r}"


@pytest.mark.parametrize("fixture_id", FIXTURE_IDS)
async def test_listed_endpoint(client, target, fixture_id):
    """REST-LIST-002 MUST: a listed service's endpoint is an absolute URL of its execute path on this
    deployment (2.10)."""
    item = listed(await every_service(client, target), target, fixture_id)
    endpoint = item.get("endpoint")
    url = urlparse(endpoint) if isinstance(endpoint, str) else None
    assert url and url.scheme in ("http", "https") and url.netloc, f"endpoint {endpoint!r} is not absolute"
    target.on_target(endpoint, "the listed endpoint")
    assert url.path.endswith(target.execute_path(fixture_id)), f"endpoint {endpoint!r}"


@pytest.mark.parametrize("fixture_id", FIXTURE_IDS)
async def test_listed_requires_token(client, target, fixture_id):
    """REST-LIST-003 MUST: requiresToken is true exactly for private services (1.6)."""
    item = listed(await every_service(client, target), target, fixture_id)
    expected = not target.published(fixture_id).public
    assert item.get("requiresToken") is expected, f"requiresToken {item.get('requiresToken')!r}: {item!r}"


async def test_pagination_fields(client, target):
    """REST-LIST-004 MUST: pagination is {total, limit, offset, hasMore} and echoes the request (2.10)."""
    body = await listing(client, target, limit=2, offset=1)
    page = body["pagination"]
    assert page.get("limit") == 2 and page.get("offset") == 1, f"pagination {page!r}"
    assert isinstance(page.get("total"), int) and page["total"] >= len(target.spec.services), f"pagination {page!r}"
    assert page.get("hasMore") is (1 + len(body["services"]) < page["total"]), f"pagination {page!r}"


async def test_limit_bounds_page(client, target):
    """REST-LIST-005 MUST: `limit` bounds the page size, and hasMore is true while services remain (2.10)."""
    body = await listing(client, target, limit=1)
    assert len(body["services"]) == 1, f"limit=1 gave {len(body['services'])} services"
    assert body["pagination"].get("hasMore") is (body["pagination"].get("total", 0) > 1), body["pagination"]


async def test_pages_partition_the_list(client, target):
    """REST-LIST-006 MUST: pages of one service each visit every service exactly once (2.10)."""
    total = (await listing(client, target))["pagination"]["total"]
    ids = []
    for offset in range(min(total, 200)):
        ids += [s["id"] for s in (await listing(client, target, limit=1, offset=offset))["services"]]
    assert len(ids) == len(set(ids)) == min(total, 200), f"ids across pages: {ids}"


async def test_offset_past_end(client, target):
    """REST-LIST-007 MUST: an offset past the end gives an empty page and hasMore false (2.10)."""
    total = (await listing(client, target))["pagination"]["total"]
    body = await listing(client, target, offset=total + 5)
    assert body["services"] == [] and body["pagination"].get("hasMore") is False, body


@pytest.mark.parametrize("params", [{"limit": "abc"}, {"limit": "-1"}, {"limit": "1.5"}, {"offset": "abc"}])
async def test_invalid_paging(client, target, params):
    """REST-LIST-008 MUST: a limit or offset that is not a usable whole number is 400 with a JSON error."""
    error_json(await client.get(target.path("services"), params=params), 400)


@pytest.mark.parametrize("fixture_id", FIXTURE_IDS)
async def test_details_inputs(client, target, fixture_id):
    """REST-LIST-010 MUST: details list every input with name, type and required, as defined (2.9);
    no token needed, even for a private service."""
    body = await details(client, target, fixture_id)
    got = {i.get("name"): i for i in objects(body, "inputs", "the details")}
    for spec in target.fixture(fixture_id).inputs:
        assert spec.name in got, f"input {spec.name!r} missing from {body.get('inputs')!r}"
        item = got[spec.name]
        assert item.get("type") == spec.type, f"{spec.name}: type {item.get('type')!r}, expected {spec.type!r}"
        assert item.get("required") is spec.mandatory, f"{spec.name}: required {item.get('required')!r}"


@pytest.mark.parametrize("fixture_id", FIXTURE_IDS)
async def test_details_outputs(client, target, fixture_id):
    """REST-LIST-011 MUST: details list every output by name (2.9)."""
    body = await details(client, target, fixture_id)
    names = [o.get("name") for o in objects(body, "outputs", "the details")]
    assert names == [o.name for o in target.fixture(fixture_id).outputs], f"outputs {body.get('outputs')!r}"


@pytest.mark.parametrize("fixture_id", FIXTURE_IDS)
async def test_details_summary(client, target, fixture_id):
    """REST-LIST-012 MUST: details carry the id, the execute endpoint and requiresToken (2.9)."""
    body = await details(client, target, fixture_id)
    published = target.published(fixture_id)
    assert body.get("id") == published.id, f"details {body!r}"
    assert str(body.get("endpoint", "")).endswith(target.execute_path(fixture_id)), f"details {body!r}"
    assert body.get("requiresToken") is (not published.public), f"details {body!r}"


def listing_seen(response: httpx.Response) -> tuple[int, dict[str, list[str]] | None]:
    """What a listing answer shows: its status and, for a 200 with a services list, each service's id with
    the names of its fields."""
    if response.status_code != 200:
        return response.status_code, None
    body = json_value(response)
    shown = body.get("services") if isinstance(body, dict) else None
    if not isinstance(shown, list):
        return response.status_code, None
    return 200, {str(s.get("id")): sorted(s) for s in shown if isinstance(s, dict)}


async def test_x_user_id_changes_nothing(client, target):
    """REST-LIST-013 MUST NOT: a client-supplied x-user-id header is not trusted: the anonymous listing with
    includeAll=true is the same with and without it (status, services, their fields), and, when the target
    file grants writes ([admin]), a PUT of a service with a body the platform refuses anyway gets the same
    status with and without it. Nothing is deleted: no DELETE is ever sent."""
    params = {"includeAll": "true"}
    path = target.path("services")
    before = listing_seen(await client.get(path, params=params))
    user = {"x-user-id": "spreadapi-conformance-" + secrets.token_hex(6)}
    with_header = listing_seen(await client.get(path, params=params, headers=user))
    after = listing_seen(await client.get(path, params=params))
    if before != after:
        control_failed(f"the anonymous listing changed between two requests: {before} then {after}")
    assert with_header == before, (
        f"with x-user-id the listing is {with_header}, without it {before}: the header is trusted"
    )
    if not target.spec.admin_token:
        return  # read-only on a target that grants no writes
    details_path = target.path("details", fixture="quote")
    refused_anyway = {"spreadapi_conformance_not_a_field": True}  # 'Only metadata updates are allowed'
    plain = await client.put(details_path, json=refused_anyway)
    trusted = await client.put(details_path, json=refused_anyway, headers=user)
    assert trusted.status_code == plain.status_code, (
        f"PUT with x-user-id: {excerpt(trusted)}; without it: {excerpt(plain)}: the header is trusted"
    )
