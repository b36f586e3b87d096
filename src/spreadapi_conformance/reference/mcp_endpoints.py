"""The three MCP endpoints: Streamable HTTP through the official ``mcp`` SDK, behind authentication.

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

Each endpoint authenticates every HTTP request before the SDK sees it (``mcp_auth``). Each family has
its own low-level ``Server`` and ``StreamableHTTPSessionManager`` (stateful: an ``initialize`` opens a
session with ``Mcp-Session-Id``; ``2026-07-28`` requests are single exchanges, as the SDK serves
them). A session is bound to the credential and the endpoint that opened it: the same id on another
endpoint, or with another credential, is an unknown session (404). The handlers (``mcp_servers``)
read the authenticated ``McpAccess`` from the HTTP request the SDK hands them, so one server serves
every service and every token. A session manager runs once, so the managers are created each time
the app's lifespan starts (``McpEndpoints.run``); a request that arrives while the lifespan is not
running gets ``503``.

Between authentication and the SDK, a POST passes the SDK's own Host/Origin/Content-Type checks and a
JSON-RPC envelope check the SDK (2.3.0) lacks: a batch, a message without ``"jsonrpc": "2.0"`` or an
``id`` that is null, boolean, fractional or structured is ``400`` with -32600 (the SDK would drop such a
request as a notification with 202, or answer -32602). DNS-rebinding protection
(``mcp_auth.transport_security``) allows the host of ``ReferenceConfig.base_url``, loopback on any
port and ``testserver`` (in-process tests); anything else is 421 (Host) or 403 (Origin).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import mcp.types as types
from mcp.server import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import DEFAULT_MAX_REQUEST_BODY_SIZE, TransportSecurityMiddleware
from mcp.types.version import MODERN_PROTOCOL_VERSIONS, SUPPORTED_PROTOCOL_VERSIONS
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import Receive, Scope, Send

from .calculation import result_cache, result_cache_key
from .faults import active
from .mcp_auth import ACCESS_KEY, FAMILIES, Family, authenticate, transport_security
from .mcp_servers import build_server

__all__ = ["BRIDGE_ENDPOINT", "MCP_ENDPOINT", "SERVICE_ENDPOINT", "McpEndpoints"]


log = logging.getLogger("spreadapi_conformance.reference.mcp")

MAX_BODY_BYTES = DEFAULT_MAX_REQUEST_BODY_SIZE  # 4 MiB, the SDK's limit (413 above it)


class McpEndpoints:
    """The app's MCP servers and, while its lifespan runs, their session managers."""

    def __init__(self, configured_base_url: str | None, faults: frozenset[str] = frozenset()) -> None:
        self.security = transport_security(configured_base_url)
        self.servers: dict[Family, Server[Any]] = {family: build_server(family, faults) for family in FAMILIES}
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


def _invalid_request(message: str, *, json_rpc_1_style: bool = False) -> JSONResponse:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": None, "error": {"code": types.INVALID_REQUEST, "message": message}}
    if json_rpc_1_style:  # the fault mcp-errors-json-rpc-1-style: JSON-RPC 1.0 sent result null beside error
        body = {"jsonrpc": "2.0", "id": None, "result": None, "error": body["error"]}
    return JSONResponse(body, 400)


def _envelope_problem(raw: bytes, faults: frozenset[str] = frozenset()) -> str | None:
    """Why a POST body is not one valid JSON-RPC message, for the cases the SDK gets wrong; else None.

    The SDK (2.3.0, handshake-era path) answers a request whose ``id`` is null, a float, a boolean or
    an object with 202 and drops it as if it were a notification, and a batch or a missing
    ``jsonrpc`` with -32602. JSON-RPC 2.0 §5 and MCP (ids are strings or integers, never null;
    batches were removed in 2025-06-18) make both an Invalid Request (-32600). Unparsable JSON is left
    to the SDK, which answers -32700.
    """
    if active(faults, "mcp-malformed-json-500"):
        message = json.loads(raw)  # the bug: a decode error escapes (a 500)
    try:
        message = json.loads(raw)
    except (ValueError, RecursionError):
        if active(faults, "mcp-parse-error-as-invalid-request"):
            return "Invalid Request: the body is not JSON."
        return None
    batch_read_as_one = isinstance(message, list) and active(faults, "mcp-batch-500")
    if not isinstance(message, dict) and not batch_read_as_one:
        kind = "a batch (array)" if isinstance(message, list) else "not a JSON object"
        return f"Invalid Request: the body must be one JSON-RPC message object, not {kind}."
    if message.get("jsonrpc") != "2.0":
        return 'Invalid Request: "jsonrpc" must be "2.0".'
    if "id" in message:
        request_id = message["id"]
        if request_id is None or isinstance(request_id, bool) or not isinstance(request_id, str | int):
            return "Invalid Request: id must be a string or an integer (MCP forbids null)."
    method = message.get("method")
    unserved = isinstance(method, str) and method not in _SERVED_METHODS and not method.startswith("notifications/")
    if unserved and active(faults, "mcp-method-allowlist-invalid-request"):
        return f"Invalid Request: method {str(method)[:100]!r} is not allowed."
    if method == "initialize" and active(faults, "mcp-unknown-revision-refused"):
        params = message.get("params")
        offered = params.get("protocolVersion") if isinstance(params, dict) else None
        if offered not in SUPPORTED_PROTOCOL_VERSIONS:
            return f"Invalid Request: unsupported protocol version {str(offered)[:40]!r}."
    return None


