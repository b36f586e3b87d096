"""OAUTH-TOKEN: the token endpoint: what it refuses and how it answers.

Each check that redeems a code obtains a fresh one for the first MCP server the kit can be authorized for
(``_support.resources``: Option 3 with an MCP token, else Option 2's endpoints), consenting as the target
file says; they do not apply with ``consent = "manual"``. The negative cases use a client the server
registered, so a refusal is due to the property under test, not to an unknown client.
"""

from __future__ import annotations

import pytest

from ..answers import json_object
from ..premise import not_applicable
from ._support import (
    any_grant,
    assert_oauth_error,
    endpoints,
    excerpt,
    oauth_spec,
    pkce,
    redeem,
    register,
)

pytestmark = pytest.mark.conformance


async def test_code_reuse_is_invalid_grant(client, target):
    """OAUTH-TOKEN-001 MUST: a code redeemed a second time is refused with invalid_grant."""
    code = await any_grant(client, target)
    first = await redeem(client, code)
    assert first.status_code == 200, f"the first exchange: {excerpt(first)}"
    assert_oauth_error(await redeem(client, code), "invalid_grant")


async def test_wrong_verifier_is_invalid_grant(client, target):
    """OAUTH-TOKEN-002 MUST: a code_verifier that does not match the code_challenge is refused with
    invalid_grant."""
    code = await any_grant(client, target)
    assert_oauth_error(await redeem(client, code, code_verifier=pkce()[0]), "invalid_grant")


async def test_missing_verifier_is_refused(client, target):
    """OAUTH-TOKEN-011 MUST: a code whose authorization request carried a code_challenge, redeemed without a
    code_verifier, is refused (invalid_request: a required parameter is missing; or invalid_grant)."""
    code = await any_grant(client, target)
    assert_oauth_error(await redeem(client, code, code_verifier=None), "invalid_request", "invalid_grant")


async def test_empty_verifier_is_refused(client, target):
    """OAUTH-TOKEN-013 MUST: a code redeemed with code_verifier= (empty) is refused as without one: an empty
    parameter is an omitted one, and PKCE then has nothing to verify."""
    code = await any_grant(client, target)
    assert_oauth_error(await redeem(client, code, code_verifier=""), "invalid_request", "invalid_grant")


async def test_unrecognized_parameter_is_ignored(client, target):
    """OAUTH-TOKEN-012 MUST: a valid code exchange carrying a parameter the server does not recognize gets its
    token (200), the parameter ignored."""
    code = await any_grant(client, target)
    response = await redeem(client, code, x_conformance_probe="1")
    assert response.status_code == 200, f"refused for an unrecognized parameter: {excerpt(response)}"


async def test_failed_exchange_burns_the_code(client, target):
    """OAUTH-TOKEN-003 SHOULD: a failed exchange (a wrong code_verifier) spends the code: the right
    verifier afterwards is invalid_grant too, so verifiers cannot be guessed one after another."""
    code = await any_grant(client, target)
    assert_oauth_error(await redeem(client, code, code_verifier=pkce()[0]), "invalid_grant")
    assert_oauth_error(await redeem(client, code), "invalid_grant")


async def test_another_clients_code_is_invalid_grant(client, target):
    """OAUTH-TOKEN-004 MUST: a code presented by another client (with the right verifier) is refused with
    invalid_grant."""
    if not oauth_spec(target).registration:
        not_applicable("a second client needs dynamic client registration, which the target file says is off")
    code = await any_grant(client, target)
    other = await register(client, target, code.found, [code.redirect_uri])
    assert_oauth_error(await redeem(client, code, client_id=other), "invalid_grant")


async def test_redirect_uri_mismatch_is_invalid_grant(client, target):
    """OAUTH-TOKEN-005 MUST: a redirect_uri at the token endpoint other than the authorization request's is
    refused with invalid_grant."""
    code = await any_grant(client, target)
    elsewhere = code.redirect_uri.rstrip("/") + "/other"
    assert_oauth_error(await redeem(client, code, redirect_uri=elsewhere), "invalid_grant")


@pytest.mark.parametrize("grant_type", ["password", "urn:spreadapi-conformance:no-such-grant"])
async def test_unsupported_grant_type(client, target, grant_type):
    """OAUTH-TOKEN-006 MUST: a grant_type the server does not offer (the password grant, an unknown one),
    asked by a registered public client, is refused with unsupported_grant_type (or unauthorized_client, the
    client not being allowed that grant)."""
    found = await endpoints(client, target)
    client_id = await register(client, target, found)
    data = {"grant_type": grant_type, "username": "u", "password": "p", "client_id": client_id}
    response = await client.post(found.endpoint_of("token_endpoint"), data=data)
    assert_oauth_error(response, "unsupported_grant_type", "unauthorized_client")


@pytest.mark.parametrize("case", ["empty", "no-grant-type", "no-code"])
async def test_malformed_request_is_invalid_request(client, target, case):
    """OAUTH-TOKEN-007 MUST: a malformed token request (no grant_type, no code) from a registered client is
    refused with invalid_request; an empty body, which names no client, may also be invalid_client (RFC 6749
    §5.2)."""
    found = await endpoints(client, target)
    redirect_uri = oauth_spec(target).redirect_uri
    client_id = await register(client, target, found)
    data = {
        "empty": {},
        "no-grant-type": {"code": "ac_x", "client_id": client_id, "redirect_uri": redirect_uri},
        "no-code": {"grant_type": "authorization_code", "client_id": client_id, "redirect_uri": redirect_uri},
    }[case]
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    response = await client.post(found.endpoint_of("token_endpoint"), data=data, headers=headers)
    if case == "empty":
        assert_oauth_error(response, "invalid_request", "invalid_client")
    else:
        assert_oauth_error(response, "invalid_request")


async def test_token_response_is_never_cached(client, target):
    """OAUTH-TOKEN-008 MUST: a successful token response is JSON with access_token and token_type Bearer, and
    carries Cache-Control: no-store."""
    response = await redeem(client, await any_grant(client, target))
    assert response.status_code == 200, f"the exchange: {excerpt(response)}"
    assert response.headers.get("content-type", "").startswith("application/json"), excerpt(response)
    assert "no-store" in response.headers.get("cache-control", "").lower(), (
        f"Cache-Control is {response.headers.get('cache-control')!r}, not no-store"
    )
    body = json_object(response)
    assert isinstance(body.get("access_token"), str) and body["access_token"], "no access_token"
    assert str(body.get("token_type", "")).lower() == "bearer", f"token_type is {body.get('token_type')!r}"


async def test_token_response_says_how_long_it_lasts(client, target):
    """OAUTH-TOKEN-009 SHOULD: a successful token response gives expires_in, a positive whole number of
    seconds."""
    response = await redeem(client, await any_grant(client, target))
    assert response.status_code == 200, f"the exchange: {excerpt(response)}"
    expires_in = json_object(response).get("expires_in")
    assert isinstance(expires_in, int) and not isinstance(expires_in, bool) and expires_in > 0, (
        f"expires_in is {expires_in!r}"
    )


async def test_errors_other_than_invalid_client_are_400(client, target):
    """OAUTH-TOKEN-010 MUST: the token endpoint answers its errors other than invalid_client with HTTP 400
    (a reused code, here)."""
    code = await any_grant(client, target)
    first = await redeem(client, code)
    assert first.status_code == 200, f"the first exchange: {excerpt(first)}"
    assert_oauth_error(await redeem(client, code), "invalid_grant", statuses=(400,))
