"""A deployment that answers everything badly, for the hostile-answer test (test_hostile.py).

The service listing is sound (so pre-flight lets certify run); every other request gets the mode's answer,
as JSON, as an event stream when the request accepts one (the MCP endpoints), or as it is:

- ``deep``: JSON nested 3,000 levels (a parser's recursion limit, an echo of a hostile input);
- ``huge``: a 3 MB JSON string;
- ``truncated``: JSON cut off in the middle;
- ``wrong-types``: a JSON object with the fields checks read, each of the wrong type (the JSON-RPC id of the
  request kept, so an MCP client takes it for its answer);
- ``html``: an HTML error page with status 200;
- ``wrong-ids``: well-formed JSON-RPC answers to another request id than the one asked (an MCP client waits for
  its own answer, which never comes).
"""

from __future__ import annotations

import json
from typing import Any

MODES = ("deep", "huge", "truncated", "wrong-types", "html", "wrong-ids")
LISTING = {
    "services": [
        {"id": "loan-calculator", "name": "Loan", "requiresToken": False},
        {"id": "quote", "name": "Quote", "requiresToken": True},
        {"id": "edge-cases", "name": "Edge", "requiresToken": False},
    ],
    "pagination": {"total": 3, "limit": 50, "offset": 0, "hasMore": False},
}
WRONG = {
    "jsonrpc": "2.0",
    "result": {"protocolVersion": 7, "capabilities": "all", "serverInfo": [], "tools": "many", "content": 3},
    "error": "broken",
    "services": "none",
    "pagination": [],
    "outputs": {"value": []},
    "inputs": 5,
    "message": ["x"],
    "openapi": 3.1,
    "paths": ["/x"],
    "servers": "https://x",
    "components": 1,
    "resource": 5,
    "authorization_servers": "x",
    "issuer": 3,
    "authorization_endpoint": 4,
    "token_endpoint": [],
    "registration_endpoint": {},
    "code_challenge_methods_supported": "S256",
    "client_id": 5,
    "redirect_uris": "x",
    "access_token": 5,
    "token_type": [],
    "expires_in": "soon",
}


def body_of(mode: str, request_id: Any) -> tuple[str, str]:
    """(text, media type) of the hostile answer."""
    if mode == "deep":
        return '{"error": ' * 3000 + "1" + "}" * 3000, "application/json"
    if mode == "huge":
        return json.dumps({"error": "x" * 3_000_000}), "application/json"
    if mode == "truncated":
        return '{"jsonrpc": "2.0", "id": ' + json.dumps(request_id) + ', "result": {"protocolVersion": "2025-', (
            "application/json"
        )
    if mode == "wrong-types":
        return json.dumps({**WRONG, "id": request_id}), "application/json"
    if mode == "wrong-ids":
        other = f"not-{request_id}"
        return json.dumps({"jsonrpc": "2.0", "id": other, "result": {"protocolVersion": "2025-11-25"}}), (
            "application/json"
        )
    return "<!doctype html><html><body><h1>502 Bad Gateway</h1></body></html>", "text/html"


def hostile_app(mode: str) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    async def listing(request: Request) -> Response:
        return JSONResponse(LISTING)

    async def anything(request: Request) -> Response:
        request_id: Any = 1
        try:
            message = json.loads(await request.body() or b"null")
            if isinstance(message, dict) and "id" in message:
                request_id = message["id"]
        except ValueError:
            pass
        text, media = body_of(mode, request_id)
        if "text/event-stream" in request.headers.get("accept", "") and media == "application/json":
            return Response(f"event: message\ndata: {text}\n\n", media_type="text/event-stream")
        return Response(text, media_type=media)

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]
    return Starlette(routes=[Route("/api/v1/services", listing), Route("/{rest:path}", anything, methods=methods)])