# The fault mcp-method-allowlist-invalid-request lets through only these (and notifications).
_SERVED_METHODS = frozenset(
    {
        "initialize",
        "ping",
        "tools/list",
        "tools/call",
        "prompts/list",
        "prompts/get",
        "resources/list",
        "resources/read",
        "resources/templates/list",
        "logging/setLevel",
        "server/discover",
    }
)


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


# -- the endpoints ------------------------------------------------------------------------------


class _Endpoint:
    """The ASGI app of one endpoint: authenticate, then hand the request to the family's SDK manager."""

    def __init__(self, family: Family) -> None:
        self.family = family

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # RFC 9110 §5.5: optional whitespace around a field value is not part of it. Some servers leave it
        # in, and the SDK compares Mcp-Method / Mcp-Name with the body verbatim.
        scope["headers"] = [(name, value.strip(b" \t")) for name, value in scope["headers"]]
        scope["headers"] = _faulty_headers(scope)
        request = Request(scope, receive)
        if (
            self.family == "service"
            and request.method == "POST"
            and active(request, "mcp-tool-results-cached-before-auth")
        ):
            raw = await _read_body(receive, MAX_BODY_BYTES) or b""
            receive = _replaying(raw, receive)
            request = Request(scope, receive)
            if (cached := _cached_calc_answer(request, raw)) is not None:
                await cached(scope, receive, send)  # the bug: served from the cache before authentication
                return
        outcome = await authenticate(self.family, request)
        if isinstance(outcome, Response):
            await outcome(scope, receive, send)
            return
        if request.method == "DELETE" and active(request, "mcp-delete-not-forwarded"):
            await Response(status_code=204)(scope, receive, send)  # the bug: the SDK's session is never ended
            return
        if request.method == "GET" and active(request, "mcp-get-landing-page"):
            page = "<!doctype html><title>SpreadAPI MCP</title><p>Connect an MCP client to this URL (POST).</p>"
            await HTMLResponse(page)(scope, receive, send)
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
            faults = request.app.state.config.faults
            if not active(request, "mcp-envelope-unchecked") and (problem := _envelope_problem(raw, faults)):
                old_style = active(request, "mcp-errors-json-rpc-1-style")
                await _invalid_request(problem, json_rpc_1_style=old_style)(scope, receive, send)
                return
            if (refusal := _faulty_version_refusal(request)) is not None:
                await refusal(scope, receive, send)
                return
            if active(request, "mcp-name-sentinel-not-decoded") and _name_header_differs(request, raw):
                await _header_mismatch("Mcp-Name header does not match the body")(scope, receive, send)
                return
            if active(request, "mcp-version-header-from-body"):
                scope["headers"] = _version_header_from_body(scope["headers"], raw)
            if active(request, "mcp-method-header-from-body"):
                scope["headers"] = _method_header_from_body(scope["headers"], raw)
            if (shortcut := _faulty_shortcut(request, raw)) is not None:
                await shortcut(scope, receive, send)
                return
            receive = _replaying(raw, receive)
        scope[ACCESS_KEY] = outcome
        if not active(request, "mcp-session-not-bound"):
            scope["user"] = outcome.user()  # the SDK binds each session to this principal
        await manager.handle_request(scope, receive, send)


def _cached_calc_answer(request: Request, raw: bytes) -> Response | None:
    """The fault ``mcp-tool-results-cached-before-auth``: a spreadapi_calc whose inputs are in the result cache
    (1.12) is answered from it at once, as a fast path in front of everything else, authentication included."""
    try:
        message = json.loads(raw)
        params = message["params"]
        inputs = params["arguments"]["inputs"]
    except (ValueError, KeyError, TypeError):
        return None
    if message.get("method") != "tools/call" or params.get("name") != "spreadapi_calc":
        return None
    key = result_cache_key(request.path_params.get("service_id", ""), inputs)
    body = result_cache(request.app.state.catalog, "mcp").get(key)
    if body is None:
        return None
    result = {"content": [{"type": "text", "text": json.dumps(body)}], "structuredContent": body, "isError": False}
    return JSONResponse({"jsonrpc": "2.0", "id": message.get("id"), "result": result})


