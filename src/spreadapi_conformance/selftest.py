"""``spreadapi-conformance selftest``: prove what certify catches, on the reference with deliberate bugs.

First the clean reference is certified in process: every option must pass with no failure, warning or error
(a false alarm would make every catch below worthless). Then the reference is certified once per fault of
``reference.faults.FAULTS`` (each a realistic deployment bug, implemented where it would live): a fault is
*caught* when one of the checks it names fails (or, for a SHOULD or a policy, warns). Each run is a
``certify --in-process --reference-fault NAME`` of its own (a fresh process: nothing of one run's state leaks
into the next), two at a time by default.

Written to ``--report-dir`` (default ``reports/``): ``selftest.json`` (every fault: its bug, the checks
expected, the checks that failed, caught or missed) and ``selftest.html``; the runs' own reports in
``selftest/<fault>/``. The score is faults caught by an expected check over faults. Exit 0 when the clean
run is clean, every fault is caught and no check raised in the kit's own code under any fault; 1 otherwise;
2 for a usage error.
"""

from __future__ import annotations

import html
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .reference.faults import FAULTS, check_names

CAUGHT_OUTCOMES = ("failed", "warning")


@dataclass
class Run:
    fault: str | None  # None: the clean reference
    exit: int
    failed: list[str] = field(default_factory=list)  # IDs that failed or warned
    errors: list[str] = field(default_factory=list)  # IDs that raised in the kit's own code
    problem: str = ""  # why the run did not give a report


def certify_once(fault: str | None, report_dir: Path, select: list[str] | None = None, timeout: float = 900) -> Run:
    """One ``certify --in-process`` (with ``fault``; only the checks of ``select``, requirement IDs, when
    given) in a process of its own; what it found."""
    command = [sys.executable, "-m", "spreadapi_conformance", "certify", "--in-process", "--no-progress"]
    command += ["--report-dir", str(report_dir)] + (["--reference-fault", fault] if fault else [])
    command += ["-k", " or ".join(select)] if select else []
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    report = report_dir / "report.json"
    if not report.exists():
        last = (done.stderr or done.stdout).strip().splitlines()
        return Run(fault, done.returncode, problem=last[-1] if last else f"exit {done.returncode}, no report")
    checks = json.loads(report.read_text(encoding="utf-8"))["checks"]
    return Run(
        fault,
        done.returncode,
        failed=[c["id"] for c in checks if c["outcome"] in CAUGHT_OUTCOMES],
        errors=[c["id"] for c in checks if c["outcome"] == "error"],
    )


def judge(run: Run) -> dict[str, Any]:
    fault = FAULTS[run.fault] if run.fault else None
    expected = list(fault.caught_by) if fault else []
    catching = [rid for rid in expected if rid in run.failed]
    return {
        "fault": run.fault,
        "area": fault.area if fault else None,
        "bug": fault.bug if fault else None,
        "expected": expected,
        "failed": run.failed,
        "caught_by": catching,
        "caught": bool(catching),
        "errors": run.errors,
        "exit": run.exit,
        "problem": run.problem,
    }


def run_selftest(
    faults: list[str], report_dir: Path, jobs: int = 2, quick: bool = False, out: Console | None = None
) -> int:
    """``quick``: run only the checks each fault names (and, on the clean reference, only those), which
    proves each is caught by its own checks but not that no other check misjudges it."""
    out = out or Console(highlight=False, width=None if sys.stdout.isatty() else 140)
    names = sorted(check_names(faults)) if faults else sorted(FAULTS)
    runs_dir = report_dir / "selftest"

    def select(name: str | None) -> list[str] | None:
        if not quick:
            return None
        chosen = [FAULTS[name]] if name else [FAULTS[n] for n in names]
        return sorted({rid for fault in chosen for rid in fault.caught_by})

    clean = certify_once(None, runs_dir / "clean", select(None))
    # A -k subset is an incomplete run (exit 3) even when nothing failed.
    false_alarm = clean.exit not in ((0, 3) if quick else (0,)) or bool(clean.failed) or bool(clean.errors)
    out.print(
        f"clean reference: exit {clean.exit}, {len(clean.failed)} failed or warned, {len(clean.errors)} errors"
        + (f" ({clean.problem})" if clean.problem else "")
    )
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        runs = list(pool.map(lambda name: certify_once(name, runs_dir / name, select(name)), names))
    judged = [judge(run) for run in runs]
    caught = sum(j["caught"] for j in judged)
    score = caught / len(judged) if judged else 1.0

    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("fault", "area", "caught", "expected", "failed (expected in bold)"):
        table.add_column(column, overflow="fold")
    for j in judged:
        shown = ", ".join(f"[bold]{rid}[/]" if rid in j["expected"] else rid for rid in j["failed"][:12])
        more = f" … {len(j['failed']) - 12} more" if len(j["failed"]) > 12 else ""
        mark = "[green]caught[/]" if j["caught"] else "[red]missed[/]"
        table.add_row(j["fault"], j["area"], mark, ", ".join(j["expected"]), (shown + more) or escape(j["problem"]))
    out.print(table)
    out.print(f"score: {caught} of {len(judged)} faults caught by an expected check ({score:.0%})")
    # A check that raises in the kit's own code under a fault is a defect of the kit, whatever it caught.
    kit_errors = {j["fault"]: j["errors"] for j in judged if j["errors"]}
    for name, ids in kit_errors.items():
        out.print(f"[red]kit error[/] under {name}: {', '.join(ids)} raised in the kit's own code (see its report)")
    from .catalog import load_catalog

    shown = sorted({rid for j in judged for rid in j["failed"]})
    never = [] if quick else sorted(set(load_catalog()) - set(shown))
    if not quick:
        out.print(f"catalogue entries some fault made fail: {len(shown)} of {len(load_catalog())}")
    # A fault's list is the proof that its entries can fail (suites/meta/test_counterexamples.py counts on it):
    # an entry a fault names that did not fail under it is a claim the run did not bear out.
    unproven = sorted({f"{j['fault']}: {rid}" for j in judged for rid in j["expected"] if rid not in j["failed"]})
    if unproven:
        out.print(f"[red]named but not failing[/]: {', '.join(unproven)} (each fault names an entry it did not fail)")
    document = {
        "quick": quick,
        "entries_shown_failing": shown,
        "entries_never_failing": never,
        "entries_named_not_failing": unproven,
        "clean": {**asdict(clean), "false_alarm": false_alarm},
        "faults": judged,
        "caught": caught,
        "total": len(judged),
        "score": round(score, 4),
        "kit_errors": kit_errors,
    }
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "selftest.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    (report_dir / "selftest.html").write_text(render_html(document), encoding="utf-8")
    out.print(f"Reports: {report_dir / 'selftest.json'}, {report_dir / 'selftest.html'}", soft_wrap=True)
    return 0 if not false_alarm and caught == len(judged) and not kit_errors and not unproven else 1


