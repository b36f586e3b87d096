"""Deployment bugs of the REST API (behaviour reference, section 2) and its OpenAPI documents."""

from __future__ import annotations

from . import Fault

FAULTS = (
    Fault(
        "rest-401-without-challenge",
        "REST",
        "a private service's 401 carries no WWW-Authenticate header",
        ("REST-AUTH-001", "REST-AUTH-002"),
    ),
    Fault(
        "rest-bearer-scheme-case-sensitive",
        "REST",
        "only `Bearer` with a capital B is read as a bearer token (in the helper the REST API and the MCP endpoints "
        "share); `bearer <token>` is anonymous",
        ("REST-AUTH-011", "MCP-AUTH-034"),
    ),
    Fault(
        "rest-token-of-any-service",
        "REST",
        "the token check looks the token up but never compares its service: any service's token opens any service",
        ("REST-AUTH-007", "REST-AUTH-042"),
    ),
    Fault(
        "rest-expired-token-accepted",
        "REST",
        "the token check never reads expiresAt: an expired token still works",
        ("REST-AUTH-008", "REST-AUTH-041"),
    ),
    Fault(
        "rest-service-token-cached",
        "REST",
        "execute caches a token that validated once for the life of the process: revoking it changes nothing",
        ("REST-AUTH-040",),
    ),
    Fault(
        "rest-mcp-token-accepted",
        "REST",
        "execute also takes an MCP token that grants the service, as if it were the service's token",
        ("REST-AUTH-043",),
    ),
    Fault(
        "rest-accepts-oauth-tokens",
        "REST",
        "execute also takes an OAuth access token that grants the service, though access tokens are for MCP",
        ("REST-AUTH-044",),
    ),
    Fault(
        "rest-validates-before-auth",
        "REST",
        "inputs are validated before the token is checked: an anonymous caller learns the validation details",
        ("REST-AUTH-006",),
    ),
    Fault(
        "rest-query-token-case-sensitive",
        "REST",
        "only the query key `token` is read; `?Token=` is taken for an input and the call is anonymous",
        ("REST-AUTH-015",),
    ),
    Fault(
        "rest-private-results-cacheable",
        "REST",
        "a private service's results are sent `Cache-Control: public, max-age=300`, like a public one's",
        ("REST-AUTH-030",),
    ),
    Fault(
        "rest-refused-token-echoed",
        "REST",
        "the 401 to a refused token quotes the token back in its message",
        ("REST-AUTH-020",),
    ),
    Fault(
        "rest-errors-without-cors",
        "REST",
        "execute's error answers leave out Access-Control-Allow-Origin (only successes carry it)",
        ("REST-CORS-006",),
    ),
    Fault(
        "rest-preflight-needs-token",
        "REST",
        "OPTIONS on a private service's execute asks for a token (401), so no browser gets past the preflight",
        ("REST-CORS-001",),
    ),
    Fault(
        "rest-malformed-json-500",
        "REST",
        "a body that is not JSON raises in the handler and is answered 500",
        ("REST-ERR-001",),
    ),
    Fault(
        "rest-body-size-unbounded",
        "REST",
        "the body is read whole whatever its size: nothing is refused 413",
        ("REST-ERR-008", "REST-ERR-009"),
    ),
    Fault(
        "rest-traceback-in-errors",
        "REST",
        "an unexpected exception is answered 500 with its Python traceback in the body",
        ("REST-ERR-030", "REST-ERR-004"),
    ),
    Fault(
        "rest-listing-ignores-limit",
        "REST",
        "the listing echoes `limit` but always returns every service",
        ("REST-LIST-005", "REST-LIST-006"),
    ),
    Fault(
        "rest-listing-relative-endpoint",
        "REST",
        "the listing gives each service's endpoint as a path, not an absolute URL",
        ("REST-LIST-002",),
    ),
    Fault(
        "rest-csv-unquoted",
        "REST",
        "`_format=csv` joins the fields with commas without RFC 4180 quoting",
        ("REST-GET-006", "REST-GET-007"),
    ),
    Fault(
        "rest-get-error-in-asked-format",
        "REST",
        "a validation error on GET is rendered in the `_format` asked (csv, plain) instead of the JSON error body",
        ("REST-GET-012",),
    ),
    Fault(
        "inputs-echo-as-sent",
        "REST",
        "the echoed inputs are the values as sent, not as coerced and written",
        ("REST-EXEC-002", "REST-GET-002"),
    ),
    Fault(
        "inputs-enum-case-sensitive",
        "REST",
        "an allowed value matches only in its declared spelling: `GIZMO` is refused where `gizmo` is declared",
        ("REST-EXEC-009",),
    ),
    Fault(
        "inputs-percent-divided-twice",
        "REST",
        "`5%` is read as 0.05 and then, being at most 1, divided by 100 again",
        ("REST-EXEC-008",),
    ),
    Fault(
        "inputs-first-error-only",
        "REST",
        "validation stops at the first invalid input instead of reporting them all",
        ("REST-ERR-014",),
    ),
    Fault(
        "inputs-keys-case-sensitive",
        "REST",
        "input keys match only in their declared case",
        ("REST-EXEC-007", "REST-GET-003"),
    ),
    Fault(
        "inputs-structured-text-500",
        "REST",
        "the text coercion has no branch for a JSON object or array sent for a string input: it raises, and the "
        "answer is a 500",
        ("REST-FUZZ-001", "REST-FUZZ-002"),
    ),
    Fault(
        "rest-listing-range-422",
        "REST",
        "the listing refuses a `limit` or `offset` out of range with 422, a status its document does not declare "
        "(it declares 400)",
        ("REST-FUZZ-002",),
    ),
    Fault(
        "workbook-state-leaks",
        "REST",
        "one workbook instance per service is reused without reset, and an omitted optional input is not "
        "written: it keeps the previous call's value instead of its default",
        ("REST-ISO-002", "REST-ISO-003", "REST-ISO-004", "REST-ISO-005"),
    ),
    Fault(
        "openapi-declares-3-0",
        "OPENAPI",
        "the documents declare `openapi: 3.0.3` while using 3.1 schemas",
        ("OPENAPI-DOC-001", "OPENAPI-DOC-003"),
    ),
    Fault(
        "openapi-hardcoded-server",
        "OPENAPI",
        "`servers[0].url` is the production host written into the template, not this deployment's base URL",
        ("OPENAPI-GPT-001", "OPENAPI-DOC-005"),
    ),
    Fault(
        "openapi-long-description",
        "OPENAPI",
        "calculate's description is the service's whole help text, past the 300 characters Actions import",
        ("OPENAPI-GPT-004",),
    ),
    Fault(
        "openapi-inputs-untyped",
        "OPENAPI",
        "every input property is documented as a string, whatever its type",
        ("OPENAPI-DOC-008",),
    ),
    Fault(
        "openapi-private-without-security",
        "OPENAPI",
        "a private service's document declares no security scheme",
        ("OPENAPI-DOC-010",),
    ),
)