def _faulty_headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    """The request headers as the faults ``mcp-origin-unchecked`` and ``mcp-protocol-version-ignored``
    leave them (a proxy that drops them); unchanged without a fault."""
    app = scope["app"]
    drop_origin = active(app, "mcp-origin-unchecked")
    drop_version = active(app, "mcp-protocol-version-ignored")
    known = {v.encode() for v in SUPPORTED_PROTOCOL_VERSIONS}
    return [
        (name, value)
        for name, value in scope["headers"]
        if not (drop_origin and name == b"origin")
        and not (drop_version and name == b"mcp-protocol-version" and value not in known)
    ]


def _faulty_version_refusal(request: Request) -> Response | None:
    """The fault ``mcp-unsupported-version-generic-error``: the endpoint refuses an MCP-Protocol-Version it
    does not know itself, as the 2025-11-25 rule asks (400), with a generic Invalid Request: no
    UnsupportedProtocolVersionError and no list of the versions it supports."""
    if not active(request, "mcp-unsupported-version-generic-error"):
        return None
    version = request.headers.get("mcp-protocol-version")
    if version is None or version in SUPPORTED_PROTOCOL_VERSIONS:
        return None
    return _invalid_request(f"Bad Request: unsupported protocol version {version}")


def _faulty_shortcut(request: Request, raw: bytes) -> Response | None:
    """The faults in which the endpoint answers a POST itself, before the SDK sees it: it acknowledges
    notifications with a body (``mcp-notification-acknowledged``), its session router answers a missing
    Mcp-Session-Id like an unknown one (``mcp-missing-session-404``), it requires MCP-Protocol-Version after
    initialize (``mcp-protocol-version-required``). None without them (and for anything they leave alone)."""
    try:
        message = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(message, dict) or not isinstance(message.get("method"), str) or message["method"] == "initialize":
        return None
    version = request.headers.get("mcp-protocol-version")
    if version is None and active(request, "mcp-protocol-version-required"):
        return _invalid_request("Bad Request: the MCP-Protocol-Version header is required after initialize")
    if "id" not in message and active(request, "mcp-notification-acknowledged"):
        return JSONResponse({"accepted": True}, 202)
    sessionless = "mcp-session-id" not in request.headers and version not in MODERN_PROTOCOL_VERSIONS
    if "id" in message and sessionless and active(request, "mcp-missing-session-404"):
        error = {"code": types.INVALID_REQUEST, "message": "Session not found"}
        return JSONResponse({"jsonrpc": "2.0", "id": None, "error": error}, 404)
    return None


def _name_header_differs(request: Request, raw: bytes) -> bool:
    """The fault ``mcp-name-sentinel-not-decoded``: a gateway-style check of Mcp-Name against the body's name
    (or uri) that compares the header as it came, without decoding its =?base64?…?= form."""
    header = request.headers.get("mcp-name")
    try:
        params = json.loads(raw)["params"]
        named = params.get("name", params.get("uri"))
    except (ValueError, KeyError, TypeError, AttributeError):
        return False
    return header is not None and isinstance(named, str) and header != named


def _header_mismatch(message: str) -> JSONResponse:
    body = {"jsonrpc": "2.0", "id": None, "error": {"code": -32020, "message": message}}
    return JSONResponse(body, 400)


def _version_header_from_body(headers: list[tuple[bytes, bytes]], raw: bytes) -> list[tuple[bytes, bytes]]:
    """The fault ``mcp-version-header-from-body``: to be lenient with clients that forget or garble the
    MCP-Protocol-Version header, the endpoint sets it from the body's ``_meta`` protocol version, so a
    header that disagrees with the body is never noticed."""
    try:
        meta = json.loads(raw)["params"]["_meta"]
        version = meta["io.modelcontextprotocol/protocolVersion"]
    except (ValueError, KeyError, TypeError):
        return headers
    if not isinstance(version, str):
        return headers
    kept = [(name, value) for name, value in headers if name != b"mcp-protocol-version"]
    return [*kept, (b"mcp-protocol-version", version.encode())]


def _method_header_from_body(headers: list[tuple[bytes, bytes]], raw: bytes) -> list[tuple[bytes, bytes]]:
    """The fault ``mcp-method-header-from-body``: to be lenient with clients, the endpoint sets Mcp-Method from
    the body's method, so a header that disagrees with the body is never noticed."""
    try:
        method = json.loads(raw)["method"]
    except (ValueError, KeyError, TypeError):
        return headers
    if not isinstance(method, str) or not any(name == b"mcp-method" for name, _ in headers):
        return headers
    kept = [(name, value) for name, value in headers if name != b"mcp-method"]
    return [*kept, (b"mcp-method", method.encode())]


SERVICE_ENDPOINT = _Endpoint("service")
BRIDGE_ENDPOINT = _Endpoint("bridge")
MCP_ENDPOINT = _Endpoint("oauth")
