"""Discovery: RFC 8414 authorization-server metadata and RFC 9728 protected-resource metadata.

The issuer is the deployment's base URL (``rest.base_url``), with no path, so the AS metadata lives
at the root well-known URL only. Protected-resource metadata uses the path-inserted form:
``/.well-known/oauth-protected-resource/api/mcp`` describes ``{base}/api/mcp``, and
``/.well-known/oauth-protected-resource/api/mcp/services/{id}`` describes ``{base}/api/mcp/services/{id}``;
the root document is the multi-service one. Every ``resource`` is the exact MCP URL.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .faults import active
from .oauth import MCP_SCOPES, mcp_resource, service_resource, service_scope
from .rest import base_url

__all__ = ["authorization_server", "protected_resource", "service_protected_resource"]

# Public, cacheable, readable from any origin (browser-based MCP clients fetch these too).
_HEADERS = {
    "Cache-Control": "public, max-age=3600",
    "Access-Control-Allow-Origin": "*",
}
_PREFLIGHT = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, MCP-Protocol-Version",
    "Access-Control-Max-Age": "86400",
}


def _document(request: Request, body: dict) -> Response:
    if request.method == "OPTIONS":
        return Response(status_code=204, headers=_PREFLIGHT)
    return JSONResponse(body, headers=_HEADERS)


def as_metadata(base: str, faults: frozenset[str] = frozenset()) -> dict:
    """``faults``: the deployment bugs to reproduce (``reference.faults``), for the selftest."""
    metadata = {
        "issuer": base + "/" if active(faults, "oauth-issuer-trailing-slash") else base,
        "authorization_endpoint": f"{base}/oauth/authorize",
        "token_endpoint": f"{base}/api/oauth/token",
        "registration_endpoint": f"{base}/oauth/register",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "scopes_supported": list(MCP_SCOPES),
        # RFC 9207: every authorization response carries iss; ChatGPT keys its stable redirect on this.
        "authorization_response_iss_parameter_supported": True,
    }
    if active(faults, "oauth-iss-not-announced"):
        del metadata["authorization_response_iss_parameter_supported"]  # iss is still sent
    if active(faults, "oauth-plain-pkce-advertised"):
        metadata["code_challenge_methods_supported"] = ["S256", "plain"]
    if active(faults, "oauth-registration-not-advertised"):
        del metadata["registration_endpoint"]
    if active(faults, "oauth-secret-auth-advertised"):
        metadata["token_endpoint_auth_methods_supported"] = ["client_secret_basic"]
    if active(faults, "oauth-pkce-not-advertised"):
        del metadata["code_challenge_methods_supported"]
    if active(faults, "oauth-metadata-empty-arrays"):
        metadata["ui_locales_supported"] = []  # a template's unfilled list, sent as it is
    return metadata


async def authorization_server(request: Request) -> Response:
    return _document(request, as_metadata(base_url(request), request.app.state.config.faults))


async def protected_resource(request: Request) -> Response:
    base = base_url(request)
    body = {
        "resource": base if active(request, "oauth-prm-wrong-resource") else mcp_resource(base),
        "authorization_servers": [base],
        "scopes_supported": list(MCP_SCOPES),
        "bearer_methods_supported": ["header"],
        "resource_name": "SpreadAPI multi-service MCP",
    }
    if active(request, "oauth-metadata-empty-arrays"):
        body["resource_signing_alg_values_supported"] = []
    return _document(request, body)


async def service_protected_resource(request: Request) -> Response:
    service = request.app.state.catalog.get(request.path_params["service_id"])
    if service is None:
        body = {"error": "Not found", "message": "Service not found or not published"}
        return JSONResponse(body, 404, headers={"Access-Control-Allow-Origin": "*"})
    base = base_url(request)
    copied = active(request, "oauth-service-prm-copied")  # the multi-service document's resource, kept
    body = {
        "resource": mcp_resource(base) if copied else service_resource(base, service.id),
        "authorization_servers": [base],
        "scopes_supported": [*MCP_SCOPES, service_scope(service.id)],
        "bearer_methods_supported": ["header"],
        "resource_name": service.title,
    }
    return _document(request, body)
