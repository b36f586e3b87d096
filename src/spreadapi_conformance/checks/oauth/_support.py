"""An OAuth client for the conformance checks, over HTTP only: discovery, registration, consent, exchange.

Nothing here imports the reference, so every check built on it runs against the in-process reference,
``serve`` and a live deployment alike. What a check needs from the target comes from its target file:

- ``[oauth]``: whether dynamic client registration is offered (else a pre-registered ``client_id``), the
  redirect URI the kit registers (loopback by default: nothing needs to listen there, the code is read
  from the ``Location`` header), and how the user's part is played (``consent``: ``form``, ``auto``,
  ``login``, ``json``; :mod:`spreadapi_conformance.consent`). ``consent = "manual"`` makes every check
  that needs an authorization code not applicable.
- what the user pastes: an MCP token of ``[mcp_tokens]`` (Option 3), the private service's ``token``
  (Option 2), nothing for a public service or an MCP server that is not SpreadAPI.
- ``[admin]``: lets a check issue a credential of its own and revoke it (the reference's ``/admin/…``
  surface); without it those checks do not apply, so nothing in the target file is ever revoked.

**Which MCP server is authorized for** (:func:`resources`): the endpoints of the options the target
claims, in this order: Option 3's ``/api/mcp`` with an MCP token to paste; the one MCP endpoint of a target
whose ``[paths]`` gives ``single_service_mcp`` as a fixed path; a public service's single-service endpoint;
the private service's with its token. The checks of the authorization server itself (discovery, the token
endpoint, state and iss) use the first; a deployment that claims only Option 2 is checked through its
single-service endpoints.

Endpoints are found as a connector finds them: from the MCP endpoint's 401 challenge (or, for a public
endpoint, its RFC 9728 well-known URL) to the protected-resource metadata, then to the RFC 8414
authorization-server metadata of its issuer.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
import json
import re
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote_to_bytes, urljoin, urlsplit

import httpx
import mcp.types as types

from spreadapi_conformance.consent import PASTING, Authorized, authorize, code_for_paste
from spreadapi_conformance.oracle import differences, expected_outputs

from ..answers import excerpt, json_object
from ..mcp._support import JSON_RPC_HEADERS, challenge, initialize_message
from ..premise import control_failed, not_applicable

if TYPE_CHECKING:
    from ..target import Target


MULTI, SINGLE = "chatgpt-multi-oauth", "chatgpt-single-oauth"
REDIRECTS = (301, 302, 303, 307, 308)


# -- what the target file gives ----------------------------------------------------------------------


def oauth_spec(target: Target) -> Any:
    spec = target.spec.oauth
    if spec is None:
        not_applicable("the target file has no [oauth] table: OAuth is not described")
    return spec


def consent_premise(target: Target) -> None:
    """Premise of every check that needs an authorization code: the kit can play the user's part."""
    if oauth_spec(target).consent == "manual":
        not_applicable('the target file declares [oauth] consent = "manual": no code can be obtained without a person')


def claims(target: Target, option: str) -> bool:
    return option in (target.spec.claims or (option,))


def mcp_token(target: Target) -> str:
    """The MCP token the user pastes for Option 3: ``all`` if the file names one, else the first."""
    tokens = target.spec.mcp_tokens
    if not tokens:
        not_applicable("the target file has no [mcp_tokens]: Option 3's consent needs an MCP token to paste")
    return tokens.get("all") or next(iter(tokens.values()))


def service_token(target: Target, fixture_id: str) -> str | None:
    """What the user pastes for Option 2: the private service's token (None for a public service)."""
    service = target.published(fixture_id)
    if service.public:
        return None
    if not service.token:
        not_applicable(f"the target file gives no token for the private service {service.id!r}")
    return service.token


def trusted_for_pasting(target: Target, authorize_url: str) -> str:
    """``authorize_url``, when the user's pasted credentials may go there: the target's origin, or the
    issuer the file names (``[oauth] issuer``). Otherwise the check cannot run without sending the
    target's secrets to another host, so it does not apply."""
    if not target.guard.trusts(authorize_url):
        not_applicable(
            f"the authorization endpoint {authorize_url} is not on the target's origin: the kit pastes no "
            "credential of the target file there (name that authorization server in [oauth] issuer to allow it)"
        )
    return authorize_url


