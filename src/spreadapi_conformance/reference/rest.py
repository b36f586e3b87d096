"""The REST API, ``/api/v1/...`` (behaviour reference, section 2), and its OpenAPI documents."""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import json
import math
import re
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..fixtures import ServiceDef
from .bodies import BodyError, parse_json_object
from .calculation import calculate
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


def error(status: int, error: str, message: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": error, "message": message, **extra}, status, headers={**CORS, **(headers or {})})


def base_url(request: Request) -> str:
    configured = request.app.state.config.base_url
    return (configured or str(request.base_url)).rstrip("/")


def _service_or_404(request: Request) -> ServiceDef | JSONResponse:
    service = request.app.state.catalog.get(request.path_params["service_id"])
    return service if service is not None else JSONResponse(NOT_FOUND, 404, headers=CORS)


def _summary(service: ServiceDef, root: str) -> dict[str, Any]:
    return {
        "id": service.id,
        "name": service.title,
        "description": service.description,
        "status": "published",
        "endpoint": f"{root}/api/v1/services/{service.id}/execute",
        "openapi": f"{root}/api/v1/services/{service.id}/openapi.json",
        "requiresToken": not service.public,
    }


async def list_services(request: Request) -> Response:
    limit_text = request.query_params.get("limit", "50")
    offset_text = request.query_params.get("offset", "0")
    # ASCII digits only: int() would also take "1_0", " 5" and other scripts' digits.
    if not (re.fullmatch(r"[0-9]+", limit_text) and re.fullmatch(r"[0-9]+", offset_text)):
        return error(400, "INVALID_REQUEST", "limit and offset must be whole numbers")
    limit, offset = int(limit_text), int(offset_text)
    if not (1 <= limit <= 100) or offset < 0:
        status = 422 if active(request, "rest-listing-range-422") else 400
        return error(status, "INVALID_REQUEST", "limit must be between 1 and 100 and offset at least 0")
    services = sorted(request.app.state.catalog.services.values(), key=lambda s: s.title.lower())
    if active(request, "rest-listing-trusts-x-user-id") and (user := request.headers.get("x-user-id")):
        # the bug (quirk Q2): the header is taken for the signed-in user, whose own services are listed
        services = [s for s in services if user == SERVICE_OWNER]
    root = "" if active(request, "rest-listing-relative-endpoint") else base_url(request)
    shown = services if active(request, "rest-listing-ignores-limit") else services[offset : offset + limit]
    page = [
        {**_summary(s, root), "inputs": [i.name for i in s.inputs], "outputs": [o.name for o in s.outputs]}
        for s in shown
    ]
    pagination = {
        "total": len(services),
        "limit": limit,
        "offset": offset,
        "hasMore": offset + limit < len(services),
    }
    return JSONResponse({"services": page, "pagination": pagination}, headers=CORS)


async def service_details(request: Request) -> Response:
    service = _service_or_404(request)
    if isinstance(service, Response):
        return service
    inputs, outputs = describe_inputs(service), describe_outputs(service)
    return JSONResponse({**_summary(service, base_url(request)), "inputs": inputs, "outputs": outputs}, headers=CORS)


async def service_openapi(request: Request) -> Response:
    service = _service_or_404(request)
    if isinstance(service, Response):
        return service
    faults = request.app.state.config.faults
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


async def _authorise(request: Request, service: ServiceDef, body_token: Any) -> JSONResponse | None:
    """None when the call may proceed. A public service ignores tokens, as SpreadAPI does."""
    if service.public:
        return None
    token = body_token if isinstance(body_token, str) and body_token else None
    exact_key = active(request, "rest-query-token-case-sensitive")
    query_token = next(
        (v for k, v in request.query_params.multi_items() if (k if exact_key else k.lower()) == "token" and v), None
    )
    token = token or query_token or bearer_token(request)
    if token is None:
        return error(
            401,
            "Authentication required",
            "This service is private: send a service token as 'Authorization: Bearer <token>'.",
            None if active(request, "rest-401-without-challenge") else {"WWW-Authenticate": 'Bearer realm="spreadapi"'},
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
        return error(403, check.error, "This token is valid for another service, not this one.")
    # Refused with 401 (a store that does not answer raises StoreUnavailable: the app's 503).
    challenge = f'Bearer realm="spreadapi", error="invalid_token", error_description="{check.error}"'
    return error(
        401,
        check.error,
        f"The service token {token} is not valid for this service."
        if active(request, "rest-refused-token-echoed")
        else "The service token is not valid for this service.",
        {"WWW-Authenticate": challenge},
    )


async def _read_json_body(request: Request) -> dict[str, Any] | JSONResponse:
    limit = request.app.state.config.max_body_bytes
    if active(request, "rest-body-size-unbounded"):
        limit = 1 << 62
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
        return parse_json_object(raw)
    except BodyError as exc:
        return error(400, "INVALID_REQUEST", str(exc))


async def _execute(request: Request, service: ServiceDef, body: dict[str, Any]) -> JSONResponse | dict[str, Any]:
    started = time.perf_counter()
    inputs = body.get("inputs")
    if not isinstance(inputs, dict):
        return error(400, "INVALID_REQUEST", 'Request body must contain "inputs" object')
    if active(request, "rest-validates-before-auth"):
        try:
            resolve(service, inputs, request.app.state.config.faults)
        except InputError as exc:
            return error(400, exc.error, exc.message, serviceId=service.id, inputs=inputs, details=exc.details)
    cache = _result_cache(request) if active(request, "rest-result-cache-before-auth") else None
    key = _cache_key(service, inputs)
    if cache is not None and key in cache:
        return copy.deepcopy(cache[key])  # the bug: a hit is served before the token is looked at
    denied = await _authorise(request, service, body.get("token"))
    if denied is not None:
        return denied
    try:
        resolved = resolve(service, inputs, request.app.state.config.faults)
    except InputError as exc:
        return error(400, exc.error, exc.message, serviceId=service.id, inputs=inputs, details=exc.details)
    result = await calculate(request.app.state.catalog, service, resolved)
    result["metadata"].update(totalTime=round((time.perf_counter() - started) * 1000, 3), version="v1")
    if cache is not None:
        cache[key] = copy.deepcopy(result)
    return result


def _cache_key(service: ServiceDef, inputs: dict[str, Any]) -> str:
    """SpreadAPI's result-cache key (1.12): the service and a hash of the inputs as supplied, keys sorted."""
    digest = hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return f"{service.id}:{digest}"


def _result_cache(request: Request) -> dict[str, dict[str, Any]]:
    """The result cache the fault ``rest-result-cache-before-auth`` keeps (the reference computes afresh)."""
    state = request.app.state
    if not hasattr(state, "result_cache"):
        state.result_cache = {}
    return state.result_cache


def _cache_headers(request: Request, service: ServiceDef, no_store: bool) -> dict[str, str]:
    # A private service's answer is for its token holder only; never let a shared cache keep it.
    private = not service.public and not active(request, "rest-private-results-cacheable")
    if no_store or private:
        return {"Cache-Control": "no-store"}
    return {"Cache-Control": "public, max-age=300"}


async def execute_post(request: Request) -> Response:
    service = _service_or_404(request)
    if isinstance(service, Response):
        return service
    body = await _read_json_body(request)
    if isinstance(body, Response):
        return body
    result = await _execute(request, service, body)
    if isinstance(result, Response):
        return _error_answer(request, result)
    no_store = bool(body.get("nocdn") or body.get("nocache"))
    return JSONResponse(result, headers={**CORS, **_cache_headers(request, service, no_store)})


def _error_answer(request: Request, response: Response) -> Response:
    if active(request, "rest-errors-without-cors"):
        for name in CORS:
            del response.headers[name]
    return response


def _query_value(text: str) -> Any:
    """SpreadAPI's GET typing: exactly true/false are booleans, numbers are numbers, the rest strings."""
    if text in ("true", "false"):
        return text == "true"
    number = js_number(text)
    if text.strip() and math.isfinite(number):
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    return text


async def execute_get(request: Request) -> Response:
    service = _service_or_404(request)
    if isinstance(service, Response):
        return service
    inputs: dict[str, Any] = {}
    flags = {flag: request.query_params.get(flag) == "true" for flag in _CONTROL_FLAGS}
    for key, value in request.query_params.multi_items():
        lowered = key.lower()
        token_key = key == "token" if active(request, "rest-query-token-case-sensitive") else lowered == "token"
        if token_key or lowered in _CONTROL_FLAGS or key.startswith("_"):
            continue
        inputs[lowered] = _query_value(value)
    fmt = request.query_params.get("_format", "json")
    if fmt not in ("json", "csv", "plain"):
        return error(400, "INVALID_REQUEST", f"_format must be json, csv or plain, not {fmt!r}")
    result = await _execute(request, service, {"inputs": inputs})
    if isinstance(result, Response) and fmt != "json" and active(request, "rest-get-error-in-asked-format"):
        problem = json.loads(result.body)
        text = f"error: {problem['error']}\nmessage: {problem['message']}\n"
        return Response(text, result.status_code, media_type=f"text/{fmt}; charset=utf-8", headers=CORS)
    if isinstance(result, Response):
        return _error_answer(request, result)
    headers = {**CORS, **_cache_headers(request, service, any(flags.values()))}
    if fmt == "json":
        indent = 2 if request.query_params.get("_pretty") == "true" else None
        text = json.dumps(result, ensure_ascii=False, indent=indent, allow_nan=False)
        return Response(text, media_type="application/json", headers=headers)
    if fmt == "plain":
        lines = [f"{o['name']}: {_flat(o['value'])}" for o in result["outputs"]]
        return Response("\n".join(lines), media_type="text/plain; charset=utf-8", headers=headers)
    if active(request, "rest-csv-unquoted"):
        rows = ([o["name"] for o in result["outputs"]], [_flat(o["value"]) for o in result["outputs"]])
        return Response("".join(",".join(row) + "\n" for row in rows), media_type="text/csv", headers=headers)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([o["name"] for o in result["outputs"]])
    writer.writerow([_flat(o["value"]) for o in result["outputs"]])
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)


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
    return Response(status_code=204, headers=CORS)
