"""The authorization endpoint: ``GET /oauth/authorize`` (consent page) and ``POST /api/oauth/authorize``.

``GET`` validates the request and renders a page on which the user pastes MCP tokens (multi-service,
the seed's Option 3) or a service token (single-service, Option 2: ``service_id``, or a ``resource``
naming ``/api/mcp/services/{id}``; a public service needs none), then approves or cancels. The page
is plain HTML: its form posts to ``POST /api/oauth/authorize``, which validates everything again and
answers a browser form with ``303 See Other`` to the redirect URI (RFC 9700 §4.12: never 307 after a
POST that carries credentials) and a JSON request with ``{"code", "redirect_to"}``.

Errors in ``client_id`` or ``redirect_uri`` never redirect (RFC 6749 §4.1.2.1). Other request errors
(``response_type``, PKCE, ``scope``, ``resource``) show an HTML error page with status 400 as well,
with a link back to the client carrying the error that the user may follow; only a cancel redirects
on its own (``error=access_denied``). Every redirect carries ``state`` verbatim and ``iss`` (RFC 9207).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from ..fixtures import ServiceDef
from .credentials import MCP_TOKEN_PREFIX, SERVICE_TOKEN_PREFIX, looks_like, token_hash
from .faults import active
from .oauth import (
    DEFAULT_SCOPE,
    FORM,
    MCP_SCOPES,
    NO_STORE,
    OAuthError,
    add_query,
    challenge_problem,
    error_response,
    mcp_resource,
    media_type,
    read_params,
    redirect_matches,
    service_resource,
    service_scope,
    text_param,
    unique,
)
from .oauth_grants import Authorization, Client, PendingCode
from .pages import render
from .rest import base_url

__all__ = ["authorize_page", "authorize_submit"]

_PARAMS = (
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "resource",
    "service_id",
)
_BODY_PARAMS = (*_PARAMS, "mcp_tokens", "service_token", "action")
_MAX_TOKENS = 20


Back = Callable[[str], str]  # error code -> the redirect URI carrying it


class RequestError(OAuthError):
    """An invalid authorization request. ``back`` is set once client and redirect URI are trusted."""

    def __init__(self, error: str, description: str, back: str | None = None, *, redirect: bool = False):
        super().__init__(error, description)
        self.back = back
        self.redirect = redirect  # sent to ``back`` at once (only the fault oauth-unknown-client-redirects)


@dataclass(frozen=True)
class AuthRequest:
    params: dict[str, str]  # the request's own parameters, echoed into the form's hidden fields
    client: Client
    redirect_uri: str
    issuer: str
    scope: str  # what will be granted
    code_challenge: str
    resource: str
    service: ServiceDef | None  # None: multi-service
    faults: frozenset[str] = frozenset()  # deployment bugs to reproduce (reference.faults), for the selftest

    def redirect(self, **params: str | None) -> str:
        state = None if active(self.faults, "oauth-state-dropped") else self.params.get("state")
        issuer = None if active(self.faults, "oauth-no-iss") else self.issuer
        uri = self.redirect_uri
        if active(self.faults, "oauth-redirect-query-replaced"):
            uri = uri.split("?")[0]  # the response parameters take the place of the registered query
        return add_query(uri, {**params, "state": state, "iss": issuer})


async def _client_and_redirect(request: Request, params: dict[str, str]) -> tuple[Client, str]:
    client = await request.app.state.oauth_clients.get(params.get("client_id"))
    if client is None:
        named = params.get("redirect_uri")
        if named and active(request, "oauth-unknown-client-redirects"):
            # The bug: the error goes back to whatever redirect URI the request names; no registration vouches for it.
            back = add_query(named, {"error": "invalid_client", "state": params.get("state")})
            raise RequestError("invalid_client", "Unknown client_id.", back, redirect=True)
        raise RequestError("invalid_request", "Unknown client_id: register the client first (RFC 7591).")
    redirect_uri = params.get("redirect_uri")
    if not redirect_uri:
        raise RequestError("invalid_request", "redirect_uri is required.")
    prefix_match = active(request, "oauth-redirect-prefix-match")
    if prefix_match and any(redirect_uri.startswith(r) for r in client.redirect_uris):
        return client, redirect_uri
    exact_only = active(request, "oauth-loopback-port-exact")
    if redirect_uri not in client.redirect_uris and (
        exact_only or not redirect_matches(client.redirect_uris, redirect_uri)
    ):
        raise RequestError("invalid_request", "redirect_uri is not registered for this client.")
    return client, redirect_uri


def _target(request: Request, base: str, params: dict[str, str], back: Back) -> tuple[ServiceDef | None, str]:
    """The single service asked for (or None) and the RFC 8707 resource the grant is bound to."""
    catalog = request.app.state.catalog
    service_id, resource = params.get("service_id"), params.get("resource")
    service = None
    if service_id is not None:
        service = catalog.get(service_id)
        if service is None and active(request, "oauth-unknown-service-falls-back"):
            return None, mcp_resource(base)  # the bug: an unknown service_id becomes a multi-service grant
        if service is None:
            raise RequestError("invalid_request", "Service not found or not published.", back("invalid_request"))
    if resource is None:
        return service, service_resource(base, service.id) if service else mcp_resource(base)
    invalid = RequestError(
        "invalid_target", "resource is not an MCP server of this deployment.", back("invalid_target")
    )
    if resource == mcp_resource(base):
        if service is not None:
            raise invalid
        return None, resource
    prefix = service_resource(base, "")
    named = catalog.get(resource[len(prefix) :]) if resource.startswith(prefix) else None
    if named is None and service is None and active(request, "oauth-foreign-resource-accepted"):
        return None, mcp_resource(base)
    if named is None or (service is not None and named.id != service.id):
        raise invalid
    return named, resource


def _scope(request: Request, params: dict[str, str], service: ServiceDef | None, back: Back) -> str:
    """The scope granted: what was requested, all of it known (else invalid_scope), or the default scope
    when the request names none (RFC 6749 §3.3)."""
    if not params.get("scope") and active(request, "oauth-scope-required"):
        raise RequestError("invalid_request", "scope is required.", back("invalid_request"))
    requested = list(dict.fromkeys((params.get("scope") or "").split()))
    allowed = [*MCP_SCOPES, *([service_scope(service.id)] if service else [])]
    if active(request, "oauth-unknown-scope-dropped"):
        requested = [s for s in requested if s in allowed]  # the bug: what it does not know, it leaves out
    if unknown := [s for s in requested if s not in allowed]:
        raise RequestError("invalid_scope", f"Unsupported scope: {' '.join(unknown)[:200]}", back("invalid_scope"))
    if service is None:
        return " ".join(requested) or DEFAULT_SCOPE
    granted = requested or list(MCP_SCOPES)
    return " ".join(dict.fromkeys([*granted, service_scope(service.id)]))


async def validate(request: Request, params: dict[str, str]) -> AuthRequest:
    client, redirect_uri = await _client_and_redirect(request, params)
    issuer = base_url(request)
    state = params.get("state")

    def back(error: str) -> str:
        return add_query(redirect_uri, {"error": error, "state": state, "iss": issuer})

    strict = active(request, "oauth-strict-parameters")
    if strict and (unknown := sorted(set(params) - {*_PARAMS, "service_id"})):
        raise RequestError("invalid_request", f"Unknown parameter: {', '.join(unknown)[:200]}", back("invalid_request"))
    if params.get("response_type") != "code" and not active(request, "oauth-response-type-unchecked"):
        error = "unsupported_response_type"
        raise RequestError(error, "response_type must be code.", back(error))
    method = params.get("code_challenge_method")
    if active(request, "oauth-plain-pkce-accepted") and method in (None, "", "plain"):
        method = "S256"  # recorded as S256: the exchange then compares the verifier's hash
    without_pkce = not params.get("code_challenge") and active(request, "oauth-challenge-optional")
    if not without_pkce and (problem := challenge_problem(params.get("code_challenge"), method)):
        raise RequestError("invalid_request", problem, back("invalid_request"))
    service, resource = _target(request, issuer, params, back)
    return AuthRequest(
        params=params,
        client=client,
        redirect_uri=redirect_uri,
        issuer=issuer,
        scope=_scope(request, params, service, back),
        code_challenge=params.get("code_challenge", ""),
        resource=resource,
        service=service,
        faults=request.app.state.config.faults,
    )


# -- rendering -----------------------------------------------------------------------------------


def error_page(exc: OAuthError, status: int | None = None) -> HTMLResponse:
    back = exc.back if isinstance(exc, RequestError) else None
    return render("error.html", status or exc.status, error=exc.error, description=exc.description, back=back)


def consent_page(auth: AuthRequest, message: str | None = None, status: int = 200) -> HTMLResponse:
    service = auth.service
    return render(
        "authorize.html",
        status,
        frameable=active(auth.faults, "consent-page-frameable"),
        client_name=auth.client.client_name or "An application",
        client_id=auth.client.client_id,
        redirect_host=urlsplit(auth.redirect_uri).netloc,
        scopes=auth.scope.split(),
        resource=auth.resource,
        service=None if service is None else {"id": service.id, "title": service.title, "public": service.public},
        hidden={name: value for name, value in auth.params.items() if name in _PARAMS},
        message=message,
    )


async def authorize_page(request: Request) -> Response:
    try:
        params = unique(list(request.query_params.multi_items()), _PARAMS)
        keep_empty = active(request, "oauth-empty-parameters-kept")
        auth = await validate(request, {k: v for k, v in params.items() if v != "" or keep_empty})
    except OAuthError as exc:
        if isinstance(exc, RequestError) and exc.redirect and exc.back:
            return RedirectResponse(exc.back, 302)
        return error_page(exc)
    page = consent_page(auth)
    if active(request, "oauth-authorization-cors"):
        page.headers["Access-Control-Allow-Origin"] = "*"  # a blanket CORS middleware over every route
    return page


# -- the form's (and JSON clients') target ---------------------------------------------------------


def _token_list(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [t for t in re.split(r"[\s,]+", value) if t]
    if isinstance(value, list) and all(isinstance(t, str) for t in value):
        return [t for t in value if t]
    raise OAuthError("invalid_request", "mcp_tokens must be a string or an array of strings.")


async def _approve(request: Request, auth: AuthRequest, body: dict[str, Any]) -> Authorization:
    """Check the credentials the user pasted; what they grant becomes the code's authorization."""
    common = {"client_id": auth.client.client_id, "scope": auth.scope, "resource": auth.resource}
    tokens = _token_list(body.get("mcp_tokens"))
    service = auth.service
    if service is not None:
        if tokens:
            raise OAuthError("invalid_request", "Send either mcp_tokens or service_id, not both.")
        token_id = None
        if not service.public or active(request, "consent-service-token-always-required"):
            token = text_param(body, "service_token")
            if token is None and not active(request, "consent-service-token-optional"):
                raise OAuthError("invalid_request", "This service requires a service token for authorization.")
            if token is not None and service.id in await _access_token_grants(request, token):
                token = None  # the fault consent-access-token-accepted: the grant stands for the token
            if token is not None:
                check = await request.app.state.service_tokens.validate(token, service.id)
                if not check.valid and not await _overlooked(request, check.error, token, service.id):
                    raise OAuthError("invalid_request", "Invalid service token.")
                token_id = check.token_id
        return Authorization(**common, service_ids=(service.id,), service_id=service.id, service_token_id=token_id)

    if not tokens:
        raise OAuthError("invalid_request", "Paste at least one MCP token.")
    if len(tokens) > _MAX_TOKENS:
        raise OAuthError("invalid_request", f"At most {_MAX_TOKENS} MCP tokens at once.")
    granted: list[str] = []
    for index, token in enumerate(dict.fromkeys(tokens), start=1):
        # Never echo a token, not even part of one: a malformed paste may still be a secret.
        if reached := await _access_token_grants(request, token):
            granted.extend(reached)
            continue
        if active(request, "consent-service-token-as-mcp-token") and looks_like(token, SERVICE_TOKEN_PREFIX):
            granted.extend(await _services_of_service_token(request, token))
            continue
        if not looks_like(token, MCP_TOKEN_PREFIX):
            raise OAuthError(
                "invalid_request", f"Token {index} is not an MCP token ({MCP_TOKEN_PREFIX} followed by 64 hex)."
            )
        revoked_too = active(request, "consent-revoked-mcp-token-accepted")
        ids = await request.app.state.mcp_tokens.validate(token, active_only=not revoked_too)
        if ids is None and active(request, "consent-mcp-token-shape-only"):
            ids = list(request.app.state.catalog.services)
        if ids is None:
            raise OAuthError("invalid_request", f"Token {index} is invalid or has been revoked.")
        granted.extend(ids)
    catalog = request.app.state.catalog
    service_ids = tuple(s for s in dict.fromkeys(granted) if catalog.get(s) is not None)
    if not service_ids:
        raise OAuthError("invalid_request", "These tokens grant access to no published service.")
    if active(request, "consent-mcp-tokens-kept-unhashed"):
        hashes = tuple(dict.fromkeys(tokens))  # the bug: the tokens where the grant keeps their SHA-256
    else:
        hashes = tuple(token_hash(t) for t in dict.fromkeys(tokens))
    return Authorization(**common, service_ids=service_ids, mcp_token_hashes=hashes)