def render_html(document: dict[str, Any]) -> str:
    rows = []
    for j in document["faults"]:
        failed = ", ".join(f"<b>{rid}</b>" if rid in j["expected"] else rid for rid in j["failed"])
        verdict = "caught" if j["caught"] else "missed"
        rows.append(
            f'<tr class="{verdict}"><td><code>{html.escape(j["fault"])}</code></td><td>{html.escape(j["area"])}</td>'
            f"<td>{html.escape(j['bug'])}</td><td>{verdict}</td><td>{', '.join(j['expected'])}</td>"
            f"<td>{failed or html.escape(j['problem'])}</td></tr>"
        )
    clean = document["clean"]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Selftest: what certify catches</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<style>body{{font:14px/1.45 system-ui,sans-serif;margin:20px auto;max-width:1200px}}
table{{border-collapse:collapse;width:100%}}td,th{{border:1px solid #d0d7de;padding:4px 6px;vertical-align:top}}
tr.missed td{{background:#fff0f0}}tr.caught td:nth-child(4){{color:#1a7f37;font-weight:700}}</style></head>
<body><h1>Selftest: what certify catches</h1>
<p>Clean reference: exit {clean["exit"]}, {len(clean["failed"])} failed or warned, {len(clean["errors"])} errors
({"a false alarm" if clean["false_alarm"] else "no false alarm"}).
Score: {document["caught"]} of {document["total"]} faults caught by an expected check
({document["score"]:.0%}).</p>
<table><tr><th>fault</th><th>area</th><th>the bug</th><th>verdict</th><th>expected</th>
<th>checks that failed or warned (expected in bold)</th></tr>
{"".join(rows)}
</table></body></html>
"""


def faults_markdown() -> str:
    """docs/faults.md: the fault catalogue, by area, as ``selftest --list`` prints it."""
    lines = [
        "# Faults",
        "",
        "<!-- Generated from src/spreadapi_conformance/reference/faults/ by scripts/requirements_doc.py; "
        "nox -s lint fails when it is stale. -->",
        "",
        f"{len(FAULTS)} deployment bugs the reference can be started with (`spreadapi-conformance serve --fault NAME`,",
        "`certify --in-process --reference-fault NAME`), each implemented where the bug would live in a deployment,",
        "and each with the checks expected to catch it. `spreadapi-conformance selftest` certifies the reference once",
        "per fault; [selftest.md](selftest.md) says how to run it and what it found.",
    ]
    escape = str.maketrans({"|": "\\|", "\n": " "})
    for area in dict.fromkeys(fault.area for fault in FAULTS.values()):
        lines += ["", f"## {area}", "", "| fault | the bug | caught by |", "|---|---|---|"]
        for fault in (f for f in FAULTS.values() if f.area == area):
            lines.append(f"| `{fault.name}` | {fault.bug.translate(escape)} | {', '.join(fault.caught_by)} |")
    from .catalog import area_order, load_catalog

    named = {rid for fault in FAULTS.values() for rid in fault.caught_by}
    without = [r.id for r in sorted(load_catalog().values(), key=area_order) if r.id not in named]
    lines += [
        "",
        f"## Catalogue entries no fault names yet ({len(without)} of {len(load_catalog())})",
        "",
        "Each still needs a fault (or a counterexample of its own) that shows it failing; a full `selftest` also",
        "reports the entries that fail incidentally under the faults above.",
        "",
        ", ".join(without),
    ]
    return "\n".join(lines) + "\n"
