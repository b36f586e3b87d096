"""An OAuth client for the conformance checks, over HTTP only: discovery, registration, consent, exchange.

Nothing here imports the reference, so every check built on it runs against the in-process reference,
``serve`` and a live deployment alike. What a check needs from the target comes from its target file:

- ``[oauth]``: whether dynamic client registration is offered (else a pre-registered ``client_id``), the
  redirect URI the suite registers (loopback by default: nothing needs to listen there, the code is read
  from the ``Location`` header), and how consent is given. ``consent = "form"`` (the default) means the
  consent page is a form the suite can post as a browser would: its hidden inputs, the credentials the
  user pastes (``mcp_tokens`` for Option 3, ``service_token`` for a private service in Option 2) and
  ``action=approve``, with ``Origin`` and ``Sec-Fetch-Site: same-origin``. ``consent = "manual"`` (a
  deployment whose consent UI differs) makes every check that needs an authorization code skip.
- ``[mcp_tokens]`` (Option 3) and the private service's ``token`` (Option 2): what the user pastes.
- ``[admin]``: lets a check issue a credential of its own and revoke it (the reference's ``/admin/…``
  surface); without it those checks skip, so nothing in the target file is ever revoked.

Endpoints are found as a connector finds them: from the MCP endpoint's 401 challenge to the RFC 9728
protected-resource metadata, then to the RFC 8414 authorization-server metadata of its issuer.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import mcp.types as types

from spreadapi_conformance.consent import approve
from spreadapi_conformance.oracle import differences, expected_outputs

from ..mcp._support import JSON_RPC_HEADERS, challenge, initialize_message
from ..premise import not_applicable


def excerpt(response: httpx.Response, size: int = 300) -> str:
    return f"HTTP {response.status_code} {response.headers.get('content-type', '')!r} body={response.text[:size]!r}"


# -- what the target file gives ----------------------------------------------------------------------


def oauth_spec(target: Any) -> Any:
    spec = target.spec.oauth
    if spec is None:
        not_applicable("the target file has no [oauth] table (redirect URI, registration): OAuth is not described")
    return spec


def need_form_consent(target: Any) -> None:
    if oauth_spec(target).consent != "form":
        not_applicable(
            'the target file declares [oauth] consent = "manual": the consent page is not the form the '
            "suite can post, so no authorization code can be obtained without a person"
        )


def mcp_token(target: Any) -> str:
    """The MCP token the user pastes for Option 3: ``all`` if the file names one, else the first."""
    tokens = target.spec.mcp_tokens
    if not tokens:
        not_applicable("the target file has no [mcp_tokens]: Option 3's consent needs an MCP token to paste")
    return tokens.get("all") or next(iter(tokens.values()))


def service_token(target: Any, fixture_id: str) -> str | None:
    """What the user pastes for Option 2: the private service's token (None for a public service)."""
    service = target.published(fixture_id)
    if service.public:
        return None
    if not service.token:
        not_applicable(f"the target file gives no token for the private service {service.id!r}")
    return service.token


def trusted_for_pasting(target: Any, authorize_url: str) -> str:
    """``authorize_url``, when the user's pasted credentials may go there: the target's origin, or the
    issuer the file names (``[oauth] issuer``). Otherwise the check cannot run without sending the
    target's secrets to another host, so it does not run."""
    if not target.guard.trusts(authorize_url):
        not_applicable(
            f"the authorization endpoint {authorize_url} is not on the target's origin: the kit pastes no "
            "credential of the target file there (name that authorization server in [oauth] issuer to allow it)"
        )
    return authorize_url


# -- discovery -------------------------------------------------------------------------------------


def well_known(url: str, name: str) -> str:
    """RFC 8414 §3.1 / RFC 9728 §3.1: ``/.well-known/{name}`` inserted between host and path."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{parts.netloc}/.well-known/{name}{path}"


def is_absolute(url: Any) -> bool:
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not parts.fragment


async def get_json(client: httpx.AsyncClient, url: str, what: str) -> dict[str, Any]:
    response = await client.get(url)
    assert response.status_code == 200, f"{what} at {url}: {excerpt(response)}"
    assert response.headers.get("content-type", "").startswith("application/json"), f"{what}: {excerpt(response)}"
    document = response.json()
    assert isinstance(document, dict), f"{what} is not a JSON object: {excerpt(response)}"
    return document


async def challenge_url(client: httpx.AsyncClient, endpoint: str) -> str:
    """The protected-resource metadata URL that the endpoint's 401 names (RFC 9728 §5.1)."""
    denied = await client.post(endpoint, json=initialize_message(), headers=JSON_RPC_HEADERS)
    assert denied.status_code == 401, f"{endpoint} without a credential: expected 401, got {excerpt(denied)}"
    scheme, params = challenge(denied)
    assert scheme.lower() == "bearer", f"the challenge is not Bearer: {denied.headers.get('www-authenticate')!r}"
    assert params.get("resource_metadata"), f"no resource_metadata in {denied.headers.get('www-authenticate')!r}"
    return urljoin(endpoint, params["resource_metadata"])


