"""The clause coverage matrix (docs/coverage/*.toml) and its lint (scripts/coverage_doc.py, run by `nox -s lint`):
it holds today, and it fails on each kind of drift it is there to catch."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import pytest

from spreadapi_conformance.catalog import load_catalog

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def coverage() -> ModuleType:
    spec = importlib.util.spec_from_file_location("coverage_doc", ROOT / "scripts" / "coverage_doc.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["coverage_doc"] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_matrix_agrees_with_the_catalogue(coverage):
    assert coverage.problems(coverage.load_rows(), load_catalog()) == []
    assert coverage.main(["--check"]) == 0, "docs/coverage.md is stale: run python scripts/coverage_doc.py"


def test_every_cited_document_has_rows_and_every_check_a_row(coverage):
    rows = coverage.load_rows()
    documents = {row["source"] for row in rows}
    cited = {"MCP authorization", "MCP transports", "RFC 6749", "RFC 6750", "RFC 7636", "RFC 8414", "RFC 9728"}
    assert cited <= documents
    assert {"SpreadAPI behaviour", "Seed flows", "GPT Actions"} <= documents
    named = {rid for row in rows for rid in row.get("checked_by", [])}
    unmapped = sorted(set(load_catalog()) - named)
    # Checks of the kit's own policy (robustness, deviations) judge no source clause; every other has its row.
    policy_only = {
        r.id
        for r in load_catalog().values()
        if all(c.document is None for c in coverage.citations(r))
        or (r.policy and any(c.document is None for c in coverage.citations(r)))
    }
    assert not [rid for rid in unmapped if rid not in policy_only], "checks no row of the matrix names"


def test_the_seed_lists_refusals_at_every_place_a_credential_is_accepted(coverage):
    sections = {row["section"] for row in coverage.load_rows() if row["source"] == "Seed flows"}
    places = ("REST execute", "Option 2 / consent", "Option 3 / consent", "MCP /api/mcp/services/{id}")
    for place in (*places, "MCP /api/mcp", "MCP /api/mcp/bridge", "stdio bridge"):
        refusals = {s.split(" / ", 1)[-1] for s in sections if s.startswith(place + " / ")}
        assert {"revoked", "expired", "another"} & {word for r in refusals for word in r.split()}, (place, refusals)


def test_a_row_naming_an_unknown_check_fails(coverage):
    rows = coverage.load_rows()
    rows[0] = {**rows[0], "checked_by": ["MCP-HTTP-999"]}
    assert any("MCP-HTTP-999" in p for p in coverage.problems(rows, load_catalog()))


def test_a_row_without_check_or_reason_fails(coverage):
    rows = coverage.load_rows()
    bare = {k: v for k, v in rows[0].items() if k not in ("checked_by", "gap", "not_checkable", "out_of_scope")}
    assert any("no check and no reason" in p for p in coverage.problems([bare, *rows[1:]], load_catalog()))


@pytest.mark.parametrize(
    "source",
    ["RFC 6749 §4.9.9 (no such section)", "MCP 2025-11-25 basic/authorization, No Such Heading", "Some Spec §1"],
)
def test_a_citation_no_row_holds_fails(coverage, source):
    catalogue = load_catalog()
    catalogue["OAUTH-TOKEN-001"] = replace(catalogue["OAUTH-TOKEN-001"], source=source)
    found = coverage.problems(coverage.load_rows(), catalogue)
    assert any(p.startswith("OAUTH-TOKEN-001 cites") for p in found), found
