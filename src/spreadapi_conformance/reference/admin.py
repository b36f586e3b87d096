"""A small admin surface, so a suite can issue and revoke credentials on a *served* reference from outside.

    POST /admin/mcp-tokens/issue        {"services": ["quote", …], "name": "…"}  -> 201 {"token", "services"}
                                        ("services": [] issues a token that grants none, as SpreadAPI allows)
    POST /admin/service-tokens/issue    {"service": "quote", "name": "…",        -> 201 {"token", "service"}
                                         "expires_at": 1767225600}  (optional, epoch seconds)
    POST /admin/mcp-tokens/revoke       {"token": "spapi_live_…"}
    POST /admin/service-tokens/revoke   {"token": "svc_tk_…"}

Issuing gives a fresh credential of the published services named (an unknown one is 400), so a check
can revoke something of its own and leave the target file's credentials alone (the conformance
checks' revocation scenarios). ``expires_at`` may lie in the past: an already expired token, for the
expiry checks of a served deployment (its clock cannot be moved from outside). Revoking answers
``200 {"revoked": true|false}`` (false: unknown, malformed or already revoked; like RFC 7009, revoking
what is not live is not an error). Revoking an MCP token stops every OAuth token that wraps it;
revoking a service token stops the OAuth tokens of single-service grants made with it.

The routes exist only when the deployment is configured with an admin token (``serve --admin-token``
or ``SPREADAPI_ADMIN_TOKEN``); otherwise they are not mounted and their paths answer 404 like any
unknown path (no 401 or 405 hints that they could exist). With the surface on, a missing or wrong
``Authorization: Bearer`` is 401; the comparison is constant-time.
"""

from __future__ import annotations

import hmac
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .oauth import NO_STORE, OAuthError, read_params

__all__ = ["ADMIN_ROUTES", "admin_token_problem"]

MIN_ADMIN_TOKEN_LENGTH = 16


def admin_token_problem(token: str) -> str | None:
    """Why ``token`` cannot serve as the admin token, or None. Never echoes the token."""
    if len(token) < MIN_ADMIN_TOKEN_LENGTH:
        return f"the admin token must be at least {MIN_ADMIN_TOKEN_LENGTH} characters"
    if not token.isascii() or not token.isprintable() or " " in token:
        return "the admin token must be printable ASCII without spaces"
    return None


def _reply(body: dict[str, object], status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status, headers={**NO_STORE, **(headers or {})})


def _authorized(request: Request) -> bool:
    expected = request.app.state.config.admin_token
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if not expected or scheme.lower() != "bearer":
        return False
    # Bytes, so a non-ASCII header cannot make compare_digest raise; constant time over the content.
    return hmac.compare_digest(presented.strip().encode("utf-8"), expected.encode("utf-8"))


async def _admin_body(request: Request) -> dict[str, Any] | Response:
    """The JSON body of an authorised admin request, or the refusal (401, or 400 for a bad body)."""
    if not _authorized(request):
        return _refused()
    try:
        return await read_params(request, form_ok=False)
    except OAuthError as exc:
        return _reply({"error": "Bad request", "message": exc.description}, exc.status)


async def _token_from_body(request: Request) -> str | Response:
    body = await _admin_body(request)
    if isinstance(body, Response):
        return body
    token = body.get("token")
    if not isinstance(token, str) or not token:
        return _reply({"error": "Bad request", "message": "token must be a non-empty string"}, 400)
    return token


def _refused() -> Response:
    return _reply(
        {"error": "Unauthorized", "message": "A valid admin bearer token is required"},
        401,
        {"WWW-Authenticate": 'Bearer realm="admin"'},
    )


async def _issue_body(request: Request) -> dict[str, Any] | Response:
    """The body of an issue request with its ``name`` checked and defaulted."""
    body = await _admin_body(request)
    if isinstance(body, Response):
        return body
    name = body.setdefault("name", "issued by the admin surface")
    if not isinstance(name, str) or not name or len(name) > 200:
        return _reply({"error": "Bad request", "message": "name must be a string of 1 to 200 characters"}, 400)
    return body


def _unpublished(request: Request, service_ids: list[Any]) -> Response | None:
    catalog = request.app.state.catalog
    if not service_ids or not all(isinstance(s, str) and catalog.get(s) is not None for s in service_ids):
        message = "name one or more published services (ids as strings)"
        return _reply({"error": "Bad request", "message": message}, 400)
    return None


async def issue_mcp_token(request: Request) -> Response:
    body = await _issue_body(request)
    if isinstance(body, Response):
        return body
    services = body.get("services")
    refused = _unpublished(request, services if isinstance(services, list) else [None])
    if refused is not None and services != []:  # an empty list is a token that grants none (3.2.3)
        return refused
    ids = list(dict.fromkeys(services))
    token = await request.app.state.mcp_tokens.issue(ids, name=body["name"])
    return _reply({"token": token, "services": ids}, 201)


async def issue_service_token(request: Request) -> Response:
    body = await _issue_body(request)
    if isinstance(body, Response):
        return body
    service = body.get("service")
    if refused := _unpublished(request, [service]):
        return refused
    expires_at = body.get("expires_at")
    if expires_at is not None and (
        isinstance(expires_at, bool) or not isinstance(expires_at, int | float) or not 0 < expires_at < 1e11
    ):
        return _reply({"error": "Bad request", "message": "expires_at must be a time in epoch seconds"}, 400)
    issued = await request.app.state.service_tokens.issue(service, name=body["name"], expires_at=expires_at)
    return _reply({"token": issued.token, "service": service}, 201)


async def revoke_mcp_token(request: Request) -> Response:
    token = await _token_from_body(request)
    if isinstance(token, Response):
        return token
    return _reply({"revoked": await request.app.state.mcp_tokens.revoke(token)})


async def revoke_service_token(request: Request) -> Response:
    token = await _token_from_body(request)
    if isinstance(token, Response):
        return token
    return _reply({"revoked": await request.app.state.service_tokens.revoke_token(token)})


ADMIN_ROUTES = [
    Route("/admin/mcp-tokens/issue", issue_mcp_token, methods=["POST"]),
    Route("/admin/service-tokens/issue", issue_service_token, methods=["POST"]),
    Route("/admin/mcp-tokens/revoke", revoke_mcp_token, methods=["POST"]),
    Route("/admin/service-tokens/revoke", revoke_service_token, methods=["POST"]),
]
