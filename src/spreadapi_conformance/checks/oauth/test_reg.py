"""OAUTH-REG: dynamic client registration (RFC 7591): what a connector registers, and what is refused."""

from __future__ import annotations

import pytest

from ..answers import json_object
from ..premise import not_applicable
from ._support import assert_oauth_error, endpoints, excerpt, oauth_spec, registration_body

pytestmark = pytest.mark.conformance


async def registration_endpoint(client, target) -> str:
    if not oauth_spec(target).registration:
        not_applicable("the target file says the server offers no dynamic client registration")
    return (await endpoints(client, target)).endpoint_of("registration_endpoint")


async def test_loopback_public_client_is_registered(client, target):
    """OAUTH-REG-001 MUST: registering a public client with the target file's redirect URI (loopback by
    default) is 201 with a client_id and that redirect URI among the registered ones."""
    redirect_uri = oauth_spec(target).redirect_uri
    response = await client.post(await registration_endpoint(client, target), json=registration_body([redirect_uri]))
    assert response.status_code == 201, f"expected 201, got {excerpt(response)}"
    body = json_object(response)
    assert isinstance(body.get("client_id"), str) and body["client_id"], f"no client_id: {body!r}"
    assert redirect_uri in (body.get("redirect_uris") or []), f"redirect_uris echoed as {body.get('redirect_uris')!r}"
    assert "client_secret" not in body or body.get("token_endpoint_auth_method") != "none", (
        "a public client (token_endpoint_auth_method none) was given a secret"
    )


@pytest.mark.parametrize(
    "uri", ["not a uri", "/relative/callback", "{accepted}#fragment"], ids=["garbage", "relative", "fragment"]
)
async def test_bad_redirect_uri_is_invalid_redirect_uri(client, target, uri):
    """OAUTH-REG-002 MUST: a redirect URI that is not an absolute URI, or carries a fragment, is refused
    with 400 invalid_redirect_uri (the fragment on the redirect URI the server accepts, so that only the
    fragment can be the reason)."""
    uri = uri.format(accepted=oauth_spec(target).redirect_uri)
    response = await client.post(await registration_endpoint(client, target), json=registration_body([uri]))
    assert_oauth_error(response, "invalid_redirect_uri")


@pytest.mark.parametrize(
    "metadata",
    [{"grant_types": "authorization_code"}, {"response_types": "code"}, {"client_name": 42}],
    ids=["grant_types-string", "response_types-string", "client_name-number"],
)
async def test_malformed_metadata_is_invalid_client_metadata(client, target, metadata):
    """OAUTH-REG-003 MUST: metadata of the wrong type (grant_types or response_types not an array, a
    client_name that is no string) is refused with 400 invalid_client_metadata, or registered with the bad
    value replaced by a default (RFC 7591 §2 allows either), never registered as sent."""
    body = registration_body([oauth_spec(target).redirect_uri], **metadata)
    response = await client.post(await registration_endpoint(client, target), json=body)
    if response.status_code == 201:
        ((name, sent),) = metadata.items()
        registered = json_object(response).get(name)
        assert registered != sent, f"registered with {name} = {sent!r} as sent: {excerpt(response)}"
        return
    assert_oauth_error(response, "invalid_client_metadata")


async def test_unknown_metadata_is_ignored(client, target):
    """OAUTH-REG-004 MUST: a registration carrying client metadata the server does not understand (alongside
    what it needs) is registered, 201, the unknown members ignored."""
    endpoint = await registration_endpoint(client, target)
    unknown = {"x_conformance_note": "ignore me", "software_statement_hint": {"nested": [1, 2]}}
    response = await client.post(endpoint, json=registration_body([oauth_spec(target).redirect_uri], **unknown))
    assert response.status_code == 201, f"expected 201, got {excerpt(response)}"
    assert isinstance(json_object(response).get("client_id"), str), f"no client_id: {excerpt(response)}"


async def test_http_redirect_off_loopback_is_refused(client, target):
    """OAUTH-REG-005 MUST NOT: an http redirect URI on a host that is not a loopback address is refused
    (invalid_redirect_uri): the code would travel in the clear."""
    body = registration_body(["http://client.example/callback"])
    response = await client.post(await registration_endpoint(client, target), json=body)
    assert_oauth_error(response, "invalid_redirect_uri")


@pytest.mark.parametrize("uris", [None, []], ids=["missing", "empty"])
async def test_registration_without_redirect_uris_is_refused(client, target, uris):
    """OAUTH-REG-006 MUST: a registration without redirect URIs (the member missing, or an empty list) is
    refused, 400 invalid_redirect_uri (SpreadAPI's) or invalid_client_metadata (RFC 7591 §3.2.2 leaves the
    choice): a client of the authorization-code grant needs one."""
    body = registration_body([])
    if uris is None:
        del body["redirect_uris"]
    response = await client.post(await registration_endpoint(client, target), json=body)
    assert_oauth_error(response, "invalid_redirect_uri", "invalid_client_metadata")


# RFC 7591 §2.1's table: the grant type each response type belongs to.
_GRANT_OF_RESPONSE = {"code": "authorization_code", "token": "implicit"}


async def test_inconsistent_grant_and_response_types_are_not_registered(client, target):
    """OAUTH-REG-007 SHOULD: a registration whose grant_types and response_types do not go together
    (authorization_code with response_types [token], the implicit grant's) is refused with
    invalid_client_metadata, or registered with a consistent pair the response states, never as sent."""
    body = registration_body([oauth_spec(target).redirect_uri], response_types=["token"])
    response = await client.post(await registration_endpoint(client, target), json=body)
    if response.status_code != 201:
        assert_oauth_error(response, "invalid_client_metadata")
        return
    registered = json_object(response)
    grant_types = registered.get("grant_types", ["authorization_code"])  # RFC 7591 §2's defaults
    response_types = registered.get("response_types", ["code"])
    inconsistent = [
        f"response type {kind} without grant type {grant}"
        for kind, grant in _GRANT_OF_RESPONSE.items()
        if kind in response_types and grant not in grant_types
    ] + [
        f"grant type {grant} without response type {kind}"
        for kind, grant in _GRANT_OF_RESPONSE.items()
        if grant in grant_types and kind not in response_types
    ]
    assert not inconsistent, f"registered {'; '.join(inconsistent)}: {excerpt(response)}"