@dataclass(frozen=True)
class Resource:
    """An MCP server of the target a connector can be authorized for, and what the user pastes for it."""

    option: str  # MULTI or SINGLE
    path: str
    what: str  # for messages
    pasted: dict[str, str] = field(default_factory=dict, repr=False)
    params: dict[str, str] = field(default_factory=dict)  # extra authorization parameters (service_id)
    challenged: bool = True  # its metadata is found from its 401 (else at the RFC 9728 well-known URL)
    fixture: str | None = None  # the fixture service it computes (None: several, or not SpreadAPI)


def resources(target: Target) -> list[Resource]:
    """The MCP servers the kit can be authorized for, in the order the module docstring gives."""
    found: list[Resource] = []
    spec = target.spec
    if claims(target, MULTI) and spec.mcp_tokens:
        found.append(Resource(MULTI, target.path("mcp"), "/api/mcp (Option 3)", {"mcp_tokens": mcp_token(target)}))
    if claims(target, SINGLE):
        fixed = spec.paths.get("single_service_mcp") or ""
        if fixed and "{id}" not in fixed:
            found.append(Resource(SINGLE, fixed, f"the MCP endpoint {fixed}"))
        for service in sorted(spec.services.values(), key=lambda s: not s.public):
            if not service.public and not service.token:
                continue
            found.append(
                Resource(
                    SINGLE,
                    target.path("single_service_mcp", id=service.id),
                    f"the single-service endpoint of {service.id!r} (Option 2)",
                    {"service_token": service.token} if not service.public else {},
                    {"service_id": service.id},
                    challenged=not service.public,
                    fixture=service.fixture,
                )
            )
    return found


def first_resource(target: Target, option: str | None = None) -> Resource:
    candidates = [r for r in resources(target) if option is None or r.option == option]
    if not candidates:
        not_applicable(
            "no MCP server the kit can be authorized for: the target claims neither Option 3 with [mcp_tokens] "
            "nor Option 2 with a fixed [paths] single_service_mcp or a published service"
        )
    return candidates[0]


def single_service_resource(target: Target, fixture_id: str) -> Resource:
    found = [r for r in resources(target) if r.fixture == fixture_id]
    if not found:
        target.published(fixture_id)  # not applicable when the file does not publish it
        service_token(target, fixture_id)  # ... or gives no token for it
        not_applicable(f"the target does not claim Option 2 for {fixture_id!r}")
    return found[0]


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
    return json_object(response)


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
    """The endpoint's RFC 9728 document: from its 401 (a protected endpoint), else at the well-known URL."""
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


async def discovered(
    client: httpx.AsyncClient, target: Target, resource: Resource, *, strict: bool = False
) -> Discovered:
    """Discovery from ``resource``'s endpoint, once per run.

    ``strict``: discovery must succeed (the OAUTH-DISC checks). Otherwise a failed discovery falls back to
    the RFC 8414 document at the base URL, then to the seed's paths, so that a broken 401 fails the
    discovery checks and not every check of the authorization server as well."""
    oauth_spec(target)
    endpoint = target.base_url.rstrip("/") + resource.path
    key = (target.base_url, endpoint, strict)
    if key in _DISCOVERED:
        return _DISCOVERED[key]
    try:
        found = await discover(client, endpoint, challenged=resource.challenged)
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


async def endpoints(client: httpx.AsyncClient, target: Target, *, strict: bool = False) -> Discovered:
    """The authorization server as the first resource (:func:`resources`) leads to it."""
    oauth_spec(target)
    return await discovered(client, target, first_resource(target), strict=strict)


async def single_service(client: httpx.AsyncClient, target: Target, fixture_id: str) -> Discovered:
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
    client: httpx.AsyncClient,
    target: Target,
    found: Discovered,
    redirect_uris: list[str] | None = None,
    **metadata: Any,
) -> str:
    """A client_id for the kit's client: registered (RFC 7591, with ``metadata`` besides the kit's own), or the
    file's pre-registered one."""
    spec = oauth_spec(target)
    if not spec.registration:
        if redirect_uris is None and not metadata and spec.client_id:
            return spec.client_id
        not_applicable("the target file says the server offers no dynamic client registration ([oauth] registration)")
    uris = redirect_uris or [spec.redirect_uri]
    response = await client.post(found.endpoint_of("registration_endpoint"), json=registration_body(uris, **metadata))
    assert response.status_code == 201, f"registration: expected 201, got {excerpt(response)}"
    client_id = json_object(response).get("client_id")
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


