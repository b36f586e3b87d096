"""Who may use the three MCP endpoints: transport security and authentication.

Authentication runs on every HTTP request (POST, GET, DELETE), before the SDK sees it. Only
the ``Authorization`` header counts, its scheme compared case-insensitively; a token in the query
string is never read. Answers:

- no credential: ``401`` with ``WWW-Authenticate: Bearer resource_metadata="…", scope="…"`` (RFC 9728
  §5.1: the protected-resource metadata of this endpoint) and no error code (RFC 6750 §3.1);
- a credential that is malformed, unknown, expired, revoked (or wraps a revoked MCP token), of the
  wrong kind for the endpoint, or an ``oat_`` issued for another resource (RFC 8707 audience): ``401``
  with ``error="invalid_token"`` added;
- a *valid* service token of another service on a private single-service endpoint: ``403`` with
  ``error="insufficient_scope"`` and the scope it would need (RFC 6750 §3.1: a valid token without
  the rights; the REST API answers the same token with 403 too);
- a public single-service endpoint ignores credentials altogether, as the REST API does.

The bridge is not an OAuth protected resource (it has no metadata document; clients are configured
with an MCP token), so its challenge is ``Bearer realm="spreadapi-mcp-bridge"``.

What authentication establishes is an ``McpAccess``: the endpoint's family, the services the
credential reaches and a principal that sessions are bound to. The endpoint puts it into the ASGI
scope under ``ACCESS_KEY``, where the SDK servers' handlers read it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.transport_security import TransportSecuritySettings
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..fixtures import ServiceDef
from .credentials import (
    MCP_TOKEN_PREFIX,
    OAUTH_TOKEN_PREFIX,
    SERVICE_TOKEN_PREFIX,
    looks_like,
    token_hash,
    validated_service_token,
)
from .faults import active
from .oauth import DEFAULT_SCOPE, mcp_resource, service_resource, service_scope
from .rest import NOT_FOUND, base_url, bearer_token

__all__ = [
    "ACCESS_KEY",
    "FAMILIES",
    "Family",
    "McpAccess",
    "authenticate",
    "transport_security",
]


Family = Literal["service", "bridge", "oauth"]
FAMILIES: tuple[Family, ...] = ("service", "bridge", "oauth")
ACCESS_KEY = "spreadapi.mcp.access"  # the ASGI scope key the handlers read the authenticated access from
BRIDGE_REALM = "spreadapi-mcp-bridge"
_NO_STORE = {"Cache-Control": "no-store"}


@dataclass(frozen=True)
class McpAccess:
    """Who may do what on this request, as authentication established it."""

    family: Family
    endpoint: str  # the endpoint's URL: the RFC 8707 resource an oat_ must have been issued for
    services: tuple[ServiceDef, ...]  # single service: exactly one; bridge and /api/mcp: those reachable
    principal: str  # identifies the credential (never the credential itself); sessions are bound to it

    def user(self) -> AuthenticatedUser:
        """The SDK's notion of the caller: the session manager binds each session to its principal."""
        # The subject is the endpoint's path, not its URL: a request with a forged Host header must reach
        # the SDK's DNS-rebinding check (421), not look like another caller's session (404).
        path = urlsplit(self.endpoint).path
        token = AccessToken(
            token=self.principal, client_id=self.principal, scopes=[], resource=self.endpoint, subject=path
        )
        return AuthenticatedUser(token)


# -- transport security --------------------------------------------------------------------------


def transport_security(configured_base_url: str | None) -> TransportSecuritySettings:
    """DNS-rebinding protection: the configured host, loopback on any port, and ``testserver`` (in process)."""
    hosts = ["127.0.0.1", "127.0.0.1:*", "localhost", "localhost:*", "[::1]", "[::1]:*", "testserver"]
    origins = [
        "http://127.0.0.1",
        "http://127.0.0.1:*",
        "http://localhost",
        "http://localhost:*",
        "http://[::1]",
        "http://[::1]:*",
        "http://testserver",
    ]
    if configured_base_url:
        parts = urlsplit(configured_base_url)
        netloc = parts.netloc.lower()
        default_port = {"http": 80, "https": 443}.get(parts.scheme)
        names = {netloc}
        if parts.port is not None and parts.port == default_port:
            names.add(netloc.rsplit(":", 1)[0])  # a client omits the default port in Host and Origin
        elif parts.port is None and default_port is not None:
            names.add(f"{netloc}:{default_port}")
        for name in sorted(names):
            hosts.append(name)
            origins.append(f"{parts.scheme}://{name}")
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=list(dict.fromkeys(hosts)),
        allowed_origins=list(dict.fromkeys(origins)),
    )


# -- authentication ------------------------------------------------------------------------------


def _quoted(text: str) -> str:
    """A quoted-string of the characters RFC 6750 §3 allows in its attributes (%x20-21 / %x23-5B / %x5D-7E)."""
    return '"' + re.sub(r'[^\x20-\x7e]|["\\]', "", text.replace("…", "...")) + '"'


