"""MCP-CRED: the credentials each MCP endpoint must refuse, and what an accepted one may see and do.

At every place a credential is accepted (the private service's endpoint, the legacy bridge, ``/api/mcp``)
a credential that grants nothing there is refused: never issued, revoked, expired, another service's, or of
the wrong kind for the endpoint (behaviour 3.1.2 and 3.2.2). A credential that is accepted reaches only the
services it grants: they are all the listing shows and all that ``spreadapi_calc`` computes (3.2.4).

A refusal is a 401, or a 403 for a valid credential without the rights (RFC 6750 §3.1); either way no
session opens. Checks that need credentials of their own (revoked, expired, another service's, an MCP token
granting one service) issue them through the admin surface (``[admin]``) and do not apply without it; each
first shows the credential working where it should (the control), so the refusal is due to the property
under test. Nothing the target file holds is revoked.
"""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING

import httpx
import pytest
from mcp.shared.exceptions import MCPError

from .._admin import Admin
from ..oauth._support import (
    MULTI,
    Resource,
    access_token,
    discovered,
    first_resource,
    granted_fixtures,
    listed_fixtures,
    obtain_code,
)
from ..premise import control_failed, not_applicable
from ._support import (
    JSON_RPC_HEADERS,
    LATEST,
    MODERN,
    RawSession,
    initialize_message,
    request_message,
    said,
    target_session,
)

if TYPE_CHECKING:
    from ..target import Target

pytestmark = pytest.mark.conformance
PRIVATE = "quote"
GRANTED, NOT_GRANTED = "loan-calculator", "quote"  # an MCP token of the checks grants the first only


async def initialize(client: httpx.AsyncClient, path: str, token: str) -> httpx.Response:
    headers = {**JSON_RPC_HEADERS, "Authorization": f"Bearer {token}"}
    return await client.post(path, json=initialize_message(), headers=headers)


def assert_refused(response: httpx.Response, what: str, statuses: tuple[int, ...] = (401,)) -> None:
    assert response.status_code in statuses, f"{what}: expected {' or '.join(map(str, statuses))}, got {said(response)}"


async def assert_accepted(client: httpx.AsyncClient, path: str, token: str, what: str) -> None:
    """The control: ``token`` opens ``path`` (else a refusal would prove nothing)."""
    response = await initialize(client, path, token)
    if response.status_code != 200:
        control_failed(f"{what} does not open {path} either: {said(response)}")


def private_path(target: Target) -> str:
    if target.published(PRIVATE).public:
        not_applicable(f"the target publishes {PRIVATE!r} as a public service: no credential is needed there")
    return target.path("single_service_mcp", fixture=PRIVATE)


def claimed(target: Target, option: str) -> None:
    if target.spec.claims and option not in target.spec.claims:
        not_applicable(f"the target does not claim {option}")


# -- the private service's endpoint (Claude Desktop: the service token itself) ---------------------------


async def test_private_endpoint_refuses_another_services_token(mcp_target, client):
    """MCP-CRED-001 MUST: the private service's endpoint refuses a valid token of another service: 401 (or
    403, a valid token without the rights), no session."""
    admin = Admin.of(client, mcp_target)
    path = private_path(mcp_target)
    other = next((s for s in mcp_target.spec.services.values() if s.fixture != PRIVATE), None)
    if other is None:
        not_applicable("the target file publishes no second service")
    token = await admin.issue_service_token(other.id)
    response = await initialize(client, path, token)
    assert_refused(response, f"a token of {other.id!r}", (401, 403))


async def test_private_endpoint_refuses_its_expired_token(mcp_target, client):
    """MCP-CRED-002 MUST: the private service's endpoint refuses its own token once expired: 401."""
    admin = Admin.of(client, mcp_target)
    path = private_path(mcp_target)
    expired = await admin.issue_service_token(mcp_target.published(PRIVATE).id, expires_at=time.time() - 60)
    try:
        assert_refused(await initialize(client, path, expired), "an expired token of the service")
    finally:
        await admin.revoke_service_token(expired, live=False)


async def test_private_endpoint_refuses_its_revoked_token(mcp_target, client):
    """MCP-CRED-003 MUST: the private service's endpoint refuses its own token once revoked (at once, though
    it opened the endpoint a moment before): 401."""
    admin = Admin.of(client, mcp_target)
    path = private_path(mcp_target)
    issued = await admin.issue_service_token(mcp_target.published(PRIVATE).id)
    await assert_accepted(client, path, issued, "a fresh token of the service")
    await admin.revoke_service_token(issued)
    assert_refused(await initialize(client, path, issued), "the service's token after its revocation")


