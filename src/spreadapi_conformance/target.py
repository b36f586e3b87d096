"""What the suite certifies: the in-process reference, or a deployment described by a TOML file.

A target file (``serve --write-target`` writes one; an operator writes one for staging)::

    base_url = "https://staging.example.com"
    claims = ["rest-actions", "claude-desktop"]   # the integration options to certify (catalog.OPTIONS);
                                                  # default: all of them (serve writes all of them)

    [services.quote]            # the id the service was published under
    fixture = "quote"           # which fixtures/workbooks/*.xlsx it was published from
    public = false
    token = "env:QUOTE_TOKEN"   # a secret, literal or read from the environment

    [mcp_tokens]                # multi-service MCP tokens (spapi_live_…) by name, for the OAuth checks
    all = "env:MCP_TOKEN_ALL"

    [oauth]
    registration = true         # the server offers RFC 7591 dynamic client registration
    redirect_uri = "http://127.0.0.1:33418/callback"   # a redirect URI it accepts, for the suite's client
    # client_id = "…"           # a pre-registered public client, when registration = false
    consent = "form"            # how the kit gets past the user's part of an authorization (CONSENT_MODES):
                                # "form": it posts the consent page's form as a browser would;
                                # "auto": the authorization endpoint redirects straight back with a code;
                                # "login": it fills the login (and consent) forms with [oauth.login]'s fields;
                                # "json": it posts the request and the pasted credential as JSON to consent_endpoint;
                                # "manual": it cannot (another consent UI): the checks that need a code do not apply
    # consent_endpoint = "/api/oauth/authorize"   # "json": where the consent page posts
    # issuer = "https://auth.example.com"   # an authorization server on another origin that may receive
                                # the pasted credentials (by default only base_url's origin receives any)
    # [oauth.login]             # "login": form fields by name, literal or env: (secrets: masked, kept on target)
    # username = "env:STAGING_USER"
    # password = "env:STAGING_PASSWORD"

    [credentials]               # optional: a bearer credential for an MCP endpoint (by its [paths] name), such as
    single_service_mcp = "env:MCP_ACCESS_TOKEN"   # the one endpoint of an MCP server that is not SpreadAPI

    mcp_revisions = ["2025-06-18", "2025-11-25"]  # optional: MCP revisions the deployment claims; a revision's
                                # checks also run when the server negotiates it (default: what it negotiates)

    [admin]                     # optional: lets checks issue and revoke credentials (the reference's /admin/…)
    token = "env:ADMIN_TOKEN"

    [paths]                     # optional: where this deployment serves what (default: the seed's paths)
    single_service_mcp = "/api/mcp/service/{id}"

Secrets may be literal or ``env:NAME``; a missing variable is an error that names it. A live
deployment's file may omit ``[mcp_tokens]``, ``[oauth]``, ``[admin]`` or ``[paths]``: the checks that need
them skip (paths fall back to :data:`DEFAULT_PATHS`).

No secret of the file goes anywhere but the target's origin, and the issuer's when ``[oauth]`` names one
(:mod:`.offtarget`).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import tomli_w

from .fixtures import load_services
from .offtarget import CredentialGuard


class TargetError(ValueError):
    """A target file that cannot be used; the message is one line for the operator."""


@dataclass(frozen=True)
class PublishedService:
    id: str  # as published on the target
    fixture: str  # fixture service id (fixtures/services/<fixture>.yaml)
    public: bool
    token: str | None = field(default=None, repr=False)


# Where the in-process reference answers (httpx's ASGI transport takes any host; this one is httpx's own).
IN_PROCESS_BASE_URL = "http://testserver"

# A loopback redirect URI (RFC 8252 §7.3): every server that follows the MCP authorization spec accepts
# one, and the suite reads the code from the Location header, so nothing needs to listen on it.
LOOPBACK_REDIRECT_URI = "http://127.0.0.1:33418/callback"


MIN_SECRET = 6  # characters: shorter values are not treated as secrets (see TargetSpec.secrets)
CONSENT_MODES = ("form", "auto", "login", "json", "manual")
CREDENTIAL_ENDPOINTS = ("mcp", "single_service_mcp", "bridge_mcp")  # [credentials] keys

# Where the seed serves each endpoint; ``[paths]`` in a target file overrides any of them. ``{id}`` is
# the service id as published on the target.
DEFAULT_PATHS: dict[str, str] = {
    "services": "/api/v1/services",  # the service listing
    "details": "/api/v1/services/{id}",  # one service's details
    "execute": "/api/v1/services/{id}/execute",
    "openapi": "/api/v1/services/{id}/openapi.json",  # the per-service document (ChatGPT Actions)
    "platform_openapi": "/api/v1/openapi.json",  # the document of the whole REST API
    "mcp": "/api/mcp",  # multi-service MCP behind OAuth (Option 3)
    "single_service_mcp": "/api/mcp/services/{id}",  # Option 2 and Claude Desktop
    "bridge_mcp": "/api/mcp/bridge",  # the legacy multi-service bridge (MCP tokens)
}
_PATH_PARAMS = {"details", "execute", "openapi", "single_service_mcp"}  # the paths that name a service
_FIXED_OK = {"single_service_mcp"}  # ... but may also be a fixed path (one endpoint for the deployment)


@dataclass(frozen=True)
class OAuthSpec:
    registration: bool = True  # dynamic client registration is offered
    redirect_uri: str = LOOPBACK_REDIRECT_URI  # what the suite registers and redirects to
    client_id: str | None = None  # a pre-registered public client (needed when registration is off)
    consent: str = "form"  # one of CONSENT_MODES
    issuer: str | None = None  # an authorization server on another origin trusted with the pasted credentials
    consent_endpoint: str | None = None  # "json": the path (or URL) the consent page posts its JSON to
    login: dict[str, str] = field(default_factory=dict, repr=False)  # "login": form field -> value (secrets)
    code_lifetime: float | None = None  # s an authorization code stays redeemable, as the deployment states it


@dataclass(frozen=True)
class TargetSpec:
    base_url: str | None  # None: the in-process reference
    services: dict[str, PublishedService]  # keyed by fixture id
    source: str = "in-process"
    mcp_tokens: dict[str, str] = field(default_factory=dict, repr=False)  # name -> spapi_live_…
    oauth: OAuthSpec | None = None  # None: the target file says nothing about OAuth
    admin_token: str | None = field(default=None, repr=False)  # None: no revocation from outside
    claims: tuple[str, ...] | None = None  # integration options the deployment claims; None: every one
    credentials: dict[str, str] = field(default_factory=dict, repr=False)  # MCP endpoint name -> bearer credential
    mcp_revisions: tuple[str, ...] = ()  # MCP revisions the deployment claims (beyond what it negotiates)
    paths: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_PATHS))  # DEFAULT_PATHS, overridden

    @property
    def in_process(self) -> bool:
        return self.base_url is None

    def template(self, name: str) -> str:
        """The path of endpoint ``name`` (:data:`DEFAULT_PATHS`, or the file's ``[paths]``), ``{id}`` unfilled."""
        return self.paths.get(name) or DEFAULT_PATHS[name]

    def path(self, name: str, id: str | None = None) -> str:
        """Where the target serves endpoint ``name``; ``id`` is a service id as published."""
        template = self.template(name)
        if "{id}" not in template:
            return template
        if id is None:
            raise TypeError(f"the path {name!r} names a service: give its id")
        return template.replace("{id}", quote(id, safe=""))

    def guard(self) -> CredentialGuard:
        """The guard that keeps this file's secrets on the target's origin (and the named issuer's)."""
        issuer = self.oauth.issuer if self.oauth else None
        return CredentialGuard.of([self.base_url or IN_PROCESS_BASE_URL, issuer], self.secrets())

    def secrets(self) -> list[str]:
        """Every secret value, for masking in reports and logs and for the credential guard. Values shorter
        than MIN_SECRET (a test user called "u") are left out: masking them would garble every report."""
        found = [s.token for s in self.services.values() if s.token]
        found += [t for t in self.mcp_tokens.values() if t]
        if self.admin_token:
            found.append(self.admin_token)
        found += [v for v in self.credentials.values() if v]
        if self.oauth is not None:
            found += [v for v in self.oauth.login.values() if v]
        return [v for v in found if len(v) >= MIN_SECRET]


def _secret(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TargetError(f"{where} must be a string")
    if value.startswith("env:"):
        name = value[4:]
        if name not in os.environ:
            raise TargetError(f"{where} refers to the environment variable {name}, which is not set")
        return os.environ[name]
    return value


def load_target(path: str | os.PathLike[str]) -> TargetSpec:
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TargetError(f"target file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TargetError(f"target file {path} cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise TargetError(f"target file {path} is not valid TOML: {exc}") from None
    base_url = raw.get("base_url")
    if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
        raise TargetError(f"target file {path}: base_url must be an http:// or https:// URL")
    known = load_services()
    services: dict[str, PublishedService] = {}
    for published_id, entry in (_table(raw.get("services"), "services", path) or {}).items():
        if not isinstance(entry, dict):
            raise TargetError(f"target file {path}: [services.{published_id}] must be a table")
        fixture = entry.get("fixture", published_id)
        if not isinstance(fixture, str) or fixture not in known:
            raise TargetError(
                f"target file {path}: services.{published_id}.fixture must name a fixture service "
                f"({', '.join(sorted(known))})"
            )
        services[fixture] = PublishedService(
            id=published_id,
            fixture=fixture,
            public=bool(entry.get("public", True)),
            token=_secret(entry.get("token"), f"services.{published_id}.token"),
        )
    return TargetSpec(
        base_url=base_url.rstrip("/"),
        services=services,
        source=str(path),
        mcp_tokens=_mcp_tokens(raw.get("mcp_tokens"), path),
        oauth=_oauth(raw.get("oauth"), path),
        admin_token=_admin_token(raw.get("admin"), path),
        claims=_claims(raw.get("claims"), path),
        paths=(paths := _paths(raw.get("paths"), path)),
        credentials=_credentials(raw.get("credentials"), paths, path),
        mcp_revisions=_mcp_revisions(raw.get("mcp_revisions"), path),
    )


def _credentials(value: Any, paths: dict[str, str], path: Path) -> dict[str, str]:
    table = _table(value, "credentials", path) or {}
    if unknown := sorted(set(table) - set(CREDENTIAL_ENDPOINTS)):
        raise TargetError(
            f"target file {path}: [credentials] names unknown endpoints {', '.join(unknown)} "
            f"(known: {', '.join(CREDENTIAL_ENDPOINTS)})"
        )
    if "single_service_mcp" in table and "{id}" in paths["single_service_mcp"]:
        raise TargetError(
            f"target file {path}: credentials.single_service_mcp needs a fixed [paths] single_service_mcp "
            "(per-service endpoints take the services' tokens)"
        )
    found = {name: _secret(value, f"credentials.{name}") for name, value in table.items()}
    return {name: value for name, value in found.items() if value}


def _mcp_revisions(value: Any, path: Path) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise TargetError(f'target file {path}: mcp_revisions must be a list of revisions such as "2025-11-25"')
    return tuple(dict.fromkeys(value))


def _paths(value: Any, path: Path) -> dict[str, str]:
    table = _table(value, "paths", path) or {}
    if unknown := sorted(set(table) - set(DEFAULT_PATHS)):
        raise TargetError(
            f"target file {path}: [paths] names unknown endpoints {', '.join(unknown)} "
            f"(known: {', '.join(DEFAULT_PATHS)})"
        )
    paths = dict(DEFAULT_PATHS)
    for name, template in table.items():
        if not isinstance(template, str) or not template.startswith("/") or any(c in template for c in "?# "):
            raise TargetError(f"target file {path}: paths.{name} must be a path starting with / (no query)")
        # single_service_mcp may also be one fixed endpoint: a deployment that serves one MCP server at
        # one URL, such as an MCP server that is not SpreadAPI (the generic transport checks talk to it).
        if (name in _PATH_PARAMS) != ("{id}" in template) and not (name in _FIXED_OK and "{id}" not in template):
            need = "must contain {id}" if name in _PATH_PARAMS else "takes no {id}"
            raise TargetError(f"target file {path}: paths.{name} {need}")
        try:
            template.format(id="x")
        except (KeyError, IndexError, ValueError):
            raise TargetError(f"target file {path}: paths.{name} may hold no placeholder but {{id}}") from None
        paths[name] = template.rstrip("/") or "/"
    return paths


def _claims(value: Any, path: Path) -> tuple[str, ...] | None:
    from .catalog import OPTIONS

    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TargetError(f"target file {path}: claims must be a list of option names")
    if unknown := [v for v in value if v not in OPTIONS]:
        raise TargetError(
            f"target file {path}: claims names unknown options {', '.join(unknown)} (known: {', '.join(OPTIONS)})"
        )
    return tuple(dict.fromkeys(value))


def _table(value: Any, name: str, path: Path) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise TargetError(f"target file {path}: [{name}] must be a table")
    return value


def _mcp_tokens(value: Any, path: Path) -> dict[str, str]:
    table = _table(value, "mcp_tokens", path) or {}
    tokens = {name: _secret(token, f"mcp_tokens.{name}") for name, token in table.items()}
    return {name: token for name, token in tokens.items() if token}


def _oauth(value: Any, path: Path) -> OAuthSpec | None:
    table = _table(value, "oauth", path)
    if table is None:
        return None
    registration = table.get("registration", True)
    if not isinstance(registration, bool):
        raise TargetError(f"target file {path}: oauth.registration must be true or false")
    redirect_uri = table.get("redirect_uri", LOOPBACK_REDIRECT_URI)
    if not isinstance(redirect_uri, str) or not redirect_uri.startswith(("http://", "https://")):
        raise TargetError(f"target file {path}: oauth.redirect_uri must be an http:// or https:// URL")
    client_id = table.get("client_id")
    if client_id is not None and (not isinstance(client_id, str) or not client_id):
        raise TargetError(f"target file {path}: oauth.client_id must be a non-empty string")
    consent = table.get("consent", "form")
    if consent not in CONSENT_MODES:
        raise TargetError(f"target file {path}: oauth.consent must be one of {', '.join(CONSENT_MODES)}")
    consent_endpoint = table.get("consent_endpoint")
    if consent_endpoint is not None and (
        not isinstance(consent_endpoint, str) or not consent_endpoint.startswith(("/", "http://", "https://"))
    ):
        raise TargetError(f"target file {path}: oauth.consent_endpoint must be a path or an http(s) URL")
    if consent == "json" and not consent_endpoint:
        raise TargetError(f'target file {path}: oauth.consent = "json" needs oauth.consent_endpoint')
    login_table = _table(table.get("login"), "oauth.login", path) or {}
    login = {name: _secret(value, f"oauth.login.{name}") or "" for name, value in login_table.items()}
    if consent == "login" and not login:
        raise TargetError(f'target file {path}: oauth.consent = "login" needs an [oauth.login] table of form fields')
    issuer = table.get("issuer")
    if issuer is not None and (not isinstance(issuer, str) or not issuer.startswith(("http://", "https://"))):
        raise TargetError(f"target file {path}: oauth.issuer must be an http:// or https:// URL")
    code_lifetime = table.get("code_lifetime_seconds")
    if code_lifetime is not None and (
        isinstance(code_lifetime, bool) or not isinstance(code_lifetime, int | float) or not code_lifetime > 0
    ):
        raise TargetError(f"target file {path}: oauth.code_lifetime_seconds must be a positive number of seconds")
    return OAuthSpec(
        registration=registration,
        redirect_uri=redirect_uri,
        client_id=client_id,
        consent=consent,
        issuer=issuer,
        consent_endpoint=consent_endpoint,
        login=login,
        code_lifetime=code_lifetime,
    )


def _admin_token(value: Any, path: Path) -> str | None:
    table = _table(value, "admin", path)
    return None if table is None else _secret(table.get("token"), "admin.token")


def reference_spec(reference: Any, base_url: str | None, *, admin_token: str | None = None) -> TargetSpec:
    """The target of a seeded reference deployment (``reference.app.Reference``, read by its attributes):
    every fixture service published under its own id, its seeded tokens, registration on, every option."""
    services = {
        s.id: PublishedService(id=s.id, fixture=s.id, public=s.public, token=reference.service_tokens.get(s.id))
        for s in reference.services.values()
    }
    return TargetSpec(
        base_url=base_url,
        services=services,
        source=base_url or "in-process",
        mcp_tokens=dict(reference.mcp_tokens),
        # Any loopback redirect URI is accepted, so the default one is usable.
        oauth=OAuthSpec(registration=True, code_lifetime=reference.config.oauth_code_lifetime),
        admin_token=admin_token,
    )


def write_target(
    path: str | os.PathLike[str],
    base_url: str,
    services: list[PublishedService],
    *,
    mcp_tokens: dict[str, str] | None = None,
    oauth: OAuthSpec | None = None,
    admin_token: str | None = None,
    claims: tuple[str, ...] | list[str] | None = None,
) -> None:
    document: dict[str, Any] = {
        "base_url": base_url,
        **({"claims": list(claims)} if claims is not None else {}),
        "services": {
            s.id: {"fixture": s.fixture, "public": s.public, **({"token": s.token} if s.token else {})}
            for s in services
        },
    }
    if mcp_tokens:
        document["mcp_tokens"] = dict(mcp_tokens)
    if oauth is not None:
        document["oauth"] = {
            "registration": oauth.registration,
            "redirect_uri": oauth.redirect_uri,
            **({"client_id": oauth.client_id} if oauth.client_id else {}),
            **({"consent": oauth.consent} if oauth.consent != "form" else {}),
            **({"issuer": oauth.issuer} if oauth.issuer else {}),
            **({"code_lifetime_seconds": oauth.code_lifetime} if oauth.code_lifetime is not None else {}),
        }
    if admin_token:
        document["admin"] = {"token": admin_token}
    text = "# Written by `spreadapi-conformance serve`; it holds secrets, keep it private.\n" + tomli_w.dumps(document)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created owner-only before the secrets are written into it.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
