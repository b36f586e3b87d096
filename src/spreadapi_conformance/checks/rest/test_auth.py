"""REST-AUTH: service tokens on execute: who gets in, with what status, and what the answers reveal
(behaviour 1.6, 1.7, 2.1, 2.2; RFC 6750 §3).

Deliberate deviation from SpreadAPI: auth failures are 401 (with a Bearer challenge) or 403, not 400.
"""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from .._admin import Admin
from ..premise import control_failed, not_applicable
from ._support import LOAN, QUOTE, error_json, excerpt, ok_json, query_text

if TYPE_CHECKING:
    from ..target import Target


pytestmark = pytest.mark.conformance


def unknown_token() -> str:
    """Well-formed (svc_tk_ + 64 hex) but never issued."""
    return "svc_tk_" + secrets.token_hex(32)


def token_of(target: Target, fixture_id: str) -> str:
    token = target.published(fixture_id).token
    if not token:
        not_applicable(f"the target file gives no token for {fixture_id!r}")
    return token


async def post_quote(client: httpx.AsyncClient, target: Target, headers=None, params=None, **body: Any):
    payload = {"inputs": body.pop("inputs", QUOTE), **body}
    return await client.post(target.execute_path("quote"), json=payload, headers=headers or {}, params=params)


async def get_quote(client: httpx.AsyncClient, target: Target, params=None, headers=None):
    query = {"product": QUOTE["product"], "quantity": str(QUOTE["quantity"]), **(params or {})}
    return await client.get(target.execute_path("quote"), params=query, headers=headers or {})


def challenged(response: httpx.Response) -> None:
    error_json(response, 401)
    challenge = response.headers.get("www-authenticate", "")
    assert challenge.lower().startswith("bearer"), f"WWW-Authenticate {challenge!r}: {excerpt(response)}"


def not_echoed(response: httpx.Response, token: str) -> None:
    assert token not in response.text, f"the token is echoed in the body: {excerpt(response)}"
    for name, value in response.headers.items():
        assert token not in value, f"the token is echoed in the {name} header: {excerpt(response)}"


async def test_no_token_post(client, target):
    """REST-AUTH-001 MUST: POST to a private service without a token is 401 with a Bearer challenge."""
    target.published("quote")
    challenged(await post_quote(client, target))


async def test_no_token_get(client, target):
    """REST-AUTH-002 MUST: GET on a private service without a token is 401 with a Bearer challenge."""
    target.published("quote")
    challenged(await get_quote(client, target))


@pytest.mark.parametrize("where", ["header", "body", "query"])
async def test_garbage_token(client, target, where):
    """REST-AUTH-003 SHOULD: a garbage token on a private service is 401 with a Bearer challenge."""
    garbage = "not-a-token-" + secrets.token_hex(4)
    if where == "header":
        response = await post_quote(client, target, headers={"Authorization": f"Bearer {garbage}"})
    elif where == "body":
        response = await post_quote(client, target, token=garbage)
    else:
        response = await get_quote(client, target, params={"token": garbage})
    challenged(response)


async def test_unknown_well_formed_token(client, target):
    """REST-AUTH-004 SHOULD: a well-formed svc_tk_ token that was never issued is 401."""
    target.published("quote")
    challenged(await post_quote(client, target, headers={"Authorization": f"Bearer {unknown_token()}"}))


@pytest.mark.parametrize("header", ["Bearer", "Basic dXNlcjpwYXNz", "Bearer two words", "svc_tk_"])
async def test_malformed_authorization(client, target, header):
    """REST-AUTH-005 MUST: an Authorization header without a bearer token authorises nothing: 401."""
    target.published("quote")
    challenged(await post_quote(client, target, headers={"Authorization": header}))


async def test_auth_before_validation(client, target):
    """REST-AUTH-006 MUST: without a token, invalid inputs still get 401, not the validation details (2.1 order)."""
    target.published("quote")
    challenged(await post_quote(client, target, inputs={"product": "nothing", "quantity": -1}))


async def test_token_of_another_service(client, target):
    """REST-AUTH-007 SHOULD: a valid token of another service is 403 (behaviour 1.7 step 4)."""
    admin = Admin.of(client, target)
    other = await admin.issue_service_token(target.published("loan-calculator").id)
    try:
        response = await post_quote(client, target, headers={"Authorization": f"Bearer {other}"})
        error_json(response, 403)
    finally:
        await admin.revoke_service_token(other)


async def test_expired_token(client, target):
    """REST-AUTH-008 SHOULD: an expired token of this service is 401 with a Bearer challenge (1.7 step 5)."""
    admin = Admin.of(client, target)
    expired = await admin.issue_service_token(target.published("quote").id, expires_at=time.time() - 3600)
    try:
        challenged(await post_quote(client, target, headers={"Authorization": f"Bearer {expired}"}))
    finally:
        await admin.revoke_service_token(expired, live=False)


