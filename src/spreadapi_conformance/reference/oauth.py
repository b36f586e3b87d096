"""Shared pieces of the reference OAuth 2.1 authorization server (behaviour reference, section 4).

The endpoints live in one module per family: ``oauth_metadata`` (RFC 8414 / RFC 9728 discovery),
``oauth_register`` (RFC 7591 registration), ``oauth_authorize`` (consent page and code issuance),
``oauth_token`` (code exchange); the store records in ``oauth_grants``. This module holds what they
share: lifetimes and scopes, PKCE, the redirect-URI policy, request-body parsing and error replies.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse

from .bodies import BodyError, parse_json_object
from .faults import active

__all__ = [
    "ACCESS_TOKEN_TTL",
    "CLAUDE_REDIRECT_URIS",
    "CLIENT_TTL",
    "DEFAULT_SCOPE",
    "FORM",
    "MCP_SCOPES",
    "NO_STORE",
    "OAuthError",
    "add_query",
    "challenge_problem",
    "error_response",
    "mcp_resource",
    "media_type",
    "pkce_s256",
    "read_params",
    "redirect_matches",
    "redirect_problem",
    "service_resource",
    "service_scope",
    "text_param",
    "unique",
    "verifier_matches",
]

ACCESS_TOKEN_TTL = 43_200  # s (12 h), as SpreadAPI
CLIENT_TTL = 30 * 86_400  # s; a registration SpreadAPI keeps for 30 days

MCP_SCOPES = ("mcp:read", "mcp:write")
DEFAULT_SCOPE = " ".join(MCP_SCOPES)

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def service_scope(service_id: str) -> str:
    return f"spapi:service:{service_id}:execute"


def mcp_resource(base: str) -> str:
    """The multi-service MCP URL: the RFC 8707 resource of a multi-service grant."""
    return f"{base}/api/mcp"


def service_resource(base: str, service_id: str) -> str:
    """The single-service MCP URL (the seed's Option 2, plural ``services`` as on branch single-mcp)."""
    return f"{base}/api/mcp/services/{service_id}"


class OAuthError(Exception):
    """An OAuth error reply: ``error`` from the RFC registries, a human ``description``, a status."""

    def __init__(self, error: str, description: str, status: int = 400, headers: dict[str, str] | None = None):
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status
        self.headers = headers or {}


def error_response(exc: OAuthError) -> JSONResponse:
    """RFC 6749 §5.2: a JSON object with ``error`` and ``error_description``, never cached."""
    body = {"error": exc.error, "error_description": exc.description}
    return JSONResponse(body, exc.status, headers={**NO_STORE, **exc.headers})


# -- PKCE (RFC 7636) -----------------------------------------------------------------------------

_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43,128}")  # base64url, unpadded; S256 yields exactly 43
_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")  # RFC 7636 §4.1


def pkce_s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def challenge_problem(challenge: str | None, method: str | None) -> str | None:
    """Why a code challenge is unacceptable, or None. Only S256; a missing method means plain (§4.3)."""
    if not challenge:
        return "code_challenge is required (PKCE)"
    if not method:
        return "code_challenge_method is required and must be S256 (a missing method means plain)"
    if method != "S256":
        return "code_challenge_method must be S256"
    if not _CHALLENGE.fullmatch(challenge):
        return "code_challenge must be 43 to 128 base64url characters"
    return None


def verifier_matches(verifier: str | None, challenge: str) -> bool:
    if not verifier or not _VERIFIER.fullmatch(verifier):
        return False
    return hmac.compare_digest(pkce_s256(verifier), challenge)


# -- redirect URIs ---------------------------------------------------------------------------------

CHATGPT_REDIRECT_URIS = ("https://chatgpt.com/connector_platform_oauth_redirect",)
# ChatGPT's per-connector callback: one opaque path segment after /connector/oauth/.
_CHATGPT_CONNECTOR = re.compile(r"https://chatgpt\.com/connector/oauth/[A-Za-z0-9_-]{1,128}")
CLAUDE_REDIRECT_URIS = ("https://claude.ai/api/mcp/auth_callback", "https://claude.com/api/mcp/auth_callback")
# RFC 8252 §7.3 loopback redirects: any port, any path; the host is compared literally.
_LOOPBACK = re.compile(r"http://(127\.0\.0\.1|localhost|\[::1\])(?::(\d{1,5}))?([/?][^#]*)?")
_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")


def _loopback(uri: str) -> tuple[str, str] | None:
    """(host, path and query) of a loopback redirect URI, without its port; None if not loopback."""
    match = _LOOPBACK.fullmatch(uri)
    if match is None or (match.group(2) and int(match.group(2)) > 65535):
        return None
    return match.group(1), match.group(3) or ""


