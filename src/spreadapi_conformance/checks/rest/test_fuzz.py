"""REST-FUZZ: schemathesis against any target: every operation of the platform document and of each published
service's document, with requests generated from the document itself, valid and invalid.

The document is fetched from the target; schemathesis only generates the cases (its coverage cases, each
documented constraint at and past its bounds, then ``as_strategy``'s random ones), and the kit
sends each one through its own client, so every request is paced by ``--spreadapi-max-rps``, recorded as
evidence and refused by the credential guard when it would leave the target's origin. A published service
id stands in for most generated path ids (a random id is always a 404), and a private service's token goes
with the requests that name it. How many cases: the coverage cases, plus ``--spreadapi-fuzz-examples`` random
ones per operation and generation mode (valid, invalid). Only what reads or calculates is sent: the
operations with GET or HEAD, and POST on the execute path; never an operation that may write, nor a method
the document does not give the operation.

Both checks judge the same run of a document (sent once, kept for the module): REST-FUZZ-001 its statuses,
REST-FUZZ-002 whether each answer is documented. A failing check sends its first offending case once more,
so that the exchange is the report's evidence, and names it in its reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import httpx
import pytest
import schemathesis
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.errors import InvalidSchema, LoaderError
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from spreadapi_conformance.report.evidence import measure
from spreadapi_conformance.strategies import drawn

from ..answers import excerpt
from ..premise import not_applicable
from ._support import FIXTURE_IDS

if TYPE_CHECKING:
    from ..target import Target


# Requests per fuzz example (6 operations × 2 modes at most), and the boundary cases (about 150 per document).
pytestmark = [pytest.mark.conformance, pytest.mark.fuzz(12, 200)]

DOCUMENTS = ("platform", *FIXTURE_IDS)
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
# What "documented" means for one answer: a status the operation declares, a media type it declares for
# that status, a body matching its schema.
DOCUMENTED = [status_code_conformance, content_type_conformance, response_schema_conformance]
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}
SHOWN = 300  # characters of a generated request shown in a reason


@dataclass
class Exchange:
    """One generated case as sent, and what the target answered."""

    operation: str
    request: dict[str, Any]  # httpx.request's keyword arguments
    status: int
    answer: str  # the answer in one line
    undocumented: str | None  # why the answer is not what the document declares, or None


@dataclass
class Run:
    """A document's fuzz run: every case sent, per operation."""

    exchanges: list[Exchange] = field(default_factory=list)
    not_sent: list[str] = field(default_factory=list)  # operations that may write: never sent

    def per_operation(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for exchange in self.exchanges:
            counts[exchange.operation] = counts.get(exchange.operation, 0) + 1
        return counts


@pytest.fixture(scope="module")
def fuzz_runs() -> dict[str, Run]:
    """The runs of this module, by document: the two checks judge the same requests."""
    return {}


# -- the document and its cases -----------------------------------------------------------------------


def document_path(target: Target, document: str) -> str:
    return target.path("platform_openapi") if document == "platform" else target.path("openapi", fixture=document)


async def fetch_document(client: httpx.AsyncClient, target: Target, document: str) -> dict[str, Any]:
    """The document as the target serves it; not applicable when it serves none (OPENAPI-DOC judges that)."""
    path = document_path(target, document)
    response = await client.get(path, headers={} if document == "platform" else target.auth(document))
    try:
        body = response.json() if response.status_code == 200 else None
    except (ValueError, RecursionError):  # not JSON, or nested past the parser's depth: no document either way
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("paths"), dict):
        what = "the platform document" if document == "platform" else f"the document of {document!r}"
        not_applicable(f"the target serves no OpenAPI document at {path} ({what}): {excerpt(response, 120)}")
    return body


def path_parameters(raw: dict[str, Any]) -> set[str]:
    """The names of the document's path parameters (the platform document's service id)."""
    names = set()
    for item in (i for i in raw["paths"].values() if isinstance(i, dict)):  # the rest: schemathesis says what
        for operation in [item, *(v for v in item.values() if isinstance(v, dict))]:
            parameters = operation.get("parameters")
            for parameter in parameters if isinstance(parameters, list) else []:
                if (
                    isinstance(parameter, dict)
                    and parameter.get("in") == "path"
                    and isinstance(parameter.get("name"), str)
                ):
                    names.add(parameter["name"])
    return names