async def test_bearer_header(client, target):
    """REST-AUTH-010 MUST: a valid token as `Authorization: Bearer` is accepted (1.7)."""
    ok_json(await post_quote(client, target, headers={"Authorization": f"Bearer {token_of(target, 'quote')}"}))


async def test_lowercase_bearer(client, target):
    """REST-AUTH-011 MUST: the scheme is case-insensitive: `bearer <token>` is accepted (1.7)."""
    ok_json(await post_quote(client, target, headers={"Authorization": f"bearer {token_of(target, 'quote')}"}))


async def test_body_token(client, target):
    """REST-AUTH-012 MUST: a valid token as the body's `token` is accepted on POST (2.1)."""
    ok_json(await post_quote(client, target, token=token_of(target, "quote")))


async def test_query_token(client, target):
    """REST-AUTH-013 MUST: a valid token as `?token=` is accepted on GET (2.2)."""
    ok_json(await get_quote(client, target, params={"token": token_of(target, "quote")}))


async def test_get_bearer_header(client, target):
    """REST-AUTH-014 MUST: a valid token as `Authorization: Bearer` is accepted on GET (2.2)."""
    ok_json(await get_quote(client, target, headers={"Authorization": f"Bearer {token_of(target, 'quote')}"}))


@pytest.mark.parametrize("key", ["TOKEN", "Token"])
async def test_query_token_key_any_case(client, target, key):
    """REST-AUTH-015 MUST: the query key `token` is case-insensitive (behaviour 2.2: "The key token
    (case-insensitive) is the token, never an input")."""
    ok_json(await get_quote(client, target, params={key: token_of(target, "quote")}))


@pytest.mark.parametrize("where", ["header", "body", "query"])
async def test_public_ignores_tokens(client, target, where):
    """REST-AUTH-016 MUST: a public service ignores any token, even garbage (behaviour 1.6)."""
    path = target.execute_path("loan-calculator")
    garbage = "garbage-" + secrets.token_hex(4)
    if where == "header":
        response = await client.post(path, json={"inputs": LOAN}, headers={"Authorization": f"Bearer {garbage}"})
    elif where == "body":
        response = await client.post(path, json={"inputs": LOAN, "token": garbage})
    else:
        query = {k: str(v) for k, v in LOAN.items()}
        response = await client.get(path, params={**query, "token": garbage})
    ok_json(response)


@pytest.mark.parametrize("kind", ["garbage", "unknown"])
@pytest.mark.parametrize("where", ["header", "body", "query"])
async def test_refused_token_not_echoed(client, target, kind, where):
    """REST-AUTH-020 MUST: a refused token never appears in the error response."""
    token = "garbage-" + secrets.token_hex(8) if kind == "garbage" else unknown_token()
    if where == "header":
        response = await post_quote(client, target, headers={"Authorization": f"Bearer {token}"})
    elif where == "body":
        response = await post_quote(client, target, token=token)
    else:
        response = await get_quote(client, target, params={"token": token})
    error_json(response, 401)
    not_echoed(response, token)


async def test_other_service_token_not_echoed(client, target):
    """REST-AUTH-021 MUST: a token of another service never appears in the 403 response."""
    admin = Admin.of(client, target)
    other = await admin.issue_service_token(target.published("loan-calculator").id)
    try:
        response = await post_quote(client, target, token=other)
        error_json(response, 403)
        not_echoed(response, other)
    finally:
        await admin.revoke_service_token(other)


@pytest.mark.parametrize("where", ["body", "query", "header"])
async def test_valid_token_not_echoed_in_validation_error(client, target, where):
    """REST-AUTH-022 MUST: a validation error on a private service does not echo the caller's token."""
    token = token_of(target, "quote")
    if where == "body":
        response = await post_quote(client, target, inputs={"product": "nothing", "quantity": 1}, token=token)
    elif where == "header":
        headers = {"Authorization": f"Bearer {token}"}
        response = await post_quote(client, target, inputs={"product": "nothing", "quantity": 1}, headers=headers)
    else:
        response = await get_quote(client, target, params={"product": "nothing", "token": token})
    error_json(response, 400)
    not_echoed(response, token)


@pytest.mark.parametrize("how", ["POST", "GET json", "GET csv", "GET plain", "POST nocdn"])
async def test_private_no_store(client, target, how):
    """REST-AUTH-030 MUST: a private service's results carry `Cache-Control: no-store` (behaviour 1.12)."""
    headers = {"Authorization": f"Bearer {token_of(target, 'quote')}"}
    if how.startswith("POST"):
        extra = {"nocdn": True} if how.endswith("nocdn") else {}
        response = await post_quote(client, target, headers=headers, **extra)
    else:
        response = await get_quote(client, target, params={"_format": how.split()[1]}, headers=headers)
    assert response.status_code == 200, excerpt(response)
    directives = [d.strip().lower() for d in response.headers.get("cache-control", "").split(",")]
    assert "no-store" in directives, f"Cache-Control {response.headers.get('cache-control')!r}: {excerpt(response)}"


