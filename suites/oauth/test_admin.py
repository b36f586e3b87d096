"""The admin surface (revoke credentials from outside the process): invisible unless configured."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest

from spreadapi_conformance.reference.app import Reference, create_reference
from spreadapi_conformance.reference.config import ReferenceConfig

from ._support import OAuthDriver

ADMIN = "admin-" + "7" * 26
PATHS = ("/admin/mcp-tokens/revoke", "/admin/service-tokens/revoke")
ISSUE = ("/admin/mcp-tokens/issue", "/admin/service-tokens/issue")


@pytest.fixture
async def admin_reference() -> AsyncIterator[Reference]:
    reference = await create_reference(ReferenceConfig(warm_up=False, admin_token=ADMIN))
    yield reference
    await reference.aclose()


@pytest.fixture
async def admin_http(admin_reference) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=admin_reference.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def _as_admin(token: str = ADMIN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("path", PATHS + ISSUE)
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_without_an_admin_token_the_paths_do_not_exist(http, path, method):
    response = await http.request(method, path, json={"token": "x"}, headers=_as_admin())
    unknown = await http.request(method, "/admin/no-such-thing", json={"token": "x"})
    assert response.status_code == 404
    assert response.json()["error"] == unknown.json()["error"] == "Not found"
    assert "www-authenticate" not in response.headers and "allow" not in response.headers


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    "authorization",
    [None, f"Bearer {ADMIN}x", f"Bearer {ADMIN[:-1]}", f"Basic {ADMIN}", ADMIN, "Bearer", "Bearer ünïcode"],
)
async def test_a_missing_or_wrong_admin_token_is_401(admin_http, admin_reference, path, authorization):
    headers = {} if authorization is None else {"Authorization": authorization.encode()}
    token = admin_reference.mcp_tokens["all"] if "mcp" in path else admin_reference.service_tokens["quote"]
    response = await admin_http.post(path, json={"token": token}, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["cache-control"] == "no-store"
    # Nothing was revoked.
    assert await admin_reference.mcp_registry.validate(admin_reference.mcp_tokens["all"])
    check = await admin_reference.app.state.service_tokens.validate(admin_reference.service_tokens["quote"], "quote")
    assert check.valid


async def test_revoking_an_mcp_token_stops_the_oauth_tokens_that_wrap_it(admin_http, admin_reference):
    oauth = OAuthDriver(admin_http, admin_reference)
    access = await oauth.access_token(mcp_tokens=admin_reference.mcp_tokens["loan-calculator"])
    other = await oauth.access_token(mcp_tokens=admin_reference.mcp_tokens["all"])
    token = admin_reference.mcp_tokens["loan-calculator"]
    response = await admin_http.post(PATHS[0], json={"token": token}, headers=_as_admin())
    assert response.status_code == 200 and response.json() == {"revoked": True}
    assert await admin_reference.oauth_tokens.resolve(access) is None
    assert await admin_reference.oauth_tokens.resolve(other) is not None
    again = await admin_http.post(PATHS[0], json={"token": token}, headers=_as_admin())
    assert again.status_code == 200 and again.json() == {"revoked": False}


async def test_revoking_a_service_token_closes_rest_and_single_service_oauth(admin_http, admin_reference):
    token = admin_reference.service_tokens["quote"]
    oauth = OAuthDriver(admin_http, admin_reference)
    access = await oauth.access_token(await oauth.start(service_id="quote"), service_token=token)
    body = {"inputs": {"product": "gadget", "quantity": 2}}
    execute = "/api/v1/services/quote/execute"
    assert (await admin_http.post(execute, json=body, headers={"Authorization": f"Bearer {token}"})).status_code == 200

    response = await admin_http.post(PATHS[1], json={"token": token}, headers=_as_admin())
    assert response.status_code == 200 and response.json() == {"revoked": True}
    assert (await admin_http.post(execute, json=body, headers={"Authorization": f"Bearer {token}"})).status_code == 401
    assert await admin_reference.oauth_tokens.resolve(access) is None
    again = await admin_http.post(PATHS[1], json={"token": token}, headers=_as_admin())
    assert again.json() == {"revoked": False}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("token", ["", "nonsense", "spapi_live_" + "0" * 64, "svc_tk_" + "0" * 64])
async def test_unknown_or_malformed_tokens_revoke_nothing(admin_http, path, token):
    response = await admin_http.post(path, json={"token": token}, headers=_as_admin())
    if token:
        assert response.status_code == 200 and response.json() == {"revoked": False}
    else:
        assert response.status_code == 400


@pytest.mark.parametrize(
    ("content", "content_type"),
    [(b"{", "application/json"), (b"[]", "application/json"), (b"token=x", "application/x-www-form-urlencoded")],
)
async def test_a_bad_body_is_400(admin_http, content, content_type):
    response = await admin_http.post(PATHS[0], content=content, headers={**_as_admin(), "Content-Type": content_type})
    assert response.status_code == 400 and response.json()["error"] == "Bad request"


@pytest.mark.parametrize("weak", [" ", "short", "x" * 15, "with space in it 123", "tab\there-1234567890"])
def test_a_weak_admin_token_is_refused_at_start(weak):
    with pytest.raises(ValueError, match="admin token"):
        Reference(ReferenceConfig(warm_up=False, admin_token=weak))


@pytest.mark.parametrize("path", ISSUE)
async def test_issuing_needs_the_admin_token(admin_http, path):
    body = {"services": ["quote"], "service": "quote"}
    for headers in ({}, _as_admin(ADMIN + "x")):
        response = await admin_http.post(path, json=body, headers=headers)
        assert response.status_code == 401 and "token" not in response.json()


async def test_an_issued_mcp_token_works_until_revoked(admin_http, admin_reference):
    response = await admin_http.post(ISSUE[0], json={"services": ["quote", "quote"]}, headers=_as_admin())
    assert response.status_code == 201 and response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["services"] == ["quote"] and body["token"].startswith("spapi_live_")
    assert await admin_reference.mcp_registry.validate(body["token"]) == ["quote"]
    revoked = await admin_http.post(PATHS[0], json={"token": body["token"]}, headers=_as_admin())
    assert revoked.json() == {"revoked": True}
    assert await admin_reference.mcp_registry.validate(admin_reference.mcp_tokens["all"]), "the seeded one is untouched"


async def test_an_empty_service_list_issues_a_token_that_grants_none(admin_http, admin_reference):
    """SpreadAPI lets a user create an MCP token with no services (3.2.3: it grants none); MCP-CRED-013 needs one."""
    response = await admin_http.post(ISSUE[0], json={"services": []}, headers=_as_admin())
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["services"] == [] and await admin_reference.mcp_registry.validate(body["token"]) == []


async def test_an_issued_service_token_opens_its_service(admin_http, admin_reference):
    response = await admin_http.post(ISSUE[1], json={"service": "quote", "name": "check"}, headers=_as_admin())
    assert response.status_code == 201
    token = response.json()["token"]
    execute = await admin_http.post(
        "/api/v1/services/quote/execute",
        json={"inputs": {"product": "gadget", "quantity": 2}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert execute.status_code == 200, execute.text
    assert token != admin_reference.service_tokens["quote"]


@pytest.mark.parametrize(("offset", "status"), [(-3600, 401), (3600, 200)])
async def test_an_issued_service_token_expires_when_told(admin_http, offset, status):
    """expires_at in the past issues an expired token (the expiry checks of a served deployment need one)."""
    body = {"service": "quote", "expires_at": time.time() + offset}
    token = (await admin_http.post(ISSUE[1], json=body, headers=_as_admin())).json()["token"]
    execute = await admin_http.post(
        "/api/v1/services/quote/execute",
        json={"inputs": {"product": "gadget", "quantity": 2}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert execute.status_code == status, execute.text


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (ISSUE[0], {"services": "quote"}),
        (ISSUE[0], {"services": ["no-such-service"]}),
        (ISSUE[0], {"services": [5]}),
        (ISSUE[0], {"services": ["quote"], "name": 7}),
        (ISSUE[1], {}),
        (ISSUE[1], {"service": "no-such-service"}),
        (ISSUE[1], {"service": ["quote"]}),
        (ISSUE[1], {"service": "quote", "expires_at": "tomorrow"}),
        (ISSUE[1], {"service": "quote", "expires_at": True}),
        (ISSUE[1], {"service": "quote", "expires_at": -1}),
        (ISSUE[1], {"service": "quote", "expires_at": 1e300}),
    ],
)
async def test_issuing_for_what_is_not_published_is_400(admin_http, path, body):
    response = await admin_http.post(path, json=body, headers=_as_admin())
    assert response.status_code == 400 and response.json()["error"] == "Bad request", response.text
