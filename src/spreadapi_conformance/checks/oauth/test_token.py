"""OAUTH-TOKEN: the token endpoint: what it refuses and how it answers.

Each check that redeems a code obtains a fresh one for the first MCP server the kit can be authorized for
(``_support.resources``: Option 3 with an MCP token, else Option 2's endpoints), consenting as the target
file says; they do not apply with ``consent = "manual"``. The negative cases use a client the server
registered, so a refusal is due to the property under test, not to an unknown client.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from urllib.parse import quote, urlencode

import pytest

from ..answers import json_object
from ..plugin import TIME_LIMIT
from ..premise import control_failed, not_applicable
from ._support import (
    any_grant,
    assert_oauth_error,
    authorization_params,
    control_grant,
    endpoints,
    excerpt,
    first_resource,
    oauth_spec,
    obtain_code,
    pkce,
    redeem,
    refusal_error,
    refused,
    register,
    repeated_members,
    requested_scope,
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


async def test_repeated_parameter_is_refused(client, target):
    """OAUTH-TOKEN-014 MUST NOT: no token request parameter appears more than once: a code exchange that sends
    code twice is refused with invalid_request (no token issued)."""
    grant = await any_grant(client, target)
    pairs = [*grant.token_request().items(), ("code", grant.code)]
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    repeated = await client.post(grant.found.endpoint_of("token_endpoint"), content=urlencode(pairs), headers=headers)
    assert_oauth_error(repeated, "invalid_request")


async def test_token_response_names_each_member_once(client, target):
    """OAUTH-TOKEN-018 MUST NOT: no token response parameter appears more than once: a successful token
    response names each of its members once."""
    answer = await redeem(client, await any_grant(client, target))
    if answer.status_code != 200:
        control_failed(f"the code exchange gave no token response to read: {excerpt(answer)}")
    twice = repeated_members(answer.text)
    assert not twice, f"the token response names {', '.join(twice)} more than once: {excerpt(answer)}"


async def test_scope_other_than_requested_is_named(client, target):
    """OAUTH-TOKEN-015 MUST: a scope granted otherwise than requested is named in the token response: asked
    for the resource's scopes plus a value no metadata lists (so not granted as asked), the server refuses
    with invalid_scope, or its token response carries scope, the scope granted."""
    resource = first_resource(target)
    found = await control_grant(client, target, resource)
    asked = " ".join([*(requested_scope(found) or "").split(), f"x-conformance-{secrets.token_hex(4)}"])
    redirect_uri = oauth_spec(target).redirect_uri
    client_id = await register(client, target, found)
    params = authorization_params(
        client_id, redirect_uri, pkce()[1], resource=found.endpoint, scope=asked, **resource.params
    )
    first = await client.get(found.endpoint_of("authorization_endpoint"), params=params)
    if refused(first, redirect_uri):
        error = refusal_error(first, redirect_uri)
        assert error == "invalid_scope", f"refused with {error or 'no error code'}, not invalid_scope: {excerpt(first)}"
        return
    if not any(isinstance(document.get("scopes_supported"), list) for document in (found.resource, found.metadata)):
        not_applicable(
            "the scope was not refused, and neither metadata document lists scopes_supported: the kit cannot "
            "tell whether the server supports the value it made up"
        )
    grant = await obtain_code(client, target, found, resource.pasted, scope=asked, **resource.params)
    answer = await redeem(client, grant)
    assert answer.status_code == 200, f"the exchange: {excerpt(answer)}"
    granted = json_object(answer).get("scope")
    assert isinstance(granted, str), (
        f"asked for {asked!r}, whose last value no metadata lists, the token response names no scope: {excerpt(answer)}"
    )


async def test_failed_basic_authentication_is_challenged(client, target):
    """OAUTH-TOKEN-016 MUST: a client that authenticates with the Authorization header and fails (HTTP Basic,
    a secret the server never issued) gets 401 invalid_client with a WWW-Authenticate challenge of the Basic
    scheme."""
    grant = await any_grant(client, target)
    token_url = grant.found.endpoint_of("token_endpoint")
    if not target.guard.trusts(token_url):
        not_applicable(
            f"the token endpoint {token_url} is not on the target's origin: the kit sends no Authorization header there"
        )
    # RFC 6749 §2.3.1: client_id and secret, each form-urlencoded, joined by a colon. The body names no
    # client_id then, so that the request uses one way of identifying the client (§5.2's invalid_request).
    pair = f"{quote(grant.client_id, safe='')}:{secrets.token_urlsafe(24)}"
    basic = {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode("ascii")}
    response = await client.post(token_url, data=grant.token_request(client_id=None), headers=basic)
    assert_oauth_error(response, "invalid_client", statuses=(401,))
    challenge = response.headers.get("www-authenticate", "")
    assert challenge.split(" ")[0].lower() == "basic", (
        f"WWW-Authenticate is {challenge!r}, not a Basic challenge matching the scheme the client used"
    )


CODE_EXPIRY_MARGIN = 3.0  # s past the stated lifetime: the server's expiry need not be to the millisecond
FLOWS_ALLOWANCE = 30.0  # s of the check's time limit left for its two authorizations and exchanges


async def test_code_expires(client, target, request):
    """OAUTH-TOKEN-017 MUST: an authorization code expires shortly after it is issued: redeemed once the
    lifetime the target file states has passed, it is refused with invalid_grant (a code redeemed at once,
    the control, is not)."""
    lifetime = oauth_spec(target).code_lifetime
    if lifetime is None:
        not_applicable(
            "the target file states no code lifetime: give [oauth] code_lifetime_seconds (serve --write-target "
            "writes the reference's) for the kit to wait it out"
        )
    wait = lifetime + CODE_EXPIRY_MARGIN
    limit = request.node.stash.get(TIME_LIMIT, 0.0)
    if limit and wait + FLOWS_ALLOWANCE > limit:
        not_applicable(
            f"waiting out the stated code lifetime ({lifetime:g} s) does not fit the check's time limit "
            f"({limit:g} s): run certify with --check-timeout {wait + 2 * FLOWS_ALLOWANCE:.0f} (or 0, no limit)"
        )
    control = await redeem(client, await any_grant(client, target))
    if control.status_code != 200:
        control_failed(f"a code redeemed at once is refused too: {excerpt(control)}")
    grant = await any_grant(client, target)
    await asyncio.sleep(wait)  # from receipt: the code was issued before, so it is older still
    late = await redeem(client, grant)
    assert late.status_code != 200, f"a code redeemed {wait:g} s after issue still got a token: {excerpt(late)}"
    assert_oauth_error(late, "invalid_grant")
