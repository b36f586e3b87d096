"""Deployment bugs of the MCP endpoints: Streamable HTTP, their authentication, the tools, the bridge."""

from __future__ import annotations

from . import Fault

FAULTS = (
    Fault(
        "mcp-origin-unchecked",
        "MCP-TRANSPORT",
        "the endpoint never looks at Origin (no DNS-rebinding protection)",
        ("MCP-HTTP-018", "MCP-HTTP-038"),
    ),
    Fault(
        "mcp-envelope-unchecked",
        "MCP-TRANSPORT",
        "JSON-RPC envelopes go to the SDK unchecked: a request with a null or boolean id is dropped as a "
        "notification (202), a batch gets -32602",
        ("MCP-HTTP-021", "MCP-FUZZ-002"),
    ),
    Fault(
        "mcp-batch-500",
        "MCP-TRANSPORT",
        "the envelope check reads a batch (a JSON array) as if it were one message object: it raises, and the "
        "answer is a 500",
        ("MCP-FUZZ-001", "MCP-HTTP-023"),
    ),
    Fault(
        "mcp-parse-error-as-invalid-request",
        "MCP-TRANSPORT",
        "the envelope check answers every body it cannot read as Invalid Request (-32600), a body that is not "
        "JSON too (JSON-RPC's -32700 Parse error)",
        ("MCP-FUZZ-003", "MCP-HTTP-025"),
    ),
    Fault(
        "mcp-empty-grant-means-all",
        "MCP-CRED",
        "an MCP token whose service list is empty is read as unrestricted: it reaches every published service",
        ("MCP-CRED-013",),
    ),
    Fault(
        "mcp-tool-results-cached-before-auth",
        "MCP-CRED",
        "the single-service endpoint keeps SpreadAPI's result cache (1.12) and answers a spreadapi_calc from it "
        "before authenticating: inputs a token holder computed are served to anyone",
        ("MCP-CRED-016",),
    ),
    Fault(
        "mcp-session-not-bound",
        "MCP-TRANSPORT",
        "the endpoints never tell the SDK's session manager who authenticated, so a session id is honoured on "
        "any service's endpoint with any credential",
        ("MCP-CRED-012",),
    ),
    Fault(
        "mcp-protocol-version-ignored",
        "MCP-TRANSPORT",
        "a proxy in front of the endpoint drops the MCP-Protocol-Version header, so an unsupported one is "
        "never refused",
        ("MCP-HTTP-016",),
    ),
    Fault(
        "mcp-challenge-metadata-url-wrong",
        "MCP-AUTH",
        "the 401 of a protected MCP endpoint names as resource_metadata a URL where no document is (a typo in "
        "the well-known path), so a client that follows it cannot discover the authorization server",
        ("MCP-AUTH-030", "MCP-AUTH-031"),
    ),
    Fault(
        "mcp-query-token-accepted",
        "MCP-AUTH",
        "a credential in the query string (?access_token=, ?token=) opens the endpoint like a header",
        ("MCP-AUTH-032",),
    ),
    Fault(
        "mcp-unknown-token-403",
        "MCP-AUTH",
        "an unknown token on a protected endpoint is 403 Forbidden, not 401",
        ("MCP-AUTH-033",),
    ),
    Fault(
        "bridge-no-challenge",
        "MCP-AUTH",
        "the bridge's 401 carries no WWW-Authenticate header",
        ("MCP-AUTH-035",),
    ),
    Fault(
        "mcp-tool-error-as-protocol-error",
        "MCP-TOOLS",
        "invalid inputs raise a JSON-RPC error instead of returning a tool result with isError",
        ("MCP-TOOLS-013",),
    ),
    Fault(
        "mcp-results-rounded",
        "MCP-TOOLS",
        "spreadapi_calc rounds every number to 2 decimals, so its outputs differ from REST execute's",
        ("MCP-TOOLS-010", "MCP-TOOLS-030", "MCP-TOOLS-040", "REPLAY-CHATGPT-003", "REPLAY-CLAUDE-002"),
    ),
    Fault(
        "mcp-batch-unbounded",
        "MCP-TOOLS",
        "spreadapi_batch takes any number of scenarios, one or a thousand",
        ("MCP-TOOLS-012",),
    ),
    Fault(
        "mcp-schema-untyped",
        "MCP-TOOLS",
        "spreadapi_calc's input schema says only that inputs is an object: no properties, types or ranges",
        ("MCP-TOOLS-002",),
    ),
    Fault(
        "mcp-no-output-schema",
        "MCP-TOOLS",
        "the tools declare neither an outputSchema nor their read-only annotations",
        ("MCP-TOOLS-003",),
    ),
    Fault(
        "mcp-connector-server-unnamed",
        "MCP-TOOLS",
        "the connector endpoint (/api/mcp) takes its serverInfo name from a deployment setting left empty: "
        "initialize names no server",
        ("REPLAY-CHATGPT-002",),
    ),
    Fault(
        "mcp-public-service-needs-token",
        "MCP-AUTH",
        "the single-service endpoint asks every caller for a credential, a public service's too: a bridge "
        "started without a token is refused 401",
        ("REPLAY-CLAUDE-002",),
    ),
    Fault(
        "mcp-service-token-any-service",
        "MCP-CRED",
        "the single-service endpoint checks that a service token exists, not that it belongs to this service",
        ("MCP-CRED-001", "REPLAY-CLAUDE-013"),
    ),
    Fault(
        "mcp-expired-service-token-accepted",
        "MCP-CRED",
        "the single-service endpoint never reads a service token's expiry",
        ("MCP-CRED-002", "REPLAY-CLAUDE-012"),
    ),
    Fault(
        "mcp-service-token-cached",
        "MCP-CRED",
        "the single-service endpoint caches a token that validated once for the life of the process: revoking "
        "it changes nothing",
        ("MCP-CRED-003", "REPLAY-CLAUDE-011"),
    ),
    Fault(
        "bridge-mcp-token-shape-only",
        "BRIDGE",
        "the legacy bridge checks only the shape of an MCP token: one the store does not know reaches every service",
        ("MCP-CRED-004", "MCP-CRED-005"),
    ),
    Fault(
        "bridge-accepts-service-tokens",
        "BRIDGE",
        "the legacy bridge also takes a service token, for the service it belongs to",
        ("MCP-CRED-006",),
    ),
    Fault(
        "mcp-oauth-endpoint-takes-mcp-tokens",
        "MCP-CRED",
        "/api/mcp also takes a raw MCP token, as the platform's legacy endpoint did, bypassing OAuth",
        ("MCP-CRED-007",),
    ),
    Fault(
        "mcp-grant-ignored",
        "MCP-CRED",
        "the multi-service endpoints (bridge and /api/mcp) reach every published service, whatever the token grants",
        ("MCP-CRED-010", "MCP-CRED-011"),
    ),
    Fault(
        "mcp-service-endpoint-takes-mcp-tokens",
        "MCP-CRED",
        "the single-service endpoint also takes an MCP token that grants the service",
        ("MCP-CRED-008", "REPLAY-CLAUDE-014"),
    ),
    Fault(
        "mcp-ping-unanswered",
        "MCP-TRANSPORT",
        "the MCP server registers no ping handler: ping is answered -32601 Method not found (as the platform does)",
        ("MCP-HTTP-019",),
    ),
    Fault(
        "mcp-service-token-shape-only",
        "MCP-CRED",
        "the single-service endpoint checks only the shape of a service token: a svc_tk_ token the store does not "
        "know opens the service, so the stdio bridge computes with a token that was never issued",
        ("REPLAY-CLAUDE-010",),
    ),
    Fault(
        "mcp-version-header-from-body",
        "MCP-TRANSPORT",
        "to be lenient with clients, the endpoint sets MCP-Protocol-Version from the body's _meta protocol version, "
        "so a header that disagrees with the body is never refused",
        ("MCP-HTTP-035",),
    ),
    Fault(
        "mcp-unsupported-version-generic-error",
        "MCP-TRANSPORT",
        "the endpoint refuses an unknown MCP-Protocol-Version itself with a generic 400 Invalid Request (-32600), "
        "not UnsupportedProtocolVersionError (-32022) with the versions it supports",
        ("MCP-HTTP-036",),
    ),
    Fault(
        "mcp-cache-hints-dropped",
        "MCP-TRANSPORT",
        "the per-caller result rewriting keeps only the fields handshake-era results had: 2026-07-28 list and "
        "discover results lose ttlMs and cacheScope",
        ("MCP-HTTP-037",),
    ),
    Fault(
        "mcp-tool-description-counts-calls",
        "MCP-TOOLS",
        "spreadapi_calc's description says how many calculations the service has answered, so every tools/call "
        "changes the tools/list answer",
        ("MCP-TOOLS-019",),
    ),
    Fault(
        "mcp-errors-json-rpc-1-style",
        "MCP-TRANSPORT",
        "the endpoint's own JSON-RPC errors are written JSON-RPC 1.0 style, with result null beside error",
        ("MCP-HTTP-039",),
    ),
    Fault(
        "mcp-meta-key-malformed",
        "MCP-TOOLS",
        "spreadapi_get_details returns the service id in _meta under spreadapi:serviceId, a key the _meta naming "
        "rules do not allow",
        ("MCP-HTTP-040",),
    ),
    Fault(
        "mcp-resource-not-found-32002",
        "MCP-TRANSPORT",
        "reading an unknown resource is error -32002 at every revision, as 2025-11-25 had it; 2026-07-28 retired "
        "that code",
        ("MCP-HTTP-041",),
    ),
    Fault(
        "mcp-logs-every-call",
        "MCP-TOOLS",
        "every tools/call sends a notifications/message log line, whether or not the client asked for log messages",
        ("MCP-HTTP-043",),
    ),
    Fault(
        "mcp-logs-without-capability",
        "MCP-TOOLS",
        "every tools/call sends a notifications/message log line while the server, which registers no "
        "logging/setLevel, does not declare the logging capability",
        ("MCP-HTTP-044",),
    ),
    Fault(
        "mcp-name-sentinel-not-decoded",
        "MCP-TRANSPORT",
        "a gateway-style check compares Mcp-Name with the body's name as it came, without decoding the "
        "=?base64?…?= form: a correctly encoded name is refused as a HeaderMismatch",
        ("MCP-HTTP-045",),
    ),
    Fault(
        "mcp-number-inputs-mirrored",
        "MCP-TOOLS",
        "spreadapi_calc marks every number input with x-mcp-header, which the rules allow on integer, string and "
        "boolean properties only",
        ("MCP-TOOLS-020",),
    ),
    Fault(
        "mcp-details-link-at-every-revision",
        "MCP-TOOLS",
        "spreadapi_get_details adds a resource_link block (the service's OpenAPI document) whatever revision the "
        "session negotiated: a 2025-03-26 or 2024-11-05 client gets a content block its revision does not define",
        ("MCP-HTTP-051",),
    ),
    Fault(
        "mcp-service-endpoint-oauth-only",
        "MCP-AUTH",
        "the single-service endpoint accepts only OAuth access tokens, as /api/mcp does: a private service's own "
        "service token is refused (invalid_token), so a client configured with it cannot connect",
        ("MCP-AUTH-001",),
    ),
    Fault(
        "mcp-challenge-always-invalid-token",
        "MCP-AUTH",
        'every 401 challenge says error="invalid_token", also to a request that sent no credential at all',
        ("MCP-AUTH-036",),
    ),
    Fault(
        "mcp-challenge-error-left-out",
        "MCP-AUTH",
        'the 401 challenges carry only resource_metadata and scope: a refused token gets no error="invalid_token"',
        ("MCP-AUTH-037",),
    ),
    Fault(
        "mcp-instructions-not-per-caller",
        "MCP-TOOLS",
        "the per-caller server middleware is not installed: initialize answers every caller with the server's "
        "fixed name and its one-line instructions, which name no service and explain none of its inputs",
        ("MCP-HTTP-001", "MCP-TOOLS-001"),
    ),
    Fault(
        "mcp-batch-all-or-nothing",
        "MCP-TOOLS",
        "spreadapi_batch lets one scenario's input error end the whole batch: an isError result, no scenario answered",
        ("MCP-TOOLS-011",),
    ),
    Fault(
        "mcp-calc-inputs-unchecked",
        "MCP-TOOLS",
        "spreadapi_calc hands its inputs argument to the coercion without checking that it is an object: a "
        "string or an array raises inside, and the result names the exception, not inputs",
        ("MCP-TOOLS-014",),
    ),
    Fault(
        "mcp-unknown-tool-method-not-found",
        "MCP-TOOLS",
        "calling a tool the server does not have is answered -32601 Method not found (as the platform does), not "
        "-32602 Invalid params",
        ("MCP-TOOLS-015",),
    ),
    Fault(
        "mcp-method-allowlist-invalid-request",
        "MCP-TRANSPORT",
        "the envelope check lets through only the methods the server serves and refuses any other as an Invalid "
        "Request (-32600), not Method not found (-32601)",
        ("MCP-TOOLS-016", "MCP-HTTP-024"),
    ),
    Fault(
        "mcp-details-required-only",
        "MCP-TOOLS",
        "spreadapi_get_details lists only the required inputs: the optional ones, with their defaults and ranges, "
        "are left out",
        ("MCP-TOOLS-017",),
    ),
    Fault(
        "mcp-unknown-prompt-method-not-found",
        "MCP-TOOLS",
        "getting an unknown prompt is answered -32601 Method not found, as if prompts/get did not exist, though "
        "the server declares the prompts capability",
        ("MCP-TOOLS-018",),
    ),
    Fault(
        "mcp-malformed-json-500",
        "MCP-TRANSPORT",
        "the envelope check lets the JSON decoder's error escape: a body that is not JSON is answered 500",
        ("MCP-HTTP-020",),
    ),
    Fault(
        "mcp-get-landing-page",
        "MCP-TRANSPORT",
        "a GET on an MCP endpoint is answered 200 with an HTML page describing the endpoint, before the SDK sees "
        "it: no event stream and no 405",
        ("MCP-HTTP-030", "MCP-HTTP-031"),
    ),
    Fault(
        "mcp-method-header-from-body",
        "MCP-TRANSPORT",
        "to be lenient with clients, the endpoint sets Mcp-Method from the body's method, so a header that "
        "disagrees with the body is never refused",
        ("MCP-HTTP-034",),
    ),
    Fault(
        "mcp-unknown-revision-refused",
        "MCP-TRANSPORT",
        "the envelope check refuses an initialize offering a revision the server does not speak with a JSON-RPC "
        "error, instead of letting the server answer with a revision it supports",
        ("MCP-HTTP-011",),
    ),
    Fault(
        "mcp-notification-acknowledged",
        "MCP-TRANSPORT",
        'the endpoint acknowledges every notification itself with 202 and a JSON body ({"accepted": true}); '
        "the transport wants 202 with no body",
        ("MCP-HTTP-012",),
    ),
    Fault(
        "mcp-missing-session-404",
        "MCP-TRANSPORT",
        "the endpoint's session router answers a request without Mcp-Session-Id 404, as it answers an unknown "
        "session, instead of 400: a client is told to start over when it only forgot the header",
        ("MCP-HTTP-013",),
    ),
    Fault(
        "mcp-delete-not-forwarded",
        "MCP-TRANSPORT",
        "the endpoint answers DELETE itself with 204 and never tells the SDK: the session the client ended lives on",
        ("MCP-HTTP-015",),
    ),
    Fault(
        "mcp-protocol-version-required",
        "MCP-TRANSPORT",
        "the endpoint refuses (400) every request after initialize that lacks MCP-Protocol-Version, instead of "
        "assuming 2025-03-26 for a client that predates the header",
        ("MCP-HTTP-017",),
    ),
)
