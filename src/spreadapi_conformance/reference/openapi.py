"""OpenAPI 3.1 documents: one per service (importable as a ChatGPT Action) and one for the platform.

The per-service document is the seed's Option 1: exactly one server (this deployment), one operation
``calculate`` typed from the service definition, bearer auth only when the service is private, and
texts within the GPT Actions limits (300 characters for summaries and descriptions, 700 for a
parameter's description).
"""

from __future__ import annotations

from typing import Any

from ..fixtures import InputDef, ServiceDef
from .faults import active
from .inputs import js_string, percentage_rule

OPENAPI_VERSION = "3.1.0"
SUMMARY_LIMIT = 300
PARAMETER_LIMIT = 700
BEARER = {"bearerAuth": {"type": "http", "scheme": "bearer", "description": "A service token (svc_tk_…)."}}

_SCALAR = {"type": ["number", "string", "boolean", "null"]}
_VALUE = {"anyOf": [_SCALAR, {"type": "array", "items": {"type": "array", "items": _SCALAR}}]}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "description": "Every error body: a short error, a sentence for people, and details when there are any.",
        "required": ["error", "message"],
        "properties": {
            "error": {"type": "string"},
            "message": {"type": "string"},
            "details": {"type": ["object", "null"]},
            "serviceId": {"type": "string"},
            "inputs": {},
        },
    },
    "ExecuteResult": {
        "type": "object",
        "required": ["service", "inputs", "outputs", "metadata"],
        "properties": {
            "service": {
                "type": "object",
                "required": ["id", "name", "description"],
                "properties": {
                    "id": {"type": "string"},
                    "name": {"type": ["string", "null"]},
                    "description": {"type": ["string", "null"]},
                },
            },
            "inputs": {
                "type": "array",
                "description": "The values written into the workbook, after coercion and defaults.",
                "items": {
                    "type": "object",
                    "required": ["name", "title", "value"],
                    "properties": {"name": {"type": "string"}, "title": {"type": "string"}, "value": _SCALAR},
                },
            },
            "outputs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "title", "value"],
                    "properties": {
                        "name": {"type": "string"},
                        "title": {"type": "string"},
                        "value": _VALUE,
                        "formatString": {"type": "string"},
                    },
                },
            },
            "metadata": {
                "type": "object",
                "required": ["executionTime", "totalTime", "timestamp", "version"],
                "properties": {
                    "executionTime": {"type": "number"},
                    "totalTime": {"type": "number"},
                    "timestamp": {"type": "string", "format": "date-time"},
                    "version": {"const": "v1"},
                    "engine": {"type": "string"},
                },
            },
        },
    },
}


# What the faults "openapi-hardcoded-server" and "openapi-long-description" put in a document.
_PRODUCTION = "https://api.spreadapi.example"
_HELP_TEXT = " ".join(["Enter every input the workbook asks for; percentages may be written as 5, 0.05 or 5%."] * 6)
# ... and what "openapi-input-help-inlined" puts into every input's description: the workbook's guide.
_INPUT_GUIDE = " ".join(
    ["Each input goes into one cell of the workbook; an empty optional input takes its default value."] * 8
)


