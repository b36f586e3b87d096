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
        "rest-result-cache-before-auth",
        "REST",
        "execute keeps SpreadAPI's result cache (1.12) but looks a result up before the token check: once a "
        "token holder computed some inputs, anyone gets the same inputs' result without a token",
        ("REST-AUTH-045",),
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
        "openapi-document-bom",
        "OPENAPI",
        "the platform OpenAPI document is encoded `utf-8-sig`, as Windows tools write UTF-8: it starts with a "
        "byte order mark",
        ("REST-WIRE-001",),
    ),
    Fault(
        "rest-listing-trusts-x-user-id",
        "REST",
        "the listing takes a client-supplied `x-user-id` header for the signed-in user and lists that user's "
        "services instead of the published ones (quirk Q2)",
        ("REST-LIST-013",),
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
        "rest-auth-refusals-400",
        "REST",
        "every refused credential (none, malformed, unknown, another service's) is answered 400 with no "
        "challenge, as SpreadAPI's own code answers it, instead of 401 with a Bearer challenge (403)",
        ("REST-AUTH-003", "REST-AUTH-004", "REST-AUTH-005", "OPENAPI-DOC-013"),
    ),
    Fault(
        "rest-body-token-ignored",
        "REST",
        "execute reads the token from the Authorization header and the query only: `token` in the JSON body is "
        "never read, and a private service answers 401",
        ("REST-AUTH-012",),
    ),
    Fault(
        "rest-query-token-ignored",
        "REST",
        "GET drops the `token` key from the inputs but never reads it as the token: `?token=` is anonymous",
        ("REST-AUTH-013", "REST-AUTH-015"),
    ),
    Fault(
        "rest-get-header-token-ignored",
        "REST",
        "GET execute, written for links, reads the token from the query only: `Authorization: Bearer` is "
        "ignored on GET",
        ("REST-AUTH-014",),
    ),
    Fault(
        "rest-public-checks-tokens",
        "REST",
        "a token sent to a public service is validated anyway, and one that is not the service's is refused 401",
        ("REST-AUTH-016",),
    ),
    Fault(
        "rest-403-quotes-token",
        "REST",
        "the 403 to another service's token quotes the token back in its message",
        ("REST-AUTH-021",),
    ),
    Fault(
        "rest-error-echoes-request",
        "REST",
        "a validation error carries the request as received (`request`: the body, or GET's query) for "
        "debugging, the caller's token with it",
        ("REST-AUTH-022",),
    ),
    Fault(
        "rest-preflight-minimal",
        "REST",
        "the preflight answer carries Access-Control-Allow-Origin only: no allowed methods, no allowed request "
        "headers, so a browser may not send POST with a JSON body or a token",
        ("REST-CORS-002", "REST-CORS-003"),
    ),
    Fault(
        "rest-cors-reflects-origin",
        "REST",
        "execute's answers echo the request's Origin in Access-Control-Allow-Origin (a setup copied from a "
        "credentialed app) and leave the header out when no Origin is sent, instead of `*`",
        ("REST-CORS-004", "REST-CORS-005", "REST-CORS-001", "REST-CORS-006"),
    ),
    Fault(
        "rest-body-shape-unchecked",
        "REST",
        "the body parser takes any JSON value: an array, a string or a number as the body raises in the "
        "handler, and the answer is a 500",
        ("REST-ERR-002",),
    ),
    Fault(
        "rest-inputs-default-empty",
        "REST",
        "a missing or null `inputs` is read as no inputs given (`inputs or {}`): the answer is the missing-"
        "parameters 400, not INVALID_REQUEST",
        ("REST-ERR-003",),
    ),
    Fault(
        "json-overflow-kept-as-infinity",
        "REST",
        "the body parser turns a number beyond the double range (1e400) into infinity; the 400 that echoes it "
        "cannot be serialised, and the answer is a 500",
        ("REST-ERR-005", "OPENAPI-DOC-016"),
    ),
    Fault(
        "json-nesting-unbounded",
        "REST",
        "the body parser's RecursionError on deeply nested JSON is not caught: the answer is a 500",
        ("REST-ERR-006",),
    ),
    Fault(
        "inputs-percent-parsefloat",
        "REST",
        "a percent string is read with parseFloat, not Number: `1.2.3%` is taken as 1.2% instead of refused",
        ("REST-ERR-007",),
    ),
    Fault(
        "rest-body-limit-too-small",
        "REST",
        "the body limit is 100,000 bytes, a zero short of the 1,000,000 the API takes: larger bodies are 413",
        ("REST-ERR-010",),
    ),
    Fault(
        "inputs-missing-as-invalid",
        "REST",
        "a missing required input is one more entry of `Parameter validation failed` (type `required`), not "
        "the `Missing required parameters` error with details.required",
        ("REST-ERR-011", "REST-ERR-012", "REST-ERR-016", "REST-ERR-040"),
    ),
    Fault(
        "rest-validation-error-bare",
        "REST",
        "the 400 of invalid or missing inputs carries error, message and details only: no serviceId, no inputs as sent",
        ("REST-ERR-013", "REST-ERR-011"),
    ),
    Fault(
        "inputs-boolean-truthy",
        "REST",
        "a boolean input that is not one of the false words is true (JavaScript's Boolean()): `maybe`, 2 and "
        "`oui` compute as true instead of being refused",
        ("REST-ERR-015",),
    ),
    Fault(
        "rest-unknown-service-401",
        "REST",
        "execute's token gate runs before the service look-up and takes an unknown service for a private one: "
        "401, not the 404 of an unknown service",
        ("REST-ERR-020", "REST-ERR-021"),
    ),
    Fault(
        "rest-framework-error-pages",
        "REST",
        "unknown routes and methods get the framework's plain-text pages (`Not Found`, `Method Not Allowed`), "
        "not the API's JSON errors",
        ("REST-ERR-022", "REST-ERR-023"),
    ),
    Fault(
        "rest-unknown-format-as-json",
        "REST",
        "a `_format` other than json, csv or plain falls back to JSON instead of being refused",
        ("REST-ERR-024",),
    ),
    Fault(
        "inputs-echo-without-title",
        "REST",
        "the echoed inputs are `{name, value}` pairs, without each input's title",
        ("REST-EXEC-003", "OPENAPI-DOC-011"),
    ),
    Fault(
        "rest-json-without-content-type",
        "REST",
        "POST execute serialises its result by hand into a bare response: no Content-Type header",
        ("REST-EXEC-004",),
    ),
    Fault(
        "calculation-format-string-dropped",
        "REST",
        "the outputs leave out their formatString",
        ("REST-EXEC-005",),
    ),
    Fault(
        "calculation-timestamp-epoch",
        "REST",
        "metadata.timestamp is JavaScript's Date.now() (milliseconds since 1970), not an ISO 8601 string",
        ("REST-EXEC-006", "OPENAPI-DOC-011"),
    ),
    Fault(
        "inputs-defaults-not-echoed",
        "REST",
        "an omitted optional input is written with its default but left out of the echoed inputs",
        ("REST-EXEC-010", "REST-EXEC-002"),
    ),
    Fault(
        "inputs-blank-optional-written",
        "REST",
        'an optional input sent as "" is written as sent, emptying its cell, instead of taking its default',
        ("REST-EXEC-011",),
    ),
    Fault(
        "calculation-errors-as-null",
        "REST",
        "a formula error in an output cell is answered as null instead of its error literal (#DIV/0!)",
        ("REST-EXEC-012", "REST-EXEC-001", "REST-GET-001"),
    ),
    Fault(
        "calculation-blank-as-empty-text",
        "REST",
        'an empty output cell is answered as "" (its displayed text) instead of null',
        ("REST-EXEC-013",),
    ),
    Fault(
        "calculation-range-flattened",
        "REST",
        "a range output is one flat list of its cells in reading order: the rows are lost",
        ("REST-EXEC-014", "REST-EXEC-001", "REST-EXEC-020", "REST-GET-001", "OPENAPI-DOC-011"),
    ),
    Fault(
        "inputs-text-ascii-only",
        "REST",
        "text inputs are 'sanitised' to ASCII before they are written: every other character is dropped",
        ("REST-EXEC-015",),
    ),
    Fault(
        "calculation-big-numbers-as-text",
        "REST",
        "a number of 2**53 or more is answered as a string, as JSON encoders that keep precision do",
        ("REST-EXEC-016",),
    ),
    Fault(
        "inputs-unknown-keys-refused",
        "REST",
        "an input key that matches no input is refused as `unknown_parameter` instead of ignored",
        ("REST-EXEC-017",),
    ),
    Fault(
        "rest-get-values-formatted",
        "REST",
        "GET answers each output as the sheet displays it with its number format (`€1,234.50`), where POST "
        "answers the value",
        ("REST-GET-001", "REST-GET-004", "REST-GET-010"),
    ),
    Fault(
        "rest-csv-header-titles",
        "REST",
        "`_format=csv` heads its columns with the output titles, not their names",
        ("REST-GET-005",),
    ),
    Fault(
        "rest-formats-json-content-type",
        "REST",
        "GET execute sends one Content-Type whatever `_format`: CSV and plain text go out as application/json",
        ("REST-GET-008", "REST-GET-011"),
    ),
    Fault(
        "rest-plain-lines-titled",
        "REST",
        "`_format=plain` writes each line with the output's title, not its name",
        ("REST-GET-009",),
    ),
    Fault(
        "rest-plain-values-repr",
        "REST",
        "`_format=plain` prints values as Python does: a range as `[[1, 2.5], …]`, an empty cell as `None`",
        ("REST-GET-010",),
    ),
    Fault(
        "workbook-shared-without-lock",
        "REST",
        "one workbook per service: a call writes its inputs, yields while the sheet recalculates, then reads "
        "the outputs, with no lock, so a concurrent call's inputs are computed in its place",
        ("REST-ISO-001", "REST-ISO-002"),
    ),
    Fault(
        "workbook-written-before-validation",
        "REST",
        "the inputs as sent are written into the service's reused workbook before they are validated, and an "
        "omitted input is not reset: a refused call's values stay for the next call",
        ("REST-ISO-006",),
    ),
    Fault(
        "rest-listing-public-only",
        "REST",
        "the listing's query filters on visibility: private services are never listed",
        ("REST-LIST-001",),
    ),
    Fault(
        "rest-summary-without-requires-token",
        "REST",
        "the listing and the details leave out requiresToken (the visibility lives in a table the summary "
        "query never joins)",
        ("REST-LIST-003", "REST-LIST-012", "OPENAPI-DOC-014"),
    ),
    Fault(
        "rest-has-more-from-page-size",
        "REST",
        "hasMore is `a full page came back`, not `services remain past this page`",
        ("REST-LIST-004",),
    ),
    Fault(
        "rest-offset-clamped",
        "REST",
        "an offset past the end is clamped to the last service, so the page is never empty",
        ("REST-LIST-007",),
    ),
    Fault(
        "rest-paging-falls-back-to-defaults",
        "REST",
        "a limit or offset that does not parse is quietly replaced by its default instead of refused",
        ("REST-LIST-008",),
    ),
    Fault(
        "describe-inputs-mandatory-key",
        "REST",
        "the details name each input's `required` flag `mandatory`, the definition's own word",
        ("REST-LIST-010", "OPENAPI-DOC-014"),
    ),
    Fault(
        "describe-skips-range-outputs",
        "REST",
        "the details list only single-cell outputs: a range output (the loan's schedule) is left out",
        ("REST-LIST-011",),
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
    Fault(
        "openapi-path-parameter-optional",
        "OPENAPI",
        "the platform document's `serviceId` path parameter lacks `required: true`, which OpenAPI demands",
        ("OPENAPI-DOC-002",),
    ),
    Fault(
        "openapi-unknown-service-document",
        "OPENAPI",
        "the per-service document is rendered from the id in the URL, published or not: an unknown service "
        "gets a 200 document with no inputs",
        ("OPENAPI-DOC-004", "REST-ERR-020"),
    ),
    Fault(
        "openapi-body-optional",
        "OPENAPI",
        "calculate's requestBody leaves out `required`, which OpenAPI reads as an optional body",
        ("OPENAPI-DOC-006",),
    ),
    Fault(
        "openapi-every-input-required",
        "OPENAPI",
        "the `inputs` schema lists every input as required, the optional ones too",
        ("OPENAPI-DOC-007",),
    ),
    Fault(
        "openapi-default-as-text",
        "OPENAPI",
        'each input\'s `default` is the text its cell displays ("false", "10"), not the JSON value',
        ("OPENAPI-DOC-009",),
    ),
    Fault(
        "openapi-errors-undocumented",
        "OPENAPI",
        "calculate documents its 200 only: none of the 400, 401, 403, 404 and 413 it answers",
        ("OPENAPI-DOC-012", "OPENAPI-DOC-013", "OPENAPI-DOC-016"),
    ),
    Fault(
        "openapi-duplicate-operation-id",
        "OPENAPI",
        "the platform document's GET execute was copied from the POST one, operationId `execute` included",
        ("OPENAPI-GPT-003",),
    ),
    Fault(
        "openapi-input-help-inlined",
        "OPENAPI",
        "every input's description carries the workbook's whole guide, unclipped, past the 700 characters "
        "Actions import",
        ("OPENAPI-GPT-005",),
    ),
    Fault(
        "openapi-token-header-parameter",
        "OPENAPI",
        "a private service's calculate documents the token as an `Authorization` header parameter, besides "
        "the security scheme",
        ("OPENAPI-GPT-008", "REPLAY-ACTIONS-001"),
    ),
)
