"""The three MCP endpoints (Streamable HTTP through the official ``mcp`` SDK) and their authentication.

=================================  ==================================================  ==========================
endpoint                           credential                                          tools
=================================  ==================================================  ==========================
``/api/mcp/services/{serviceId}``  nothing (public service), a service token of that   calc, batch, get_details
                                   service, or an ``oat_`` issued for this URL
``/api/mcp/bridge``                an MCP token (``spapi_live_``)                      the bridge tools over the
                                                                                       token's services
``/api/mcp``                       an ``oat_`` issued for this URL (ChatGPT)           the bridge tools over the
                                                                                       services the grant wraps
=================================  ==================================================  ==========================

Authentication runs here, on every HTTP request (POST, GET, DELETE), before the SDK sees it. Only
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

Each family has its own low-level ``Server`` and ``StreamableHTTPSessionManager`` (stateful: an
``initialize`` opens a session with ``Mcp-Session-Id``; ``2026-07-28`` requests are single exchanges,
as the SDK serves them). A session is bound to the credential and the endpoint that opened it: the
same id on another endpoint, or with another credential, is an unknown session (404). The handlers
read the authenticated ``McpAccess`` from the HTTP request the SDK hands them, so one server serves
every service and every token. A session manager runs once, so the managers are created each time
the app's lifespan starts (``McpEndpoints.run``); a request that arrives while the lifespan is not
running gets ``503``.

Between authentication and the SDK, a POST passes the SDK's own Host/Origin/Content-Type checks and a
JSON-RPC envelope check the SDK (2.3.0) lacks: a batch, a message without ``"jsonrpc": "2.0"`` or an
``id`` that is null, boolean, fractional or structured is ``400`` with -32600 (the SDK would drop such a
request as a notification with 202, or answer -32602). DNS-rebinding protection allows the host of
``ReferenceConfig.base_url``, loopback on any port and ``testserver`` (in-process tests); anything else
is 421 (Host) or 403 (Origin).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import mcp.types as types
from mcp.server import Server, ServerRequestContext
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import (
    DEFAULT_MAX_REQUEST_BODY_SIZE,
    TransportSecurityMiddleware,
    TransportSecuritySettings,
)
from mcp.shared.exceptions import MCPError
from mcp.types.version import MODERN_PROTOCOL_VERSIONS
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from ..fixtures import ServiceDef
from .credentials import MCP_TOKEN_PREFIX, OAUTH_TOKEN_PREFIX, token_hash
from .mcp_tools import (
    bridge_instructions,
    bridge_tools,
    call_bridge_tool,
    call_service_tool,
    service_instructions,
    service_tools,
)
from .oauth import DEFAULT_SCOPE, mcp_resource, service_resource, service_scope
from .rest import NOT_FOUND, base_url, bearer_token

__all__ = [
    "ACCESS_KEY",
    "BRIDGE_ENDPOINT",
    "MCP_ENDPOINT",
    "SERVICE_ENDPOINT",
    "McpAccess",
    "McpEndpoints",
    "transport_security",
]

log = logging.getLogger("spreadapi_conformance.reference.mcp")

Family = Literal["service", "bridge", "oauth"]
FAMILIES: tuple[Family, ...] = ("service", "bridge", "oauth")
ACCESS_KEY = "spreadapi.mcp.access"  # the ASGI scope key the handlers read the authenticated access from
BRIDGE_REALM = "spreadapi-mcp-bridge"
_NO_STORE = {"Cache-Control": "no-store"}
MAX_BODY_BYTES = DEFAULT_MAX_REQUEST_BODY_SIZE  # 4 MiB, the SDK's limit (413 above it)


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("spreadapi-conformance")
    except Exception:  # not installed (a source checkout on sys.path)
        return "0"


VERSION = _version()


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
) -> JSONResponse:
    """A 401/403 with its RFC 6750 §3 challenge; ``error`` None when no credential was presented."""
    params = []
    if realm is not None:
        params.append(f"realm={_quoted(realm)}")
    if resource_metadata is not None:
        params.append(f"resource_metadata={_quoted(resource_metadata)}")
    if scope:
        params.append(f"scope={_quoted(scope)}")
    if error is not None:
        params.append(f"error={_quoted(error)}")
        params.append(f"error_description={_quoted(description)}")
    body = {"error": error or "unauthorized", "error_description": description}
    headers = {"WWW-Authenticate": "Bearer " + ", ".join(params), **_NO_STORE}
    return JSONResponse(body, status, headers=headers)


def _metadata_url(base: str, endpoint: str) -> str:
    """RFC 9728 §3.1: the path-inserted well-known URL of the endpoint's protected-resource metadata."""
    return f"{base}/.well-known/oauth-protected-resource{urlsplit(endpoint).path}"