def refused(response: httpx.Response, what: str) -> None:
    """Not computed: a 4xx (SpreadAPI's own 400 included) whose body carries no outputs."""
    assert 400 <= response.status_code < 500, f"{what} was not refused: {excerpt(response)}"
    assert '"outputs"' not in response.text, f"{what} was refused, yet outputs came back: {excerpt(response)}"


async def refused_everywhere(client: httpx.AsyncClient, target: Target, token: str, what: str) -> None:
    """``token`` is refused in each place a service token is read: the header, the body, the query."""
    refused(await post_quote(client, target, headers={"Authorization": f"Bearer {token}"}), f"{what} (header)")
    refused(await post_quote(client, target, token=token), f"{what} (body token)")
    refused(await get_quote(client, target, params={"token": token}), f"{what} (?token=)")


async def test_revoked_token_refused(client, target):
    """REST-AUTH-040 MUST: a token of this service, revoked, computes nothing: refused in the header, the
    body and the query, though it computed a moment before (1.7 step 2)."""
    admin = Admin.of(client, target)
    issued = await admin.issue_service_token(target.published("quote").id)
    control = await post_quote(client, target, headers={"Authorization": f"Bearer {issued}"})
    if control.status_code != 200:
        control_failed(f"a fresh token of the service does not compute either: {excerpt(control)}")
    await admin.revoke_service_token(issued)
    await refused_everywhere(client, target, issued, "a revoked token")


async def test_expired_token_refused(client, target):
    """REST-AUTH-041 MUST: a token of this service, expired, computes nothing: refused in the header, the
    body and the query (1.7 step 5)."""
    admin = Admin.of(client, target)
    expired = await admin.issue_service_token(target.published("quote").id, expires_at=time.time() - 3600)
    try:
        await refused_everywhere(client, target, expired, "an expired token")
    finally:
        await admin.revoke_service_token(expired, live=False)


async def test_other_services_token_refused(client, target):
    """REST-AUTH-042 MUST: a valid token of another service computes nothing for this one: refused in the
    header, the body and the query (1.7 step 4)."""
    admin = Admin.of(client, target)
    other = await admin.issue_service_token(target.published("loan-calculator").id)
    try:
        await refused_everywhere(client, target, other, "a token of another service")
    finally:
        await admin.revoke_service_token(other)


async def test_mcp_token_is_not_a_service_token(client, target):
    """REST-AUTH-043 MUST: an MCP token (even one granting the service) is not a service token: refused in
    the header, the body and the query (1.7: only service tokens are validated)."""
    tokens = target.spec.mcp_tokens
    if not tokens:
        not_applicable("the target file has no [mcp_tokens]")
    token_of(target, "quote")  # the service is private here (else any token is ignored)
    await refused_everywhere(client, target, tokens.get("all") or next(iter(tokens.values())), "an MCP token")


async def test_oauth_access_token_is_not_a_service_token(client, target):
    """REST-AUTH-044 MUST: an OAuth access token issued for the service's MCP endpoint (Option 2) is not a
    service token: refused in the header, the body and the query (4.7: access tokens are for MCP)."""
    from ..oauth._support import access_token, grant_for, single_service_resource

    token_of(target, "quote")
    grant = await grant_for(client, target, single_service_resource(target, "quote"))
    await refused_everywhere(client, target, await access_token(client, grant), "an OAuth access token")


async def test_cached_result_not_served_without_a_token(client, target):
    """REST-AUTH-045 MUST: a result computed for a token holder is not served to a caller without a valid
    token: the same inputs, just computed with the service's token, are refused with no outputs when sent
    with no token or a garbage one, by POST and by GET (1.12: the result cache is consulted only after
    authentication)."""
    headers = target.auth("quote")
    if not headers:
        not_applicable("the target publishes 'quote' as a public service: its results are for anyone")
    inputs = target.fixture("quote").golden[0]["inputs"]
    control = await post_quote(client, target, headers=headers, inputs=inputs)
    if control.status_code != 200:
        control_failed(f"the golden case does not compute with the service's token: {excerpt(control)}")
    garbage = {"Authorization": f"Bearer not-a-token-{secrets.token_hex(4)}"}
    refused(await post_quote(client, target, inputs=inputs), "POST of just-computed inputs without a token")
    refused(await post_quote(client, target, headers=garbage, inputs=inputs), "POST of them with a garbage token")
    query = {key: query_text(value) for key, value in inputs.items()}
    refused(await get_quote(client, target, params=query), "GET of just-computed inputs without a token")
