"""The fuzzers (REST-FUZZ, MCP-FUZZ): each fails on a reference with the bug it is meant to catch, naming the
generated request and the answer; each passes on the clean reference, having sent at least the 1,000 REST
cases and 500 MCP messages that docs/certify.md ("Fuzzing") states; ``--fuzz-examples`` sets how many."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ..serve.conftest import uvicorn_thread
from ._hostile import LISTING
from .conftest import Certified, certify

# Faults that do not shadow one another (mcp-envelope-unchecked skips the envelope check the other two MCP
# faults live in), so two certify runs show every fuzz check failing.
FAULT_RUNS = {
    "structured-batch-parse": ("inputs-structured-text-500", "mcp-batch-500", "mcp-parse-error-as-invalid-request"),
    "listing-envelope": ("rest-listing-range-422", "mcp-envelope-unchecked"),
}
# The check, the run whose fault it must catch, its outcome (a policy entry warns), what its reason names.
CAUGHT = {
    "REST-FUZZ-001": ("structured-batch-parse", "warning", ("got a 5xx", "POST /api/v1/services/", "HTTP 500")),
    "REST-FUZZ-002": ("listing-envelope", "warning", ("undocumented", "GET /api/v1/services?", "HTTP 422")),
    "MCP-FUZZ-001": ("structured-batch-parse", "warning", ("got a 5xx", "a batch message", "HTTP 500")),
    "MCP-FUZZ-002": ("listing-envelope", "failed", ("were not refused", '"id": null', "HTTP 202")),
    "MCP-FUZZ-003": ("structured-batch-parse", "warning", ("wrong JSON-RPC error", "-32600, expected -32700")),
}


@pytest.fixture(scope="module")
def faulty_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Certified]:
    runs = {}
    for name, faults in FAULT_RUNS.items():
        args = [arg for fault in faults for arg in ("--reference-fault", fault)]
        directory = tmp_path_factory.mktemp(name)
        runs[name] = certify(directory, "--in-process", *args, "-k", "REST-FUZZ or MCP-FUZZ", timeout=600)
    return runs


def checks_of(run: Certified) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in run.json()["checks"]}


@pytest.mark.parametrize("rid", sorted(CAUGHT))
def test_each_fuzzer_catches_its_fault(faulty_runs: dict[str, Certified], rid: str) -> None:
    run_name, outcome, named = CAUGHT[rid]
    check = checks_of(faulty_runs[run_name])[rid]
    assert check["outcome"] == outcome, check
    assert all(part in check["reason"] for part in named), check["reason"]
    # The offending request, sent once more, is the last exchange of the evidence, with the bad answer.
    last = check["evidence"][-1]
    assert last["response"]["status"] in (202, 422, 500) or "-32600" in last["response"]["body"], last
    assert check["measured"], check


def test_no_fuzzer_raises_in_the_kit_under_a_fault(faulty_runs: dict[str, Certified]) -> None:
    for run in faulty_runs.values():
        errors = {rid: c["reason"] for rid, c in checks_of(run).items() if c["outcome"] == "error"}
        assert not errors, errors


def test_the_clean_reference_passes_with_the_stated_counts(certify_in_process: Certified) -> None:
    checks = checks_of(certify_in_process)
    for rid in ("REST-FUZZ-001", "REST-FUZZ-002"):
        assert checks[rid]["outcome"] == "passed", checks[rid]
        assert checks[rid]["measured"]["cases"] >= 1000, checks[rid]["measured"]
    for rid in ("MCP-FUZZ-001", "MCP-FUZZ-002", "MCP-FUZZ-003"):
        assert checks[rid]["outcome"] == "passed", checks[rid]
        assert checks[rid]["measured"]["messages"] >= 500, checks[rid]["measured"]
    per_operation = {k: v for k, v in checks["REST-FUZZ-001"]["measured"].items() if k.startswith("cases ")}
    assert len(per_operation) >= 9, per_operation  # six platform operations, calculate of three services


def test_fuzz_examples_sets_how_many(tmp_path: Path) -> None:
    run = certify(tmp_path, "--in-process", "--fuzz-examples", "2", "-k", "MCP-FUZZ-001", timeout=300)
    measured = checks_of(run)["MCP-FUZZ-001"]["measured"]
    assert measured["messages"] == 2 * 8 + 2, measured  # SHARE sums to 8 per example, plus the oversized ones


def test_fuzz_examples_below_one_is_a_usage_error(tmp_path: Path) -> None:
    run = certify(tmp_path, "--in-process", "--fuzz-examples", "0", timeout=120)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "--fuzz-examples must be at least 1" in run.stdout + run.stderr


def test_the_rest_fuzzer_sends_only_what_reads_or_calculates() -> None:
    """A deployment's document may describe operations that write: the fuzzer never sends them (certify is
    read-only on a live target); reads and POST on the execute path (a calculation) it does."""
    import schemathesis

    from spreadapi_conformance.checks.rest.test_fuzz import operations
    from spreadapi_conformance.checks.target import Target
    from spreadapi_conformance.embedded import in_process_reference

    spec, app = in_process_reference()
    answer = {"200": {"description": "ok"}}
    document = {
        "openapi": "3.1.0",
        "info": {"title": "a deployment's platform", "version": "1"},
        "paths": {
            "/api/v1/services": {"get": {"responses": answer}, "post": {"responses": answer}},
            "/api/v1/services/{serviceId}": {
                "parameters": [{"name": "serviceId", "in": "path", "required": True, "schema": {"type": "string"}}],
                "get": {"responses": answer},
                "put": {"responses": answer},
                "delete": {"responses": answer},
            },
            "/api/v1/services/{serviceId}/execute": {
                "parameters": [{"name": "serviceId", "in": "path", "required": True, "schema": {"type": "string"}}],
                "post": {"responses": answer},
            },
        },
    }
    schema = schemathesis.openapi.from_dict(document, config=schemathesis.Config())
    sent = {operation.label for operation in operations(Target(spec=spec, app=app), schema)}
    assert sent == {
        "GET /api/v1/services",
        "GET /api/v1/services/{serviceId}",
        "POST /api/v1/services/{serviceId}/execute",
    }


def documents_with_hostile_answers() -> Any:
    """A deployment that serves the reference's own documents (its server URL made this deployment's) and
    answers every generated request with something hostile, in turn: JSON nested past any parser's depth,
    HTML, truncated JSON, a 500, a 1.2 MB error."""
    import asyncio
    import itertools

    import httpx
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from spreadapi_conformance.embedded import in_process_reference

    _spec, reference = in_process_reference()
    paths = ["/api/v1/openapi.json", "/api/v1/services/loan-calculator/openapi.json"]

    async def fetch() -> dict[str, Any]:
        transport = httpx.ASGITransport(app=reference)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return {path: (await client.get(path)).json() for path in paths}

    documents = asyncio.run(fetch())
    answers = itertools.cycle(
        [
            lambda: Response(b'{"error":' * 5_000 + b"1" + b"}" * 5_000, media_type="application/json"),
            lambda: Response("<html><h1>502 Bad Gateway</h1></html>", media_type="text/html"),
            lambda: Response(b'{"inputs": [', media_type="application/json"),
            lambda: JSONResponse({"error": "boom"}, 500),
            lambda: JSONResponse({"error": "x" * 1_200_000}, 400),
        ]
    )

    async def document(request: Any) -> Response:
        return JSONResponse({**documents[request.url.path], "servers": [{"url": str(request.base_url).rstrip("/")}]})

    async def listing(request: Any) -> Response:
        return JSONResponse(LISTING)

    async def hostile(request: Any) -> Response:
        return next(answers)()

    routes = [Route(path, document) for path in paths] + [Route("/api/v1/services", listing)]
    return Starlette(routes=[*routes, Route("/{rest:path}", hostile, methods=["GET", "POST"])])


def test_hostile_answers_to_generated_requests_are_the_targets_failures(tmp_path: Path) -> None:
    """Whatever comes back to a generated request (too deep to parse, HTML, cut short, 5xx, huge), the REST
    fuzzer judges it: failures that name the request, never an exception in the kit's own code."""
    with uvicorn_thread(documents_with_hostile_answers(), name="hostile-documents") as base:
        target = tmp_path / "target.toml"
        published = '[services.loan-calculator]\nfixture = "loan-calculator"\n'
        target.write_text(f'base_url = "{base}"\nclaims = ["rest-actions"]\n{published}', encoding="utf-8")
        fuzz = ["-k", "REST-FUZZ", "--fuzz-examples", "3", "--workers", "0"]  # one process: each document once
        run = certify(tmp_path / "reports", "--target", str(target), *fuzz)
    checks = checks_of(run)
    for rid in ("REST-FUZZ-001", "REST-FUZZ-002"):
        assert checks[rid]["outcome"] == "warning", checks[rid]  # policy entries: a failure warns
        assert "generated requests got" in checks[rid]["reason"], checks[rid]["reason"]
        assert checks[rid]["tests"]["error"] == 0, checks[rid]