async def test_private_endpoint_refuses_an_mcp_token(mcp_target, client):
    """MCP-CRED-008 MUST: the private service's endpoint refuses an MCP token (one granting the service
    included): 401."""
    path = private_path(mcp_target)
    tokens = mcp_target.spec.mcp_tokens
    if not tokens:
        not_applicable("the target file has no [mcp_tokens]")
    token = tokens.get("all") or next(iter(tokens.values()))
    assert_refused(await initialize(client, path, token), "an MCP token", (401, 403))


# -- the legacy bridge (MCP tokens) ---------------------------------------------------------------------


async def test_bridge_refuses_a_never_issued_mcp_token(mcp_target, client):
    """MCP-CRED-004 MUST: the legacy bridge refuses an MCP token of the right shape that was never issued:
    401."""
    claimed(mcp_target, "legacy-bridge")
    token = "spapi_live_" + secrets.token_hex(32)
    assert_refused(await initialize(client, mcp_target.path("bridge_mcp"), token), "an MCP token never issued")


async def test_bridge_refuses_a_revoked_mcp_token(mcp_target, client):
    """MCP-CRED-005 MUST: the legacy bridge refuses an MCP token once revoked (at once, though it opened the
    bridge a moment before): 401."""
    admin = Admin.of(client, mcp_target)
    path = mcp_target.path("bridge_mcp")
    issued = await admin.issue_mcp_token(mcp_target.published(GRANTED).id)
    await assert_accepted(client, path, issued, "a fresh MCP token")
    await admin.revoke_mcp_token(issued)
    assert_refused(await initialize(client, path, issued), "the MCP token after its revocation")


async def test_bridge_refuses_a_service_token(mcp_target, client):
    """MCP-CRED-006 MUST: the legacy bridge refuses a service token (it takes MCP tokens only): 401."""
    claimed(mcp_target, "legacy-bridge")
    service = mcp_target.published(PRIVATE)
    if not service.token:
        not_applicable(f"the target file gives no token for {service.id!r}")
    assert_refused(await initialize(client, mcp_target.path("bridge_mcp"), service.token), "a service token")


# -- /api/mcp (Option 3: OAuth access tokens issued for it) ---------------------------------------------


async def test_oauth_endpoint_refuses_other_credentials(mcp_target, client):
    """MCP-CRED-007 MUST: /api/mcp refuses what is not an access token issued for it: an MCP token, a service
    token, and a never-issued token shaped like an access token: 401."""
    claimed(mcp_target, MULTI)
    path = mcp_target.path("mcp")
    offered = {"an access token never issued": "oat_" + secrets.token_hex(32)}
    if mcp_target.spec.mcp_tokens:
        offered["an MCP token"] = next(iter(mcp_target.spec.mcp_tokens.values()))
    service = mcp_target.spec.services.get(PRIVATE)
    if service is not None and service.token:
        offered["a service token"] = service.token
    problems = []
    for what, token in offered.items():
        response = await initialize(client, path, token)
        if response.status_code != 401:
            problems.append(f"{what}: {said(response)}")
    assert not problems, "; ".join(problems)


# -- what an accepted credential reaches -----------------------------------------------------------------


async def assert_reaches_only_granted(target: Target, path: str, token: str) -> None:
    """Through ``path`` with ``token`` (granting GRANTED only): the listing names GRANTED and not
    NOT_GRANTED, and ``spreadapi_calc`` for NOT_GRANTED is an error that carries no outputs."""
    other = target.published(NOT_GRANTED)
    case = target.fixture(NOT_GRANTED).golden[0]
    async with target_session(target, path, token, MODERN) as session:
        listed = granted_fixtures(target, await session.call_tool("spreadapi_list_services", {}))
        try:
            result = await session.call_tool("spreadapi_calc", {"serviceId": other.id, "inputs": case["inputs"]})
            refused, shown = result.is_error, result.structured_content
        except MCPError as exc:  # a JSON-RPC error: refused
            refused, shown = True, f"JSON-RPC error {exc.error.code}: {exc.error.message}"
    assert listed == [GRANTED], f"the listing names {listed}; the token grants only {GRANTED!r}"
    assert refused and not (isinstance(shown, dict) and shown.get("outputs")), (
        f"spreadapi_calc computed {other.id!r}, which the token does not grant: {shown!r}"
    )