@dataclass
class Discovered:
    endpoint: str  # the MCP URL the connector was given
    resource: dict[str, Any]  # RFC 9728 protected-resource metadata
    issuer: str
    metadata: dict[str, Any]  # RFC 8414 authorization-server metadata

    @property
    def path(self) -> str:
        return urlsplit(self.endpoint).path

    def endpoint_of(self, name: str) -> str:
        url = self.metadata.get(name)
        if name == "registration_endpoint" and not url:
            not_applicable("the authorization server advertises no registration_endpoint")
        assert is_absolute(url), f"{name} is not an absolute URL: {url!r}"
        return url


async def protected_resource(client: httpx.AsyncClient, endpoint: str, *, challenged: bool = True) -> dict[str, Any]:
    """The endpoint's RFC 9728 document: from its 401 (a private endpoint), else at the well-known URL."""
    url = await challenge_url(client, endpoint) if challenged else well_known(endpoint, "oauth-protected-resource")
    document = await get_json(client, url, "the protected-resource metadata")
    assert document.get("resource") == endpoint, (
        f"resource is {document.get('resource')!r}; RFC 9728 §3.3 wants exactly the MCP URL {endpoint!r}"
    )
    servers = document.get("authorization_servers")
    assert isinstance(servers, list) and servers and all(is_absolute(s) for s in servers), (
        f"authorization_servers must list at least one absolute URL: {servers!r}"
    )
    return document


async def authorization_server(client: httpx.AsyncClient, issuer: str) -> dict[str, Any]:
    """RFC 8414 metadata of ``issuer``, whose ``issuer`` must be identical (§3.3)."""
    document = await get_json(client, well_known(issuer, "oauth-authorization-server"), "the RFC 8414 metadata")
    assert document.get("issuer") == issuer, f"issuer is {document.get('issuer')!r}, fetched for {issuer!r} (§3.3)"
    return document


async def discover(client: httpx.AsyncClient, endpoint: str, *, challenged: bool = True) -> Discovered:
    resource = await protected_resource(client, endpoint, challenged=challenged)
    issuer = resource["authorization_servers"][0]
    return Discovered(endpoint, resource, issuer, await authorization_server(client, issuer))


# Where the seed's authorization server lives, for when discovery fails (the OAUTH-DISC checks say why).
SEED_ENDPOINTS = {
    "authorization_endpoint": "/oauth/authorize",
    "token_endpoint": "/api/oauth/token",
    "registration_endpoint": "/oauth/register",
}
_DISCOVERED: dict[tuple[str, str, bool], Discovered] = {}


async def endpoints(client: httpx.AsyncClient, target: Any, *, strict: bool = False) -> Discovered:
    """Discovery from ``/api/mcp``, once per run, for the checks about what the endpoints do.

    ``strict``: discovery must succeed (the OAUTH-DISC checks). Otherwise a failed discovery falls back
    to the RFC 8414 document at the base URL, then to the seed's paths, so that a broken 401 fails the
    discovery checks and not every check of the authorization server as well."""
    oauth_spec(target)
    endpoint = target.url("mcp")
    key = (target.base_url, endpoint, strict)
    if key in _DISCOVERED:
        return _DISCOVERED[key]
    try:
        found = await discover(client, endpoint)
    except AssertionError:
        if strict:
            raise
        issuer = target.base_url.rstrip("/")
        try:
            metadata = await authorization_server(client, issuer)
        except AssertionError:
            metadata = {name: issuer + path for name, path in SEED_ENDPOINTS.items()}
        found = Discovered(endpoint, {"resource": endpoint, "authorization_servers": [issuer]}, issuer, metadata)
    _DISCOVERED[key] = found
    return found