def clip(text: str, limit: int = SUMMARY_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def input_schema(spec: InputDef, faults: frozenset[str] = frozenset()) -> dict[str, Any]:
    """JSON Schema of one input as a client should send it."""
    schema: dict[str, Any] = {"title": spec.title}
    if spec.type in ("number", "integer"):
        schema["type"] = spec.type
        percent, _threshold = percentage_rule(spec)
        if spec.min is not None:
            schema["minimum"] = spec.min
        if spec.max is not None:
            # A percentage also arrives as a whole number of percent (5 for 5%), which the server divides by 100.
            schema["maximum"] = spec.max * 100 if percent else spec.max
    elif spec.type == "boolean":
        schema["type"] = "boolean"
    else:
        schema["type"] = "string"
        if spec.mandatory and not spec.allowed_values:
            schema["minLength"] = 1  # the server counts "" as missing (behaviour reference 1.11, step 2)
    if spec.allowed_values:
        schema["enum"] = list(spec.allowed_values)
    if spec.default is not None:
        # The fault: the default as the cell displays it ("false", "10"), not as the JSON value it is.
        schema["default"] = js_string(spec.default) if active(faults, "openapi-default-as-text") else spec.default
    description = spec.description or spec.title
    if percentage_rule(spec)[0] and spec.type in ("number", "integer"):
        description += ' Percentages: 0.05, 5 and the string "5%" all mean five percent.'
    if active(faults, "openapi-input-help-inlined"):
        schema["description"] = f"{description} {_INPUT_GUIDE}"  # unclipped
    else:
        schema["description"] = clip(description, PARAMETER_LIMIT)
    return schema


def inputs_schema(service: ServiceDef, faults: frozenset[str] = frozenset()) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {spec.name: input_schema(spec, faults) for spec in service.inputs},
    }
    required = [spec.name for spec in service.inputs if spec.mandatory]
    if active(faults, "openapi-every-input-required"):
        required = [spec.name for spec in service.inputs]  # `required` filled from the property list
    if required:
        schema["required"] = required
    return schema


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _execute_responses(private: bool) -> dict[str, Any]:
    responses = {
        "200": {
            "description": "The calculated outputs.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ExecuteResult"}}},
        },
        "400": _error("Invalid request body or inputs (missing, wrong type, out of range, not allowed)."),
        "404": _error("No such published service."),
        "413": _error("Request body too large."),
    }
    if private:
        responses["401"] = _error("Missing, invalid or expired service token.")
        responses["403"] = _error("The token belongs to another service.")
    return responses


def service_document(service: ServiceDef, base_url: str, faults: frozenset[str] = frozenset()) -> dict[str, Any]:
    """``faults``: the deployment bugs to reproduce (``faults.rest``), for the selftest."""
    path = f"/api/v1/services/{service.id}/execute"
    description = service.description or service.title
    if active(faults, "openapi-long-description"):
        description = f"{description} {_HELP_TEXT}"
    else:
        description = clip(description)
    operation: dict[str, Any] = {
        "operationId": "calculate",
        "summary": clip(f"Calculate {service.title}"),
        "description": description,
        # A calculation has no side effects, so ChatGPT need not ask before every call.
        "x-openai-isConsequential": False,
        "requestBody": {
            # OpenAPI's default is false: leaving the member out documents the body as optional.
            **({} if active(faults, "openapi-body-optional") else {"required": True}),
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["inputs"],
                        "properties": {"inputs": {"$ref": "#/components/schemas/Inputs"}},
                    }
                }
            },
        },
        "responses": _execute_responses(not service.public),
    }
    if active(faults, "openapi-errors-undocumented"):
        operation["responses"] = {"200": operation["responses"]["200"]}  # only the happy path written down
    if not service.public and active(faults, "openapi-token-header-parameter"):
        # The token documented as a header parameter, as if the security scheme were not enough.
        header = {"name": "Authorization", "in": "header", "required": True, "schema": {"type": "string"}}
        operation["parameters"] = [{**header, "description": "Bearer <service token>"}]
    inputs = inputs_schema(service, faults)
    if active(faults, "openapi-inputs-untyped"):
        properties = inputs["properties"]
        inputs["properties"] = {name: {"type": "string", "title": p["title"]} for name, p in properties.items()}
    components: dict[str, Any] = {"schemas": {"Inputs": inputs, **SCHEMAS}}
    document: dict[str, Any] = {
        "openapi": "3.0.3" if active(faults, "openapi-declares-3-0") else OPENAPI_VERSION,
        "info": {
            "title": clip(service.title),
            "description": clip(service.description or service.title),
            "version": "1.0.0",
        },
        "servers": [{"url": _PRODUCTION if active(faults, "openapi-hardcoded-server") else base_url}],
        "paths": {path: {"post": operation}},
        "components": components,
    }
    if not service.public and not active(faults, "openapi-private-without-security"):
        components["securitySchemes"] = BEARER
        document["security"] = [{"bearerAuth": []}]
    return document