def requested_scope(found: Discovered) -> str | None:
    """The scope a connector asks for: every scope the protected resource lists (MCP 2025-11-25, Scope
    Selection Strategy, when the challenge names none), or none at all."""
    scopes = found.resource.get("scopes_supported")
    if isinstance(scopes, list) and scopes and all(isinstance(s, str) for s in scopes):
        return " ".join(scopes)
    return None


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query, keep_blank_values=True).items()}


def redirect_parameters(location: str) -> dict[str, str]:
    """The parameters a redirect carries back: its query, and its fragment (RFC 6749 §4.2.2.1 returns the
    errors of an implicit-grant request there)."""
    parts = urlsplit(location)
    found = {k: v[0] for k, v in parse_qs(parts.fragment, keep_blank_values=True).items()}
    found.update(query_of(location))
    return found


def same_redirect(location: str, redirect_uri: str) -> bool:
    """``location`` goes to ``redirect_uri`` (scheme, host, port and path), whatever query it carries."""
    a, b = urlsplit(location), urlsplit(redirect_uri)
    return (a.scheme, a.netloc, a.path) == (b.scheme, b.netloc, b.path)


def refused(response: httpx.Response, redirect_uri: str) -> bool:
    """The authorization request was refused: an error redirect to the client, or an error page."""
    if response.status_code in REDIRECTS:
        location = response.headers.get("location", "")
        return same_redirect(location, redirect_uri) and "error" in redirect_parameters(location)
    return response.status_code >= 400


