"""Discovery documents: RFC 8414 authorization-server metadata, RFC 9728 protected-resource metadata."""

from __future__ import annotations

import httpx
import pytest

from spreadapi_conformance.reference.app import create_reference
from spreadapi_conformance.reference.config import ReferenceConfig

from ._support import ISSUER

AS_METADATA = {
    "issuer": ISSUER,
    "authorization_endpoint": f"{ISSUER}/oauth/authorize",
    "token_endpoint": f"{ISSUER}/api/oauth/token",
    "registration_endpoint": f"{ISSUER}/oauth/register",
    "response_types_supported": ["code"],
    "response_modes_supported": ["query"],
    "grant_types_supported": ["authorization_code"],
    "code_challenge_methods_supported": ["S256"],
    "token_endpoint_auth_methods_supported": ["none"],
    "scopes_supported": ["mcp:read", "mcp:write"],
    "authorization_response_iss_parameter_supported": True,
}


async def test_authorization_server_metadata(http):
    response = await http.get("/.well-known/oauth-authorization-server")
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    assert response.json() == AS_METADATA
    assert response.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize(
    "path", ["/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/api/mcp"]
)
async def test_multi_service_protected_resource(http, path):
    response = await http.get(path)
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    assert response.json() == {
        "resource": f"{ISSUER}/api/mcp",
        "authorization_servers": [ISSUER],
        "scopes_supported": ["mcp:read", "mcp:write"],
        "bearer_methods_supported": ["header"],
        "resource_name": "SpreadAPI multi-service MCP",
    }


@pytest.mark.parametrize("service_id", ["loan-calculator", "quote", "edge-cases"])
async def test_single_service_protected_resource(http, service_id):
    body = (await http.get(f"/.well-known/oauth-protected-resource/api/mcp/services/{service_id}")).json()
    assert body["resource"] == f"{ISSUER}/api/mcp/services/{service_id}"
    assert body["authorization_servers"] == [ISSUER]
    assert body["scopes_supported"] == ["mcp:read", "mcp:write", f"spapi:service:{service_id}:execute"]
    assert body["bearer_methods_supported"] == ["header"]


async def test_unknown_service_has_no_protected_resource(http):
    response = await http.get("/.well-known/oauth-protected-resource/api/mcp/services/nope")
    assert response.status_code == 404 and response.headers["content-type"] == "application/json"


async def test_openid_configuration_is_a_clean_json_404(http):
    # ChatGPT probes it; this server is no OpenID provider, and a 404 must not be an HTML page.
    response = await http.get("/.well-known/openid-configuration")
    assert response.status_code == 404 and response.headers["content-type"] == "application/json"


async def test_preflight(http):
    response = await http.options(
        "/.well-known/oauth-authorization-server",
        headers={"Origin": "https://inspector.example", "Access-Control-Request-Method": "GET"},
    )
    assert response.status_code == 204 and response.headers["access-control-allow-origin"] == "*"


async def test_configured_base_url_is_the_issuer():
    reference = await create_reference(ReferenceConfig(warm_up=False, base_url="https://calc.example.test"))
    transport = httpx.ASGITransport(app=reference.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8787") as http:
        metadata = (await http.get("/.well-known/oauth-authorization-server")).json()
        resource = (await http.get("/.well-known/oauth-protected-resource/api/mcp/services/quote")).json()
    assert metadata["issuer"] == "https://calc.example.test"
    assert metadata["token_endpoint"] == "https://calc.example.test/api/oauth/token"
    assert resource["resource"] == "https://calc.example.test/api/mcp/services/quote"
    assert resource["authorization_servers"] == [metadata["issuer"]]
