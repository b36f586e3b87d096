"""The reference deployment as one ASGI app. ``ROUTES`` is the seed's endpoint table."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Mapping

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..fixtures import ServiceDef, load_services
from . import rest
from .catalog import Catalog
from .config import ReferenceConfig
from .credentials import ServiceTokens
from .store import TokenStore, open_store

log = logging.getLogger("spreadapi_conformance.reference")

ROUTES = [
    # REST (Option 1: ChatGPT Actions)
    Route("/api/v1/services", rest.list_services, methods=["GET"]),
    Route("/api/v1/openapi.json", rest.platform_openapi, methods=["GET"]),
    Route("/api/v1/services/{service_id}", rest.service_details, methods=["GET"]),
    Route("/api/v1/services/{service_id}/openapi.json", rest.service_openapi, methods=["GET"]),
    Route("/api/v1/services/{service_id}/execute", rest.execute_post, methods=["POST"]),
    Route("/api/v1/services/{service_id}/execute", rest.execute_get, methods=["GET"]),
    Route("/api/v1/services/{service_id}/execute", rest.execute_options, methods=["OPTIONS"]),
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


async def _server_error(request: Request, exc: Exception) -> JSONResponse:
    # The traceback goes to the server log, never to the client.
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse({"error": "Internal server error", "message": "The server failed; see its log."}, 500)


def build_app(
    config: ReferenceConfig, store: TokenStore, services: Mapping[str, ServiceDef], on_startup=()
) -> Starlette:
    catalog = Catalog(services, config.engine)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        if config.warm_up:
            # Compile in the background: the server answers at once, a request waits only for its service.
            threading.Thread(target=catalog.warm_up, name="warm-up", daemon=True).start()
        for hook in on_startup:
            await hook()
        yield
        await store.aclose()

    app = Starlette(
        routes=ROUTES,
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
        lifespan=lifespan,
    )
    app.state.config = config
    app.state.catalog = catalog
    app.state.store = store
    app.state.service_tokens = ServiceTokens(store)
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
    ):
        self.config = config or ReferenceConfig()
        self.services = dict(services if services is not None else load_services())
        self.store = open_store(self.config.store_url, prefix=self.config.store_prefix)
        self.service_tokens: dict[str, str] = {}  # service id -> plain token (private services)
        self._on_seeded = list(on_seeded)
        self.app = build_app(self.config, self.store, self.services, on_startup=[self.seed])

    async def seed(self) -> None:
        """Issue one service token per private service: the configured one, or a fresh one."""
        if self.service_tokens:
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
        for hook in self._on_seeded:
            hook(self)

    async def aclose(self) -> None:
        await self.store.aclose()


async def create_reference(
    config: ReferenceConfig | None = None, services: Mapping[str, ServiceDef] | None = None
) -> Reference:
    reference = Reference(config, services)
    await reference.seed()
    return reference
