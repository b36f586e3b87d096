"""The fuzzers (REST-FUZZ, MCP-FUZZ): each fails on a reference with the bug it is meant to catch, naming the
generated request and the answer; each passes on the clean reference, having sent at least the 1,000 REST
cases and 500 MCP messages that docs/certify.md ("Fuzzing") states; ``--fuzz-examples`` sets how many."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

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
