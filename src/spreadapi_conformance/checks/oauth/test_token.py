"""OAUTH-TOKEN: the token endpoint: what it refuses and how it answers.

Each check obtains a fresh code through the consent form (Option 3, the target file's MCP token), so
these need ``[oauth] consent = "form"`` and ``[mcp_tokens]``; they skip otherwise.
"""

from __future__ import annotations

import pytest

from ..premise import not_applicable
from ._support import (
    assert_oauth_error,
    endpoints,
    excerpt,
    mcp_token,
    oauth_spec,
    obtain_code,
    pkce,
    redeem,
    register,
)

pytestmark = pytest.mark.conformance


async def grant(client, target, **kwargs):
    found = await endpoints(client, target)
    return await obtain_code(client, target, found, {"mcp_tokens": mcp_token(target)}, **kwargs)


async def test_code_reuse_is_invalid_grant(client, target):
    """OAUTH-TOKEN-001 MUST: a code redeemed a second time is refused with invalid_grant."""
    code = await grant(client, target)
    first = await redeem(client, code)
    assert first.status_code == 200, f"the first exchange: {excerpt(first)}"
    assert_oauth_error(await redeem(client, code), "invalid_grant")


async def test_wrong_verifier_is_invalid_grant(client, target):
    """OAUTH-TOKEN-002 MUST: a code_verifier that does not match the code_challenge is refused with
    invalid_grant."""
    code = await grant(client, target)
    assert_oauth_error(await redeem(client, code, code_verifier=pkce()[0]), "invalid_grant")


async def test_failed_exchange_burns_the_code(client, target):
    """OAUTH-TOKEN-003 SHOULD: a failed exchange (a wrong code_verifier) spends the code: the right
    verifier afterwards is invalid_grant too, so verifiers cannot be guessed one after another."""
    code = await grant(client, target)
    assert_oauth_error(await redeem(client, code, code_verifier=pkce()[0]), "invalid_grant")
    assert_oauth_error(await redeem(client, code), "invalid_grant")


async def test_another_clients_code_is_invalid_grant(client, target):
    """OAUTH-TOKEN-004 MUST: a code presented by another client (with the right verifier) is refused with
    invalid_grant."""
    if not oauth_spec(target).registration:
        not_applicable("a second client needs dynamic client registration, which the target file says is off")
    code = await grant(client, target)
    other = await register(client, target, code.found, [code.redirect_uri])
    assert_oauth_error(await redeem(client, code, client_id=other), "invalid_grant")


async def test_redirect_uri_mismatch_is_invalid_grant(client, target):
    """OAUTH-TOKEN-005 MUST: a redirect_uri at the token endpoint other than the authorization request's is
    refused with invalid_grant."""
    code = await grant(client, target)
    elsewhere = code.redirect_uri.rstrip("/") + "/other"
    assert_oauth_error(await redeem(client, code, redirect_uri=elsewhere), "invalid_grant")


@pytest.mark.parametrize("grant_type", ["password", "urn:spreadapi-conformance:no-such-grant"])
async def test_unsupported_grant_type(client, target, grant_type):
    """OAUTH-TOKEN-006 MUST: a grant_type the server does not offer (the password grant, an unknown one) is
    refused with unsupported_grant_type."""
    found = await endpoints(client, target)
    data = {"grant_type": grant_type, "username": "u", "password": "p", "client_id": "x"}
    response = await client.post(found.endpoint_of("token_endpoint"), data=data)
    assert_oauth_error(response, "unsupported_grant_type")


@pytest.mark.parametrize("case", ["empty", "no-grant-type", "no-code"])
async def test_malformed_request_is_invalid_request(client, target, case):
    """OAUTH-TOKEN-007 MUST: a malformed token request (empty body, no grant_type, no code) is 400
    invalid_request."""
    found = await endpoints(client, target)
    redirect_uri = oauth_spec(target).redirect_uri
    data = {
        "empty": {},
        "no-grant-type": {"code": "ac_x", "client_id": "x", "redirect_uri": redirect_uri},
        "no-code": {"grant_type": "authorization_code", "client_id": "x", "redirect_uri": redirect_uri},
    }[case]
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    response = await client.post(found.endpoint_of("token_endpoint"), data=data, headers=headers)
    assert_oauth_error(response, "invalid_request")


async def test_token_response_is_never_cached(client, target):
    """OAUTH-TOKEN-008 MUST: a successful token response is JSON with access_token, token_type Bearer and
    expires_in, and carries Cache-Control: no-store."""
    response = await redeem(client, await grant(client, target))
    assert response.status_code == 200, f"the exchange: {excerpt(response)}"
    assert response.headers.get("content-type", "").startswith("application/json"), excerpt(response)
    assert "no-store" in response.headers.get("cache-control", "").lower(), (
        f"Cache-Control is {response.headers.get('cache-control')!r}, not no-store"
    )
    body = response.json()
    assert isinstance(body.get("access_token"), str) and body["access_token"], "no access_token"
    assert str(body.get("token_type", "")).lower() == "bearer", f"token_type is {body.get('token_type')!r}"
    expires_in = body.get("expires_in")
    assert isinstance(expires_in, int) and expires_in > 0, f"expires_in is {expires_in!r}"
