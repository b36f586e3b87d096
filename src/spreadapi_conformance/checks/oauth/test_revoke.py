"""OAUTH-REVOKE: revocation reaches the access tokens at once.

Non-destructive: each check issues a credential of its own through the target's admin surface
(``[admin]`` in the target file; the reference's ``/admin/…``), grants it through the flow, revokes it
and sees the access token refused. Without ``[admin]`` the checks skip: they never revoke what the
target file holds.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from .._admin import Admin, server_clock_offset
from ..premise import control_failed
from ._support import (
    MULTI,
    Resource,
    access_token,
    assert_refused,
    discovered,
    excerpt,
    initialize_with,
    obtain_code,
    single_service,
)

pytestmark = pytest.mark.conformance


async def test_revoking_the_mcp_token_stops_the_access_token(mcp_target, client):
    """OAUTH-REVOKE-001 MUST: revoking the MCP token pasted at consent stops the access token wrapping it at
    once: /api/mcp answers 401."""
    admin = Admin.of(client, mcp_target)
    pasted = await admin.issue_mcp_token(mcp_target.published("loan-calculator").id)
    found = await discovered(client, mcp_target, Resource(MULTI, mcp_target.path("mcp"), "/api/mcp"))
    token = await access_token(client, await obtain_code(client, mcp_target, found, {"mcp_tokens": pasted}))
    before = await initialize_with(client, found.endpoint, token)
    assert before.status_code == 200, f"before the revocation: {excerpt(before)}"
    await admin.revoke_mcp_token(pasted)
    assert_refused(await initialize_with(client, found.endpoint, token), "after the MCP token was revoked")


async def test_revoking_the_service_token_stops_the_access_token(mcp_target, client):
    """OAUTH-REVOKE-002 MUST: revoking the service token pasted at consent stops the single-service access
    token at once: the endpoint answers 401."""
    admin = Admin.of(client, mcp_target)
    service_id = mcp_target.published("quote").id
    pasted = await admin.issue_service_token(service_id)
    found = await single_service(client, mcp_target, "quote")
    grant = await obtain_code(client, mcp_target, found, {"service_token": pasted}, service_id=service_id)
    token = await access_token(client, grant)
    before = await initialize_with(client, found.endpoint, token)
    assert before.status_code == 200, f"before the revocation: {excerpt(before)}"
    await admin.revoke_service_token(pasted)
    assert_refused(await initialize_with(client, found.endpoint, token), "after the service token was revoked")


WRAPPED_LIFETIME = 8.0  # s: long enough for the flow and one initialize, short enough to wait out


async def test_expiry_of_the_wrapped_service_token_stops_the_access_token(mcp_target, client):
    """OAUTH-REVOKE-003 MUST: once the service token pasted at consent expires, the single-service access token
    wrapping it is refused: it opened the endpoint while the service token was valid (8 s), and the endpoint
    answers 401 after its expiry."""
    admin = Admin.of(client, mcp_target)
    service_id = mcp_target.published("quote").id
    found = await single_service(client, mcp_target, "quote")
    offset = server_clock_offset(await client.get(mcp_target.path("services")))
    expires_at = time.time() + offset + WRAPPED_LIFETIME  # on the server's clock
    pasted = await admin.issue_service_token(service_id, expires_at=expires_at)
    try:
        grant = await obtain_code(client, mcp_target, found, {"service_token": pasted}, service_id=service_id)
        token = await access_token(client, grant)
        before = await initialize_with(client, found.endpoint, token)
        if before.status_code != 200:
            control_failed(f"within the service token's {WRAPPED_LIFETIME:.0f} s: {excerpt(before)}")
        await asyncio.sleep(max(0.0, expires_at - offset - time.time()) + 1.5)
        after = await initialize_with(client, found.endpoint, token)
        assert_refused(after, "after the wrapped service token expired")
    finally:
        await admin.revoke_service_token(pasted, live=False)
