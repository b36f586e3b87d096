"""RFC 7591 dynamic client registration, ``POST /oauth/register`` (behaviour reference 4.3).

Public clients only: ``token_endpoint_auth_method`` must be ``none`` (any other value is refused
with ``invalid_client_metadata`` rather than silently downgraded, so a client never believes it holds
a secret). ``refresh_token`` among the requested ``grant_types`` is dropped, not refused: Claude asks
for it, and this server issues no refresh tokens; the response says what was granted (RFC 7591 §3.2.1
lets the server replace requested values). Every redirect URI must pass the policy in
``oauth.redirect_problem``; one bad URI fails the whole registration (SpreadAPI filters silently and
accepts ChatGPT's URIs only). Unknown metadata fields are ignored (RFC 7591 §2).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .faults import active
from .oauth import DEFAULT_SCOPE, MCP_SCOPES, NO_STORE, OAuthError, error_response, read_params, redirect_problem
from .oauth_grants import Client

__all__ = ["register"]

_MAX_REDIRECT_URIS = 10
_GRANTED_TYPES = ("authorization_code",)
_DROPPED_TYPES = ("refresh_token",)


def _metadata_error(description: str) -> OAuthError:
    return OAuthError("invalid_client_metadata", description)


def _string_list(body: dict[str, Any], name: str, default: list[str]) -> list[str]:
    value = body.get(name, default)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _metadata_error(f"{name} must be an array of strings")
    return value


def client_from_metadata(
    body: dict[str, Any], allowlist: tuple[str, ...], faults: frozenset[str] = frozenset()
) -> Client:
    """``faults``: the deployment bugs to reproduce (reference.faults), for the selftest."""
    uris = body.get("redirect_uris")
    if uris is None and active(faults, "oauth-registration-without-redirect-uris"):
        uris = []  # the bug: registered now, "the redirect URI is checked at the authorization endpoint"
    elif not isinstance(uris, list) or not uris:
        raise OAuthError("invalid_redirect_uri", "At least one redirect_uri is required")
    allow_fragment = active(faults, "oauth-fragment-redirect-registered")
    if len(uris) > _MAX_REDIRECT_URIS:
        raise OAuthError("invalid_redirect_uri", f"At most {_MAX_REDIRECT_URIS} redirect_uris are accepted")
    for index, uri in enumerate(uris):
        checked = uri.split("#")[0] if allow_fragment and isinstance(uri, str) else uri
        if problem := redirect_problem(
            checked,
            allowlist,
            http_anywhere=active(faults, "oauth-http-redirect-accepted"),
            https_only=active(faults, "oauth-loopback-redirect-refused"),
        ):
            raise OAuthError("invalid_redirect_uri", f"redirect_uris[{index}] {problem}")

    method = body.get("token_endpoint_auth_method", "none")
    if method != "none":
        raise _metadata_error("Only public clients are supported: token_endpoint_auth_method must be none")
    grant_types = _string_list(body, "grant_types", list(_GRANTED_TYPES))
    if "authorization_code" not in grant_types:
        raise _metadata_error("grant_types must include authorization_code")
    if unsupported := sorted(set(grant_types) - {*_GRANTED_TYPES, *_DROPPED_TYPES}):
        raise _metadata_error(f"Unsupported grant_types: {', '.join(unsupported)[:200]}")
    response_types = _string_list(body, "response_types", ["code"])
    unchecked = active(faults, "oauth-registration-types-unchecked")  # the bug: stored as sent
    if set(response_types) != {"code"} and not unchecked:
        # RFC 7591 §2.1: the authorization_code grant goes with the response type code, and nothing else
        # is served here; an inconsistent pair is refused rather than registered.
        raise _metadata_error('response_types must be ["code"]')

    name = body.get("client_name", "")
    if active(faults, "oauth-client-name-unchecked"):
        name = name.strip()  # the bug: no type check first, so a number raises (AttributeError: a 500)
    if not isinstance(name, str) or len(name) > 200:
        raise _metadata_error("client_name must be a string of at most 200 characters")
    scope = body.get("scope", DEFAULT_SCOPE)
    if not isinstance(scope, str) or len(scope) > 1000:
        raise _metadata_error("scope must be a space-separated string")
    scope = " ".join(s for s in scope.split() if s in MCP_SCOPES) or DEFAULT_SCOPE
    return Client(
        client_id="",
        redirect_uris=tuple(dict.fromkeys(uris)),
        client_name=name.strip(),
        grant_types=_GRANTED_TYPES,
        response_types=tuple(response_types) if unchecked else ("code",),
        token_endpoint_auth_method="none",
        scope=scope,
    )


# The fault ``oauth-registration-strict`` refuses every member but these, as a schema with
# additionalProperties false would.
_STRICTLY_KNOWN = {
    "redirect_uris",
    "token_endpoint_auth_method",
    "grant_types",
    "response_types",
    "client_name",
    "scope",
}


async def register(request: Request) -> Response:
    try:
        body = await read_params(request, form_ok=False)
        config = request.app.state.config
        if active(config, "oauth-registration-strict") and (unknown := sorted(set(body) - _STRICTLY_KNOWN)):
            raise _metadata_error(f"Unknown client metadata: {', '.join(unknown)[:200]}")
        client = client_from_metadata(body, config.redirect_allowlist, config.faults)
    except OAuthError as exc:
        if exc.error == "invalid_request":  # not JSON: RFC 7591 §3.2.2 knows only metadata errors
            exc = OAuthError("invalid_client_metadata", exc.description, exc.status)
        return error_response(exc)
    issued = await request.app.state.oauth_clients.register(client)
    return JSONResponse(issued.metadata(), 201, headers=NO_STORE)