def load(raw: dict[str, Any], service_ids: list[str]) -> Any:
    """The document as schemathesis reads it; a path parameter is a published id three times out of four."""
    ids = service_ids or ["none-published"]
    config = {
        "dictionaries": {"service-ids": {"values": ids}},
        "parameters": {f"path.{n}": {"dictionary": "service-ids", "probability": 0.75} for n in path_parameters(raw)},
    }
    if not isinstance(raw.get("openapi"), str):
        raise AssertionError(f"the document names no OpenAPI version: openapi = {raw.get('openapi')!r}")
    try:
        return schemathesis.openapi.from_dict(raw, config=schemathesis.Config.from_dict(config))
    except (LoaderError, InvalidSchema) as exc:  # the target's document: OPENAPI-DOC-001/002 say what is wrong
        raise AssertionError(f"the document cannot be read as OpenAPI: {exc}") from None


def is_calculation(target: Target, operation: Any) -> bool:
    """The operation is POST on the target's execute path (a calculation: it changes nothing)."""
    execute = re.escape(target.template("execute")).replace(re.escape("{id}"), "[^/]+")
    path = re.sub(r"\{[^}/]*\}", "x", operation.path)
    return operation.method.upper() == "POST" and re.search(execute + "$", path) is not None


def operations(target: Target, schema: Any, not_sent: list[str] | None = None) -> Iterator[Any]:
    """The document's operations that only read or calculate: certify changes nothing on a live target, so an
    operation that may write (a POST elsewhere, PUT, PATCH, DELETE) is never sent (its label goes to
    ``not_sent``)."""
    for result in schema.get_all_operations():
        if isinstance(result, Err):  # an operation schemathesis cannot read: the document's defect
            raise AssertionError(f"an operation of the document cannot be read: {result.err()}")
        operation = result.ok()
        if operation.method.upper() in ("GET", "HEAD") or is_calculation(target, operation):
            yield operation
        elif not_sent is not None:
            not_sent.append(operation.label)


def boundary_cases(schema: Any, operation: Any) -> list[Any]:
    """schemathesis' coverage cases of ``operation``: each documented constraint at and just past its bounds
    (a ``limit`` of 0, 1, 100 and 101; a required input left out; a value of each wrong type), valid and
    invalid, the same on every run."""
    config = schema.config.generation_for(operation=operation)
    found = schema.iter_coverage_cases(operation, generation_modes=list(MODES), generation_config=config)
    # Its cases of undocumented methods are left out: on a live target a DELETE or PUT must never be sent
    # where the document does not say what it does (REST-ERR-023 sends those to execute only).
    return [case for case in found if case.method.upper() == operation.method.upper()]


def random_cases(operation: Any, mode: GenerationMode, count: int) -> list[Any]:
    """Up to ``count`` generated cases of ``operation``; none in NEGATIVE mode when nothing of it can be invalid."""
    try:
        return drawn(operation.as_strategy(generation_mode=mode), count)
    except Unsatisfiable:
        return []


def cases(schema: Any, operation: Any, count: int) -> list[Any]:
    try:
        return boundary_cases(schema, operation) + [c for mode in MODES for c in random_cases(operation, mode, count)]
    except InvalidSchema as exc:  # a schema no request can be generated from: the document's defect
        raise AssertionError(f"{operation.label}: no request can be generated from its schema: {exc}") from None


# -- sending ------------------------------------------------------------------------------------------


def server_url(target: Target, raw: dict[str, Any], document_url: str) -> str:
    """The document's first server URL, resolved against the document's own URL as OpenAPI says (the target's
    base URL when it names none), after judging its origin."""
    servers = raw.get("servers")
    first = servers[0] if isinstance(servers, list) and servers else None
    url = first.get("url") if isinstance(first, dict) else None
    url = urljoin(document_url, url) if isinstance(url, str) and url else target.base_url
    return target.on_target(url.rstrip("/"), "the document's server URL")


def credential(target: Target, document: str, case: Any) -> dict[str, str]:
    """A private service's token for the requests that name it (none for a public one)."""
    if document != "platform":
        return target.auth(document)
    named = set(map(str, (case.path_parameters or {}).values()))
    for service in target.spec.services.values():
        if service.id in named and not service.public and service.token:
            return {"Authorization": f"Bearer {service.token}"}
    return {}


def query_value(value: Any) -> Any:
    """A generated query value as a client puts it into a URL (httpx takes text and lists of text only)."""
    if isinstance(value, list | tuple):
        return [query_value(v) for v in value]
    if isinstance(value, str):
        return value
    return json.dumps(value) if isinstance(value, dict | bool) or value is None else str(value)