async def _access_token_grants(request: Request, token: str) -> tuple[str, ...]:
    """The fault ``consent-access-token-accepted``: what a pasted OAuth access token of this server reaches
    (the consent asks "is this a token we issued?" of every store). Without the fault: nothing."""
    if not active(request, "consent-access-token-accepted"):
        return ()
    grant = await request.app.state.oauth_tokens.resolve(token)
    return grant.service_ids if grant is not None else ()


async def _services_of_service_token(request: Request, token: str) -> list[str]:
    """The fault ``consent-service-token-as-mcp-token``: the services a service token is valid for."""
    services = request.app.state.catalog.services
    return [sid for sid in services if (await request.app.state.service_tokens.validate(token, sid)).valid]


async def _overlooked(request: Request, denial: str | None, token: str, service_id: str) -> bool:
    """Whether a consent with one of the service-token faults on lets this denial through."""
    if denial == "Token does not belong to this service":
        return active(request, "consent-service-token-any-service")
    if denial == "Token expired":
        return active(request, "consent-expired-service-token-accepted")
    if looks_like(token, MCP_TOKEN_PREFIX) and active(request, "consent-mcp-token-as-service-token"):
        return service_id in (await request.app.state.mcp_tokens.validate(token) or [])
    return looks_like(token, SERVICE_TOKEN_PREFIX) and active(request, "consent-service-token-shape-only")


