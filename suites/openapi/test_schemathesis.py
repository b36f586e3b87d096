"""Property-based API testing of the in-process reference against its own OpenAPI documents.

schemathesis loads ``/api/v1/openapi.json`` (the whole REST API) and every fixture service's
``/api/v1/services/<id>/openapi.json`` straight from the ASGI app, generates valid and invalid
requests for each operation, and checks that every answer is documented: status, content type,
body schema, auth enforcement, and no 5xx anywhere. Each API operation is its own pytest item
(``test_service_api[quote][POST /api/v1/services/quote/execute]``).

Not a conformance check: it certifies the reference (and the honesty of its documents), so it
builds its own reference at import. Checks are excluded only where they contradict the documented
contract; each exclusion says why (see ``EXCLUDED``).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import replace
from typing import Any

import pytest
import schemathesis
from hypothesis import given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    positive_data_acceptance,
    unsupported_method,
)

from spreadapi_conformance.reference.app import Reference
from spreadapi_conformance.reference.config import ReferenceConfig

REFERENCE = Reference(ReferenceConfig(warm_up=False))
asyncio.run(REFERENCE.seed())  # the memory store is not bound to an event loop
APP = REFERENCE.app
SERVICE_IDS = tuple(REFERENCE.services)
PRIVATE = next(sid for sid, s in REFERENCE.services.items() if not s.public)
# One header for every call: the private service's token. Public services ignore tokens (as SpreadAPI
# does), so it only changes the answers of the private one; schemathesis' `ignored_auth` check
# re-sends calls to it without and with a wrong token and expects 401.
AUTH = {"Authorization": f"Bearer {REFERENCE.service_tokens[PRIVATE]}"}

# The platform document takes the service id as a path parameter; a random string is always a 404, so
# most draws use a published id (a schemathesis dictionary), the rest stay random to cover the 404s.
PLATFORM = schemathesis.openapi.from_asgi(
    "/api/v1/openapi.json",
    APP,
    config=schemathesis.Config.from_dict(
        {
            "dictionaries": {"service-ids": {"values": list(SERVICE_IDS)}},
            "parameters": {"path.serviceId": {"dictionary": "service-ids", "probability": 0.75}},
        }
    ),
)
# config=Config(): no discovery of a schemathesis.toml that happens to lie around.
SERVICES = {
    sid: schemathesis.openapi.from_asgi(f"/api/v1/services/{sid}/openapi.json", APP, config=schemathesis.Config())
    for sid in SERVICE_IDS
}

# A definition the fixtures do not have: the edge-cases workbook with its free-text `name` mandatory. The
# document must not call "" valid for it, since the server counts "" as missing (behaviour 1.11, step 2).
MANDATORY_TEXT = Reference(
    ReferenceConfig(warm_up=False),
    services={
        "edge-cases": replace(
            REFERENCE.services["edge-cases"],
            inputs=tuple(
                replace(spec, mandatory=True) if spec.name == "name" else spec
                for spec in REFERENCE.services["edge-cases"].inputs
            ),
        )
    },
)
VARIANTS = {
    "edge-cases-mandatory-text": schemathesis.openapi.from_asgi(
        "/api/v1/services/edge-cases/openapi.json", MANDATORY_TEXT.app, config=schemathesis.Config()
    )
}

# The platform document has six operations; schemathesis leaves out the one that serves the document
# it was loaded from (GET /api/v1/openapi.json), so five are tested.
PLATFORM_OPERATIONS = {
    "GET /api/v1/services",
    "GET /api/v1/services/{serviceId}",
    "POST /api/v1/services/{serviceId}/execute",
    "GET /api/v1/services/{serviceId}/execute",
    "GET /api/v1/services/{serviceId}/openapi.json",
}

# Why each excluded check contradicts the documented contract:
EXCLUDED = {
    # The REST API coerces lenient input forms on purpose (behaviour reference 1.11): numeric strings
    # ("12", " 1e3 "), booleans for numbers, "yes"/"ja"/"1" for booleans, "5%" for percentages, enum
    # values in any case, and null or "" for an optional input ("not sent"). The documents type the
    # canonical form a client should send (what a ChatGPT Action needs), so a schema-invalid input is
    # often, and rightly, a 200. `coerced_inputs_match_schema` below checks what such calls really write.
    # The platform document's `nocdn`/`nocache` flags are read with JavaScript truthiness, as SpreadAPI does.
    "execute": [negative_data_rejection],
    # The per-service document is the ChatGPT Action: it documents `calculate` (POST) only. The same path
    # also answers GET and OPTIONS, which the platform document describes, so "an undocumented method
    # must be 405" does not hold there. The platform document keeps the check.
    "calculate": [unsupported_method],
    # The platform document types `inputs` as any object (it cannot know each service's inputs), so a
    # schema-valid `{"inputs": {}}` for a published service is, correctly, a 400 "Missing required
    # parameters". The per-service documents keep the check.
    "platform-execute": [positive_data_acceptance],
}


def input_schemas(schema: schemathesis.BaseSchema) -> dict[str, dict[str, Any]]:
    """The documented schema of each input (the reference's documents keep them in `Inputs`)."""
    return schema.raw_schema["components"]["schemas"]["Inputs"]["properties"]


def coerced_inputs_match_schema(ctx: Any, response: Any, case: schemathesis.Case) -> bool | None:
    """Lenient in what it accepts, strict in what it writes: on a 200, every echoed input value (after
    coercion and defaults) satisfies the documented schema of that input. ``null`` is the documented
    clear-cell sentinel."""
    from jsonschema import Draft202012Validator

    if response.status_code != 200:
        return None
    schemas = input_schemas(case.operation.schema)
    for item in response.json()["inputs"]:
        if item["value"] is None:
            continue
        schema = schemas[item["name"]]
        errors = [e.message for e in Draft202012Validator(schema).iter_errors(item["value"])]
        assert not errors, f"input {item['name']!r} was written as {item['value']!r}: {errors}"
    return True


# --- the operations really collected ---------------------------------------------------------------


def _labels(schema: schemathesis.BaseSchema) -> set[str]:
    return {result.ok().label for result in schema.get_all_operations()}


def test_operations_collected():
    """schemathesis sees every documented operation: five on the platform, `calculate` per service."""
    assert _labels(PLATFORM) == PLATFORM_OPERATIONS
    for sid, schema in SERVICES.items():
        assert _labels(schema) == {f"POST /api/v1/services/{sid}/execute"}
    assert _labels(VARIANTS["edge-cases-mandatory-text"]) == {"POST /api/v1/services/edge-cases/execute"}


# --- every operation, positive and negative, all default checks -------------------------------------


@PLATFORM.parametrize()
@settings(max_examples=20, deadline=None)
def test_platform_api(case: schemathesis.Case) -> None:
    excluded = []
    if case.operation.path.endswith("/execute"):
        excluded = EXCLUDED["execute"] + EXCLUDED["platform-execute"]
    case.call_and_validate(headers=AUTH, excluded_checks=excluded)


@schemathesis.pytest.parametrize(**SERVICES, **VARIANTS)
@settings(max_examples=30, deadline=None)
def test_service_api(case: schemathesis.Case) -> None:
    case.call_and_validate(
        headers=AUTH,
        excluded_checks=EXCLUDED["execute"] + EXCLUDED["calculate"],
        additional_checks=[coerced_inputs_match_schema],
    )


# --- stricter than positive_data_acceptance: a schema-valid body is a 200, every time ---------------


@pytest.mark.parametrize("service_id", SERVICE_IDS)
def test_every_schema_valid_calculation_succeeds(service_id: str) -> None:
    """With a valid token, every body the per-service document calls valid gets 200 (not merely 'not a
    5xx'), and every answer passes all checks. Counts the calls, so a silent no-op cannot pass."""
    operation = SERVICES[service_id][f"/api/v1/services/{service_id}/execute"]["POST"]
    statuses: Counter[int] = Counter()

    @given(case=operation.as_strategy(GenerationMode.POSITIVE))
    @settings(max_examples=25, deadline=None)
    def check(case: schemathesis.Case) -> None:
        response = case.call(headers=AUTH)
        statuses[response.status_code] += 1
        assert response.status_code == 200, f"{case.body!r}: HTTP {response.status_code} {response.text[:300]}"
        case.validate_response(
            response,
            excluded_checks=EXCLUDED["calculate"],
            additional_checks=[coerced_inputs_match_schema],
            headers=AUTH,
        )

    check()
    assert statuses[200] >= 10, f"too few calculations ran: {dict(statuses)}"


def _query_text(value: Any) -> str:
    """A JSON input value as a client puts it into a query string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


@pytest.mark.parametrize("service_id", SERVICE_IDS)
def test_platform_execute_on_published_services(service_id: str) -> None:
    """The platform document's execute (POST, and GET in each `_format`), pinned to a published service,
    with valid inputs drawn from the service's own document: the platform's schemas describe the answers."""
    declared = set(input_schemas(SERVICES[service_id]))
    inner_strategy = SERVICES[service_id][f"/api/v1/services/{service_id}/execute"]["POST"].as_strategy()
    operations = PLATFORM["/api/v1/services/{serviceId}/execute"]
    statuses: Counter[str] = Counter()

    @given(inner=inner_strategy)
    @settings(max_examples=10, deadline=None)
    def check(inner: schemathesis.Case) -> None:
        # Only the declared inputs: an extra key `token` or `_format` would mean something else in a query.
        inputs = {k: v for k, v in inner.body["inputs"].items() if k in declared}
        path = {"serviceId": service_id}
        query = {k: _query_text(v) for k, v in inputs.items()}
        cases = [operations["POST"].Case(path_parameters=path, body={"inputs": inputs})] + [
            operations["GET"].Case(path_parameters=path, query={**query, "_format": fmt})
            for fmt in ("json", "csv", "plain")
        ]
        for case in cases:
            response = case.call(headers=AUTH)
            media = response.headers.get("content-type", [""])[0].split(";")[0]
            statuses[f"{case.method} {response.status_code} {media}"] += 1
            assert response.status_code == 200, f"{case.method} {inputs!r}: HTTP {response.status_code} {response.text}"
            case.validate_response(response, excluded_checks=EXCLUDED["execute"], headers=AUTH)

    check()
    assert set(statuses) == {
        "POST 200 application/json",
        "GET 200 application/json",
        "GET 200 text/csv",
        "GET 200 text/plain",
    }, dict(statuses)
    assert sum(statuses.values()) >= 20, f"too few calculations ran: {dict(statuses)}"


# --- stateful: links inferred between the platform's operations --------------------------------------


class PlatformWorkflow(PLATFORM.as_state_machine()):  # type: ignore[misc]
    def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
        return {"headers": AUTH}

    def validate_response(self, response: Any, case: schemathesis.Case, additional_checks=None, **kwargs: Any) -> None:
        excluded = EXCLUDED["execute"] + EXCLUDED["platform-execute"] if case.path.endswith("/execute") else []
        case.validate_response(
            response,
            additional_checks=additional_checks,
            excluded_checks=excluded,
            transport_kwargs=kwargs or None,
            recorder=getattr(self, "recorder", None),
        )


PlatformWorkflow.TestCase.settings = settings(max_examples=8, stateful_step_count=5, deadline=None)
TestPlatformWorkflow = PlatformWorkflow.TestCase
