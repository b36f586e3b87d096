"""What a reference deployment is configured with; everything else is derived from it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ReferenceConfig:
    # The URL the deployment advertises (OpenAPI servers, endpoint links, OAuth issuer). None: taken from each request.
    base_url: str | None = None
    # memory:// (the embedded default) or redis://host:port/db
    store_url: str | None = None
    # Prefix for every store key, so test runs can share one Redis without colliding.
    store_prefix: str = ""
    engine: str = "formulas"
    # service id -> service token to seed instead of generating one (operators pinning credentials)
    service_tokens: dict[str, str] = field(default_factory=dict)
    # Compile every service in the background at start-up, so the first request does not pay for it.
    warm_up: bool = True
    max_body_bytes: int = 1_000_000
    # Redirect URIs that dynamic client registration accepts besides ChatGPT's, Claude's and loopback.
    # An entry is an exact URI, or a prefix when it ends with "*": "https://app.example/oauth/*" allows
    # every URI on https://app.example whose path starts with /oauth/ (scheme and host compare exactly).
    redirect_allowlist: tuple[str, ...] = ()
    # The OAuth endpoints take small bodies; anything larger is refused with 413 before it is parsed.
    oauth_max_body_bytes: int = 64 * 1024
    # Seconds an authorization code stays redeemable: SpreadAPI's 600 (RFC 6749 §4.1.2 recommends at most
    # ten minutes). The embedded reference uses a short one so that OAUTH-TOKEN-017 can see a code expire.
    oauth_code_lifetime: float = 600.0
    # Bearer token of the admin surface (/admin/…: revoke credentials from outside the process, for
    # the suite). None: the surface does not exist, and its paths answer 404 like any unknown path.
    admin_token: str | None = field(default=None, repr=False)
    # Deployment bugs to reproduce (faults.FAULTS), for the selftest: empty in every real use.
    faults: frozenset[str] = frozenset()
