"""The reference deployment as one ASGI app. ``ROUTES`` is the seed's endpoint table."""

from __future__ import annotations

import contextlib
import logging
import threading
import traceback
from collections.abc import Mapping

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from ..fixtures import ServiceDef, load_services
from . import mcp_endpoints, oauth_authorize, oauth_metadata, oauth_register, oauth_token, rest, service_page
from .admin import ADMIN_ROUTES, admin_token_problem
from .catalog import Catalog
from .config import ReferenceConfig
from .credentials import ServiceTokens
from .faults import active, check_names
from .mcp_tokens import McpTokens
from .oauth_grants import OAuthClients, OAuthCodes, OAuthTokens
from .store import StoreUnavailable, TokenStore, open_store

log = logging.getLogger("spreadapi_conformance.reference")

_DISCOVERY = ["GET", "OPTIONS"]

ROUTES = [
    # REST (Option 1: ChatGPT Actions)
    Route("/api/v1/services", rest.list_services, methods=["GET"]),
    Route("/api/v1/openapi.json", rest.platform_openapi, methods=["GET"]),
    Route("/api/v1/services/{service_id}", rest.service_details, methods=["GET"]),
    Route("/api/v1/services/{service_id}/openapi.json", rest.service_openapi, methods=["GET"]),
    Route("/api/v1/services/{service_id}/execute", rest.execute_post, methods=["POST"]),
    Route("/api/v1/services/{service_id}/execute", rest.execute_get, methods=["GET"]),
    Route("/api/v1/services/{service_id}/execute", rest.execute_options, methods=["OPTIONS"]),
    # OAuth 2.1 authorization server (Options 2 and 3: ChatGPT connectors), behaviour reference 4
    Route("/.well-known/oauth-authorization-server", oauth_metadata.authorization_server, methods=_DISCOVERY),
    Route("/.well-known/oauth-protected-resource", oauth_metadata.protected_resource, methods=_DISCOVERY),
    Route("/.well-known/oauth-protected-resource/api/mcp", oauth_metadata.protected_resource, methods=_DISCOVERY),
    Route(
        "/.well-known/oauth-protected-resource/api/mcp/services/{service_id}",
        oauth_metadata.service_protected_resource,
        methods=_DISCOVERY,
    ),
    Route("/oauth/register", oauth_register.register, methods=["POST"]),
    Route("/oauth/authorize", oauth_authorize.authorize_page, methods=["GET"]),
    Route("/api/oauth/authorize", oauth_authorize.authorize_submit, methods=["POST"]),
    Route("/api/oauth/token", oauth_token.token, methods=["POST"]),
    Route("/api/oauth/token", oauth_token.token_wrong_method, methods=["GET", "PUT", "DELETE", "PATCH"]),
    # The service page (the seed's Option 1 "Update UI"): OpenAPI URL, MCP URL, Claude Desktop config
    Route("/services/{service_id}", service_page.service_page, methods=["GET"]),
    # MCP over Streamable HTTP (mcp_endpoints): single-service (Claude), the bridge (MCP tokens), /api/mcp (ChatGPT)
    Route("/api/mcp/services/{service_id}", mcp_endpoints.SERVICE_ENDPOINT),
    Route("/api/mcp/bridge", mcp_endpoints.BRIDGE_ENDPOINT),
    Route("/api/mcp", mcp_endpoints.MCP_ENDPOINT),
]


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"No endpoint at {request.method} {request.url.path}"
        return JSONResponse({"error": "Not found", "message": message}, 404)
    if exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
        return JSONResponse({"error": "Method not allowed", "message": message}, 405, headers=exc.headers)
    return JSONResponse({"error": "HTTP error", "message": str(exc.detail)}, exc.status_code, headers=exc.headers)


_UNAVAILABLE_HEADERS = {"Retry-After": "1", "Cache-Control": "no-store"}
_UNAVAILABLE = "The token store is not reachable right now; try again in a moment."


async def _store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """Redis did not answer: 503 with a message the client can act on (retry), in the error shape of the
    endpoint family, never a traceback. The MCP endpoints authenticate every HTTP request before any
    JSON-RPC is read, so theirs is this same HTTP 503 (a client's transport reports it, as it would a
    proxy's), not a JSON-RPC error."""
    log.warning("token store unavailable on %s %s: %s", request.method, request.url.path, exc.__cause__ or exc)
    if request.url.path.startswith(("/oauth/", "/api/oauth/")):
        body = {"error": "temporarily_unavailable", "error_description": _UNAVAILABLE}  # RFC 6749 §4.1.2.1
        return JSONResponse(body, 503, headers=_UNAVAILABLE_HEADERS)
    body = {"error": "Service unavailable", "message": _UNAVAILABLE}
    return JSONResponse(body, 503, headers={**rest.CORS, **_UNAVAILABLE_HEADERS})