def _prefix_allows(entry: str, uri: str) -> bool:
    """An allowlist prefix ("…*") matches on exact scheme and host, then a path prefix."""
    prefix, candidate = urlsplit(entry[:-1]), urlsplit(uri)
    if (candidate.scheme, candidate.netloc) != (prefix.scheme, prefix.netloc) or not prefix.netloc:
        return False
    lowered = candidate.path.lower()
    if "/../" in f"{lowered}/" or "/./" in f"{lowered}/" or "%2e" in lowered or "%2f" in lowered:
        return False  # no traversal out of the allowed prefix, plain or encoded
    return candidate.path.startswith(prefix.path or "/")


def redirect_problem(
    uri: object, allowlist: tuple[str, ...] = (), *, http_anywhere: bool = False, https_only: bool = False
) -> str | None:
    """Why a redirect URI may not be registered, or None when it may. Never echoes the URI.

    ``http_anywhere``: the fault ``oauth-http-redirect-accepted`` (any http URI, as for a developer's machine);
    ``https_only``: the fault ``oauth-loopback-redirect-refused`` (no http, not even on loopback)."""
    if not isinstance(uri, str) or not uri:
        return "must be a non-empty string"
    if len(uri) > 2048 or _UNSAFE.search(uri):
        return "must be an absolute URI of at most 2048 characters without spaces or control characters"
    if "#" in uri:
        return "must not contain a fragment (RFC 6749 §3.1.2)"
    parts = urlsplit(uri)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        return "must be an absolute https URI (or http on a loopback address)"
    if "@" in parts.netloc:
        return "must not contain user information"
    if https_only and parts.scheme != "https":
        return "must be an https URI"
    if _loopback(uri) is not None or (http_anywhere and parts.scheme == "http"):
        return None
    if parts.scheme != "https":
        return "http is allowed only on loopback addresses (127.0.0.1, localhost, [::1])"
    if uri in CHATGPT_REDIRECT_URIS or uri in CLAUDE_REDIRECT_URIS or _CHATGPT_CONNECTOR.fullmatch(uri):
        return None
    for entry in allowlist:
        if uri == entry or (entry.endswith("*") and _prefix_allows(entry, uri)):
            return None
    return "is not one this server accepts (ChatGPT's, Claude's, loopback, or the configured allowlist)"


def redirect_matches(registered: tuple[str, ...], presented: str) -> bool:
    """Exact string match (RFC 9700 §2.1), except the port of a loopback URI (RFC 8252 §7.3)."""
    if presented in registered:
        return True
    loop = _loopback(presented)
    return loop is not None and any(_loopback(r) == loop for r in registered)


def add_query(uri: str, params: dict[str, str | None]) -> str:
    """The redirect URI with ``params`` appended, keeping its own query as registered."""
    extra = urlencode({k: v for k, v in params.items() if v is not None})
    if not extra:
        return uri
    separator = "&" if "?" in uri else "?"
    if uri.endswith(("?", "&")):
        separator = ""
    return f"{uri}{separator}{extra}"


# -- request bodies ------------------------------------------------------------------------------

FORM = "application/x-www-form-urlencoded"


async def _read_limited(request: Request, limit: int) -> bytes:
    too_large = OAuthError("invalid_request", f"The request body is larger than {limit} bytes.", 413)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise too_large
    return bytes(raw)


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def read_params(
    request: Request, known: tuple[str, ...] = (), *, json_ok: bool = True, form_ok: bool = True
) -> dict[str, Any]:
    """The body as a dict: form-encoded or JSON. A bad body, or a ``known`` parameter sent twice in a
    form, raises ``OAuthError``; unknown parameters are kept and ignored by the caller (RFC 6749 §3.1)."""
    kind = media_type(request)
    accepted = [t for t, ok in ((FORM, form_ok), ("application/json", json_ok)) if ok]
    if kind not in accepted:
        raise OAuthError("invalid_request", f"The body must be {' or '.join(accepted)}.")
    raw = await _read_limited(request, request.app.state.config.oauth_max_body_bytes)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise OAuthError("invalid_request", "The body is not UTF-8.") from None
    if kind == FORM:
        try:
            pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), errors="strict")
        except (ValueError, UnicodeDecodeError):
            raise OAuthError("invalid_request", "The form-encoded body is malformed.") from None
        if active(request, "oauth-repeated-parameters-accepted"):
            return dict(pairs)  # the bug: a plain dict, where the last of a repeated parameter wins
        return unique(pairs, known)
    try:
        return parse_json_object(text)
    except BodyError as exc:
        raise OAuthError("invalid_request", str(exc)) from None


def unique(pairs: list[tuple[str, str]], known: tuple[str, ...]) -> dict[str, str]:
    """RFC 6749 §3.1: a parameter must not be sent more than once. Of a repeated unknown one, the first wins."""
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            if name in known:
                raise OAuthError("invalid_request", f"The parameter {name} is repeated.")
            continue
        params[name] = value
    return params


def text_param(params: dict[str, Any], name: str) -> str | None:
    """A string parameter; missing, null and empty all mean absent. Any other JSON type is an error."""
    value = params.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise OAuthError("invalid_request", f"The parameter {name!r} must be a string.")
    return value