async def test_bridge_token_reaches_only_its_services(mcp_target, client):
    """MCP-CRED-010 MUST: through the legacy bridge, an MCP token granting one service lists that service
    only, and a calculation of another service is refused with no outputs."""
    admin = Admin.of(client, mcp_target)
    token = await admin.issue_mcp_token(mcp_target.published(GRANTED).id)
    try:
        await assert_reaches_only_granted(mcp_target, mcp_target.path("bridge_mcp"), token)
    finally:
        await admin.revoke_mcp_token(token)


async def test_oauth_token_reaches_only_the_granted_services(mcp_target, client):
    """MCP-CRED-011 MUST: through /api/mcp, an access token from an MCP token granting one service lists that
    service only, and a calculation of another service is refused with no outputs."""
    admin = Admin.of(client, mcp_target)
    resource: Resource = first_resource(mcp_target, MULTI)
    pasted = await admin.issue_mcp_token(mcp_target.published(GRANTED).id)
    try:
        found = await discovered(client, mcp_target, resource)
        token = await access_token(client, await obtain_code(client, mcp_target, found, {"mcp_tokens": pasted}))
        await assert_reaches_only_granted(mcp_target, resource.path, token)
    finally:
        await admin.revoke_mcp_token(pasted)


async def test_bridge_token_with_no_services_reaches_none(mcp_target, client):
    """MCP-CRED-013 MUST: through the legacy bridge, an MCP token whose service list is empty reaches no
    service: it is refused outright (401 or 403), or its listing names none of the published services and a
    calculation of each of them is refused with no outputs (3.2.3: an empty list grants none)."""
    claimed(mcp_target, "legacy-bridge")
    admin = Admin.of(client, mcp_target)
    token = await admin.issue_mcp_token_granting_nothing()
    if token is None:
        not_applicable("the admin surface issues no MCP token with an empty service list (400)")
    path = mcp_target.path("bridge_mcp")
    try:
        opened = await initialize(client, path, token)
        if opened.status_code in (401, 403):
            return  # refused outright: it reaches nothing
        assert opened.status_code == 200, f"initialize with a token granting nothing: {said(opened)}"
        computed = []
        async with target_session(mcp_target, path, token, MODERN) as session:
            listed = listed_fixtures(mcp_target, await session.call_tool("spreadapi_list_services", {}))
            for fixture_id, service in mcp_target.spec.services.items():
                inputs = mcp_target.fixture(fixture_id).golden[0]["inputs"]
                try:
                    answer = await session.call_tool("spreadapi_calc", {"serviceId": service.id, "inputs": inputs})
                except MCPError:  # a JSON-RPC error: refused
                    continue
                shown = answer.structured_content
                if not answer.is_error or (isinstance(shown, dict) and shown.get("outputs")):
                    computed.append(service.id)
        assert not listed, f"the listing names {listed}, though the token's service list is empty"
        assert not computed, f"spreadapi_calc computed {computed}, though the token's service list is empty"
    finally:
        await admin.revoke_mcp_token(token)


# -- access tokens past their lifetime (a 12-hour lifetime cannot be waited out: the target file states one) ---


def expired_access_token(target: Target, path: str) -> str:
    """The target file's access token for ``path`` that is past its lifetime, else the check does not apply."""
    oauth = target.spec.oauth
    token = oauth.expired_access_tokens.get(path) if oauth is not None else None
    if not token:
        not_applicable(
            f"the target file gives no expired access token for {path} ([oauth] expired_access_tokens): an "
            "access token lives 12 hours, which a check cannot wait out; state one issued for that endpoint "
            "whose lifetime has passed (the reference mints one when it is seeded)"
        )
    return token


async def test_private_endpoint_refuses_an_expired_access_token(mcp_target, client):
    """MCP-CRED-014 MUST: the private service's endpoint refuses an access token issued for it once past its
    lifetime: 401."""
    claimed(mcp_target, "chatgpt-single-oauth")
    path = private_path(mcp_target)
    token = expired_access_token(mcp_target, path)
    assert_refused(await initialize(client, path, token), "an access token of this endpoint past its lifetime")