_HREF = re.compile(r"""href\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)


def refusal_error(response: httpx.Response, redirect_uri: str) -> str | None:
    """The error code a refusal tells the client: the ``error`` of its redirect, or of the link back to the
    client that an error page offers (the reference's, SpreadAPI's); None when it tells none."""
    if response.status_code in REDIRECTS:
        return redirect_parameters(response.headers.get("location", "")).get("error")
    for match in _HREF.finditer(response.text):
        link = html.unescape(match.group(1) or match.group(2) or "")
        if same_redirect(link, redirect_uri) and redirect_parameters(link).get("error"):
            return redirect_parameters(link)["error"]
    return None


def assert_no_code(response: httpx.Response, redirect_uri: str, errors: tuple[str, ...] = ()) -> None:
    """The request was refused: an error page (4xx), or a redirect to the client carrying an error
    (one of ``errors`` when given), never a code and never a consent page to approve."""
    if response.status_code in REDIRECTS:
        location = response.headers.get("location", "")
        assert same_redirect(location, redirect_uri), f"redirected elsewhere than the client: {location!r}"
        answer = redirect_parameters(location)
        assert "code" not in answer and "access_token" not in answer, f"a code or token was issued: {location!r}"
        assert "error" in answer, f"a redirect without an error: {location!r}"
        if errors:
            assert answer["error"] in errors, f"error={answer['error']!r}, expected {' or '.join(errors)}"
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
    by_server: bool = True  # False: the consent page's script built the redirect (consent = json)

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
    target: Target,
    found: Discovered,
    credentials: dict[str, str],
    *,
    client_id: str | None = None,
    redirect_uri: str | None = None,
    **extra: str | None,
) -> Grant:
    """Register (unless given a client), authorize with PKCE S256, ``state`` and ``resource``, consent as
    the target file says (:mod:`spreadapi_conformance.consent`)."""
    consent_premise(target)
    spec = oauth_spec(target)
    redirect_uri = redirect_uri or spec.redirect_uri
    client_id = client_id or await register(client, target, found)
    verifier, code_challenge = pkce()
    extra.setdefault("resource", found.endpoint)
    extra.setdefault("scope", requested_scope(found))
    params = authorization_params(client_id, redirect_uri, code_challenge, **extra)
    authorize_url = found.endpoint_of("authorization_endpoint")
    if credentials or spec.consent == "login":
        trusted_for_pasting(target, authorize_url)
    authorized = await play_consent(client, target, authorize_url, params, credentials, redirect_uri)
    location = authorized.location
    assert same_redirect(location, redirect_uri), f"redirected to {location!r}, not the client's {redirect_uri!r}"
    answer = query_of(location)
    assert "error" not in answer, f"the authorization was refused: {answer}"
    assert answer.get("code"), f"no code in the redirect: {location!r}"
    return Grant(
        found,
        client_id,
        redirect_uri,
        verifier,
        answer["code"],
        params,
        answer,
        location,
        params.get("resource"),
        authorized.by_server,
    )


async def control_grant(
    client: httpx.AsyncClient, target: Target, resource: Resource, **changes: str | None
) -> Discovered:
    """Discovery for ``resource``, and the control: the same flow with what the target file gives (and
    ``changes``) gets a code, so a refusal of the varied flow is due to the variation; else not run."""
    found = await discovered(client, target, resource)
    try:
        await obtain_code(client, target, found, resource.pasted, **{**resource.params, **changes})
    except AssertionError as exc:
        control_failed(f"the flow without the variation gets no code either: {exc}")
    return found


async def paste_at_consent(
    client: httpx.AsyncClient, target: Target, found: Discovered, credentials: dict[str, str], **extra: str | None
) -> tuple[str | None, httpx.Response]:
    """Authorize as :func:`obtain_code` does, pasting ``credentials`` at the consent: the code issued for
    them (None: refused) and the answer. Premise: the target's consent is one where the user pastes."""
    spec = oauth_spec(target)
    if spec.consent not in PASTING:
        not_applicable(f"the target's consent is {spec.consent!r}: the user pastes no credential for it to judge")
    client_id = await register(client, target, found)
    _, code_challenge = pkce()
    extra.setdefault("resource", found.endpoint)
    extra.setdefault("scope", requested_scope(found))
    params = authorization_params(client_id, spec.redirect_uri, code_challenge, **extra)
    authorize_url = trusted_for_pasting(target, found.endpoint_of("authorization_endpoint"))
    return await code_for_paste(
        client,
        authorize_url,
        params,
        credentials,
        mode=spec.consent,
        redirect_uri=spec.redirect_uri,
        consent_endpoint=spec.consent_endpoint,
    )


async def play_consent(
    client: httpx.AsyncClient,
    target: Target,
    authorize_url: str,
    params: dict[str, str] | None,
    credentials: dict[str, str],
    redirect_uri: str | None = None,
) -> Authorized:
    """The user's part of one authorization, as the target file's ``[oauth] consent`` says it is played."""
    spec = oauth_spec(target)
    return await authorize(
        client,
        authorize_url,
        params,
        credentials,
        mode=spec.consent,
        redirect_uri=redirect_uri or spec.redirect_uri,
        login=spec.login,
        consent_endpoint=spec.consent_endpoint,
        trusted=target.guard.trusts,
    )


async def grant_for(client: httpx.AsyncClient, target: Target, resource: Resource, **extra: str | None) -> Grant:
    """A code for ``resource``: discovery from its endpoint, then :func:`obtain_code` with what it pastes."""
    found = await discovered(client, target, resource)
    return await obtain_code(client, target, found, resource.pasted, **resource.params, **extra)


async def any_grant(client: httpx.AsyncClient, target: Target, **extra: str | None) -> Grant:
    """A code for the first resource: what the checks of the authorization server itself redeem."""
    return await grant_for(client, target, first_resource(target), **extra)


async def redeem(client: httpx.AsyncClient, grant: Grant, **overrides: str | None) -> httpx.Response:
    return await client.post(grant.found.endpoint_of("token_endpoint"), data=grant.token_request(**overrides))


async def access_token(client: httpx.AsyncClient, grant: Grant) -> str:
    response = await redeem(client, grant)
    assert response.status_code == 200, f"the token exchange: {excerpt(response)}"
    token = json_object(response).get("access_token")
    assert isinstance(token, str) and token, f"no access_token: {excerpt(response)}"
    return token


def repeated_members(text: str) -> list[str]:
    """The members a JSON document names more than once in one object (at any depth), in order."""
    repeated: list[str] = []

    def collect(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        names = [name for name, _ in pairs]
        repeated.extend(name for index, name in enumerate(names) if name in names[:index])
        return dict(pairs)

    try:
        json.loads(text, object_pairs_hook=collect)
    except (ValueError, RecursionError):
        raise AssertionError(f"the body is not JSON: {text[:300]!r}") from None
    return repeated


def _base64_decodings(text: str) -> list[bytes]:
    """``text`` and each of its parts between separators, base64-decoded (either alphabet) from each of the
    four alignments: a value encoded inside a longer one shows up in one of them."""
    decoded: list[bytes] = []
    for part in {text, *re.split(r"[.~:,;|]", text)}:
        cleaned = part.replace("+", "-").replace("/", "_").rstrip("=")
        for offset in range(4):
            chunk = cleaned[offset:]
            if len(chunk) % 4 == 1:  # one character too many to be base64: drop it
                chunk = chunk[:-1]
            try:
                decoded.append(base64.urlsafe_b64decode(chunk + "=" * (-len(chunk) % 4)))
            except (binascii.Error, ValueError):
                continue
    return decoded


def challenge_exposure(redirect: str, code: str, code_challenge: str) -> str | None:
    """Where the authorization response lets anyone read the PKCE challenge, or None: the challenge itself,
    its SHA-256 bytes (raw, hex, base64) in the redirect or the code, or in anything the code decodes to."""
    digest = base64.urlsafe_b64decode(code_challenge + "=" * (-len(code_challenge) % 4))
    forms = {
        "the code_challenge": code_challenge.encode(),
        "the challenge's bytes": digest,
        "the challenge's bytes in hex": digest.hex().encode(),
        "the challenge's bytes in HEX": digest.hex().upper().encode(),
        "the challenge's bytes in base64": base64.b64encode(digest).rstrip(b"="),
    }
    places = [("the code", code.encode())]
    places += [("the code, base64-decoded,", blob) for blob in _base64_decodings(code)]
    places.append(("the redirect", unquote_to_bytes(redirect)))
    for place, blob in places:
        for form, value in forms.items():
            if value in blob:
                return f"{place} carries {form}"
    return None


CLIENT_ERRORS = tuple(range(400, 500))


def assert_oauth_error(
    response: httpx.Response, *errors: str, statuses: tuple[int, ...] = CLIENT_ERRORS
) -> dict[str, Any]:
    """RFC 6749 §5.2: a refusal (by default any 4xx: §5.2 describes 400 without a keyword, OAUTH-TOKEN-010
    holds servers to it), a JSON object whose ``error`` is one of ``errors``."""
    wanted = "4xx" if statuses == CLIENT_ERRORS else " or ".join(map(str, statuses))
    assert response.status_code in statuses, (
        f"expected HTTP {wanted} with {' or '.join(errors)}, got {excerpt(response)}"
    )
    body = json_object(response)
    assert body.get("error") in errors, f"error is {body.get('error')!r}, expected {' or '.join(errors)}"
    return body


# -- what the token is for -----------------------------------------------------------------------------


def structured(result: Any) -> Any:
    """A tool result's JSON: ``structuredContent``, else the JSON of its first text block."""
    assert not result.is_error, f"the tool answered an error: {result.content}"
    if result.structured_content is not None:
        return result.structured_content
    first = result.content[0] if result.content else None
    assert isinstance(first, types.TextContent), f"expected a text block, got {first!r}"
    try:
        return json.loads(first.text)
    except (ValueError, RecursionError):
        raise AssertionError(f"the tool's text is not JSON: {first.text[:300]!r}") from None


def oracle_problem(fixture_id: str, case: dict[str, Any], body: Any) -> str | None:
    """None when the outputs in ``body`` equal the oracle's for the golden case, else what differs."""
    outputs = body.get("outputs") if isinstance(body, dict) else None
    if not isinstance(outputs, list) or not all(isinstance(o, dict) and "name" in o and "value" in o for o in outputs):
        return f"{fixture_id}: {case['title']}: no outputs list of {{name, value}}: {str(body)[:300]}"
    diff = differences({o["name"]: o["value"] for o in outputs}, expected_outputs(fixture_id, case["cells"]))
    return f"{fixture_id}: {case['title']}: outputs differ {{name: (server, oracle)}}: {diff}" if diff else None


def granted_fixtures(target: Target, listing: Any) -> list[str]:
    """The fixture services the target publishes among those a ``spreadapi_list_services`` result names
    (read from its JSON, or failing that found in its text), in the target file's order."""
    text = "\n".join(b.text for b in listing.content if isinstance(b, types.TextContent))
    document = listing.structured_content
    if document is None:
        try:
            document = json.loads(text)
        except (ValueError, RecursionError):
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


def assert_refused(response: httpx.Response, why: str) -> None:
    """The token did not open the endpoint: 401 (MCP Token Handling; its error code is RFC 6750's SHOULD)."""
    assert response.status_code == 401, f"{why}: expected 401, got {excerpt(response)}"
