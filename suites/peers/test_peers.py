"""certify against servers nobody here wrote, held to committed expected verdicts.

For each peer of ``peers/`` (FastMCP with its in-memory OAuth provider; oidc-provider in front of an MCP
resource server on the TypeScript SDK; the official server-everything), certify runs against it as a release
manager would run it against their staging: ``certify --target peers/<name>/target.toml`` (with the ports
chosen here). ``peers/<name>/expected-verdicts.yaml`` lists every option's verdict and every catalogue entry's
outcome; each failure and warning says which clause the peer breaks and the evidence in one line. A changed
verdict fails this test, which writes what it saw to ``reports/peers/<name>/observed-verdicts.yaml`` (clause and
evidence lines carried over, new ones marked TODO) so a reviewer can judge the change and commit it. No check
may end in ``error``: that would be a defect of the kit.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from spreadapi_conformance.catalog import load_catalog

from ..browser._live import REPORTS
from ..meta.conftest import certify
from .conftest import PEER_LIST, Peer, running

pytestmark = pytest.mark.live
JUDGED = ("failed", "warning")  # outcomes whose entry must say the clause and the evidence


def expected_of(peer: Peer) -> dict[str, Any]:
    return yaml.safe_load((peer.directory / "expected-verdicts.yaml").read_text(encoding="utf-8"))


def outcome_of(entry: Any) -> str:
    return entry["outcome"] if isinstance(entry, dict) else entry


def observed_document(peer: Peer, report: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    before = expected.get("checks") or {}
    checks: dict[str, Any] = {}
    for check in report["checks"]:
        rid, outcome = check["id"], check["outcome"]
        if outcome in JUDGED:
            known = before.get(rid) if isinstance(before.get(rid), dict) else {}
            same = outcome_of(before.get(rid)) == outcome
            checks[rid] = {
                "outcome": outcome,
                "clause": known.get("clause") if same and known.get("clause") else "TODO: the clause it breaks",
                "evidence": known.get("evidence") if same and known.get("evidence") else (check["reason"] or "")[:200],
            }
        else:
            checks[rid] = outcome
    return {"peer": expected.get("peer", peer.name), "options": report["options"], "checks": checks}


@pytest.mark.parametrize("peer", PEER_LIST, ids=[p.name for p in PEER_LIST])
def test_peer_verdicts_match_the_expected_ones(peer: Peer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    results = REPORTS / "peers" / peer.name
    shutil.rmtree(results, ignore_errors=True)
    results.mkdir(parents=True)
    with running(peer, results / "server.log") as ports:
        target = peer.target_file(ports, tmp_path)
        run = certify(results, "--target", str(target), "--no-progress", env=peer.env)
    (results / "certify-console.txt").write_text(run.stdout + run.stderr, encoding="utf-8")
    assert run.returncode in (0, 1, 3), (
        f"certify could not judge {peer.name}:\n{run.stdout[-3000:]}\n{run.stderr[-2000:]}"
    )
    report = run.json()
    errors = {c["id"]: c["reason"] for c in report["checks"] if c["outcome"] == "error"}
    assert not errors, f"checks raised in the kit's own code against {peer.name}: {errors}"

    expected = expected_of(peer)
    observed = observed_document(peer, report, expected)
    (results / "observed-verdicts.yaml").write_text(
        yaml.safe_dump(observed, sort_keys=False, width=200), encoding="utf-8"
    )
    assert set(expected["checks"]) == set(load_catalog()), "the expected verdicts must name every catalogue entry"
    changed = {
        rid: f"{outcome_of(expected['checks'][rid])} -> {outcome_of(entry)}"
        for rid, entry in observed["checks"].items()
        if outcome_of(expected["checks"].get(rid)) != outcome_of(entry)
    }
    assert expected["options"] == observed["options"] and not changed, (
        f"{peer.name}'s verdicts changed (see {results / 'observed-verdicts.yaml'}): options "
        f"{expected['options']} -> {observed['options']}; checks {changed}"
    )
    unjudged = [
        rid
        for rid, entry in expected["checks"].items()
        if outcome_of(entry) in JUDGED
        and (
            not isinstance(entry, dict)
            or not entry.get("clause")
            or "TODO" in entry["clause"]
            or not entry.get("evidence")
        )
    ]
    assert not unjudged, f"{peer.name}: failures without the clause they break and their evidence: {unjudged}"