async def test_oauth_endpoint_refuses_an_expired_access_token(mcp_target, client):
    """MCP-CRED-015 MUST: /api/mcp refuses an access token issued for it once past its lifetime: 401."""
    claimed(mcp_target, MULTI)
    path = mcp_target.path("mcp")
    token = expired_access_token(mcp_target, path)
    assert_refused(await initialize(client, path, token), "an access token of /api/mcp past its lifetime")


async def test_cached_calculation_not_served_without_a_credential(mcp_target, client):
    """MCP-CRED-016 MUST: a calculation just made at the private service's endpoint with its token is not
    served to a caller without a valid credential: the same spreadapi_calc sent with none, or with a garbage
    token, is refused (a 4xx) with no outputs (1.12: the result cache is consulted only after
    authentication)."""
    path = private_path(mcp_target)
    service = mcp_target.published(PRIVATE)
    if not service.token:
        not_applicable(f"the target file gives no token for {service.id!r}")
    inputs = mcp_target.fixture(PRIVATE).golden[0]["inputs"]
    arguments = {"inputs": inputs}
    async with target_session(mcp_target, path, service.token, MODERN) as session:
        try:
            control = await session.call_tool("spreadapi_calc", arguments)
        except MCPError as exc:
            control_failed(f"spreadapi_calc of a golden case with the service's token: {exc.error.message}")
    if control.is_error:
        control_failed(f"spreadapi_calc of a golden case with the service's token is an error: {control.content}")
    call = request_message("tools/call", 7, name="spreadapi_calc", arguments=arguments)
    headers = {**JSON_RPC_HEADERS, "mcp-protocol-version": LATEST}
    for what, credential in (("no credential", None), ("a garbage token", "not-a-token-" + secrets.token_hex(4))):
        sent = {**headers, **({"Authorization": f"Bearer {credential}"} if credential else {})}
        response = await client.post(path, json=call, headers=sent)
        assert 400 <= response.status_code < 500 and '"outputs"' not in response.text, (
            f"a calculation just made with the token, sent with {what}: {said(response)}"
        )


# -- sessions belong to one credential and one service ----------------------------------------------------

SESSION_REFUSALS = (400, 401, 403, 404)


def session_not_carried(response: httpx.Response, session_id: str, what: str) -> None:
    """``session_id`` was not honoured: a refusal, or (the platform's way, 3.1.3) a new session of its own."""
    if response.status_code in SESSION_REFUSALS:
        return
    answered_in = response.headers.get("mcp-session-id")
    assert response.status_code == 200 and answered_in and answered_in != session_id, (
        f"{what}: the session was honoured (expected {' or '.join(map(str, SESSION_REFUSALS))}, or a new "
        f"session), got Mcp-Session-Id {answered_in!r} and {said(response)}"
    )


async def test_session_belongs_to_its_credential_and_service(mcp_target, client):
    """MCP-CRED-012 MUST: a session opened at the private service's endpoint with its token does not carry
    over: tools/list with its Mcp-Session-Id at another service's endpoint (with that service's credential)
    and at the same endpoint without a credential is refused (400, 401, 403 or 404) or answered in a new
    session, never in the first one."""
    path = private_path(mcp_target)
    first = mcp_target.published(PRIVATE)
    if not first.token:
        not_applicable(f"the target file gives no token for {first.id!r}")
    other = next((s for s in mcp_target.spec.services.values() if s.fixture != PRIVATE), None)
    if other is None:
        not_applicable("the target file publishes no second service")
    if not other.public and not other.token:
        not_applicable(f"the target file gives no token for {other.id!r}")
    session = RawSession(client, path, {"Authorization": f"Bearer {first.token}"})
    await session.open()
    if not session.session_id:
        not_applicable("the endpoint keeps no sessions (no Mcp-Session-Id after initialize)")
    control = await session.post(request_message("tools/list"))
    if control.status_code != 200:
        control_failed(f"tools/list in the session at its own endpoint with its token: {said(control)}")
    listing = request_message("tools/list")
    elsewhere = RawSession(client, mcp_target.path("single_service_mcp", id=other.id))
    elsewhere.session_id, elsewhere.revision = session.session_id, session.revision
    if other.token:
        elsewhere.extra["Authorization"] = f"Bearer {other.token}"
    session_not_carried(await elsewhere.post(listing), session.session_id, f"at the endpoint of {other.id!r}")
    anonymous = await session.post(listing, Authorization=None)
    session_not_carried(anonymous, session.session_id, "at its own endpoint without a credential")
