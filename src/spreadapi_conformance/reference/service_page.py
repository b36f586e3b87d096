"""The service page, ``GET /services/{id}``: how to connect one service to ChatGPT and Claude.

The seed's Option 1 ("Update UI to show OpenAPI spec URL"): the service's inputs and outputs, its
OpenAPI document's URL with the steps to import it as a ChatGPT Action, the single-service MCP URL
(what a ChatGPT connector or Claude would be given), and a Claude Desktop configuration for the
stdio bridge. The configuration is built here as data and serialised with ``json.dumps`` (then
autoescaped like everything else), so what the user copies is valid JSON by construction.

The page never holds a credential: a private service's configuration carries a placeholder where
the user puts their service token; a public one has no ``SPREADAPI_TOKEN`` at all.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..fixtures import InputDef, ServiceDef
from .oauth import service_resource
from .pages import render
from .rest import base_url

__all__ = ["TOKEN_PLACEHOLDER", "claude_desktop_config", "service_page"]

TOKEN_PLACEHOLDER = "<your service token>"
BRIDGE_COMMAND = "spreadapi-conformance"
# Public, but re-validated on every use: the page follows the deployment (base URL, republishing).
_CACHE = {"Cache-Control": "no-cache"}


def claude_desktop_config(base: str, service: ServiceDef) -> dict[str, Any]:
    """The ``mcpServers`` entry for the stdio bridge (the seed's single-service Claude Desktop setup)."""
    env = {"SPREADAPI_URL": base, "SPREADAPI_SERVICE_ID": service.id}
    if not service.public:
        env["SPREADAPI_TOKEN"] = TOKEN_PLACEHOLDER
    return {"mcpServers": {service.id: {"command": BRIDGE_COMMAND, "args": ["bridge"], "env": env}}}


def _shown(value: Any) -> str:
    """A value as a client sends it (JSON spelling: true, not Python's True)."""
    return value if isinstance(value, str) else json.dumps(value)


def _constraints(field: InputDef) -> str:
    parts = []
    if field.allowed_values:
        parts.append("one of " + ", ".join(_shown(v) for v in field.allowed_values))
    if field.min is not None:
        parts.append(f"at least {field.min:g}")
    if field.max is not None:
        parts.append(f"at most {field.max:g}")
    if field.default is not None:
        parts.append(f"default {_shown(field.default)}")
    return "; ".join(parts)


async def service_page(request: Request) -> Response:
    service_id = request.path_params["service_id"]
    service = request.app.state.catalog.get(service_id)
    if service is None:
        # An HTML 404 (a person followed a link); the id is shown as text, autoescaped.
        return render("service_missing.html", 404, cache=_CACHE, service_id=service_id)
    base = base_url(request)
    inputs = [
        {
            "name": i.name,
            "title": i.title,
            "type": i.type,
            "mandatory": i.mandatory,
            "constraints": _constraints(i),
            "description": i.description or "",
        }
        for i in service.inputs
    ]
    outputs = [{"name": o.name, "title": o.title, "description": o.description or ""} for o in service.outputs]
    return render(
        "service.html",
        cache=_CACHE,
        service={"id": service.id, "title": service.title, "description": service.description},
        public=service.public,
        inputs=inputs,
        outputs=outputs,
        openapi_url=f"{base}/api/v1/services/{service.id}/openapi.json",
        mcp_url=service_resource(base, service.id),
        claude_config=json.dumps(claude_desktop_config(base, service), indent=2, ensure_ascii=False),
    )
