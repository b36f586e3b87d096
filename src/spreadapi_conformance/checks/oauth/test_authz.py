"""OAUTH-AUTHZ: the authorization endpoint refuses what it must, without issuing a code.

No consent is needed: every request here is refused before a user would be asked. A refusal is an
error page (4xx) or, where RFC 6749 §4.1.2.1 allows it, a redirect to the client carrying ``error``;
a code, a consent page to approve, or a redirect anywhere else fails the check.
"""

from __future__ import annotations

import pytest

from ..answers import excerpt
from ..premise import control_failed
from ._support import (
    REDIRECTS,
    assert_no_code,
    authorization_params,
    endpoints,
    oauth_spec,
    pkce,
    redirect_parameters,
    register,
    requested_scope,
    same_redirect,
)

pytestmark = pytest.mark.conformance


_CONTROL: dict[str, str | None] = {}  # base URL -> how a valid request was refused (None: it was not)


def refused(response, redirect_uri: str) -> bool:
    if response.status_code in REDIRECTS:
        location = response.headers.get("location", "")
        return same_redirect(location, redirect_uri) and "error" in redirect_parameters(location)
    return response.status_code >= 400


async def request(client, target, **changes):
    """GET the authorization endpoint with a valid request (a fresh client, S256, state, resource, the
    resource's scopes) changed. Its control, once per run: the unchanged request is not refused, so that a
    refusal of the changed one is due to the change."""
    found = await endpoints(client, target)
    redirect_uri = oauth_spec(target).redirect_uri
    registered = await register(client, target, found)  # the control's client, whatever the change names
    valid = authorization_params(
        registered, redirect_uri, pkce()[1], resource=found.endpoint, scope=requested_scope(found)
    )
    authorize_url = found.endpoint_of("authorization_endpoint")
    if target.base_url not in _CONTROL:
        control = await client.get(authorize_url, params=valid)
        _CONTROL[target.base_url] = excerpt(control) if refused(control, redirect_uri) else None
    if _CONTROL[target.base_url]:
        control_failed(f"a valid authorization request is refused too: {_CONTROL[target.base_url]}")
    params = {k: v for k, v in {**valid, **changes}.items() if v is not None}
    return await client.get(authorize_url, params=params), redirect_uri


async def test_missing_code_challenge_issues_no_code(client, target):
    """OAUTH-AUTHZ-001 MUST: an authorization request without code_challenge is refused (invalid_request):
    PKCE is required, no code is issued."""
    response, redirect_uri = await request(client, target, code_challenge=None, code_challenge_method=None)
    assert_no_code(response, redirect_uri, ("invalid_request",))


@pytest.mark.parametrize("method", ["plain", None], ids=["plain", "no-method"])
async def test_plain_challenge_issues_no_code(client, target, method):
    """OAUTH-AUTHZ-002 MUST: code_challenge_method plain, or none at all (which means plain), is refused:
    only S256."""
    verifier = pkce()[0]  # a plain challenge is the verifier itself
    response, redirect_uri = await request(client, target, code_challenge=verifier, code_challenge_method=method)
    assert_no_code(response, redirect_uri, ("invalid_request",))


async def test_implicit_grant_is_refused(client, target):
    """OAUTH-AUTHZ-003 MUST: response_type=token (the implicit grant, gone in OAuth 2.1) is refused with
    unsupported_response_type; no token, no code."""
    response, redirect_uri = await request(client, target, response_type="token")
    assert_no_code(response, redirect_uri, ("unsupported_response_type",))
    assert "access_token" not in response.headers.get("location", "")


async def test_unknown_client_is_never_redirected(client, target):
    """OAUTH-AUTHZ-004 MUST NOT: an unknown client_id is an error shown to the user, never a redirect (not even
    to the redirect_uri the request names)."""
    response, _ = await request(client, target, client_id="spreadapi-conformance-unknown-client-7f3a")
    assert "location" not in response.headers, f"redirected to {response.headers['location']!r}"
    assert 400 <= response.status_code < 500, f"HTTP {response.status_code}: {response.text[:300]!r}"


@pytest.mark.parametrize(
    "redirect_uri",
    ["https://attacker.example/callback", "{registered}/extra", "{registered}?injected=1"],
    ids=["foreign", "appended-path", "added-query"],
)
async def test_unregistered_redirect_uri_is_never_redirected_to(client, target, redirect_uri):
    """OAUTH-AUTHZ-005 MUST NOT: a redirect_uri not registered for the client (foreign, or the registered one
    with a path or query added) is an error page: no redirect at all."""
    registered = oauth_spec(target).redirect_uri
    response, _ = await request(client, target, redirect_uri=redirect_uri.format(registered=registered.rstrip("/")))
    assert "location" not in response.headers, f"redirected to {response.headers['location']!r}"
    assert 400 <= response.status_code < 500, f"HTTP {response.status_code}: {response.text[:300]!r}"


async def test_foreign_resource_is_refused(client, target):
    """OAUTH-AUTHZ-006 SHOULD: a resource that is not an MCP server of this deployment is refused with
    invalid_target, before anyone consents to it."""
    response, redirect_uri = await request(client, target, resource="https://elsewhere.example/mcp")
    assert_no_code(response, redirect_uri, ("invalid_target",))


async def test_unrecognized_parameter_is_ignored(client, target):
    """OAUTH-AUTHZ-007 MUST: a valid authorization request carrying a parameter the server does not recognize
    is not refused for it: it goes on as without it (a consent page, or a code)."""
    response, redirect_uri = await request(client, target, x_conformance_probe="1")
    assert not refused(response, redirect_uri), f"refused for an unrecognized parameter: {excerpt(response)}"
