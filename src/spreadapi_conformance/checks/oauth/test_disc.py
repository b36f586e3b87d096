"""OAUTH-DISC: discovery as a connector does it: the MCP endpoint's 401, RFC 9728, then RFC 8414."""

from __future__ import annotations

import pytest

from ..mcp._support import JSON_RPC_HEADERS, initialize_message
from ..premise import not_applicable
from ._support import (
    SINGLE,
    any_grant,
    authorization_server,
    discover,
    endpoints,
    is_absolute,
    oauth_spec,
    protected_resource,
    resources,
    single_service,
)

pytestmark = pytest.mark.conformance


async def test_multi_service_endpoint_leads_to_its_metadata(client, target):
    """OAUTH-DISC-001 MUST: /api/mcp's 401 names its protected-resource metadata: 200 JSON whose resource
    is exactly the /api/mcp URL and which names at least one authorization server."""
    oauth_spec(target)
    document = await protected_resource(client, target.url("mcp"))
    methods = document.get("bearer_methods_supported")
    assert methods is None or "header" in methods, f"bearer_methods_supported leaves out the header: {methods!r}"


@pytest.mark.parametrize("which", ["quote", "loan-calculator", "fixed"])
async def test_single_service_endpoint_leads_to_its_metadata(client, target, which):
    """OAUTH-DISC-002 MUST: a single-service endpoint's protected-resource metadata (from a protected
    endpoint's 401; for a public one at the RFC 9728 well-known URL) names exactly that endpoint's URL."""
    oauth_spec(target)
    if which == "fixed":
        fixed = [r for r in resources(target) if r.option == SINGLE and r.fixture is None]
        if not fixed:
            not_applicable("the target file names no fixed single-service MCP endpoint")
        endpoint = target.base_url.rstrip("/") + fixed[0].path
        if (await client.post(endpoint, json=initialize_message(), headers=JSON_RPC_HEADERS)).status_code != 401:
            not_applicable(f"{fixed[0].what} answers without a credential: it is not protected")
        found = await discover(client, endpoint)
    else:
        endpoint = target.url("single_service_mcp", fixture=which)
        found = await single_service(client, target, which)
    assert found.resource["resource"] == endpoint


async def test_authorization_server_metadata(client, target):
    """OAUTH-DISC-003 MUST: the issuer's RFC 8414 metadata is at the well-known URL built from it, names
    itself as issuer exactly, absolute authorization and token endpoints, and response type code."""
    found = await endpoints(client, target, strict=True)
    metadata = await authorization_server(client, found.issuer)
    for name in ("authorization_endpoint", "token_endpoint"):
        assert is_absolute(metadata.get(name)), f"{name} is not an absolute URL: {metadata.get(name)!r}"
    assert "code" in (metadata.get("response_types_supported") or []), metadata.get("response_types_supported")


async def test_s256_is_advertised(client, target):
    """OAUTH-DISC-004 MUST: code_challenge_methods_supported is published and lists S256 (clients refuse
    to proceed without it)."""
    metadata = (await endpoints(client, target, strict=True)).metadata
    methods = metadata.get("code_challenge_methods_supported")
    assert isinstance(methods, list) and "S256" in methods, f"code_challenge_methods_supported is {methods!r}"


async def test_plain_is_not_advertised(client, target):
    """OAUTH-DISC-005 SHOULD: PKCE is S256 only: plain is not among code_challenge_methods_supported."""
    methods = (await endpoints(client, target, strict=True)).metadata.get("code_challenge_methods_supported") or []
    assert "plain" not in methods, f"code_challenge_methods_supported offers plain: {methods!r}"


async def test_registration_endpoint_is_advertised(client, target):
    """OAUTH-DISC-006 MUST: a server that offers dynamic client registration advertises its
    registration_endpoint (an absolute URL)."""
    if not oauth_spec(target).registration:
        not_applicable("the target file says the server offers no dynamic client registration")
    metadata = (await endpoints(client, target, strict=True)).metadata
    assert is_absolute(metadata.get("registration_endpoint")), metadata.get("registration_endpoint")


async def test_public_clients_and_the_code_grant_are_advertised(client, target):
    """OAUTH-DISC-007 SHOULD: the metadata offers the authorization_code grant (listed, or by RFC 8414's
    default when grant_types_supported is absent) and lists public clients (token_endpoint_auth_methods_supported
    includes none, which the default leaves out)."""
    metadata = (await endpoints(client, target, strict=True)).metadata
    grants = metadata.get("grant_types_supported", ["authorization_code", "implicit"])
    assert isinstance(grants, list) and "authorization_code" in grants, f"grant_types_supported is {grants!r}"
    methods = metadata.get("token_endpoint_auth_methods_supported")
    assert isinstance(methods, list) and "none" in methods, f"token_endpoint_auth_methods_supported is {methods!r}"


async def test_metadata_has_no_empty_arrays(client, target):
    """OAUTH-DISC-008 MUST: no member of the authorization-server metadata or of the protected-resource
    metadata is an array with no elements (such members are left out)."""
    found = await endpoints(client, target)
    empty = [f"authorization-server metadata {name}" for name, value in found.metadata.items() if value == []]
    empty += [f"protected-resource metadata {name}" for name, value in found.resource.items() if value == []]
    assert not empty, f"members with zero elements: {', '.join(empty)}"


async def test_iss_in_responses_is_announced(client, target):
    """OAUTH-DISC-009 MUST: an authorization server whose authorization responses carry iss announces it in
    its metadata: authorization_response_iss_parameter_supported true (a client that finds it false or absent
    may not check iss, and the mix-up defence is lost)."""
    grant = await any_grant(client, target)
    if not grant.by_server:
        not_applicable("the consent page's script built the redirect (consent = json): its iss is not the server's")
    if "iss" not in grant.answer:
        not_applicable("the authorization response carries no iss")
    announced = grant.found.metadata.get("authorization_response_iss_parameter_supported")
    assert announced is True, (
        f"the authorization response carries iss={grant.answer['iss']!r}, the metadata says "
        f"authorization_response_iss_parameter_supported={announced!r}"
    )
