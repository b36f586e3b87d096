"""The fault catalogue and ``spreadapi-conformance selftest``: every fault is real, names real checks, and is caught.

CI runs ``selftest --quick`` on one fault of each area (about a minute); ``nox -s selftest`` runs the whole
catalogue against every check (docs/selftest.md).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import spreadapi_conformance.reference as reference_package
from spreadapi_conformance.catalog import load_catalog
from spreadapi_conformance.reference.faults import FAULTS, active

from .conftest import certify

REFERENCE = Path(reference_package.__file__).parent

# One fault per area (and per kind of site: a token check, input coercion, workbook state, a document,
# the code store, revocation, the JSON-RPC envelope, a tool's results).
CI_SUBSET = (
    "rest-401-without-challenge",
    "inputs-percent-divided-twice",
    "workbook-state-leaks",
    "openapi-hardcoded-server",
    "oauth-code-reusable",
    "oauth-revocation-ignored",
    "mcp-envelope-unchecked",
    "mcp-results-rounded",
    "bridge-no-challenge",
    "consent-service-token-any-service",
    "mcp-grant-ignored",
)


def run(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "spreadapi_conformance", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def test_at_least_forty_faults_over_every_area() -> None:
    areas = {fault.area for fault in FAULTS.values()}
    assert len(FAULTS) >= 40
    expected = {"REST", "OPENAPI", "OAUTH", "CONSENT", "MCP-TRANSPORT", "MCP-AUTH", "MCP-CRED", "MCP-TOOLS", "BRIDGE"}
    assert expected <= areas


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_fault_names_catalogue_checks(name: str) -> None:
    catalogue = load_catalog()
    fault = FAULTS[name]
    assert fault.caught_by, f"{name} names no check"
    assert not [rid for rid in fault.caught_by if rid not in catalogue], f"{name} names unknown checks"
    assert fault.bug.strip(), f"{name} does not say what the bug is"


def test_every_fault_lives_at_a_site_in_the_reference() -> None:
    """No stub fault: each name is asked for by ``active(…, "name")`` in the reference's own code."""
    sources = "".join(
        path.read_text(encoding="utf-8") for path in REFERENCE.rglob("*.py") if "faults" not in path.parts
    )
    asked = set(re.findall(r'active\([^\n]*?,\s*"([a-z0-9-]+)"\)', sources))
    assert not sorted(set(FAULTS) - asked), "faults no code site asks for"
    assert not sorted(asked - set(FAULTS)), "code sites ask for faults that do not exist"


def test_active_refuses_a_misspelt_fault() -> None:
    with pytest.raises(KeyError, match="no fault named"):
        active(frozenset(), "rest-401-without-challenges")


