"""OAUTH-AUTHZ: the authorization endpoint refuses what it must, without issuing a code.

No consent is needed: every request here is refused before a user would be asked. A refusal is an
error page (4xx) or, where RFC 6749 §4.1.2.1 allows it, a redirect to the client carrying ``error``;
a code, a consent page to approve, or a redirect anywhere else fails the check.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from ..answers import excerpt
from ..premise import control_failed, not_applicable
from ._support import (
    MULTI,
    REDIRECTS,
    SINGLE,
    access_token,
    assert_no_code,
    authorization_params,
    challenge_exposure,
    claims,
    control_grant,
    endpoints,
    first_resource,
    grant_for,
    oauth_spec,
    obtain_code,
    pkce,
    refusal_error,
    refused,
    register,
    requested_scope,
    resources,
)

pytestmark = pytest.mark.conformance


_CONTROL: dict[str, str | None] = {}  # base URL -> how a valid request was refused (None: it was not)


async def request(client, target, headers: dict[str, str] | None = None, **changes):
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
    return await client.get(authorize_url, params=params, headers=headers), redirect_uri


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


def _other_port(uri: str) -> str:
    """``uri`` (a loopback IP redirect URI) with another port."""
    parts = urlsplit(uri)
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
    port = (parts.port or 80) + 1
    return parts._replace(netloc=f"{host}:{port if port <= 65535 else 49152}").geturl()


async def test_loopback_redirect_takes_any_port(client, target):
    """OAUTH-AUTHZ-008 MUST: a loopback IP redirect URI is accepted with any port at the authorization
    request: the client registered http://127.0.0.1:P/callback, asks with another port, and the code comes
    to that port (a native client gets an ephemeral port from its system each time)."""
    registered = oauth_spec(target).redirect_uri
    parts = urlsplit(registered)
    if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "::1"):
        not_applicable(f"the target file's redirect URI {registered} is not a loopback IP one")
    resource = first_resource(target)
    found = await control_grant(client, target, resource)
    try:
        # A native app says so (OpenID Connect registration reads application_type; RFC 7591 servers ignore it).
        client_id = await register(client, target, found, [registered], application_type="native")
    except AssertionError as exc:
        control_failed(f"registering a native client with the loopback redirect URI: {exc}")
    elsewhere = _other_port(registered)
    await obtain_code(
        client, target, found, resource.pasted, client_id=client_id, redirect_uri=elsewhere, **resource.params
    )


async def test_redirect_uri_query_is_kept(client, target):
    """OAUTH-AUTHZ-009 MUST: a redirect URI registered with a query component keeps it when the server adds
    the code and state: the redirect carries both the registered parameter and the code."""
    registered = oauth_spec(target).redirect_uri
    parts = urlsplit(registered)
    with_query = parts._replace(query=urlencode([*parse_qsl(parts.query), ("kit_probe", "kept")])).geturl()
    resource = first_resource(target)
    found = await control_grant(client, target, resource)
    try:
        client_id = await register(client, target, found, [with_query])
    except AssertionError as exc:
        not_applicable(f"the server does not register a redirect URI with a query: {exc}")
    grant = await obtain_code(
        client, target, found, resource.pasted, client_id=client_id, redirect_uri=with_query, **resource.params
    )
    assert grant.answer.get("kit_probe") == "kept", f"the registered query was not kept: {grant.location!r}"


@pytest.mark.parametrize("name", ["resource", "scope"])
async def test_empty_parameter_is_as_if_absent(client, target, name):
    """OAUTH-AUTHZ-010 MUST: a parameter sent with an empty value is treated as if it were omitted: the
    request with ``name=`` is refused exactly when the request without it is."""
    without, redirect_uri = await request(client, target, **{name: None})
    empty, _ = await request(client, target, **{name: ""})
    assert refused(empty, redirect_uri) == refused(without, redirect_uri), (
        f"{name}= (empty) was {'refused' if refused(empty, redirect_uri) else 'accepted'}, without {name} it was "
        f"{'refused' if refused(without, redirect_uri) else 'accepted'}: {excerpt(empty)}"
    )


async def test_authorization_endpoint_has_no_cors(client, target):
    """OAUTH-AUTHZ-011 MUST NOT: the authorization endpoint does not support CORS: a cross-origin GET and a
    preflight get no Access-Control-Allow-Origin (the browser is sent there, a script never calls it)."""
    origin = {"origin": "https://client.example"}
    page, _ = await request(client, target, headers=origin)
    authorize_url = (await endpoints(client, target)).endpoint_of("authorization_endpoint")
    preflight = await client.options(authorize_url, headers={**origin, "access-control-request-method": "GET"})
    for answer in (page, preflight):
        allowed = answer.headers.get("access-control-allow-origin")
        assert allowed is None, (
            f"{answer.request.method} with Origin: Access-Control-Allow-Origin: {allowed} ({excerpt(answer)})"
        )


async def test_unpublished_service_is_refused(client, target):
    """OAUTH-AUTHZ-012 MUST: an Option 2 authorization request naming a service that is not published
    (service_id, and the resource such a service would have) is refused: no consent page, no code."""
    if not claims(target, SINGLE):
        not_applicable("the target does not claim Option 2")
    resource = next((r for r in resources(target) if r.option == SINGLE and r.params.get("service_id")), None)
    if resource is None:
        not_applicable("the target names its single-service endpoints by a fixed path, not by service_id")
    found = await control_grant(client, target, resource)
    unknown = "spreadapi-conformance-no-such-service"
    endpoint = target.url("single_service_mcp", id=unknown)
    client_id = await register(client, target, found)
    redirect_uri = oauth_spec(target).redirect_uri
    params = authorization_params(client_id, redirect_uri, pkce()[1], resource=endpoint, service_id=unknown)
    response = await client.get(found.endpoint_of("authorization_endpoint"), params=params)
    assert_no_code(response, redirect_uri)


def no_consent_form(response) -> None:
    """No consent page the user could approve: no POST form carrying the client's id."""
    if response.status_code in REDIRECTS or "html" not in response.headers.get("content-type", ""):
        return
    fields = re.findall(r'name=["\']client_id["\']', response.text, flags=re.IGNORECASE)
    assert not fields, f"a consent form was shown for a request that names no service: {excerpt(response)}"