def _challenge(
    status: int,
    error: str | None,
    description: str,
    *,
    resource_metadata: str | None,
    scope: str | None,
    realm: str | None = None,
    faults: frozenset[str] = frozenset(),
) -> JSONResponse:
    """A 401/403 with its RFC 6750 §3 challenge; ``error`` None when no credential was presented.

    ``faults``: the deployment bugs to reproduce (reference.faults), for the selftest."""
    params = []
    if realm is not None:
        params.append(f"realm={_quoted(realm)}")
    if resource_metadata is not None:
        params.append(f"resource_metadata={_quoted(resource_metadata)}")
    if scope:
        params.append(f"scope={_quoted(scope)}")
    if status == 401 and error is None and active(faults, "mcp-challenge-always-invalid-token"):
        error = "invalid_token"  # the bug: also when no credential was sent
    if status == 401 and active(faults, "mcp-challenge-error-left-out"):
        error = None  # the bug: a bare challenge, whatever was refused
    if error is not None:
        params.append(f"error={_quoted(error)}")
        params.append(f"error_description={_quoted(description)}")
        if active(faults, "mcp-challenge-error-repeated"):  # a middleware adds its own error too
            params.append(f"error={_quoted(error)}")
    body = {"error": error or "unauthorized", "error_description": description}
    headers = {"WWW-Authenticate": "Bearer " + ", ".join(params), **_NO_STORE}
    return JSONResponse(body, status, headers=headers)


def _metadata_url(base: str, endpoint: str, *, typo: bool = False) -> str:
    """RFC 9728 §3.1: the path-inserted well-known URL of the endpoint's protected-resource metadata.

    ``typo``: the fault ``mcp-challenge-metadata-url-wrong`` (reference.faults)."""
    name = "oauth-protected-resources" if typo else "oauth-protected-resource"
    return f"{base}/.well-known/{name}{urlsplit(endpoint).path}"


_MISSING = "Send a credential as 'Authorization: Bearer <token>' (tokens in the query string are not accepted)."


def _credential(request: Request) -> str | None:
    token = bearer_token(request)
    if token is None and active(request, "mcp-query-token-accepted"):
        token = request.query_params.get("access_token") or request.query_params.get("token")
    return token


async def _authenticate_service(request: Request) -> McpAccess | Response:
    catalog = request.app.state.catalog
    service: ServiceDef | None = catalog.get(request.path_params["service_id"])
    if service is None:
        return JSONResponse(NOT_FOUND, 404)
    base = base_url(request)
    endpoint = service_resource(base, service.id)
    if service.public:
        # As the REST API: a public service ignores whatever credential comes with the call.
        return McpAccess("service", endpoint, (service,), "public")

    scope = service_scope(service.id)

    def deny(status: int, error: str | None, description: str) -> Response:
        metadata = _metadata_url(base, endpoint, typo=active(request, "mcp-challenge-metadata-url-wrong"))
        if status == 401 and error == "invalid_token" and active(request, "mcp-unknown-token-403"):
            status = 403
        faults = request.app.state.config.faults
        return _challenge(status, error, description, resource_metadata=metadata, scope=scope, faults=faults)

    token = _credential(request)
    if token is None:
        return deny(401, None, f"The service {service.id!r} is private. {_MISSING}")
    if token.startswith(OAUTH_TOKEN_PREFIX):
        grant = await request.app.state.oauth_tokens.resolve(token, _check_revocation(request))
        if grant is None:
            return deny(401, "invalid_token", "The access token is invalid, expired or revoked.")
        if grant.resource != endpoint and not active(request, "oauth-token-any-resource"):
            return deny(401, "invalid_token", "The access token was issued for another resource.")
        if service.id not in grant.service_ids or scope not in grant.scopes:
            return deny(403, "insufficient_scope", f"The access token does not grant {scope}.")
        return McpAccess("service", endpoint, (service,), f"oauth:{grant.client_id}")
    if active(request, "mcp-service-endpoint-oauth-only"):  # the bug: written for ChatGPT's connector only
        return deny(401, "invalid_token", "This endpoint accepts only OAuth access tokens issued for it.")
    if await _mcp_token_opens(request, token, service.id):
        return McpAccess("service", endpoint, (service,), f"mcp-token:{token_hash(token)}")
    check = await validated_service_token(
        request, token, service.id, cached=active(request, "mcp-service-token-cached")
    )
    if check.valid or _fault_lets_through(request, check.error, token):
        return McpAccess("service", endpoint, (service,), f"service-token:{check.token_id}")
    if check.status == 403:
        return deny(403, "insufficient_scope", "This token belongs to another service.")
    # Refused with 401 (a store that does not answer raises StoreUnavailable: the app's 503).
    return deny(401, "invalid_token", f"The token is not valid for this service ({check.error}).")