@pytest.mark.parametrize(
    "args",
    [
        ("selftest", "--fault", "no-such-fault"),
        ("certify", "--in-process", "--reference-fault", "no-such-fault"),
        ("serve", "--fault", "no-such-fault", "--port", "0"),
    ],
    ids=["selftest", "certify", "serve"],
)
def test_unknown_fault_is_a_usage_error(args: tuple[str, ...]) -> None:
    done = run(*args, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "unknown fault no-such-fault" in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_reference_fault_refused_with_a_live_target(tmp_path: Path) -> None:
    target = tmp_path / "target.toml"
    target.write_text('base_url = "http://127.0.0.1:9"\n', encoding="utf-8")
    finished = certify(tmp_path / "reports", "--target", str(target), "--reference-fault", "oauth-code-reusable")
    assert finished.returncode == 2
    assert "faults are for the embedded reference" in finished.stdout + finished.stderr


def test_list_names_every_fault_and_its_checks() -> None:
    done = run("selftest", "--list", timeout=120)
    assert done.returncode == 0, done.stderr
    for fault in FAULTS.values():
        assert fault.name in done.stdout
        assert fault.caught_by[0] in done.stdout


def test_k_selects_checks_by_requirement_id(tmp_path: Path) -> None:
    finished = certify(tmp_path, "--in-process", "-k", "REST-AUTH-001", timeout=300)
    ran = [c["id"] for c in finished.json()["checks"] if c["outcome"] != "skipped"]
    assert finished.returncode == 3, finished.stdout  # a subset is incomplete, never "Certified"
    assert set(ran) == {"REST-AUTH-001"}, ran


def test_a_fault_makes_certify_fail_its_check(tmp_path: Path) -> None:
    """The same fault through certify's own flag: the expected check fails and certify exits 1."""
    finished = certify(
        tmp_path, "--in-process", "--reference-fault", "oauth-code-reusable", "-k", "OAUTH-TOKEN-001", timeout=300
    )
    outcomes = {c["id"]: c["outcome"] for c in finished.json()["checks"]}
    assert finished.returncode == 1, finished.stdout  # a MUST failed
    assert outcomes["OAUTH-TOKEN-001"] == "failed"
    assert finished.json()["run"]["reference_faults"] == ["oauth-code-reusable"]


def test_selftest_quick_catches_one_fault_per_area(tmp_path: Path) -> None:
    args = [arg for name in CI_SUBSET for arg in ("--fault", name)]
    done = run("selftest", "--quick", "--report-dir", str(tmp_path), *args, timeout=1500)
    document = json.loads((tmp_path / "selftest.json").read_text(encoding="utf-8"))
    missed = [f["fault"] for f in document["faults"] if not f["caught"]]
    assert not document["clean"]["false_alarm"], document["clean"]
    assert not missed, f"missed: {missed}\n{done.stdout[-3000:]}"
    assert done.returncode == 0, done.stdout[-3000:]
    assert document["total"] == len(CI_SUBSET) and document["score"] == 1.0
    assert document["entries_named_not_failing"] == [], "a fault names an entry that did not fail under it"
    html = (tmp_path / "selftest.html").read_text(encoding="utf-8")
    assert all(name in html for name in CI_SUBSET)


def test_an_entry_a_fault_names_but_does_not_fail_fails_the_selftest(tmp_path: Path, monkeypatch) -> None:
    """A fault's list proves its entries can fail: one that names an entry its bug leaves passing (here the
    listing, under a bug of the input keys) is caught by its other entry, yet the selftest fails, naming it."""
    import io
    from dataclasses import replace

    from rich.console import Console

    from spreadapi_conformance.selftest import run_selftest

    name = "inputs-keys-case-sensitive"
    monkeypatch.setitem(FAULTS, name, replace(FAULTS[name], caught_by=(*FAULTS[name].caught_by, "REST-LIST-001")))
    printed = io.StringIO()
    exit_code = run_selftest([name], tmp_path, quick=True, out=Console(file=printed, width=200))
    document = json.loads((tmp_path / "selftest.json").read_text(encoding="utf-8"))
    assert document["score"] == 1.0, document["faults"]  # caught by REST-EXEC-007 and REST-GET-003
    assert document["entries_named_not_failing"] == [f"{name}: REST-LIST-001"]
    assert exit_code == 1
    assert f"named but not failing: {name}: REST-LIST-001" in printed.getvalue()


@pytest.mark.parametrize(
    ("fault", "checks"),
    [
        ("mcp-no-output-schema", "MCP-TOOLS-010 or MCP-TOOLS-011 or MCP-TOOLS-017"),
        ("oauth-state-dropped", "REPLAY-CHATGPT-001"),
    ],
)
def test_no_check_raises_in_the_kit_under_a_fault(tmp_path: Path, fault: str, checks: str) -> None:
    """Two defects the full selftest found: a tool without outputSchema made the result checks raise
    TypeError in jsonschema, and Authlib's refusal of a dropped state was reported as the kit's error. Each is
    now the target's failure, with what came."""
    finished = certify(tmp_path, "--in-process", "--reference-fault", fault, "-k", checks, timeout=300)
    outcomes = {c["id"]: c["outcome"] for c in finished.json()["checks"] if c["outcome"] != "skipped"}
    assert "error" not in outcomes.values(), outcomes
    assert {"failed", "warning"} & set(outcomes.values()), outcomes