_MISSING = "Send a credential as 'Authorization: Bearer <token>' (tokens in the query string are not accepted)."


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
        return _challenge(status, error, description, resource_metadata=_metadata_url(base, endpoint), scope=scope)

    token = bearer_token(request)
    if token is None:
        return deny(401, None, f"The service {service.id!r} is private. {_MISSING}")
    if token.startswith(OAUTH_TOKEN_PREFIX):
        grant = await request.app.state.oauth_tokens.resolve(token)
        if grant is None:
            return deny(401, "invalid_token", "The access token is invalid, expired or revoked.")
        if grant.resource != endpoint:
            return deny(401, "invalid_token", "The access token was issued for another resource.")
        if service.id not in grant.service_ids or scope not in grant.scopes:
            return deny(403, "insufficient_scope", f"The access token does not grant {scope}.")
        return McpAccess("service", endpoint, (service,), f"oauth:{grant.client_id}")
    check = await request.app.state.service_tokens.validate(token, service.id)
    if check.valid:
        return McpAccess("service", endpoint, (service,), f"service-token:{check.token_id}")
    if check.status == 403:
        return deny(403, "insufficient_scope", "This token belongs to another service.")
    if check.status == 401:
        return deny(401, "invalid_token", f"The token is not valid for this service ({check.error}).")
    return JSONResponse({"error": "Token validation failed", "message": "The token store did not answer."}, 503)


def _reachable(request: Request, service_ids: tuple[str, ...] | list[str]) -> tuple[ServiceDef, ...]:
    catalog = request.app.state.catalog
    found = (catalog.get(s) for s in dict.fromkeys(service_ids))
    return tuple(s for s in found if s is not None)


async def _authenticate_bridge(request: Request) -> McpAccess | Response:
    endpoint = f"{base_url(request)}/api/mcp/bridge"

    def deny(error: str | None, description: str) -> Response:
        return _challenge(401, error, description, resource_metadata=None, scope=None, realm=BRIDGE_REALM)

    token = bearer_token(request)
    if token is None:
        return deny(None, f"The bridge needs an MCP token ({MCP_TOKEN_PREFIX}...). {_MISSING}")
    if not token.startswith(MCP_TOKEN_PREFIX):
        return deny("invalid_token", f"The bridge accepts only MCP tokens ({MCP_TOKEN_PREFIX}...).")
    service_ids = await request.app.state.mcp_tokens.validate(token)
    if service_ids is None:
        return deny("invalid_token", "The MCP token is invalid or has been revoked.")
    return McpAccess("bridge", endpoint, _reachable(request, service_ids), f"mcp-token:{token_hash(token)}")


async def _authenticate_oauth(request: Request) -> McpAccess | Response:
    base = base_url(request)
    endpoint = mcp_resource(base)

    def deny(error: str | None, description: str) -> Response:
        return _challenge(401, error, description, resource_metadata=_metadata_url(base, endpoint), scope=DEFAULT_SCOPE)

    token = bearer_token(request)
    if token is None:
        return deny(None, f"Connect through OAuth: this endpoint needs an access token. {_MISSING}")
    if not token.startswith(OAUTH_TOKEN_PREFIX):
        return deny("invalid_token", "This endpoint accepts only OAuth access tokens issued for it.")
    grant = await request.app.state.oauth_tokens.resolve(token)
    if grant is None:
        return deny("invalid_token", "The access token is invalid, expired or revoked.")
    if grant.resource != endpoint:
        return deny("invalid_token", "The access token was issued for another resource.")
    return McpAccess("oauth", endpoint, _reachable(request, grant.service_ids), f"oauth:{grant.client_id}")


_AUTHENTICATE = {"service": _authenticate_service, "bridge": _authenticate_bridge, "oauth": _authenticate_oauth}


# -- the SDK servers -----------------------------------------------------------------------------


def _access(ctx: ServerRequestContext[Any, Any]) -> tuple[McpAccess, Any]:
    request = ctx.request
    access = request.scope.get(ACCESS_KEY) if isinstance(request, Request) else None
    if not isinstance(access, McpAccess):  # cannot happen behind the endpoints below; fail closed
        raise MCPError(types.INTERNAL_ERROR, "No authenticated access for this request")
    return access, request.app.state.catalog


def _identity(access: McpAccess) -> dict[str, str]:
    """The ``serverInfo`` and ``instructions`` this access sees."""
    if access.family == "service":
        service = access.services[0]
        return {
            "name": f"spreadapi-{service.id}",
            "title": service.title,
            "description": service.description or service.title,
            "instructions": service_instructions(service),
        }
    title = "SpreadAPI (ChatGPT connector)" if access.family == "oauth" else "SpreadAPI MCP bridge"
    return {
        "name": "spreadapi" if access.family == "oauth" else "spreadapi-bridge",
        "title": title,
        "description": f"{len(access.services)} spreadsheet calculation service(s)",
        "instructions": bridge_instructions(access.services),
    }


