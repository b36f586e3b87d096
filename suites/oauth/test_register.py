"""Dynamic client registration, RFC 7591 (requirements 4.3, ND-*)."""

from __future__ import annotations

import pytest

from spreadapi_conformance.reference.config import ReferenceConfig

from ._support import CHATGPT, CLAUDE, assert_oauth_error

ACCEPTED = {
    "ChatGPT connector": CHATGPT,
    "ChatGPT stable": "https://chatgpt.com/connector_platform_oauth_redirect",
    "Claude": CLAUDE,
    "Claude (claude.com)": "https://claude.com/api/mcp/auth_callback",
    "loopback IPv4": "http://127.0.0.1/callback",
    "loopback IPv4 with port": "http://127.0.0.1:33418/callback",
    "localhost": "http://localhost:8080/oauth/cb?x=1",
    "loopback IPv6": "http://[::1]:1234/callback",
}


@pytest.mark.parametrize("uri", ACCEPTED.values(), ids=ACCEPTED.keys())
async def test_accepted_redirect_uris(http, uri):
    response = await http.post("/oauth/register", json={"redirect_uris": [uri]})
    assert response.status_code == 201
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["redirect_uris"] == [uri]
    assert body["client_id"].startswith("dcr_") and len(body["client_id"]) == 36
    assert isinstance(body["client_id_issued_at"], int)
    assert body["token_endpoint_auth_method"] == "none" and "client_secret" not in body
    assert body["grant_types"] == ["authorization_code"] and body["response_types"] == ["code"]


REJECTED = {
    "other https host": "https://evil.example/callback",
    "http non-loopback": "http://chatgpt.com/connector/oauth/abc",
    "fragment": CLAUDE + "#x",
    "javascript": "javascript:alert(1)",
    "data": "data:text/html,hi",
    "userinfo": "https://chatgpt.com@evil.example/connector/oauth/abc",
    "suffix host": "https://claude.ai.evil.example/api/mcp/auth_callback",
    "Claude with trailing slash": CLAUDE + "/",
    "ChatGPT traversal": "https://chatgpt.com/connector/oauth/..%2f..%2fevil",
    "ChatGPT nested path": "https://chatgpt.com/connector/oauth/abc/def",
    "relative": "/callback",
    "loopback userinfo": "http://user@127.0.0.1/callback",
    "loopback lookalike": "http://127.0.0.1.evil.example/callback",
    "not a string": 42,
    "with spaces": "https://claude.ai/api/mcp/auth callback",
}


@pytest.mark.parametrize("uri", REJECTED.values(), ids=REJECTED.keys())
async def test_rejected_redirect_uris(http, uri):
    response = await http.post("/oauth/register", json={"redirect_uris": [CLAUDE, uri]})
    body = assert_oauth_error(response, 400, "invalid_redirect_uri")
    assert "redirect_uris[1]" in body["error_description"]
    if isinstance(uri, str):
        assert uri not in body["error_description"], "the description never reflects the URI"


@pytest.mark.parametrize("body", [{}, {"redirect_uris": []}, {"redirect_uris": CLAUDE}, {"redirect_uris": None}])
async def test_redirect_uris_are_required(http, body):
    assert_oauth_error(await http.post("/oauth/register", json=body), 400, "invalid_redirect_uri")


@pytest.mark.parametrize(
    "metadata",
    [
        {"token_endpoint_auth_method": "client_secret_basic"},
        {"token_endpoint_auth_method": "client_secret_post"},
        {"grant_types": ["implicit"]},
        {"grant_types": ["authorization_code", "client_credentials"]},
        {"grant_types": ["refresh_token"]},
        {"grant_types": "authorization_code"},
        {"response_types": ["token"]},
        {"response_types": ["code", "token"]},
        {"client_name": 7},
        {"scope": ["mcp:read"]},
    ],
)
async def test_unsupported_metadata(http, metadata):
    response = await http.post("/oauth/register", json={"redirect_uris": [CLAUDE], **metadata})
    assert_oauth_error(response, 400, "invalid_client_metadata")


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"{oops", "application/json"),
        (b"[]", "application/json"),
        (b"redirect_uris=x", "application/x-www-form-urlencoded"),
    ],
)
async def test_malformed_bodies(http, content, content_type):
    response = await http.post("/oauth/register", content=content, headers={"Content-Type": content_type})
    assert_oauth_error(response, 400, "invalid_client_metadata")


async def test_claude_shaped_registration(http, reference):
    body = {
        "client_name": "Claude",
        "redirect_uris": [CLAUDE],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "scope": "mcp:read mcp:write",
        "software_id": "claude-ai",  # unknown metadata: ignored
        "logo_uri": "https://claude.ai/logo.png",
    }
    response = await http.post("/oauth/register", json=body)
    assert response.status_code == 201
    registered = response.json()
    assert registered["grant_types"] == ["authorization_code"], "refresh_token is dropped: none is issued"
    assert registered["client_name"] == "Claude" and registered["scope"] == "mcp:read mcp:write"
    assert "software_id" not in registered and "logo_uri" not in registered
    client = await reference.app.state.oauth_clients.get(registered["client_id"])
    assert client.redirect_uris == (CLAUDE,) and client.client_name == "Claude"
    assert await reference.store.ttl(f"oauth:client:{registered['client_id']}") == 30 * 86400


async def test_registration_needs_no_credential_and_is_not_cached(http):
    response = await http.post(
        "/oauth/register", json={"redirect_uris": [CLAUDE]}, headers={"Authorization": "Bearer nonsense"}
    )
    assert response.status_code == 201 and response.headers["pragma"] == "no-cache"


async def test_oversized_registration(http):
    response = await http.post("/oauth/register", json={"redirect_uris": [CLAUDE], "pad": "x" * 70_000})
    assert_oauth_error(response, 413, "invalid_client_metadata")


@pytest.mark.parametrize(
    ("config", "uri", "accepted"),
    [
        (("https://app.example/oauth/callback",), "https://app.example/oauth/callback", True),
        (("https://app.example/oauth/callback",), "https://app.example/oauth/callback2", False),
        (("https://app.example/oauth/*",), "https://app.example/oauth/cb/42", True),
        (("https://app.example/oauth/*",), "https://app.example/other", False),
        (("https://app.example/oauth/*",), "https://app.example.evil.test/oauth/cb", False),
        (("https://app.example/oauth/*",), "https://app.example/oauth/%2e%2e/admin", False),
        (("https://app.example/oauth/*",), "https://app.example/oauth/../admin", False),
        (("https://app.example*",), "https://app.example.evil.test/cb", False),
        (("http://app.example/cb",), "http://app.example/cb", False),  # http only on loopback, allowlist or not
    ],
)
async def test_configured_allowlist(config, uri, accepted):
    import httpx

    from spreadapi_conformance.reference.app import create_reference

    reference = await create_reference(ReferenceConfig(warm_up=False, redirect_allowlist=config))
    transport = httpx.ASGITransport(app=reference.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.post("/oauth/register", json={"redirect_uris": [uri]})
    if accepted:
        assert response.status_code == 201
    else:
        assert_oauth_error(response, 400, "invalid_redirect_uri")