async def _server_error(request: Request, exc: Exception) -> JSONResponse:
    # The traceback goes to the server log, never to the client.
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    if active(request, "rest-traceback-in-errors"):
        return PlainTextResponse("".join(traceback.format_exception(exc)), 500)
    return JSONResponse({"error": "Internal server error", "message": "The server failed; see its log."}, 500)


def build_app(
    config: ReferenceConfig, store: TokenStore, services: Mapping[str, ServiceDef], on_startup=()
) -> Starlette:
    catalog = Catalog(services, config.engine, config.faults)
    if config.admin_token is not None and (problem := admin_token_problem(config.admin_token)):
        raise ValueError(problem)
    # The admin surface is mounted only when configured: otherwise its paths are unknown paths (404).
    routes = [*ROUTES, *ADMIN_ROUTES] if config.admin_token else ROUTES

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        if config.warm_up:
            # Compile in the background: the server answers at once, a request waits only for its service.
            threading.Thread(target=catalog.warm_up, name="warm-up", daemon=True).start()
        for hook in on_startup:
            await hook()
        async with app.state.mcp.run():  # the MCP session managers live as long as the app
            yield
        await store.aclose()

    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error, StoreUnavailable: _store_unavailable, Exception: _server_error},
        lifespan=lifespan,
    )
    app.state.config = config
    app.state.catalog = catalog
    app.state.store = store
    app.state.service_tokens = ServiceTokens(store)
    app.state.mcp_tokens = McpTokens(store)
    app.state.oauth_clients = OAuthClients(store)
    app.state.oauth_codes = OAuthCodes(store, config.oauth_code_lifetime)
    app.state.oauth_tokens = OAuthTokens(store, app.state.mcp_tokens)
    app.state.mcp = mcp_endpoints.McpEndpoints(config.base_url, config.faults)
    return app


class Reference:
    """A reference deployment: the ASGI app, its store, and the credentials it was seeded with.

    In process, ``await create_reference()`` builds and seeds it at once. Under uvicorn the seeding
    runs in the app's lifespan instead, on the server's own event loop (a Redis client is bound to
    the loop that first uses it).
    """

    def __init__(
        self,
        config: ReferenceConfig | None = None,
        services: Mapping[str, ServiceDef] | None = None,
        on_seeded=(),
        store: TokenStore | None = None,
        seed: bool = True,
    ):
        """``store`` replaces the one ``config.store_url`` names (tests pass a MemoryStore on a ManualClock).
        ``seed`` False: the store holds the deployment's credentials already (``serve --workers`` seeds them
        once, in the parent process, so that every worker serves the same ones)."""
        self.config = config or ReferenceConfig()
        check_names(self.config.faults)  # an unknown fault is a ValueError here, before anything starts
        self.services = dict(services if services is not None else load_services())
        self.store = store if store is not None else open_store(self.config.store_url, prefix=self.config.store_prefix)
        self.service_tokens: dict[str, str] = {}  # service id -> plain token (private services)
        self.mcp_tokens: dict[str, str] = {}  # name -> plain MCP token ("all", "loan-calculator")
        self._seeded = False
        self._on_seeded = list(on_seeded)
        self.app = build_app(self.config, self.store, self.services, on_startup=[self.seed] if seed else [])

    @property
    def mcp_registry(self) -> McpTokens:
        """Issue, validate and revoke MCP tokens in process."""
        return self.app.state.mcp_tokens

    @property
    def oauth_tokens(self) -> OAuthTokens:
        """Resolve (and revoke) OAuth access tokens in process."""
        return self.app.state.oauth_tokens

    async def seed(self) -> None:
        """Issue one service token per private service (the configured one, or a fresh one) and two MCP
        tokens: "all" covers every service, "loan-calculator" only that one."""
        if self._seeded:
            return
        tokens = self.app.state.service_tokens
        for service in self.services.values():
            if service.public:
                continue
            given = self.config.service_tokens.get(service.id)
            try:
                issued = await tokens.issue(service.id, name="seeded", token=given)
            except ValueError:
                # A pinned token already in a shared Redis (another process, a restart) is reused as is.
                if given is None or not (await tokens.validate(given, service.id)).valid:
                    raise
                self.service_tokens[service.id] = given
                continue
            self.service_tokens[service.id] = issued.token
        self.mcp_tokens["all"] = await self.mcp_registry.issue(list(self.services), name="all (seeded)")
        if "loan-calculator" in self.services:
            self.mcp_tokens["loan-calculator"] = await self.mcp_registry.issue(
                ["loan-calculator"], name="loan-calculator (seeded)"
            )
        self._seeded = True
        for hook in self._on_seeded:
            hook(self)

    async def aclose(self) -> None:
        await self.store.aclose()


async def create_reference(
    config: ReferenceConfig | None = None,
    services: Mapping[str, ServiceDef] | None = None,
    store: TokenStore | None = None,
) -> Reference:
    reference = Reference(config, services, store=store)
    await reference.seed()
    return reference