async def single_service(client: httpx.AsyncClient, target: Any, fixture_id: str) -> Discovered:
    """Discovery from a single-service endpoint: its 401 when private, its well-known URL when public."""
    oauth_spec(target)
    endpoint = target.url("single_service_mcp", fixture=fixture_id)
    return await discover(client, endpoint, challenged=not target.published(fixture_id).public)


# -- registration ------------------------------------------------------------------------------------


def registration_body(redirect_uris: list[str], **metadata: Any) -> dict[str, Any]:
    return {
        "client_name": "spreadapi-conformance",
        "redirect_uris": redirect_uris,
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        **metadata,
    }


async def register(
    client: httpx.AsyncClient, target: Any, found: Discovered, redirect_uris: list[str] | None = None
) -> str:
    """A client_id for the suite's client: registered (RFC 7591), or the file's pre-registered one."""
    spec = oauth_spec(target)
    if not spec.registration:
        if redirect_uris is None and spec.client_id:
            return spec.client_id
        not_applicable("the target file says the server offers no dynamic client registration ([oauth] registration)")
    uris = redirect_uris or [spec.redirect_uri]
    response = await client.post(found.endpoint_of("registration_endpoint"), json=registration_body(uris))
    assert response.status_code == 201, f"registration: expected 201, got {excerpt(response)}"
    client_id = response.json().get("client_id")
    assert isinstance(client_id, str) and client_id, f"registration answered no client_id: {excerpt(response)}"
    return client_id


# -- authorization -----------------------------------------------------------------------------------


def pkce() -> tuple[str, str]:
    """(verifier, S256 challenge), RFC 7636 §4.1-4.2."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorization_params(client_id: str, redirect_uri: str, code_challenge: str, **extra: str | None) -> dict[str, str]:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "code_challenge": code_challenge,
        "code_challenge_method": "S256",
        "state": secrets.token_urlsafe(12),
        **extra,
    }
    return {k: v for k, v in params.items() if v is not None}


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query, keep_blank_values=True).items()}


def same_redirect(location: str, redirect_uri: str) -> bool:
    """``location`` goes to ``redirect_uri`` (scheme, host, port and path), whatever query it carries."""
    a, b = urlsplit(location), urlsplit(redirect_uri)
    return (a.scheme, a.netloc, a.path) == (b.scheme, b.netloc, b.path)


def assert_no_code(response: httpx.Response, redirect_uri: str, errors: tuple[str, ...] = ()) -> None:
    """The request was refused: an error page (4xx), or a redirect to the client carrying an error
    (one of ``errors`` when given), never a code and never a consent page to approve."""
    if response.status_code in (301, 302, 303, 307, 308):
        location = response.headers.get("location", "")
        assert same_redirect(location, redirect_uri), f"redirected elsewhere than the client: {location!r}"
        query = query_of(location)
        assert "code" not in query, f"a code was issued: {location!r}"
        assert "error" in query, f"a redirect without an error: {location!r}"
        if errors:
            assert query["error"] in errors, f"error={query['error']!r}, expected {' or '.join(errors)}"
        return
    assert 400 <= response.status_code < 500, f"expected a 4xx error page or an error redirect, got {excerpt(response)}"


@dataclass
class Grant:
    """An authorization code in hand, and everything needed to redeem it."""

    found: Discovered
    client_id: str
    redirect_uri: str
    verifier: str
    code: str
    params: dict[str, str]  # the authorization request
    answer: dict[str, str]  # the query of the redirect that carried the code (first values)
    location: str = ""  # that redirect
    resource: str | None = None

    def token_request(self, **overrides: str | None) -> dict[str, str]:
        data: dict[str, str | None] = {
            "grant_type": "authorization_code",
            "code": self.code,
            "redirect_uri": self.redirect_uri,
            "client_id": self.client_id,
            "code_verifier": self.verifier,
            "resource": self.resource,
            **overrides,
        }
        return {k: v for k, v in data.items() if v is not None}


async def obtain_code(
    client: httpx.AsyncClient,
    target: Any,
    found: Discovered,
    credentials: dict[str, str],
    *,
    client_id: str | None = None,
    redirect_uri: str | None = None,
    **extra: str | None,
) -> Grant:
    """Register (unless given a client), authorize with PKCE S256, ``state`` and ``resource``, consent."""
    need_form_consent(target)
    redirect_uri = redirect_uri or oauth_spec(target).redirect_uri
    client_id = client_id or await register(client, target, found)
    verifier, code_challenge = pkce()
    extra.setdefault("resource", found.endpoint)
    params = authorization_params(client_id, redirect_uri, code_challenge, **extra)
    authorize_url = found.endpoint_of("authorization_endpoint")
    if credentials:
        trusted_for_pasting(target, authorize_url)
    approved = await approve(client, authorize_url, params, credentials)
    assert approved.status_code in (302, 303), f"approving the consent: expected a redirect, got {excerpt(approved)}"
    location = approved.headers.get("location", "")
    assert same_redirect(location, redirect_uri), f"redirected to {location!r}, not the client's {redirect_uri!r}"
    answer = query_of(location)
    assert "error" not in answer, f"the authorization was refused: {answer}"
    assert answer.get("code"), f"no code in the redirect: {location!r}"
    code = answer["code"]
    return Grant(found, client_id, redirect_uri, verifier, code, params, answer, location, params.get("resource"))


async def redeem(client: httpx.AsyncClient, grant: Grant, **overrides: str | None) -> httpx.Response:
    return await client.post(grant.found.endpoint_of("token_endpoint"), data=grant.token_request(**overrides))


async def access_token(client: httpx.AsyncClient, grant: Grant) -> str:
    response = await redeem(client, grant)
    assert response.status_code == 200, f"the token exchange: {excerpt(response)}"
    token = response.json().get("access_token")
    assert isinstance(token, str) and token, f"no access_token: {excerpt(response)}"
    return token


def assert_oauth_error(response: httpx.Response, *errors: str, statuses: tuple[int, ...] = (400,)) -> dict[str, Any]:
    """RFC 6749 §5.2: the status, a JSON object whose ``error`` is one of ``errors``."""
    assert response.status_code in statuses, (
        f"expected HTTP {' or '.join(map(str, statuses))} with {' or '.join(errors)}, got {excerpt(response)}"
    )
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(f"the error is not JSON: {excerpt(response)}") from None
    assert isinstance(body, dict) and body.get("error") in errors, (
        f"error is {body.get('error') if isinstance(body, dict) else body!r}, expected {' or '.join(errors)}"
    )
    return body


# -- what the token is for -----------------------------------------------------------------------------


def structured(result: Any) -> Any:
    """A tool result's JSON: ``structuredContent``, else the JSON of its first text block."""
    assert not result.is_error, f"the tool answered an error: {result.content}"
    if result.structured_content is not None:
        return result.structured_content
    first = result.content[0] if result.content else None
    assert isinstance(first, types.TextContent), f"expected a text block, got {first!r}"
    return json.loads(first.text)