def as_request(case: Any, base: str, headers: dict[str, str]) -> dict[str, Any]:
    """The case as httpx's request arguments, to go through the target's client."""
    sent = case.as_transport_kwargs(base_url=base, headers=headers)
    request: dict[str, Any] = {
        "method": sent["method"],
        "url": sent["url"],
        "headers": {k: str(v) for k, v in (sent.get("headers") or {}).items() if k.lower() not in HOP_BY_HOP},
        "params": {k: query_value(v) for k, v in (sent.get("params") or {}).items()},
    }
    if "json" in sent:
        request["content"] = json.dumps(sent["json"]).encode()
        request["headers"].setdefault("Content-Type", "application/json")
    elif isinstance(sent.get("data"), bytes | str):
        request["content"] = sent["data"]
    elif sent.get("data") is not None:
        request["data"] = sent["data"]
    return request


def undocumented(case: Any, response: httpx.Response) -> str | None:
    """What schemathesis finds undocumented in the answer (its failures' titles and messages), or None."""
    try:
        case.validate_response(response, checks=DOCUMENTED)
    except (AssertionError, BaseExceptionGroup) as exc:
        failures = exc.exceptions if isinstance(exc, BaseExceptionGroup) else (exc,)
        said = "; ".join(f"{getattr(f, 'title', None) or 'failure'}: {getattr(f, 'message', f)}" for f in failures)
        return " ".join(said.split())[:600]
    return None


async def fuzz(client: httpx.AsyncClient, target: Target, document: str, count: int) -> Run:
    raw = await fetch_document(client, target, document)
    base = server_url(target, raw, target.base_url.rstrip("/") + document_path(target, document))
    schema = load(raw, [s.id for s in target.spec.services.values()])
    run = Run()
    for operation in operations(target, schema, run.not_sent):
        for case in cases(schema, operation, count):
            request = as_request(case, base, credential(target, document, case))
            target.on_target(request["url"], "a generated request's URL")
            response = await client.request(**request)
            found = undocumented(case, response)
            run.exchanges.append(
                Exchange(operation.label, request, response.status_code, excerpt(response, 300), found)
            )
    return run


async def document_run(
    client: httpx.AsyncClient, target: Target, runs: dict[str, Run], document: str, count: int
) -> Run:
    if document not in runs:
        runs[document] = await fuzz(client, target, document, count)
    run = runs[document]
    measure("cases", len(run.exchanges))
    for operation, sent in run.per_operation().items():
        measure(f"cases {operation}", sent)
    for operation in run.not_sent:
        measure(f"not sent (it may write): {operation}")
    return run


def shown(request: dict[str, Any]) -> str:
    """A generated request in one line: method, URL with its query, body (the report masks any secret)."""
    url = httpx.URL(request["url"], params=request.get("params") or None)
    body = request.get("content") or request.get("data") or b""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    line = f"{request['method']} {url.raw_path.decode('ascii', 'replace')}" + (f" body={text!r}" if text else "")
    return line if len(line) <= SHOWN else line[:SHOWN] + "…"


async def offending(client: httpx.AsyncClient, run: Run, found: list[Exchange], what: str) -> str:
    """The failure's reason; its first offending case is sent again, so the exchange is the evidence."""
    first = found[0]
    again = await client.request(**first.request)
    return (
        f"{len(found)} of {len(run.exchanges)} generated requests {what}; the first, to {first.operation}: "
        f"{shown(first.request)} -> {first.answer} (sent again: HTTP {again.status_code})"
    )


# -- the checks ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("document", DOCUMENTS)
async def test_no_server_error(client, target, fuzz_runs, fuzz_budget, document):
    """REST-FUZZ-001 MUST: no request generated from the target's documents, valid or invalid, is answered
    with a 5xx."""
    run = await document_run(client, target, fuzz_runs, document, fuzz_budget)
    found = [e for e in run.exchanges if e.status >= 500]
    if found:
        raise AssertionError(await offending(client, run, found, "got a 5xx"))


@pytest.mark.parametrize("document", DOCUMENTS)
async def test_answers_are_documented(client, target, fuzz_runs, fuzz_budget, document):
    """REST-FUZZ-002 MUST: every answer to a request generated from the target's documents, valid or invalid,
    is documented: its status and media type are declared for the operation, its body matches the schema."""
    run = await document_run(client, target, fuzz_runs, document, fuzz_budget)
    found = [e for e in run.exchanges if e.undocumented]
    if found:
        reason = await offending(client, run, found, "got an undocumented answer")
        raise AssertionError(f"{reason}: {found[0].undocumented}")
