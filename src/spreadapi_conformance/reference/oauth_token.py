"""The token endpoint, ``POST /api/oauth/token``: the authorization-code grant with PKCE (RFC 6749
§4.1.3, RFC 7636 §4.5), form-encoded or JSON bodies, errors per RFC 6749 §5.2.

The code is taken from the store (HGETALL+DEL in one step) before anything in it is compared, so
of any number of concurrent exchanges exactly one can succeed, and every failed attempt with an
existing code burns it: a wrong or missing ``code_verifier``, another client's ``client_id``, a
different ``redirect_uri``. (SpreadAPI keeps the code on a client or redirect mismatch and redeems
it with a GET-then-DELETE, which lets two concurrent exchanges both succeed.)
"""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import timedelta

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .faults import active
from .oauth import (
    ACCESS_TOKEN_TTL,
    NO_STORE,
    OAuthError,
    error_response,
    mcp_resource,
    read_params,
    text_param,
    verifier_matches,
)
from .rest import base_url

__all__ = ["token", "token_wrong_method"]

_AUTH_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]{0,31}")  # an RFC 9110 token, echoed back
_PARAMS = ("grant_type", "code", "redirect_uri", "client_id", "code_verifier", "resource", "client_secret")


def _grant_error(description: str) -> OAuthError:
    return OAuthError("invalid_grant", description)


async def _exchange(request: Request) -> dict[str, object]:
    body = await read_params(request, _PARAMS)
    if active(request, "oauth-strict-parameters") and (unknown := sorted(set(body) - set(_PARAMS))):
        raise OAuthError("invalid_request", f"Unknown parameter: {', '.join(unknown)[:200]}")
    params = {name: text_param(body, name) for name in _PARAMS}
    grant_type = params["grant_type"]
    if active(request, "oauth-grant-type-unchecked"):
        pass  # the bug: every request is taken for an authorization_code exchange
    elif grant_type is None:
        raise OAuthError("invalid_request", "grant_type is required")
    elif grant_type != "authorization_code":
        raise OAuthError("unsupported_grant_type", "Only the authorization_code grant type is supported")
    if request.headers.get("authorization") or params["client_secret"]:
        # Public clients only: a client presenting a secret is not one this server registered. One that
        # tried the Authorization header gets 401 and a challenge in its scheme (RFC 6749 §5.2).
        sent = request.headers.get("authorization", "").split(" ")[0]
        scheme = sent if _AUTH_SCHEME.fullmatch(sent) else "Basic"
        headers = {"WWW-Authenticate": f'{scheme} realm="oauth"'} if request.headers.get("authorization") else {}
        if active(request, "oauth-basic-auth-no-challenge"):
            raise OAuthError("invalid_client", "Client authentication failed")  # the generic 400 error path
        raise OAuthError("invalid_client", "Clients of this server are public and have no secret", 401, headers)
    for name in ("code", "redirect_uri", "client_id"):
        if params[name] is None:
            raise OAuthError("invalid_request", f"{name} is required")
    client_id = params["client_id"]
    if await request.app.state.oauth_clients.get(client_id) is None:
        raise OAuthError("invalid_client", "Unknown client_id: register again", 401)

    kept_until_success = active(request, "oauth-code-kept-on-failure")
    keep = active(request, "oauth-code-reusable") or kept_until_success
    carries = active(request, "oauth-code-carries-challenge")
    pending = await request.app.state.oauth_codes.take(params["code"], keep=keep, carries_challenge=carries)
    if pending is None:
        raise _grant_error("Invalid, expired, or already used authorization code")
    # From here on the code is spent, whatever the outcome (but under the fault oauth-code-kept-on-failure).
    authorization = pending.authorization
    if authorization.client_id != client_id and not active(request, "oauth-code-not-bound-to-client"):
        raise _grant_error("The code was issued to another client")
    if pending.redirect_uri != params["redirect_uri"] and not active(request, "oauth-redirect-not-compared"):
        raise _grant_error("redirect_uri does not match the authorization request")
    if active(request, "oauth-pkce-not-verified"):
        pass
    elif body.get("code_verifier") == "" and active(request, "oauth-empty-verifier-skips-pkce"):
        pass  # the bug: an empty verifier is read as "this client does not do PKCE"
    elif params["code_verifier"] is None:
        if not active(request, "oauth-verifier-optional"):  # the fault: PKCE only for clients that send one
            raise _grant_error("code_verifier is required (PKCE)")
    elif pending.code_challenge_method != "S256" or not verifier_matches(
        params["code_verifier"], pending.code_challenge
    ):
        raise _grant_error("PKCE verification failed")
    unchecked = active(request, "oauth-foreign-resource-accepted")  # the bug: the resource is never compared
    if params["resource"] is not None and params["resource"] != authorization.resource and not unchecked:
        raise OAuthError("invalid_target", "resource differs from the one in the authorization request")
    if await request.app.state.oauth_tokens.still_valid(authorization) is None:
        raise _grant_error("The credentials behind this authorization were revoked")

    if kept_until_success:
        await request.app.state.oauth_codes.take(params["code"])  # the bug: spent only now, on success
    if active(request, "oauth-token-bound-to-mcp"):
        authorization = dataclasses.replace(authorization, resource=mcp_resource(base_url(request)))
    access_token = await request.app.state.oauth_tokens.issue(authorization)
    lifetime = timedelta(seconds=ACCESS_TOKEN_TTL)
    expires_in = lifetime.total_seconds() if active(request, "oauth-expires-in-float") else ACCESS_TOKEN_TTL
    answer: dict[str, object] = {"access_token": access_token, "token_type": "Bearer", "expires_in": expires_in}
    if not active(request, "oauth-unknown-scope-dropped"):  # the bug: "the client gets the scope it asked for"
        answer["scope"] = authorization.scope
    return answer


async def token(request: Request) -> Response:
    try:
        body = await _exchange(request)
    except OAuthError as exc:
        if exc.status == 400 and active(request, "oauth-token-errors-401"):
            exc.status = 401
        return error_response(exc)
    headers = {} if active(request, "oauth-token-response-cacheable") else NO_STORE
    if active(request, "oauth-token-type-appended"):
        # The bug: a compatibility shim for old clients that want it in lower case appends token_type to the
        # JSON text already written, which names it a second time.
        text = json.dumps(body, separators=(",", ":"))[:-1] + ',"token_type":"bearer"}'
        return Response(text, media_type="application/json", headers=headers)
    return JSONResponse(body, headers=headers)


async def token_wrong_method(request: Request) -> Response:
    exc = OAuthError("invalid_request", "The token endpoint accepts POST only", 405, {"Allow": "POST"})
    return error_response(exc)