class _PerCaller:
    """Server middleware: ``initialize`` answers with the caller's service name and instructions, and
    2026-07-28 results carry the same ``serverInfo`` stamp (the SDK's own are fixed per server)."""

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: Any) -> Any:
        result = await call_next(ctx)
        if not isinstance(result, dict) or not isinstance(ctx.request, Request):
            return result
        access = ctx.request.scope.get(ACCESS_KEY)
        if not isinstance(access, McpAccess):
            return result
        identity = _identity(access)
        if ctx.method == "initialize" and isinstance(result.get("serverInfo"), dict):
            info = dict(result["serverInfo"])
            # Only fields the negotiated revision already has (the SDK sieved them per version).
            info.update({k: identity[k] for k in ("name", "title", "description") if k in info})
            result = {**result, "serverInfo": info, "instructions": identity["instructions"]}
        meta = result.get("_meta")
        if isinstance(meta, dict) and isinstance(meta.get(types.SERVER_INFO_META_KEY), dict):
            stamp = dict(meta[types.SERVER_INFO_META_KEY])
            stamp.update({k: identity[k] for k in ("name", "title", "description") if k in stamp})
            result = {**result, "_meta": {**meta, types.SERVER_INFO_META_KEY: stamp}}
        return result


async def _list_tools(
    ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
) -> types.ListToolsResult:
    access, _catalog = _access(ctx)
    if access.family == "service":
        return types.ListToolsResult(tools=service_tools(access.services[0]))
    return types.ListToolsResult(tools=bridge_tools(access.services))


async def _call_tool(ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams) -> types.CallToolResult:
    access, catalog = _access(ctx)
    if access.family == "service":
        return await call_service_tool(catalog, access.services[0], params.name, params.arguments)
    return await call_bridge_tool(catalog, access.services, params.name, params.arguments)


async def _discover(ctx: ServerRequestContext[Any, Any], params: types.RequestParams | None) -> types.DiscoverResult:
    access, _catalog = _access(ctx)
    server: Server[Any] = ctx.request.app.state.mcp.servers[access.family]
    return types.DiscoverResult(
        supported_versions=list(MODERN_PROTOCOL_VERSIONS),
        capabilities=server.get_capabilities(protocol_version=ctx.protocol_version),
        instructions=_identity(access)["instructions"],
    )


# The reference has tools only. Prompts and resources are declared but empty, so generic clients (and the
# official suite's list and caching scenarios) get lists instead of -32601; reading any resource is "not
# found" and getting any prompt is "unknown prompt" (both -32602, as the spec's error tables and the SDK's
# MCPServer answer them: a declared capability's methods exist). logging/setLevel (handshake revisions) is
# accepted: the server never sends log messages, so any level is honoured.


async def _no_prompts(ctx: ServerRequestContext[Any, Any], params: Any) -> types.ListPromptsResult:
    return types.ListPromptsResult(prompts=[])


async def _no_resources(ctx: ServerRequestContext[Any, Any], params: Any) -> types.ListResourcesResult:
    return types.ListResourcesResult(resources=[])


async def _no_templates(ctx: ServerRequestContext[Any, Any], params: Any) -> types.ListResourceTemplatesResult:
    return types.ListResourceTemplatesResult(resource_templates=[])


async def _read_resource(ctx: ServerRequestContext[Any, Any], params: types.ReadResourceRequestParams) -> Any:
    raise MCPError(types.INVALID_PARAMS, f"Resource not found: {params.uri}", {"uri": params.uri})


async def _get_prompt(ctx: ServerRequestContext[Any, Any], params: types.GetPromptRequestParams) -> Any:
    raise MCPError(types.INVALID_PARAMS, f"Unknown prompt: {params.name}", {"name": params.name})


async def _set_level(ctx: ServerRequestContext[Any, Any], params: types.SetLevelRequestParams) -> types.EmptyResult:
    return types.EmptyResult()


def build_server(family: Family) -> Server[Any]:
    names = {"service": "spreadapi-service", "bridge": "spreadapi-bridge", "oauth": "spreadapi"}
    server: Server[Any] = Server(
        names[family],
        version=VERSION,
        title="SpreadAPI reference",
        description="Spreadsheet calculations as MCP tools",
        instructions="SpreadAPI calculation services.",  # replaced per caller by _PerCaller
        on_list_tools=_list_tools,
        on_call_tool=_call_tool,
        on_list_prompts=_no_prompts,
        on_get_prompt=_get_prompt,
        on_list_resources=_no_resources,
        on_list_resource_templates=_no_templates,
        on_read_resource=_read_resource,
    )
    server.add_request_handler("server/discover", types.RequestParams, _discover)
    server.add_request_handler("logging/setLevel", types.SetLevelRequestParams, _set_level)
    server.middleware.append(_PerCaller())
    return server