@pytest.mark.parametrize("naming", ["resource without service id", "neither"])
async def test_single_service_grant_needs_a_service(client, target, naming):
    """OAUTH-AUTHZ-015 MUST: an Option 2 authorization request that names its service neither by service_id
    nor by the resource URL (the single-service endpoint's path with no id) is refused: an error page or an
    error redirect, no consent form, no code. Without service_id and resource the request is Option 3's
    when the target claims Option 3, so that variant applies only to a target that does not."""
    if not claims(target, SINGLE):
        not_applicable("the target does not claim Option 2")
    template = target.template("single_service_mcp")
    if "{id}" not in template:
        not_applicable("the target names its single-service endpoint by a fixed path, not by a service id")
    if naming == "neither" and claims(target, MULTI):
        not_applicable("the target claims Option 3: a request naming no service is a multi-service request there")
    resource = next((r for r in resources(target) if r.option == SINGLE and r.params.get("service_id")), None)
    if resource is None:
        not_applicable("the target file publishes no service the kit can be authorized for through Option 2")
    found = await control_grant(client, target, resource)
    client_id = await register(client, target, found)
    redirect_uri = oauth_spec(target).redirect_uri
    nameless = target.base_url.rstrip("/") + template.replace("{id}", "")
    extra = {"resource": nameless} if naming != "neither" else {}
    params = authorization_params(client_id, redirect_uri, pkce()[1], **extra)
    response = await client.get(found.endpoint_of("authorization_endpoint"), params=params)
    assert_no_code(response, redirect_uri)
    no_consent_form(response)


async def test_request_without_scope_gets_the_default_scope(client, mcp_target):
    """OAUTH-AUTHZ-013 MUST: an authorization request without scope is processed with the server's default
    scope (a code, then an access token) or refused with invalid_scope, not with another error. What the
    default scope lets the token do is the server's to decide: RFC 6749 asks only that the request be
    processed or refused so."""
    response, redirect_uri = await request(client, mcp_target, scope=None)
    if refused(response, redirect_uri):
        error = refusal_error(response, redirect_uri)
        assert error == "invalid_scope", (
            f"refused with {error or 'no error code for the client'}, not invalid_scope: {excerpt(response)}"
        )
        return
    grant = await grant_for(client, mcp_target, first_resource(mcp_target), scope=None)
    await access_token(client, grant)


async def test_code_does_not_expose_the_challenge(client, target):
    """OAUTH-AUTHZ-014 MUST NOT: the authorization response does not carry the code_challenge in a form others
    can read: neither the code nor the redirect holds the challenge, its SHA-256 bytes (raw, hex or base64),
    nor does anything the code base64-decodes to."""
    grant = await grant_for(client, target, first_resource(target))
    problem = challenge_exposure(grant.location, grant.code, grant.params["code_challenge"])
    assert problem is None, f"{problem}: {grant.location!r}"
