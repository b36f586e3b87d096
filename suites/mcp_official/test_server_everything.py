"""Our MCP checks against an MCP server that no one here wrote, side by side with the official conformance suite.

``@modelcontextprotocol/server-everything`` (pinned in ``scripts/tools/package.json``, installed by
``scripts/install-tools.sh``) runs in its Streamable HTTP mode (``mcp-server-everything streamableHttp``,
``PORT`` from the environment, one endpoint at ``/mcp``) on a free loopback port. Against it:

- our ``certify``, with ``server-everything.toml`` (no SpreadAPI services, ``[paths] single_service_mcp =
  "/mcp"``), the MCP checks only (``-k``), at the two revisions the official suite runs
  (``--mcp-revision 2025-11-25 --mcp-revision 2026-07-28``);
- the official suite, ``conformance server --requirements 2025-11-25`` and ``--requirements 2026-07-28``.

``server-everything-map.yaml`` says which of our checks enforce what which official scenario checks. Every
row must get the same verdict from both. The generic transport checks it lists run against the server (the
observed ones, whose premise is a behaviour of the server, may be not applicable with it as the reason); every
other MCP check (they need SpreadAPI tools, services or credentials) must be skipped or failed with its
reason, never passed. Everything lands in ``reports/server-everything/``: certify's report.json, junit.xml
and report.html, the official ``checks.json`` files and console output (``official-<revision>/``), the
target file used, and the agreement table (``agreement.json``, ``agreement.md``).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from spreadapi_conformance.catalog import load_catalog
from spreadapi_conformance.target import load_target

from ..browser._live import REPORTS, npm_tool
from ..meta.conftest import Certified, certify
from ..peers.conftest import PEER_LIST, running
from .test_server import Run, run_suite

pytestmark = pytest.mark.live

HERE = Path(__file__).parent
EVERYTHING_VERSION = "2026.8.31"
TARGET_TEMPLATE = HERE / "server-everything.toml"
MAP_FILE = HERE / "server-everything-map.yaml"
RESULTS = REPORTS / "server-everything"
REVISIONS = ("2025-11-25", "2026-07-28")
# The MCP conformance checks: suites/mcp's four modules of them (the package keyword "mcp" keeps out
# same-named modules elsewhere).
MCP_CHECKS = "mcp and (test_http or test_tools or test_auth or test_cred or test_fuzz or test_stream or test_progress)"
SERVER_EVERYTHING = next(peer for peer in PEER_LIST if peer.name == "server-everything")


# -- the mapping table ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    scenario: str
    revision: str
    checks: tuple[str, ...]
    ours: tuple[str, ...]
    why: str

    @property
    def name(self) -> str:
        return f"{self.scenario}@{self.revision}"


def mapping() -> tuple[tuple[str, ...], list[Row]]:
    document = yaml.safe_load(MAP_FILE.read_text(encoding="utf-8"))
    rows = [
        Row(r["scenario"], str(r["revision"]), tuple(r["checks"]), tuple(r["ours"]), r["why"]) for r in document["rows"]
    ]
    return tuple(document["generic"]), rows


def observed() -> tuple[str, ...]:
    """The generic checks whose premise is what the server is seen to do (the map's ``observed``)."""
    return tuple(yaml.safe_load(MAP_FILE.read_text(encoding="utf-8"))["observed"])


def official_verdict(checks: list[dict[str, Any]], ids: tuple[str, ...]) -> str:
    found = [c for c in checks if c["id"] in ids]
    if any(c.get("status") == "FAILURE" for c in found):
        return "fail"
    if found and all(c.get("status") == "SKIPPED" for c in found):
        return "skip"
    return "pass"


def our_verdict(outcomes: list[str]) -> str:
    if any(o in ("failed", "warning") for o in outcomes):
        return "fail"
    if all(o in ("skipped", "not-applicable") for o in outcomes):
        return "skip"
    return "pass"


# -- the server and the two runs --------------------------------------------------------------------


def installed_version() -> str:
    tool = npm_tool("mcp-server-everything")
    package = tool.resolve().parents[1] / "package.json"
    return json.loads(package.read_text(encoding="utf-8"))["version"]


@pytest.fixture(scope="module")
def everything(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """server-everything in Streamable HTTP mode on a free port; its base URL."""
    if (found := installed_version()) != EVERYTHING_VERSION:
        pytest.fail(f"server-everything {found} installed, {EVERYTHING_VERSION} pinned: run scripts/install-tools.sh")
    log = tmp_path_factory.mktemp("server-everything") / "server.log"
    try:
        with running(SERVER_EVERYTHING, log) as ports:
            yield f"http://127.0.0.1:{ports[0]}"
    finally:
        RESULTS.mkdir(parents=True, exist_ok=True)
        if log.exists():
            shutil.copy2(log, RESULTS / "server.log")


@pytest.fixture(scope="module")
def results_dir() -> Path:
    shutil.rmtree(RESULTS, ignore_errors=True)
    RESULTS.mkdir(parents=True)
    return RESULTS


@pytest.fixture(scope="module")
def target_file(everything: str, results_dir: Path) -> Path:
    text = TARGET_TEMPLATE.read_text(encoding="utf-8").replace('"http://127.0.0.1:3001"', f'"{everything}"')
    assert everything in text, "server-everything.toml's base_url is not the template's"
    path = results_dir / "target.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def ours(target_file: Path, results_dir: Path) -> Certified:
    revisions = [arg for revision in REVISIONS for arg in ("--mcp-revision", revision)]
    run = certify(results_dir, "--target", str(target_file), *revisions, "-k", MCP_CHECKS, "--no-progress")
    (results_dir / "certify-console.txt").write_text(run.stdout + run.stderr, encoding="utf-8")
    return run


@pytest.fixture(scope="module")
def official(everything: str, conformance, results_dir: Path, tmp_path_factory) -> dict[str, Run]:
    runs = {}
    for revision in REVISIONS:
        out = tmp_path_factory.mktemp(f"official-{revision}") / "results"
        run = run_suite(conformance, f"{everything}/mcp", revision, out)
        target = results_dir / f"official-{revision}"
        target.mkdir()
        for checks in out.glob("*/checks.json"):
            (target / checks.parent.name).mkdir()
            shutil.copy2(checks, target / checks.parent.name / "checks.json")
        (target / "console.txt").write_text(run.console, encoding="utf-8")
        runs[revision] = run
    return runs


# -- the tests --------------------------------------------------------------------------------------


def test_the_target_file_describes_an_mcp_server_without_services():
    spec = load_target(TARGET_TEMPLATE)
    assert spec.services == {} and spec.secrets() == []
    assert spec.paths["single_service_mcp"] == "/mcp" and "rest-actions" not in (spec.claims or ())


def test_the_map_names_generic_checks_of_the_catalogue():
    generic, rows = mapping()
    catalog = load_catalog()
    assert set(generic) <= set(catalog), sorted(set(generic) - set(catalog))
    assert set(observed()) <= set(catalog) - set(generic), sorted(set(observed()) - set(catalog))
    for row in rows:
        assert row.revision in REVISIONS, row
        assert set(row.ours) <= set(generic), f"{row.name}: {row.ours} must be generic checks"


def test_generic_checks_agree_with_the_official_suite(ours: Certified, official: dict[str, Run], results_dir: Path):
    assert ours.returncode == 1, f"server-everything is not SpreadAPI: {ours.stdout[-3000:]}\n{ours.stderr[-2000:]}"
    report = ours.json()
    checks = {c["id"]: c for c in report["checks"]}
    generic, rows = mapping()
    table, disagreements = [], []
    for row in rows:
        results = official[row.revision].results.get(row.scenario)
        assert results is not None, f"the official {row.revision} run has no scenario {row.scenario}"
        statuses = {i: sorted({c["status"] for c in results if c["id"] == i}) for i in row.checks}
        assert all(statuses.values()), f"{row.name}: no result for {[i for i, s in statuses.items() if not s]}"
        theirs = official_verdict(results, row.checks)
        mine = our_verdict([checks[i]["outcome"] for i in row.ours])
        entry = {
            "scenario": row.scenario,
            "revision": row.revision,
            "official_checks": {i: "/".join(s) for i, s in statuses.items()},
            "official": theirs,
            "ours": {i: checks[i]["outcome"] for i in row.ours},
            "our_verdict": mine,
            "agree": theirs == mine,
            "why": row.why,
        }
        table.append(entry)
        if theirs != mine:
            reasons = "; ".join(f"{i}: {checks[i]['reason']}" for i in row.ours)
            disagreements.append(f"{row.name} {row.checks}: official {theirs}, ours {mine} ({reasons})")
    others = {i: checks[i]["outcome"] for i in generic if not any(i in row.ours for row in rows)}
    write_agreement(results_dir, table, others)
    assert not disagreements, "\n".join(disagreements)
    # Not a vacuous agreement: server-everything passes some of these scenarios and fails others.
    assert {e["official"] for e in table} == {"pass", "fail"}, table


def test_spreadapi_specific_checks_are_skipped_or_failed_never_passed(ours: Certified):
    report = ours.json()
    generic, _rows = mapping()
    watched = observed()
    specific = [c for c in report["checks"] if c["id"].startswith("MCP-") and c["id"] not in (*generic, *watched)]
    assert specific
    never_passed = ("skipped", "not-applicable", "failed", "warning")
    wrong = [f"{c['id']}: {c['outcome']}" for c in specific if c["outcome"] not in never_passed]
    assert not wrong, f"SpreadAPI checks passed against server-everything: {wrong}"
    for check in specific:
        reason = check["reason"] or ""
        assert reason.strip(), f"{check['id']} {check['outcome']} without a reason"
        assert not reason.startswith("not run: no check"), f"{check['id']} was not run: the -k selection missed it"
        if check["outcome"] == "not-applicable":
            # Not applicable: it names the premise that does not hold.
            assert not reason.startswith("not run:"), f"{check['id']}: {reason}"
    # Every generic check ran (none skipped for want of a service: they need none).
    ran = {c["id"]: c for c in report["checks"] if c["id"] in generic}
    idle = {i: c["reason"] for i, c in ran.items() if c["outcome"] in ("skipped", "not-applicable", "error")}
    assert not idle, idle
    # The observed checks ran too: judged, or not applicable with the premise the server did not meet (a
    # requirement whose 2025-06-18 variant is not selected and whose other variants are not applicable is
    # reported skipped). Against server-everything MCP-STREAM-005 fails: its event store replays every stream's
    # events after a Last-Event-ID.
    seen = {c["id"]: c for c in report["checks"] if c["id"] in watched}
    assert set(seen) == set(watched), sorted(set(watched) - set(seen))
    unjudged = {
        i: c["reason"]
        for i, c in seen.items()
        if c["outcome"] == "error" or (c["reason"] or "").startswith("not run: no check")
    }
    assert not unjudged, unjudged
    assert seen["MCP-STREAM-005"]["outcome"] == "failed", seen["MCP-STREAM-005"]
    assert report["options"]["claude-desktop"] == "fail" and report["options"]["rest-actions"] == "not-claimed"


def write_agreement(directory: Path, table: list[dict[str, Any]], others: dict[str, str]) -> None:
    (directory / "agreement.json").write_text(
        json.dumps({"rows": table, "generic_checks_without_official_counterpart": others}, indent=2) + "\n",
        encoding="utf-8",
    )
    lines = [
        f"# Our MCP checks and the official conformance suite against server-everything {EVERYTHING_VERSION}",
        "",
        "| official scenario | revision | official checks | official | ours | our verdict | agree |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in table:
        official_checks = ", ".join(f"{i} {s}" for i, s in e["official_checks"].items())
        mine = ", ".join(f"{i} {o}" for i, o in e["ours"].items())
        agree = "yes" if e["agree"] else "**no**"
        lines.append(
            f"| {e['scenario']} | {e['revision']} | {official_checks} | {e['official']} | {mine} "
            f"| {e['our_verdict']} | {agree} |"
        )
    lines += ["", "Generic checks with no official counterpart: " + ", ".join(f"{i} {o}" for i, o in others.items())]
    (directory / "agreement.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_reports_land_in_the_report_folder(ours: Certified, official: dict[str, Run]):
    assert all((RESULTS / name).exists() for name in ("report.json", "report.html", "junit.xml", "agreement.md"))
    for revision in REVISIONS:
        assert list((RESULTS / f"official-{revision}").glob("*/checks.json")), revision
    assert os.path.getsize(RESULTS / "target.toml") > 0
