"""The official MCP conformance suite's server scenarios against a single-service endpoint on a live ``serve``.

``conformance server --requirements <revision>`` (``@modelcontextprotocol/conformance@0.2.0-alpha.12``,
Node 22, installed by ``scripts/install-tools.sh``) acts as an MCP client of
``{serve}/api/mcp/services/loan-calculator`` (a public fixture service: the harness sends no
credentials) and runs every scenario the revision requires, plus the ones it reports without
scoring (extensions, pending, added after release). Two runs: ``2025-11-25`` (the initialize
handshake) and ``2026-07-28`` (the stateless wire).

Every check of every scenario must pass, except those ``server-expected-failures.yaml`` lists, and
those must fail for the reason it gives (their error messages carry its evidence); a listed check
that passes fails the test too. The harness's own exit code must agree with the checks it wrote
(non-zero exactly when a scored scenario failed). The ``checks.json`` files and the console output go
to ``reports/mcp-conformance/server-<revision>/``, a summary to ``reports/mcp-conformance/summary.json``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..browser._live import REPORTS
from ..serve.conftest import Served

pytestmark = pytest.mark.live

HERE = Path(__file__).parent
EXPECTED_FILE = HERE / "server-expected-failures.yaml"
RESULTS = REPORTS / "mcp-conformance"
REVISIONS = ("2025-11-25", "2026-07-28")
SERVICE = "loan-calculator"  # public: the harness has no way to send a token
RUN_TIMEOUT = 300
PASSING = {"SUCCESS", "WARNING", "INFO", "SKIPPED"}  # only FAILURE fails a scenario (the harness's rule)


# -- what the suite runs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Listing:
    scored: tuple[str, ...]  # server scenarios the revision requires
    unscored: dict[str, str]  # server scenario -> why it is run but not scored (extension, pending, …)

    @property
    def all(self) -> set[str]:
        return set(self.scored) | set(self.unscored)


@cache
def _listing(command: tuple[str, ...], env_items: tuple[tuple[str, str], ...], revision: str) -> Listing:
    listed = subprocess.run(
        [*command, "list", "--server", "--requirements", revision],
        capture_output=True,
        text=True,
        env=dict(env_items),
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    scored: list[str] = []
    unscored: dict[str, str] = {}
    section = category = ""
    for line in listed.stdout.splitlines():
        if re.match(r"^\S", line):
            section = line
        elif m := re.match(r"^  (\S[^(]*?) \(\d+\):$", line):
            category = m.group(1)
        elif (m := re.match(r"^  - (\S+)$", line)) and section.startswith("Server scenarios"):
            scored.append(m.group(1))
        elif m := re.match(r"^    - (\S+) \[server\]$", line):
            unscored[m.group(1)] = category
    assert scored, listed.stdout
    return Listing(tuple(scored), unscored)


def listing(conformance: tuple[list[str], dict[str, str]], revision: str) -> Listing:
    command, env = conformance
    return _listing(tuple(command), tuple(sorted(env.items())), revision)


# -- the expected failures -------------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    key: str
    scenario: str
    check: str | None  # None: every failing check of the scenario
    revision: str | None  # None: both runs
    reason: str
    error: str | None  # evidence every failing check it covers carries

    def applies(self, revision: str) -> bool:
        return self.revision in (None, revision)

    def covers(self, scenario: str, check_id: str) -> bool:
        return self.scenario == scenario and self.check in (None, check_id)


def expected_failures() -> list[Expected]:
    document = yaml.safe_load(EXPECTED_FILE.read_text(encoding="utf-8")) or {}
    entries = document.get("expected_failures") or {}
    assert isinstance(entries, dict), f"{EXPECTED_FILE.name}: expected_failures must be a mapping"
    found = []
    for key, value in entries.items():
        where = f"{EXPECTED_FILE.name}: {key}"
        assert isinstance(value, dict) and set(value) <= {"reason", "error"}, f"{where}: {{reason, error}} expected"
        reason, error = value.get("reason"), value.get("error")
        assert isinstance(reason, str) and reason.strip() and "\n" not in reason.strip(), f"{where}: one-line reason"
        assert error is None or (isinstance(error, str) and error.strip()), f"{where}: error must be text"
        target, _, revision = key.partition("@")
        scenario, _, check = target.partition(":")
        assert not revision or revision in REVISIONS, f"{where}: the revision must be one of {REVISIONS}"
        found.append(Expected(key, scenario, check or None, revision or None, reason.strip(), error))
    return found


def evidence(check: dict[str, Any]) -> str:
    return f"{check.get('errorMessage') or ''} {json.dumps(check.get('details'), sort_keys=True)}"


# -- a run -----------------------------------------------------------------------------------------


@dataclass
class Run:
    revision: str
    code: int
    console: str
    results: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # scenario -> checks

    def failing(self, scenario: str) -> list[dict[str, Any]]:
        return [c for c in self.results.get(scenario, []) if c.get("status") not in PASSING]


_RESULT_DIR = re.compile(r"^server-(?P<name>.+)-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z$")


def run_suite(conformance: tuple[list[str], dict[str, str]], url: str, revision: str, out: Path) -> Run:
    command, env = conformance
    arguments = ["server", "--url", url, "--requirements", revision, "--output-dir", str(out)]
    try:
        finished = subprocess.run(
            [*command, *arguments], capture_output=True, text=True, env=env, timeout=RUN_TIMEOUT, cwd=out.parent
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"conformance server --requirements {revision} did not finish within {RUN_TIMEOUT} s")
    run = Run(revision, finished.returncode, finished.stdout + finished.stderr)
    for checks in sorted(out.glob("*/checks.json")):
        match = _RESULT_DIR.match(checks.parent.name)
        assert match, f"unexpected result directory {checks.parent.name}"
        run.results[match.group("name")] = json.loads(checks.read_text(encoding="utf-8"))
    return run


def publish(run: Run, out: Path, expected: dict[tuple[str, str], Expected]) -> None:
    """reports/mcp-conformance/server-<revision>/: every checks.json, the console output; and the summary."""
    target = RESULTS / f"server-{run.revision}"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for checks in out.glob("*/checks.json"):
        (target / checks.parent.name).mkdir()
        shutil.copy2(checks, target / checks.parent.name / "checks.json")
    (target / "console.txt").write_text(run.console, encoding="utf-8")
    summary_file = RESULTS / "summary.json"
    summary = json.loads(summary_file.read_text(encoding="utf-8")) if summary_file.exists() else {}
    summary[f"server-{run.revision}"] = {
        name: {
            "passed": not run.failing(name),
            "checks": {c["id"]: c["status"] for c in checks},
            "expected_failures": {
                c["id"]: expected[(name, c["id"])].reason for c in run.failing(name) if (name, c["id"]) in expected
            },
            "warnings": [f"{c['id']}: {c.get('errorMessage', '')}" for c in checks if c.get("status") == "WARNING"],
        }
        for name, checks in sorted(run.results.items())
    }
    summary_file.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")


# -- the tests -------------------------------------------------------------------------------------


def test_the_expected_failures_name_scenarios_of_the_suite(conformance):
    """Every entry names a server scenario that a run of either revision executes (and its revision, if any)."""
    runs = {revision: listing(conformance, revision).all for revision in REVISIONS}
    for entry in expected_failures():
        revisions = [entry.revision] if entry.revision else list(REVISIONS)
        assert any(entry.scenario in runs[r] for r in revisions), (
            f"{EXPECTED_FILE.name}: {entry.key!r} is not a server scenario of a {'/'.join(revisions)} run"
        )


@pytest.mark.parametrize("revision", REVISIONS)
def test_official_server_scenarios(revision: str, served: Served, conformance, tmp_path: Path) -> None:
    url = f"{served.base_url}/api/mcp/services/{SERVICE}"
    out = tmp_path / "results"
    run = run_suite(conformance, url, revision, out)
    listed = listing(conformance, revision)
    entries = [e for e in expected_failures() if e.applies(revision)]

    covered: dict[tuple[str, str], Expected] = {}
    unexpected: list[str] = []
    for name, checks in sorted(run.results.items()):
        for check in run.failing(name):
            entry = next((e for e in entries if e.covers(name, check["id"])), None)
            said = f"{name}:{check['id']}: {check.get('status')} {check.get('errorMessage', '')}"
            if entry is None:
                unexpected.append(said)
            elif entry.error is not None and entry.error not in evidence(check):
                unexpected.append(f"{said} (listed, but without its evidence {entry.error!r})")
            else:
                covered[(name, check["id"])] = entry
        for check in checks:
            if check.get("status") in ("WARNING", "SKIPPED"):
                print(f"{check['status']} {revision} {name}:{check['id']}: {check.get('errorMessage', '')}")
    publish(run, out, covered)

    stale = []
    for entry in entries:
        if entry.scenario not in run.results:
            continue  # not run at this revision
        failing = {c["id"] for c in run.failing(entry.scenario)}
        if (entry.check is None and not failing) or (entry.check is not None and entry.check not in failing):
            stale.append(entry.key)
    missing = sorted(listed.all - set(run.results))

    assert not unexpected, f"unexpected failures at {revision}:\n" + "\n".join(unexpected) + f"\n{run.console[-3000:]}"
    assert not stale, f"listed in {EXPECTED_FILE.name} but passing at {revision}, remove them: {stale}"
    assert not missing, f"scenarios without results at {revision}: {missing}\n{run.console[-3000:]}"
    scored_failure = any(run.failing(name) for name in listed.scored)
    assert run.code == (1 if scored_failure else 0), f"harness exit code {run.code}\n{run.console[-3000:]}"