def _cross_site(request: Request) -> bool:
    """A browser form post from another site (CSRF): refused. Non-browser clients send neither header."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return True
    origin = request.headers.get("origin")
    if origin is None:
        return False
    allowed = {_origin(base_url(request)), _origin(str(request.base_url))}
    return origin not in allowed


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


async def authorize_submit(request: Request) -> Response:
    browser = media_type(request) == FORM
    try:
        body = await read_params(request, _BODY_PARAMS)
        if browser and _cross_site(request) and not active(request, "consent-cross-site-accepted"):
            raise OAuthError("invalid_request", "Cross-site form posts are refused.", 403)
        params = {name: value for name in _PARAMS if (value := text_param(body, name)) is not None}
        auth = await validate(request, params)
        action = text_param(body, "action") or "approve"
        if active(request, "consent-cancel-ignored"):
            action = "approve"  # the bug: the form's buttons share one handler that approves
        if action not in ("approve", "cancel"):
            raise RequestError("invalid_request", "action must be approve or cancel.")
    except OAuthError as exc:
        return error_page(exc) if browser else error_response(exc)

    if action == "cancel":
        target = auth.redirect(error="access_denied", error_description="The user denied the authorization.")
        return _respond(browser, target)
    try:
        authorization = await _approve(request, auth, body)
    except OAuthError as exc:
        return consent_page(auth, exc.description, 400) if browser else error_response(exc)
    pending = PendingCode(authorization, auth.redirect_uri, auth.code_challenge, "S256")
    code = await request.app.state.oauth_codes.issue(
        pending,
        never_expires=active(auth.faults, "oauth-code-never-expires"),
        carry_challenge=active(auth.faults, "oauth-code-carries-challenge"),
    )
    status = 307 if active(auth.faults, "consent-redirect-307") else 303
    return _respond(browser, auth.redirect(code=code), code, status)


def _respond(browser: bool, target: str, code: str | None = None, status: int = 303) -> Response:
    """``status`` 307: the fault ``consent-redirect-307`` (the browser would repost the pasted credentials)."""
    if browser:
        return RedirectResponse(target, status, headers=NO_STORE)
    body = {"redirect_to": target} if code is None else {"code": code, "redirect_to": target}
    return JSONResponse(body, headers=NO_STORE)
