"""The REST API, ``/api/v1/...`` (behaviour reference, section 2), and its OpenAPI documents."""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import re
import time
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..fixtures import ServiceDef
from .bodies import BodyError, parse_json_object
from .calculation import calculate, result_cache, result_cache_key
from .credentials import validated_service_token
from .describe import describe_inputs, describe_outputs
from .faults import active
from .inputs import InputError, js_number, resolve
from .openapi import platform_document, service_document

CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Authorization",
}
NOT_FOUND = {"error": "Not found", "message": "Service not found or not published"}
_CONTROL_FLAGS = ("nocdn", "nocache")
SERVICE_OWNER = "reference"  # the one user who published every service of the reference


def cors(request: Request) -> dict[str, str]:
    """The CORS headers of every REST answer: any origin may call (behaviour 2.1, 2.3)."""
    if active(request, "rest-cors-reflects-origin"):
        # A CORS setup copied from a credentialed app: the caller's Origin is echoed, none without one.
        origin = request.headers.get("origin")
        return {**CORS, "Access-Control-Allow-Origin": origin} if origin else {}
    return CORS


def error(status: int, error: str, message: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": error, "message": message, **extra}, status, headers={**CORS, **(headers or {})})


def base_url(request: Request) -> str:
    configured = request.app.state.config.base_url
    return (configured or str(request.base_url)).rstrip("/")


def _service_or_404(request: Request) -> ServiceDef | JSONResponse:
    service = request.app.state.catalog.get(request.path_params["service_id"])
    return service if service is not None else JSONResponse(NOT_FOUND, 404, headers=CORS)


def _summary(request: Request, service: ServiceDef, root: str) -> dict[str, Any]:
    summary = {
        "id": service.id,
        "name": service.title,
        "description": service.description,
        "status": "published",
        "endpoint": f"{root}/api/v1/services/{service.id}/execute",
        "openapi": f"{root}/api/v1/services/{service.id}/openapi.json",
        "requiresToken": not service.public,
    }
    if active(request, "rest-summary-without-requires-token"):
        del summary["requiresToken"]  # the visibility lives in another table the summary query never joins
    return summary


async def list_services(request: Request) -> Response:
    limit_text = request.query_params.get("limit", "50")
    offset_text = request.query_params.get("offset", "0")
    # ASCII digits only: int() would also take "1_0", " 5" and other scripts' digits.
    if active(request, "rest-paging-falls-back-to-defaults"):
        # What does not parse is quietly replaced by the default, instead of being refused.
        limit_text = limit_text if re.fullmatch(r"[0-9]+", limit_text) else "50"
        offset_text = offset_text if re.fullmatch(r"[0-9]+", offset_text) else "0"
    if not (re.fullmatch(r"[0-9]+", limit_text) and re.fullmatch(r"[0-9]+", offset_text)):
        return error(400, "INVALID_REQUEST", "limit and offset must be whole numbers")
    limit, offset = int(limit_text), int(offset_text)
    if not (1 <= limit <= 100) or offset < 0:
        status = 422 if active(request, "rest-listing-range-422") else 400
        return error(status, "INVALID_REQUEST", "limit must be between 1 and 100 and offset at least 0")
    services = sorted(request.app.state.catalog.services.values(), key=lambda s: s.title.lower())
    if active(request, "rest-listing-public-only"):
        services = [s for s in services if s.public]  # the listing query filters on visibility
    if active(request, "rest-offset-clamped") and services and offset >= len(services):
        offset = len(services) - 1  # "show the last page" instead of an empty one
    if active(request, "rest-listing-trusts-x-user-id") and (user := request.headers.get("x-user-id")):
        # the bug (quirk Q2): the header is taken for the signed-in user, whose own services are listed
        services = [s for s in services if user == SERVICE_OWNER]
    root = "" if active(request, "rest-listing-relative-endpoint") else base_url(request)
    shown = services if active(request, "rest-listing-ignores-limit") else services[offset : offset + limit]
    page = [
        {**_summary(request, s, root), "inputs": [i.name for i in s.inputs], "outputs": [o.name for o in s.outputs]}
        for s in shown
    ]
    has_more = offset + limit < len(services)
    if active(request, "rest-has-more-from-page-size"):
        has_more = len(page) == limit  # the classic shortcut: a full page means there is more
    pagination = {"total": len(services), "limit": limit, "offset": offset, "hasMore": has_more}
    return JSONResponse({"services": page, "pagination": pagination}, headers=CORS)


async def service_details(request: Request) -> Response:
    service = _service_or_404(request)
    if isinstance(service, Response):
        return service
    faults = request.app.state.config.faults
    inputs, outputs = describe_inputs(service, faults), describe_outputs(service, faults)
    summary = _summary(request, service, base_url(request))
    return JSONResponse({**summary, "inputs": inputs, "outputs": outputs}, headers=CORS)


async def service_openapi(request: Request) -> Response:
    faults = request.app.state.config.faults
    service = _service_or_404(request)
    if isinstance(service, Response) and active(request, "openapi-unknown-service-document"):
        # The document is rendered from the id in the URL, whether or not such a service is published.
        unknown = request.path_params["service_id"]
        service = ServiceDef(unknown, unknown, "", public=True, workbook=Path(), inputs=(), outputs=())
    if isinstance(service, Response):
        return service
    return JSONResponse(service_document(service, base_url(request), faults), headers=CORS)


async def platform_openapi(request: Request) -> Response:
    faults = request.app.state.config.faults
    document = platform_document(base_url(request), faults)
    if active(request, "openapi-document-bom"):  # the bug: encoded as Windows tools write "UTF-8"
        text = json.dumps(document, ensure_ascii=False, allow_nan=False).encode("utf-8-sig")
        return Response(text, media_type="application/json", headers=CORS)
    return JSONResponse(document, headers=CORS)


def bearer_token(request: Request) -> str | None:
    parts = request.headers.get("authorization", "").split()
    if active(request, "rest-bearer-scheme-case-sensitive"):
        return parts[1] if len(parts) == 2 and parts[0] == "Bearer" else None
    if len(parts) == 2 and parts[0].lower() == "bearer":
        return parts[1]
    return None


async def _mcp_grant(request: Request, token: str) -> list[str]:
    return await request.app.state.mcp_tokens.validate(token) or []


async def _oauth_grant(request: Request, token: str) -> tuple[str, ...]:
    grant = await request.app.state.oauth_tokens.resolve(token)
    return grant.service_ids if grant is not None else ()


def _sent_token(request: Request, body_token: Any) -> str | None:
    """The service token as sent: the body's `token`, `?token=` (any case), or the bearer header."""
    token = body_token if isinstance(body_token, str) and body_token else None
    if active(request, "rest-body-token-ignored"):
        token = None  # only the header and the query are read
    exact_key = active(request, "rest-query-token-case-sensitive")
    query_token = next(
        (v for k, v in request.query_params.multi_items() if (k if exact_key else k.lower()) == "token" and v), None
    )
    if active(request, "rest-query-token-ignored"):
        query_token = None  # the key is dropped from the inputs, but never read as the token
    header_token = bearer_token(request)
    if request.method == "GET" and active(request, "rest-get-header-token-ignored"):
        header_token = None  # GET was written for links: it reads the query only
    return token or query_token or header_token


def _refused(request: Request, status: int, error_code: str, message: str, challenge: str) -> JSONResponse:
    if active(request, "rest-auth-refusals-400"):
        return error(400, error_code, message)  # SpreadAPI's own status for every refusal, with no challenge
    return error(status, error_code, message, {"WWW-Authenticate": challenge} if challenge else None)


async def _authorise(request: Request, service: ServiceDef, body_token: Any) -> JSONResponse | None:
    """None when the call may proceed. A public service ignores tokens, as SpreadAPI does."""
    token = _sent_token(request, body_token)
    if service.public and not (token is not None and active(request, "rest-public-checks-tokens")):
        return None
    if token is None:
        return _refused(
            request,
            401,
            "Authentication required",
            "This service is private: send a service token as 'Authorization: Bearer <token>'.",
            "" if active(request, "rest-401-without-challenge") else 'Bearer realm="spreadapi"',
        )
    check = await validated_service_token(
        request, token, service.id, cached=active(request, "rest-service-token-cached")
    )
    if check.valid:
        return None
    if active(request, "rest-mcp-token-accepted") and service.id in (await _mcp_grant(request, token)):
        return None
    if active(request, "rest-accepts-oauth-tokens") and service.id in (await _oauth_grant(request, token)):
        return None
    if check.status == 403 and active(request, "rest-token-of-any-service"):
        return None
    if check.error == "Token expired" and active(request, "rest-expired-token-accepted"):
        return None
    if check.status == 403:
        if active(request, "rest-403-quotes-token"):
            return _refused(request, 403, check.error, f"The token {token} is valid for another service.", "")
        return _refused(request, 403, check.error, "This token is valid for another service, not this one.", "")
    # Refused with 401 (a store that does not answer raises StoreUnavailable: the app's 503).
    challenge = f'Bearer realm="spreadapi", error="invalid_token", error_description="{check.error}"'
    return _refused(
        request,
        401,
        check.error,
        f"The service token {token} is not valid for this service."
        if active(request, "rest-refused-token-echoed")
        else "The service token is not valid for this service.",
        challenge,
    )


async def _read_json_body(request: Request) -> dict[str, Any] | JSONResponse:
    limit = request.app.state.config.max_body_bytes
    if active(request, "rest-body-size-unbounded"):
        limit = 1 << 62
    if active(request, "rest-body-limit-too-small"):
        limit = 100_000  # a zero short of the 1,000,000 bytes the API takes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return error(413, "PAYLOAD_TOO_LARGE", f"The request body is larger than {limit} bytes.")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            return error(413, "PAYLOAD_TOO_LARGE", f"The request body is larger than {limit} bytes.")
    if active(request, "rest-malformed-json-500") or active(request, "rest-traceback-in-errors"):
        return json.loads(raw)  # NaN and malformed bodies raise, or crash later, in the handler
    try:
        return parse_json_object(raw, request.app.state.config.faults)
    except BodyError as exc:
        return error(400, "INVALID_REQUEST", str(exc))


async def _execute(request: Request, service: ServiceDef, body: dict[str, Any]) -> JSONResponse | dict[str, Any]:
    started = time.perf_counter()
    inputs = body.get("inputs")
    if active(request, "rest-inputs-default-empty"):
        inputs = inputs or {}  # a missing `inputs` reads as "no inputs given"
    if not isinstance(inputs, dict):
        return error(400, "INVALID_REQUEST", 'Request body must contain "inputs" object')
    faults = request.app.state.config.faults
    if active(request, "rest-validates-before-auth"):
        try:
            resolve(service, inputs, faults)
        except InputError as exc:
            return _invalid(request, service, body, exc)
    catalog = request.app.state.catalog
    cache = result_cache(catalog, "rest") if active(request, "rest-result-cache-before-auth") else None
    key = result_cache_key(service.id, inputs)
    if cache is not None and key in cache:
        return copy.deepcopy(cache[key])  # the bug: a hit is served before the token is looked at
    denied = await _authorise(request, service, body.get("token"))
    if denied is not None:
        return denied
    if active(request, "workbook-written-before-validation"):
        # The values as sent go into the service's workbook first; validation reads them back from there.
        staged = {spec.name: inputs[spec.name] for spec in service.inputs if spec.name in inputs}
        request.app.state.catalog.stage(service.id, staged)
    try:
        resolved = resolve(service, inputs, faults)
    except InputError as exc:
        return _invalid(request, service, body, exc)
    result = await calculate(request.app.state.catalog, service, resolved)
    result["metadata"].update(totalTime=round((time.perf_counter() - started) * 1000, 3), version="v1")
    if cache is not None:
        cache[key] = copy.deepcopy(result)
    return result


def _invalid(request: Request, service: ServiceDef, body: dict[str, Any], exc: InputError) -> JSONResponse:
    """The 400 of inputs that fail validation (behaviour 2.1 step 6): the service and the inputs as sent."""
    if active(request, "rest-validation-error-bare"):
        return error(400, exc.error, exc.message, details=exc.details)
    context: dict[str, Any] = {"serviceId": service.id, "inputs": body.get("inputs")}
    if active(request, "rest-error-echoes-request"):
        # "for debugging": the request as received (the body, or GET's query), its token included
        context["request"] = body if request.method == "POST" else dict(request.query_params)
    return error(400, exc.error, exc.message, **context, details=exc.details)


def _cache_headers(request: Request, service: ServiceDef, no_store: bool) -> dict[str, str]:
    # A private service's answer is for its token holder only; never let a shared cache keep it.
    private = not service.public and not active(request, "rest-private-results-cacheable")
    if no_store or private:
        return {"Cache-Control": "no-store"}
    return {"Cache-Control": "public, max-age=300"}


def _execute_target(request: Request) -> ServiceDef | Response:
    """The service execute is asked for, or the answer that ends the call."""
    service = _service_or_404(request)
    if isinstance(service, Response) and active(request, "rest-unknown-service-401"):
        # The token gate runs before the look-up and takes a service it does not know for a private one.
        return _refused(request, 401, "Authentication required", "Send a service token.", 'Bearer realm="spreadapi"')
    return service


async def execute_post(request: Request) -> Response:
    service = _execute_target(request)
    if isinstance(service, Response):
        return service
    body = await _read_json_body(request)
    if isinstance(body, Response):
        return body
    result = await _execute(request, service, body)
    if isinstance(result, Response):
        return _error_answer(request, result)
    no_store = bool(body.get("nocdn") or body.get("nocache"))
    headers = {**cors(request), **_cache_headers(request, service, no_store)}
    if active(request, "rest-json-without-content-type"):
        # Serialised by hand and sent as a bare Response: no media type, so no Content-Type header.
        return Response(json.dumps(result, ensure_ascii=False), headers=headers)
    return JSONResponse(result, headers=headers)


def _error_answer(request: Request, response: Response) -> Response:
    if active(request, "rest-errors-without-cors"):
        for name in CORS:
            del response.headers[name]
    if active(request, "rest-cors-reflects-origin"):
        for name in CORS:
            del response.headers[name]
        response.headers.update(cors(request))
    return response


def _displayed(value: Any, format_string: str | None) -> Any:
    """A number as the sheet displays it with its number format (`€#,##0.00` -> "€1,234.50")."""
    if not format_string or isinstance(value, bool) or not isinstance(value, int | float):
        return value
    digits = format_string.split(".")[1].count("0") if "." in format_string else 0
    start = min(i for i, c in enumerate(format_string) if c in "#0")
    return f"{format_string[:start]}{value:,.{digits}f}"


def _query_value(text: str) -> Any:
    """SpreadAPI's GET typing: exactly true/false are booleans, numbers are numbers, the rest strings."""
    if text in ("true", "false"):
        return text == "true"
    number = js_number(text)
    if text.strip() and math.isfinite(number):
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    return text


async def execute_get(request: Request) -> Response:
    service = _execute_target(request)
    if isinstance(service, Response):
        return service
    inputs: dict[str, Any] = {}
    flags = {flag: request.query_params.get(flag) == "true" for flag in _CONTROL_FLAGS}
    for key, value in request.query_params.multi_items():
        lowered = key.lower()
        token_key = key == "token" if active(request, "rest-query-token-case-sensitive") else lowered == "token"
        if token_key or lowered in _CONTROL_FLAGS or key.startswith("_"):
            continue
        # Keys keep their case only under the fault (its matching is case-sensitive from the query on).
        inputs[key if active(request, "inputs-keys-case-sensitive") else lowered] = _query_value(value)
    fmt = request.query_params.get("_format", "json")
    if fmt not in ("json", "csv", "plain") and active(request, "rest-unknown-format-as-json"):
        fmt = "json"  # anything unknown falls back to the default format
    if fmt not in ("json", "csv", "plain"):
        return error(400, "INVALID_REQUEST", f"_format must be json, csv or plain, not {fmt!r}")
    result = await _execute(request, service, {"inputs": inputs})
    if isinstance(result, Response) and fmt != "json" and active(request, "rest-get-error-in-asked-format"):
        problem = json.loads(result.body)
        text = f"error: {problem['error']}\nmessage: {problem['message']}\n"
        return Response(text, result.status_code, media_type=f"text/{fmt}; charset=utf-8", headers=CORS)
    if isinstance(result, Response):
        return _error_answer(request, result)
    if active(request, "rest-get-values-formatted"):
        # GET was meant for people: each output as the sheet displays it, where POST gives the value.
        for output in result["outputs"]:
            output["value"] = _displayed(output["value"], output.get("formatString"))
    headers = {**cors(request), **_cache_headers(request, service, any(flags.values()))}
    # One media type set for the route, whatever the format (the fault), or the format's own.
    same_type = active(request, "rest-formats-json-content-type")
    if fmt == "json":
        indent = 2 if request.query_params.get("_pretty") == "true" else None
        text = json.dumps(result, ensure_ascii=False, indent=indent, allow_nan=False)
        return Response(text, media_type="application/json", headers=headers)
    if fmt == "plain":
        label = "title" if active(request, "rest-plain-lines-titled") else "name"
        show = repr_value if active(request, "rest-plain-values-repr") else _flat
        lines = [f"{o[label]}: {show(o['value'])}" for o in result["outputs"]]
        media = "application/json" if same_type else "text/plain; charset=utf-8"
        return Response("\n".join(lines), media_type=media, headers=headers)
    header = [o["title" if active(request, "rest-csv-header-titles") else "name"] for o in result["outputs"]]
    media = "application/json" if same_type else "text/csv; charset=utf-8"
    if active(request, "rest-csv-unquoted"):
        rows = (header, [_flat(o["value"]) for o in result["outputs"]])
        return Response("".join(",".join(row) + "\n" for row in rows), media_type="text/csv", headers=headers)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerow([_flat(o["value"]) for o in result["outputs"]])
    return Response(buffer.getvalue(), media_type=media, headers=headers)


def repr_value(value: Any) -> str:
    """A value as Python prints it: `[[1, 2.5]]` for a range, `None` for an empty cell."""
    return str(value)


def _flat(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(_flat(v) for v in value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


async def execute_options(request: Request) -> Response:
    if active(request, "rest-preflight-needs-token"):
        service = _service_or_404(request)
        if isinstance(service, ServiceDef) and (denied := await _authorise(request, service, None)):
            return denied
    headers = cors(request)
    if active(request, "rest-preflight-minimal"):
        # Only the origin was configured: no methods, no request headers allowed beyond the simple ones.
        headers = {k: v for k, v in headers.items() if k == "Access-Control-Allow-Origin"}
    return Response(status_code=204, headers=headers)