async def _mcp_token_opens(request: Request, token: str, service_id: str) -> bool:
    """The fault ``mcp-service-endpoint-takes-mcp-tokens``: an MCP token granting the service opens it."""
    if not (token.startswith(MCP_TOKEN_PREFIX) and active(request, "mcp-service-endpoint-takes-mcp-tokens")):
        return False
    return service_id in (await request.app.state.mcp_tokens.validate(token) or [])


def _fault_lets_through(request: Request, denial: str | None, token: str) -> bool:
    if denial == "Invalid token":  # never issued: the fault checks only the shape
        return looks_like(token, SERVICE_TOKEN_PREFIX) and active(request, "mcp-service-token-shape-only")
    if denial == "Token does not belong to this service":
        return active(request, "mcp-service-token-any-service")
    return denial == "Token expired" and active(request, "mcp-expired-service-token-accepted")


def _reachable(request: Request, service_ids: tuple[str, ...] | list[str]) -> tuple[ServiceDef, ...]:
    catalog = request.app.state.catalog
    if active(request, "mcp-grant-ignored"):
        return tuple(catalog.services.values())
    found = (catalog.get(s) for s in dict.fromkeys(service_ids))
    return tuple(s for s in found if s is not None)


async def _authenticate_bridge(request: Request) -> McpAccess | Response:
    endpoint = f"{base_url(request)}/api/mcp/bridge"

    def deny(error: str | None, description: str) -> Response:
        if active(request, "bridge-no-challenge"):
            return JSONResponse({"error": error or "unauthorized", "error_description": description}, 401)
        return _challenge(401, error, description, resource_metadata=None, scope=None, realm=BRIDGE_REALM)

    token = bearer_token(request)
    if token is None:
        return deny(None, f"The bridge needs an MCP token ({MCP_TOKEN_PREFIX}...). {_MISSING}")
    if token.startswith(SERVICE_TOKEN_PREFIX) and active(request, "bridge-accepts-service-tokens"):
        catalog = request.app.state.catalog
        ids = [s for s in catalog.services if (await request.app.state.service_tokens.validate(token, s)).valid]
        return McpAccess("bridge", endpoint, _reachable(request, ids), f"service-token:{token_hash(token)}")
    if not token.startswith(MCP_TOKEN_PREFIX):
        return deny("invalid_token", f"The bridge accepts only MCP tokens ({MCP_TOKEN_PREFIX}...).")
    service_ids = await request.app.state.mcp_tokens.validate(token)
    if service_ids is None and active(request, "bridge-mcp-token-shape-only"):
        service_ids = list(request.app.state.catalog.services)
    if service_ids is None:
        return deny("invalid_token", "The MCP token is invalid or has been revoked.")
    return McpAccess("bridge", endpoint, _reachable(request, service_ids), f"mcp-token:{token_hash(token)}")


async def _authenticate_oauth(request: Request) -> McpAccess | Response:
    base = base_url(request)
    endpoint = mcp_resource(base)

    def deny(error: str | None, description: str) -> Response:
        metadata = _metadata_url(base, endpoint, typo=active(request, "mcp-challenge-metadata-url-wrong"))
        faults = request.app.state.config.faults
        return _challenge(401, error, description, resource_metadata=metadata, scope=DEFAULT_SCOPE, faults=faults)

    token = _credential(request)
    if token is None:
        return deny(None, f"Connect through OAuth: this endpoint needs an access token. {_MISSING}")
    if token.startswith(MCP_TOKEN_PREFIX) and active(request, "mcp-oauth-endpoint-takes-mcp-tokens"):
        service_ids = await request.app.state.mcp_tokens.validate(token)
        if service_ids is not None:
            return McpAccess("oauth", endpoint, _reachable(request, service_ids), f"mcp-token:{token_hash(token)}")
    if not token.startswith(OAUTH_TOKEN_PREFIX):
        return deny("invalid_token", "This endpoint accepts only OAuth access tokens issued for it.")
    grant = await request.app.state.oauth_tokens.resolve(token, _check_revocation(request))
    if grant is None:
        return deny("invalid_token", "The access token is invalid, expired or revoked.")
    if grant.resource != endpoint and not active(request, "oauth-token-any-resource"):
        return deny("invalid_token", "The access token was issued for another resource.")
    return McpAccess("oauth", endpoint, _reachable(request, grant.service_ids), f"oauth:{grant.client_id}")


def _check_revocation(request: Request) -> bool:
    return not active(request, "oauth-revocation-ignored")


_AUTHENTICATE = {"service": _authenticate_service, "bridge": _authenticate_bridge, "oauth": _authenticate_oauth}


async def authenticate(family: Family, request: Request) -> McpAccess | Response:
    """The access a request has to its endpoint of ``family``, or the refusal to send back."""
    return await _AUTHENTICATE[family](request)