class McpEndpoints:
    """The app's MCP servers and, while its lifespan runs, their session managers."""

    def __init__(self, configured_base_url: str | None) -> None:
        self.security = transport_security(configured_base_url)
        self.servers: dict[Family, Server[Any]] = {family: build_server(family) for family in FAMILIES}
        self._managers: dict[Family, StreamableHTTPSessionManager] | None = None

    @property
    def running(self) -> bool:
        return self._managers is not None

    def manager(self, family: Family) -> StreamableHTTPSessionManager | None:
        return None if self._managers is None else self._managers[family]

    @contextlib.asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        """Start fresh session managers (an SDK manager runs only once) and stop them on exit."""
        if self._managers is not None:
            raise RuntimeError("the MCP session managers are already running for this app")
        managers = {
            family: StreamableHTTPSessionManager(
                app=self.servers[family], json_response=False, stateless=False, security_settings=self.security
            )
            for family in FAMILIES
        }
        async with contextlib.AsyncExitStack() as stack:
            for manager in managers.values():
                await stack.enter_async_context(manager.run())
            self._managers = managers
            try:
                yield
            finally:
                self._managers = None


# -- JSON-RPC envelope checks the SDK leaves out ---------------------------------------------------


def _invalid_request(message: str) -> JSONResponse:
    body = {"jsonrpc": "2.0", "id": None, "error": {"code": types.INVALID_REQUEST, "message": message}}
    return JSONResponse(body, 400)


def _envelope_problem(raw: bytes) -> str | None:
    """Why a POST body is not one valid JSON-RPC message, for the cases the SDK gets wrong; else None.

    The SDK (2.3.0, handshake-era path) answers a request whose ``id`` is null, a float, a boolean or
    an object with 202 and drops it as if it were a notification, and a batch or a missing
    ``jsonrpc`` with -32602. JSON-RPC 2.0 §5 and MCP (ids are strings or integers, never null;
    batches were removed in 2025-06-18) make both an Invalid Request (-32600). Unparsable JSON is left
    to the SDK, which answers -32700.
    """
    try:
        message = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(message, dict):
        kind = "a batch (array)" if isinstance(message, list) else "not a JSON object"
        return f"Invalid Request: the body must be one JSON-RPC message object, not {kind}."
    if message.get("jsonrpc") != "2.0":
        return 'Invalid Request: "jsonrpc" must be "2.0".'
    if "id" in message:
        request_id = message["id"]
        if request_id is None or isinstance(request_id, bool) or not isinstance(request_id, str | int):
            return "Invalid Request: id must be a string or an integer (MCP forbids null)."
    return None


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None once it exceeds ``limit`` bytes."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return bytes(body)
        body += message.get("body", b"")
        if len(body) > limit:
            return None
        if not message.get("more_body", False):
            return bytes(body)


def _replaying(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class _Endpoint:
    """The ASGI app of one endpoint: authenticate, then hand the request to the family's SDK manager."""

    def __init__(self, family: Family) -> None:
        self.family = family

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # RFC 9110 §5.5: optional whitespace around a field value is not part of it. Some servers leave it
        # in, and the SDK compares Mcp-Method / Mcp-Name with the body verbatim.
        scope["headers"] = [(name, value.strip(b" \t")) for name, value in scope["headers"]]
        request = Request(scope, receive)
        outcome = await _AUTHENTICATE[self.family](request)
        if isinstance(outcome, Response):
            await outcome(scope, receive, send)
            return
        endpoints: McpEndpoints = request.app.state.mcp
        manager = endpoints.manager(self.family)
        if manager is None:
            body = {"error": "Service unavailable", "message": "The MCP endpoints are not running (app lifespan)."}
            await JSONResponse(body, 503)(scope, receive, send)
            return
        if request.method == "POST":
            # The SDK's own Host/Origin/Content-Type checks first, so they keep precedence over ours.
            refused = await TransportSecurityMiddleware(endpoints.security).validate_request(request, is_post=True)
            if refused is not None:
                await refused(scope, receive, send)
                return
            raw = await _read_body(receive, MAX_BODY_BYTES)
            if raw is None:
                await Response("Request body too large", 413)(scope, receive, send)
                return
            if problem := _envelope_problem(raw):
                await _invalid_request(problem)(scope, receive, send)
                return
            receive = _replaying(raw, receive)
        scope[ACCESS_KEY] = outcome
        scope["user"] = outcome.user()
        await manager.handle_request(scope, receive, send)


SERVICE_ENDPOINT = _Endpoint("service")
BRIDGE_ENDPOINT = _Endpoint("bridge")
MCP_ENDPOINT = _Endpoint("oauth")