def oracle_problem(fixture_id: str, case: dict[str, Any], body: Any) -> str | None:
    """None when the outputs in ``body`` equal the oracle's for the golden case, else what differs."""
    outputs = {o["name"]: o["value"] for o in (body or {}).get("outputs", [])}
    diff = differences(outputs, expected_outputs(fixture_id, case["cells"]))
    return f"{fixture_id}: {case['title']}: outputs differ {{name: (server, oracle)}}: {diff}" if diff else None


def granted_fixtures(target: Any, listing: Any) -> list[str]:
    """The fixture services the target publishes among those a ``spreadapi_list_services`` result names
    (read from its JSON, or failing that found in its text), in the target file's order."""
    text = "\n".join(b.text for b in listing.content if isinstance(b, types.TextContent))
    document = listing.structured_content
    if document is None:
        try:
            document = json.loads(text)
        except ValueError:
            document = None
    if isinstance(document, dict) and isinstance(document.get("services"), list):
        named = {s.get("id") for s in document["services"] if isinstance(s, dict)}
    else:
        named = {s.id for s in target.spec.services.values() if s.id in text}
    found = [fixture_id for fixture_id, service in target.spec.services.items() if service.id in named]
    assert found, f"the token grants none of the target file's services: {text[:300]!r}"
    return found


async def initialize_with(client: httpx.AsyncClient, url: str, token: str) -> httpx.Response:
    """A raw ``initialize`` on an MCP endpoint with a bearer token."""
    headers = {**JSON_RPC_HEADERS, "Authorization": f"Bearer {token}"}
    return await client.post(url, json=initialize_message(), headers=headers)


def assert_invalid_token(response: httpx.Response, why: str) -> None:
    assert response.status_code == 401, f"{why}: expected 401, got {excerpt(response)}"
    scheme, params = challenge(response)
    assert scheme.lower() == "bearer" and params.get("error") == "invalid_token", (
        f'{why}: the challenge is {response.headers.get("www-authenticate")!r}, expected error="invalid_token"'
    )