def platform_document(base_url: str, faults: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The whole REST API, with the service id and the inputs as parameters."""
    service_id = {"name": "serviceId", "in": "path", "required": True, "schema": {"type": "string"}}
    if active(faults, "openapi-path-parameter-optional"):
        del service_id["required"]  # OpenAPI requires `required: true` on every path parameter
    listing_item = {
        "type": "object",
        "required": ["id", "name", "endpoint", "requiresToken"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "status": {"const": "published"},
            "endpoint": {"type": "string"},
            "openapi": {"type": "string"},
            "requiresToken": {"type": "boolean"},
            "inputs": {"type": "array", "items": {"type": "string"}},
            "outputs": {"type": "array", "items": {"type": "string"}},
        },
    }
    details = {
        "type": "object",
        "required": ["id", "name", "requiresToken", "inputs", "outputs"],
        "properties": {
            **listing_item["properties"],
            "inputs": {
                "type": "array",
                "items": {"type": "object", "required": ["name", "type", "required"]},
            },
            "outputs": {"type": "array", "items": {"type": "object", "required": ["name"]}},
        },
    }
    json_ok = {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}
    execute_body = {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["inputs"],
                    "properties": {
                        "inputs": {"type": "object"},
                        "token": {
                            "type": "string",
                            "description": "Service token, for clients that cannot set headers.",
                        },
                        "nocdn": {"type": "boolean"},
                        "nocache": {"type": "boolean"},
                    },
                }
            }
        },
    }
    execute_get_params = [
        service_id,
        {
            "name": "inputs",
            "in": "query",
            "description": "Each input as its own query parameter (name=value).",
            "schema": {"type": "object", "additionalProperties": {"type": "string"}},
            "style": "form",
            "explode": True,
        },
        {"name": "_format", "in": "query", "schema": {"enum": ["json", "csv", "plain"]}},
        {"name": "token", "in": "query", "schema": {"type": "string"}},
    ]
    execute_responses = {
        **_execute_responses(True),
        "200": {
            "description": "The calculated outputs (JSON, or CSV / plain text with _format).",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ExecuteResult"}},
                "text/csv": {"schema": {"type": "string"}},
                "text/plain": {"schema": {"type": "string"}},
            },
        },
    }
    return {
        "openapi": "3.0.3" if active(faults, "openapi-declares-3-0") else OPENAPI_VERSION,
        "info": {
            "title": "SpreadAPI reference platform",
            "description": "Excel workbooks published as calculation services.",
            "version": "1.0.0",
        },
        "servers": [{"url": _PRODUCTION if active(faults, "openapi-hardcoded-server") else base_url}],
        "paths": {
            "/api/v1/services": {
                "get": {
                    "operationId": "listServices",
                    "summary": "List the published services",
                    "parameters": [
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 100},
                        },
                        {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                    ],
                    "responses": {
                        "200": {
                            "description": "A page of services.",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["services", "pagination"],
                                        "properties": {
                                            "services": {"type": "array", "items": listing_item},
                                            "pagination": {"type": "object"},
                                        },
                                    }
                                }
                            },
                        },
                        "400": _error("Invalid paging parameters."),
                    },
                }
            },
            "/api/v1/services/{serviceId}": {
                "get": {
                    "operationId": "getService",
                    "summary": "Describe one service: its inputs and outputs",
                    "parameters": [service_id],
                    "responses": {
                        "200": {
                            "description": "The service.",
                            "content": {"application/json": {"schema": details}},
                        },
                        "404": _error("No such published service."),
                    },
                }
            },
            "/api/v1/services/{serviceId}/execute": {
                "post": {
                    "operationId": "execute",
                    "summary": "Run a calculation",
                    "parameters": [service_id],
                    "requestBody": execute_body,
                    "security": [{}, {"bearerAuth": []}],
                    "responses": execute_responses,
                },
                "get": {
                    # copied from the POST operation above, its operationId with it (the fault)
                    "operationId": "execute" if active(faults, "openapi-duplicate-operation-id") else "executeGet",
                    "summary": "Run a calculation with inputs in the query string",
                    "parameters": execute_get_params,
                    "security": [{}, {"bearerAuth": []}],
                    "responses": execute_responses,
                },
            },
            "/api/v1/services/{serviceId}/openapi.json": {
                "get": {
                    "operationId": "getServiceOpenAPI",
                    "summary": "The OpenAPI document of one service, for a ChatGPT Action",
                    "parameters": [service_id],
                    "responses": {"200": json_ok, "404": _error("No such published service.")},
                }
            },
            "/api/v1/openapi.json": {
                "get": {
                    "operationId": "getOpenAPI",
                    "summary": "This document",
                    "responses": {"200": json_ok},
                }
            },
        },
        "components": {"schemas": SCHEMAS, "securitySchemes": BEARER},
    }
