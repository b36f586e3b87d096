"""Deployment bugs of the OAuth authorization server and of the MCP endpoints' token checks."""

from __future__ import annotations

from . import Fault

FAULTS = (
    Fault(
        "oauth-code-reusable",
        "OAUTH",
        "the token endpoint reads the authorization code but never deletes it: a code can be redeemed again",
        ("OAUTH-TOKEN-001",),
    ),
    Fault(
        "oauth-pkce-not-verified",
        "OAUTH",
        "the token endpoint never compares code_verifier with the code_challenge",
        ("OAUTH-TOKEN-002", "OAUTH-TOKEN-011"),
    ),
    Fault(
        "oauth-verifier-optional",
        "OAUTH",
        "the token endpoint verifies code_verifier when one is sent, and redeems the code without one",
        ("OAUTH-TOKEN-011",),
    ),
    Fault(
        "oauth-code-not-bound-to-client",
        "OAUTH",
        "the token endpoint redeems a code for whichever registered client presents it",
        ("OAUTH-TOKEN-004",),
    ),
    Fault(
        "oauth-redirect-not-compared",
        "OAUTH",
        "the token endpoint requires redirect_uri but never compares it with the authorization request's",
        ("OAUTH-TOKEN-005",),
    ),
    Fault(
        "oauth-token-response-cacheable",
        "OAUTH",
        "the token response leaves out Cache-Control: no-store",
        ("OAUTH-TOKEN-008",),
    ),
    Fault(
        "oauth-token-errors-401",
        "OAUTH",
        "every token endpoint error is answered 401, not 400",
        ("OAUTH-TOKEN-010",),
    ),
    Fault(
        "oauth-plain-pkce-accepted",
        "OAUTH",
        "the authorization endpoint takes code_challenge_method plain (or none) as readily as S256",
        ("OAUTH-AUTHZ-002",),
    ),
    Fault(
        "oauth-redirect-prefix-match",
        "OAUTH",
        "a redirect_uri is accepted when it starts with a registered one (an open redirector for longer paths)",
        ("OAUTH-AUTHZ-005",),
    ),
    Fault(
        "oauth-fragment-redirect-registered",
        "OAUTH",
        "client registration keeps a redirect URI with a fragment",
        ("OAUTH-REG-002",),
    ),
    Fault(
        "oauth-state-dropped",
        "OAUTH",
        "the authorization response leaves out state",
        ("OAUTH-FLOW-004", "REPLAY-CHATGPT-001"),
    ),
    Fault(
        "oauth-no-iss",
        "OAUTH",
        "the authorization response leaves out iss (RFC 9207), though the metadata announces it",
        ("OAUTH-FLOW-005", "OAUTH-FLOW-008"),
    ),
    Fault(
        "oauth-issuer-trailing-slash",
        "OAUTH",
        "the metadata's issuer is the base URL with a trailing slash, not the URL it is fetched from",
        ("OAUTH-DISC-003",),
    ),
    Fault(
        "oauth-pkce-not-advertised",
        "OAUTH",
        "the authorization-server metadata leaves out code_challenge_methods_supported",
        ("OAUTH-DISC-004",),
    ),
    Fault(
        "oauth-prm-wrong-resource",
        "OAUTH",
        "the multi-service protected-resource metadata names the base URL as its resource, not /api/mcp",
        ("OAUTH-DISC-001",),
    ),
    Fault(
        "oauth-foreign-resource-accepted",
        "OAUTH",
        "the resource parameter is never validated: one that is not an MCP server of this deployment is quietly "
        "replaced by /api/mcp at the authorization endpoint, and the token endpoint does not compare the one sent",
        ("OAUTH-FLOW-007", "OAUTH-AUTHZ-006"),
    ),
    Fault(
        "oauth-token-any-resource",
        "OAUTH",
        "the MCP endpoints accept an access token without comparing the resource it was issued for",
        ("OAUTH-FLOW-006",),
    ),
    Fault(
        "oauth-revocation-ignored",
        "OAUTH",
        "an access token keeps working after the credential pasted at consent is revoked",
        ("OAUTH-REVOKE-001", "OAUTH-REVOKE-002"),
    ),
    Fault(
        "consent-mcp-token-shape-only",
        "CONSENT",
        "the consent checks only the shape of a pasted MCP token: one the store does not know grants every service",
        ("OAUTH-CONSENT-001", "OAUTH-CONSENT-002"),
    ),
    Fault(
        "consent-revoked-mcp-token-accepted",
        "CONSENT",
        "the consent reads a pasted MCP token's record without looking whether it was revoked",
        ("OAUTH-CONSENT-002",),
    ),
    Fault(
        "consent-service-token-optional",
        "CONSENT",
        "Option 2's consent checks a service token only when one is pasted: a private service needs none",
        ("OAUTH-CONSENT-003",),
    ),
    Fault(
        "consent-service-token-shape-only",
        "CONSENT",
        "Option 2's consent checks only that the pasted service token looks like one (svc_tk_ and 64 hex)",
        ("OAUTH-CONSENT-004", "OAUTH-CONSENT-007"),
    ),
    Fault(
        "consent-service-token-any-service",
        "CONSENT",
        "Option 2's consent accepts any service's valid token for the chosen service",
        ("OAUTH-CONSENT-005",),
    ),
    Fault(
        "consent-expired-service-token-accepted",
        "CONSENT",
        "Option 2's consent never reads the pasted service token's expiry",
        ("OAUTH-CONSENT-006",),
    ),
    Fault(
        "consent-mcp-token-as-service-token",
        "CONSENT",
        "Option 2's consent falls back to the MCP-token store: an MCP token granting the service passes as its token",
        ("OAUTH-CONSENT-008",),
    ),
    Fault(
        "consent-service-token-as-mcp-token",
        "CONSENT",
        "Option 3's consent falls back to the service-token store: a service token grants its own service",
        ("OAUTH-CONSENT-009",),
    ),
    Fault(
        "consent-page-frameable",
        "CONSENT",
        "the consent page is sent without X-Frame-Options or frame-ancestors: any site can frame it (clickjacking)",
        ("OAUTH-CONSENT-010",),
    ),
    Fault(
        "oauth-registration-strict",
        "OAUTH",
        "registration refuses any client metadata member it does not know (invalid_client_metadata) instead of "
        "ignoring it",
        ("OAUTH-REG-004",),
    ),
    Fault(
        "oauth-strict-parameters",
        "OAUTH",
        "the authorization and token endpoints refuse any parameter they do not know (invalid_request) instead "
        "of ignoring it",
        ("OAUTH-AUTHZ-007", "OAUTH-TOKEN-012"),
    ),
    Fault(
        "oauth-metadata-empty-arrays",
        "OAUTH",
        "the metadata documents carry members with no elements (an empty ui_locales_supported, an empty "
        "resource_signing_alg_values_supported) instead of leaving them out",
        ("OAUTH-DISC-008",),
    ),
    Fault(
        "consent-redirect-307",
        "CONSENT",
        "the consent answers its POST with 307, so the browser reposts the pasted credentials to the client",
        ("OAUTH-CONSENT-011",),
    ),
    Fault(
        "oauth-loopback-port-exact",
        "OAUTH",
        "a loopback redirect URI must match the registered one port included, so a native client whose port "
        "changes between runs is refused",
        ("OAUTH-AUTHZ-008",),
    ),
    Fault(
        "oauth-redirect-query-replaced",
        "OAUTH",
        "the authorization response replaces the query the registered redirect URI carries with its own parameters",
        ("OAUTH-AUTHZ-009",),
    ),
    Fault(
        "oauth-empty-parameters-kept",
        "OAUTH",
        "the authorization endpoint reads a parameter sent with an empty value as a value (an empty resource "
        "names no MCP server and is refused) instead of as absent",
        ("OAUTH-AUTHZ-010",),
    ),
    Fault(
        "oauth-authorization-cors",
        "OAUTH",
        "a blanket CORS middleware answers Access-Control-Allow-Origin: * on the authorization endpoint too",
        ("OAUTH-AUTHZ-011",),
    ),
    Fault(
        "oauth-unknown-service-falls-back",
        "OAUTH",
        "an authorization request naming an unknown (or unpublished) service_id becomes a multi-service grant "
        "instead of being refused",
        ("OAUTH-AUTHZ-012",),
    ),
    Fault(
        "oauth-resource-without-service-id-multi",
        "OAUTH",
        "the service id is cut from a single-service resource URL, and an empty one (the endpoint's path with no "
        "id) is read as no service named: the request becomes a multi-service grant instead of being refused",
        ("OAUTH-AUTHZ-015",),
    ),
    Fault(
        "oauth-access-token-expiry-unchecked",
        "OAUTH",
        "the MCP endpoints read an access token's record but never compare its expires_at: a token past its "
        "12 hours works for as long as the store keeps its record",
        ("MCP-CRED-014", "MCP-CRED-015"),
    ),
    Fault(
        "oauth-wrapped-token-expiry-unchecked",
        "OAUTH",
        "each use of a single-service access token looks its wrapped service token up (a revoked one stops it) "
        "but never reads the service token's expiresAt: the access token outlives the token it wraps",
        ("OAUTH-REVOKE-003",),
    ),
    Fault(
        "oauth-empty-verifier-skips-pkce",
        "OAUTH",
        "the token endpoint reads an empty code_verifier as a client that does not do PKCE and redeems the code",
        ("OAUTH-TOKEN-013",),
    ),
    Fault(
        "oauth-http-redirect-accepted",
        "OAUTH",
        "registration accepts http redirect URIs on any host, not only on loopback addresses",
        ("OAUTH-REG-005",),
    ),
    Fault(
        "oauth-registration-without-redirect-uris",
        "OAUTH",
        "registration without redirect_uris succeeds (the redirect URI is only checked at the authorization endpoint)",
        ("OAUTH-REG-006",),
    ),
    Fault(
        "oauth-iss-not-announced",
        "OAUTH",
        "every authorization response carries iss, but the metadata leaves out "
        "authorization_response_iss_parameter_supported",
        ("OAUTH-DISC-009",),
    ),
    Fault(
        "consent-cross-site-accepted",
        "CONSENT",
        "the consent form's POST is accepted from any site (no anti-CSRF value, no Origin or Sec-Fetch-Site check)",
        ("OAUTH-CONSENT-012",),
    ),
    Fault(
        "consent-cancel-ignored",
        "CONSENT",
        "the consent's cancel button posts to the same handler as approve, which issues a code",
        ("OAUTH-CONSENT-013",),
    ),
    Fault(
        "consent-access-token-accepted",
        "CONSENT",
        "the consent asks every store whether it issued the pasted token, so one of this server's own OAuth "
        "access tokens passes for a service token or an MCP token",
        ("OAUTH-CONSENT-014", "OAUTH-CONSENT-015"),
    ),
    Fault(
        "oauth-challenge-optional",
        "OAUTH",
        "the authorization endpoint checks a code_challenge when one is sent and issues codes without one (PKCE "
        "only for clients that do it)",
        ("OAUTH-AUTHZ-001",),
    ),
    Fault(
        "oauth-response-type-unchecked",
        "OAUTH",
        "the authorization endpoint never reads response_type: response_type=token gets the consent page, as code does",
        ("OAUTH-AUTHZ-003",),
    ),
    Fault(
        "oauth-unknown-client-redirects",
        "OAUTH",
        "an unknown client_id is answered with a redirect carrying error=invalid_client to the redirect_uri the "
        "request names, which no registration vouches for",
        ("OAUTH-AUTHZ-004",),
    ),
    Fault(
        "oauth-service-prm-copied",
        "OAUTH",
        "the single-service protected-resource metadata is a copy of the multi-service document: its resource is "
        "/api/mcp, not the service's endpoint",
        ("OAUTH-DISC-002",),
    ),
    Fault(
        "oauth-plain-pkce-advertised",
        "OAUTH",
        "the metadata lists plain beside S256 in code_challenge_methods_supported (a library's default list), "
        "though the authorization endpoint refuses it",
        ("OAUTH-DISC-005",),
    ),
    Fault(
        "oauth-registration-not-advertised",
        "OAUTH",
        "the authorization-server metadata leaves out registration_endpoint, though registration is open",
        ("OAUTH-DISC-006",),
    ),
    Fault(
        "oauth-secret-auth-advertised",
        "OAUTH",
        "the metadata lists client_secret_basic as the only token endpoint auth method (a library's default), "
        "though every client this server registers is public (none)",
        ("OAUTH-DISC-007",),
    ),
    Fault(
        "oauth-loopback-redirect-refused",
        "OAUTH",
        "registration accepts https redirect URIs only: a native client's http redirect URI on a loopback address "
        "is refused",
        ("OAUTH-REG-001",),
    ),
    Fault(
        "oauth-client-name-unchecked",
        "OAUTH",
        "registration strips client_name without checking that it is a string: a number raises, and the answer "
        "is a 500",
        ("OAUTH-REG-003",),
    ),
    Fault(
        "oauth-code-kept-on-failure",
        "OAUTH",
        "the token endpoint deletes the code only when an exchange succeeds: after a wrong code_verifier the code "
        "can be tried again (SpreadAPI keeps the code on a mismatch)",
        ("OAUTH-TOKEN-003",),
    ),
    Fault(
        "oauth-grant-type-unchecked",
        "OAUTH",
        "the token endpoint never reads grant_type: every request is handled as an authorization_code exchange",
        ("OAUTH-TOKEN-006", "OAUTH-TOKEN-007"),
    ),
    Fault(
        "oauth-expires-in-float",
        "OAUTH",
        "expires_in is computed as a timedelta's total_seconds(): a fractional number (43200.0), not the whole "
        "number of seconds RFC 6749 writes",
        ("OAUTH-TOKEN-009",),
    ),
    Fault(
        "oauth-token-bound-to-mcp",
        "OAUTH",
        "the token endpoint binds every access token to /api/mcp, the multi-service connector's resource, whatever "
        "resource the authorization named: a single-service endpoint refuses its own access tokens",
        ("OAUTH-FLOW-002",),
    ),
    Fault(
        "consent-service-token-always-required",
        "CONSENT",
        "Option 2's consent asks for a service token whatever the service: a public service's grant, which needs "
        "none, is refused",
        ("OAUTH-FLOW-003",),
    ),
    Fault(
        "consent-mcp-tokens-kept-unhashed",
        "CONSENT",
        "Option 3's consent records the pasted MCP tokens themselves where the grant keeps their SHA-256, so the "
        "revocation check finds no such token and the code is refused as wrapping a revoked credential",
        ("OAUTH-FLOW-001",),
    ),
    Fault(
        "mcp-challenge-error-repeated",
        "MCP-AUTH",
        "the 401 challenge carries the error attribute twice (a middleware adds its own)",
        ("MCP-AUTH-038",),
    ),
    Fault(
        "oauth-repeated-parameters-accepted",
        "OAUTH",
        "the token endpoint reads its form into a plain dict: a parameter sent twice is not refused, the last "
        "value wins",
        ("OAUTH-TOKEN-014",),
    ),
    Fault(
        "oauth-token-type-appended",
        "OAUTH",
        'a compatibility shim appends "token_type": "bearer" to the token response\'s JSON text, which '
        "already names token_type: the member appears twice",
        ("OAUTH-TOKEN-018",),
    ),
    Fault(
        "oauth-unknown-scope-dropped",
        "OAUTH",
        "the authorization endpoint drops the scope values it does not know instead of refusing them, and the "
        'token response leaves scope out ("the client gets the scope it asked for")',
        ("OAUTH-TOKEN-015",),
    ),
    Fault(
        "oauth-scope-required",
        "OAUTH",
        'an authorization request without scope is refused with invalid_request ("scope is required") instead '
        "of getting the default scope or invalid_scope",
        ("OAUTH-AUTHZ-013",),
    ),
    Fault(
        "oauth-basic-auth-no-challenge",
        "OAUTH",
        "a client that authenticates with HTTP Basic and fails goes down the token endpoint's generic error "
        "path: 400 invalid_client, no 401 and no WWW-Authenticate",
        ("OAUTH-TOKEN-016",),
    ),
    Fault(
        "oauth-code-never-expires",
        "OAUTH",
        "the authorization code's record is written without its expiry: a code stays redeemable until used",
        ("OAUTH-TOKEN-017",),
    ),
    Fault(
        "oauth-registration-types-unchecked",
        "OAUTH",
        "registration stores response_types as sent, whatever the grant_types: a code-grant client registers "
        "response_types [token]",
        ("OAUTH-REG-007",),
    ),
    Fault(
        "oauth-code-carries-challenge",
        "OAUTH",
        'a "self-contained" authorization code: the store key, then the code_challenge base64url-encoded in '
        "clear, readable by anyone who sees the redirect",
        ("OAUTH-AUTHZ-014",),
    ),
)
