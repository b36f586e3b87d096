"""``spreadapi-conformance certify``: run the catalogue against a target, print verdicts, write reports.

The flow: load the catalogue and the target file, pre-flight a live target (one clear line and exit 2
when it cannot be certified), run ``pytest -m conformance`` on the installed checks (``checks/``, with their
plugin) and the report plugin
(checks of options not being certified are deselected), fold the outcomes into one result per
requirement, derive a verdict per option, write report.json / junit.xml / report.html (masked) and
exit 0 only when every MUST check of the certified options passed.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .catalog import OPTIONS, CatalogError, load_catalog
from .report.masking import Masker
from .target import DEFAULT_PATHS, TargetError, TargetSpec, load_target

CHECKS = Path(__file__).resolve().parent / "checks"
# 0: every certified option passed. 1: a MUST failed. 2: certify could not run (usage, an unusable target).
# 3: nothing failed, but a MUST of a certified option was not established (a narrowed run, a check not run).
# 4: nothing failed, but a check raised in the kit's own code: a defect of the kit (the report has its traceback).
EXIT_CERTIFIED, EXIT_NOT_CERTIFIED, EXIT_ERROR, EXIT_INCOMPLETE, EXIT_KIT_ERROR = 0, 1, 2, 3, 4
EXIT_NOTEBOOK_FAILED = 5  # --with-notebooks: the checks certified the target, a walkthrough broke on it


class CertifyError(Exception):
    """certify cannot run; the message is one line for stderr (exit 2)."""


@dataclass
class CertifyRequest:
    target: Path | None = None  # None: the in-process reference
    options: list[str] = field(default_factory=list)  # empty: every option
    report_dir: Path = Path("reports")
    max_rps: float | None = None
    mcp_revisions: list[str] = field(default_factory=list)  # empty: every revision the SDK offers
    select: str | None = None  # pytest -k expression, to run a subset
    bridge_command: str | None = None  # the Claude Desktop replay's stdio bridge (default: ours)
    progress: bool = True
    workers: int | None = None  # checks run at once (pytest-xdist); None: DEFAULT_WORKERS live, 0 in process
    check_timeout: float | None = None  # s: one check's time limit; None: the plugin's default
    fuzz_examples: int | None = None  # the fuzzers' examples (REST-FUZZ, MCP-FUZZ); None: the plugin's default
    reference_faults: tuple[str, ...] = ()  # in process: deployment bugs the reference starts with (selftest)
    with_notebooks: bool = False  # after the checks, run the walkthrough notebooks into report_dir/notebooks


# A live target is checked by this many pytest-xdist workers at once: its checks mostly wait on the network
# (behind a 50 ms round trip, certify takes about a minute this way instead of 2.5 one check after the
# other), and each worker is a client of its own. In process the checks are CPU-bound: one process is fastest.
DEFAULT_WORKERS = 4


def _target_summary(spec: TargetSpec | None, claims: tuple[str, ...]) -> dict[str, Any]:
    if spec is None:
        return {"source": "in-process", "base_url": None, "in_process": True, "claims": list(claims), "services": []}
    return {
        "source": spec.source,
        "base_url": spec.base_url,
        "in_process": False,
        "claims": list(claims),
        "services": [
            {"id": s.id, "fixture": s.fixture, "public": s.public, "token_given": bool(s.token)}
            for s in spec.services.values()
        ],
        "mcp_tokens": sorted(spec.mcp_tokens),  # names only
        "oauth": None
        if spec.oauth is None
        else {
            "registration": spec.oauth.registration,
            "client_id_given": spec.oauth.client_id is not None,
            "consent": spec.oauth.consent,
        },
        "admin": spec.admin_token is not None,
        "paths": {name: path for name, path in spec.paths.items() if DEFAULT_PATHS.get(name) != path},
    }


def known_mcp_revisions() -> tuple[str, ...]:
    """Every MCP revision the SDK negotiates, oldest first: what ``--mcp-revision`` may name."""
    from mcp.types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS

    return (*HANDSHAKE_PROTOCOL_VERSIONS, *MODERN_PROTOCOL_VERSIONS)


def workers(request: CertifyRequest) -> int:
    """How many checks run at once: ``--workers``, else DEFAULT_WORKERS for a live target, 0 in process."""
    if request.workers is not None:
        return request.workers
    return DEFAULT_WORKERS if request.target is not None else 0


def mcp_revisions(request: CertifyRequest) -> list[str]:
    """The MCP revisions asked for (``--mcp-revision``); empty for every one."""
    return list(dict.fromkeys(request.mcp_revisions))


def prepare(request: CertifyRequest) -> tuple[TargetSpec | None, tuple[str, ...], list[str]]:
    """Validate everything that can be checked before pytest starts: ``(spec, claims, requested)``."""
    from .preflight import PreflightError, preflight

    if unknown := [o for o in request.options if o not in OPTIONS]:
        raise CertifyError(f"unknown option {', '.join(unknown)} (known: {', '.join(OPTIONS)})")
    if request.max_rps is not None and request.max_rps <= 0:
        raise CertifyError("--max-rps must be a positive number")
    if request.reference_faults:
        from .reference.faults import check_names

        if request.target is not None:
            raise CertifyError("faults are for the embedded reference: give no --target")
        try:
            check_names(request.reference_faults)
        except ValueError as exc:
            raise CertifyError(str(exc)) from None
    if request.check_timeout is not None and request.check_timeout < 0:
        raise CertifyError("--check-timeout must be 0 (no limit) or a positive number of seconds")
    if request.fuzz_examples is not None and request.fuzz_examples < 1:
        raise CertifyError("--fuzz-examples must be at least 1")
    if request.workers is not None and not 0 <= request.workers <= 32:
        raise CertifyError("--workers must be between 0 (one check at a time) and 32")
    if workers(request) and importlib.util.find_spec("xdist") is None:
        raise CertifyError("--workers needs pytest-xdist, which is not installed (pip install pytest-xdist)")
    revisions = known_mcp_revisions()
    if unknown := [r for r in mcp_revisions(request) if r not in revisions]:
        raise CertifyError(f"unknown MCP revision {', '.join(unknown)} (known: {', '.join(revisions)})")
    try:
        load_catalog()
    except CatalogError as exc:
        raise CertifyError(f"the requirement catalogue is broken: {exc}") from None
    spec = None
    if request.target is not None:
        try:
            spec = load_target(request.target)
        except TargetError as exc:
            raise CertifyError(str(exc)) from None
    claims = tuple(OPTIONS) if spec is None or spec.claims is None else spec.claims
    requested = list(dict.fromkeys(request.options)) or list(OPTIONS)
    if request.bridge_command is not None and "claude-desktop" in set(requested) & set(claims):
        _check_bridge_command(request.bridge_command)
    if not set(requested) & set(claims):
        raise CertifyError(
            f"the target claims none of the requested options ({', '.join(requested)}); it claims: "
            f"{', '.join(claims) or 'nothing'}"
        )
    if spec is not None:
        try:
            preflight(spec, claims=claims)
        except PreflightError as exc:
            raise CertifyError(str(exc)) from None
    return spec, claims, requested


def _check_bridge_command(command: str) -> None:
    """``--bridge-command`` is one command line whose program can be found (else one line, exit 2)."""
    import shlex
    import shutil

    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise CertifyError(f"--bridge-command is not a valid command line: {exc}") from None
    if not words:
        raise CertifyError("--bridge-command is empty")
    if shutil.which(words[0]) is None:
        raise CertifyError(f"--bridge-command: {words[0]!r} is not an executable on PATH")


def run(request: CertifyRequest, out: Console | None = None, err: Console | None = None) -> int:
    import pytest

    from .report.plugin import ConformancePlugin
    from .report.writer import build_report, write_reports

    # Piped output (a CI log) is not wrapped at rich's default 80 columns: the verdict table stays whole.
    out = out or Console(highlight=False, width=None if sys.stdout.isatty() else 140)
    err = err or Console(stderr=True, highlight=False)
    try:
        spec, claims, requested = prepare(request)
    except CertifyError as exc:
        err.print(f"error: {escape(str(exc))}", soft_wrap=True)
        return EXIT_ERROR
    certified = [o for o in requested if o in claims]
    revisions = mcp_revisions(request)
    reasons = {o: "not claimed by the target" for o in OPTIONS if o not in claims}
    reasons.update({o: "not requested" for o in OPTIONS if o in claims and o not in requested})

    report_dir = request.report_dir
    try:
        report_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        err.print(f"error: cannot create the report folder {report_dir}: {exc.strerror or exc}", soft_wrap=True)
        return EXIT_ERROR
    junit = report_dir / "junit.xml"
    args = [
        str(CHECKS),
        "-m",
        "conformance",
        # The checks' own settings, whatever pytest configuration lies around the installed package (a
        # checkout's pyproject.toml, a user's pytest.ini): certify's plugin shows progress and the summary,
        # so pytest's terminal output goes nowhere (report/worker.py); the check plugin is named in case
        # autoloading is disabled.
        "-c",
        os.devnull,
        "--rootdir",
        str(CHECKS),
        "-p",
        "spreadapi_conformance",
        "-p",
        "spreadapi_conformance.report.worker",
        f"--spreadapi-certified={','.join(certified)}",
        "-p",
        "no:cacheprovider",
        "--strict-markers",
        "-o",
        "asyncio_default_fixture_loop_scope=function",
        f"--junitxml={junit}",
    ]
    if request.target is not None:
        args.append(f"--spreadapi-target={request.target}")
    parallel = workers(request)
    if parallel:
        # The workers collect, deselect and record (report/worker.py); the plugin here gathers their reports.
        args += ["-n", str(parallel), "--dist", "worksteal"]
    if request.max_rps:
        # The limit is for the whole run: each worker paces its own clients at its share.
        args.append(f"--spreadapi-max-rps={request.max_rps / max(1, parallel)}")
    if request.select:
        args += ["-k", request.select]
    if request.bridge_command:
        args.append(f"--spreadapi-bridge-command={request.bridge_command}")
    args += [f"--spreadapi-mcp-revision={revision}" for revision in revisions]
    if request.check_timeout is not None:
        args.append(f"--spreadapi-check-timeout={request.check_timeout}")
    if request.fuzz_examples is not None:
        args.append(f"--spreadapi-fuzz-examples={request.fuzz_examples}")
    args += [f"--spreadapi-reference-fault={name}" for name in request.reference_faults]

    plugin = ConformancePlugin(
        load_catalog(),
        certified,
        secrets=spec.secrets() if spec else (),
        not_certified_reasons=reasons,
        progress=request.progress,
    )
    started = datetime.now(UTC)
    clock = time.monotonic()
    code = pytest.main(args, plugins=[plugin])
    duration = time.monotonic() - clock

    if plugin.collection_errors:
        err.print(f"error: could not collect the checks: {escape(plugin.collection_errors[0])}", soft_wrap=True)
        return EXIT_ERROR
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        err.print("error: no check matches the selection", soft_wrap=True)
        return EXIT_ERROR
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        problem = (plugin.internal_errors or [f"pytest stopped with exit code {int(code)}"])[0]
        err.print(f"error: the run did not complete: {escape(problem)}", soft_wrap=True)
        return EXIT_ERROR

    results = plugin.results()
    unmapped = [
        {"nodeid": t.nodeid, "requirement": t.requirement, "outcome": t.outcome, "reason": t.reason}
        for t in plugin.unmapped()
    ]
    report = build_report(
        results,
        target=_target_summary(spec, claims),
        requested=requested,
        claimed=list(claims),
        unmapped=unmapped,
        run={
            "version": _version(),
            "started": started.isoformat(timespec="seconds"),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "duration_s": round(duration, 1),
            "checks_s": round(plugin.checks_took, 1),
            "reference_faults": list(request.reference_faults),
            "requested_options": requested,
            "certified_options": certified,
            "select": request.select,
            "bridge_command": request.bridge_command,
            "max_rps": request.max_rps,
            "mcp_revisions": revisions or list(known_mcp_revisions()),
            "workers": parallel,
            "tests": len(plugin.tests),
            "python": sys.version.split()[0],
        },
    )
    if request.with_notebooks:
        report["notebooks"] = _run_notebooks(request, report_dir, err)
    paths = write_reports(report, report_dir, plugin.masker())
    _print_summary(out, report, plugin.masker(), paths, duration)
    return exit_code(report)


def _run_notebooks(request: CertifyRequest, report_dir: Path, err: Console) -> list[dict[str, Any]]:
    """The walkthrough notebooks against the same target, as report.json lists them (paths relative to it)."""
    from .notebooks import available, run_notebooks

    def echo(line: str, **_: Any) -> None:  # every line to stderr: stdout carries the summary
        err.print(escape(line), soft_wrap=True, highlight=False)

    err.print("\nRunning the walkthrough notebooks against the same target…")
    ran = run_notebooks(list(available()), request.target, report_dir / "notebooks", max_rps=request.max_rps, echo=echo)
    return [
        {
            "name": result.name,
            "ok": result.ok,
            "error": result.error,
            "seconds": round(result.seconds, 1),
            "notebook": result.output.relative_to(report_dir).as_posix(),
            "html": result.html.relative_to(report_dir).as_posix() if result.html else None,
        }
        for result in ran
    ]


def exit_code(report: dict[str, Any]) -> int:
    verdicts = [report["options"][o] for o in report["run"]["certified_options"]]
    if "fail" in verdicts:
        return EXIT_NOT_CERTIFIED
    if report["summary"]["errors"]:
        return EXIT_KIT_ERROR
    if "incomplete" in verdicts:
        return EXIT_INCOMPLETE
    if any(not notebook["ok"] for notebook in report.get("notebooks", [])):
        return EXIT_NOTEBOOK_FAILED
    return EXIT_CERTIFIED


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("spreadapi-conformance")
    except PackageNotFoundError:
        return "unknown"


VERDICT_STYLE = {"pass": "bold green", "fail": "bold red", "incomplete": "bold yellow", "not-claimed": "dim"}


def _first_line(text: str | None, limit: int = 160) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _print_summary(out: Console, report: dict[str, Any], masker: Masker, paths: dict[str, Path], took: float) -> None:
    target = report["target"]
    where = target["base_url"] or "the in-process reference"
    out.print(f"\n[bold]Target[/]: {escape(where)} ({escape(target['source'])})")
    out.print(
        "[dim]Counts are requirements of the catalogue; MUST counts the MUST and MUST NOT entries that decide "
        "the verdict.[/]"
    )
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    columns = ("option", "verdict", "MUST run", "failed", "SHOULD", "policy", "n/a", "not run", "errors")
    for column in columns:
        table.add_column(column, justify="left" if column in ("option", "verdict") else "right", no_wrap=True)
    for option, verdict in report["options"].items():
        d = report["option_details"][option]
        table.add_row(
            option,
            f"[{VERDICT_STYLE[verdict]}]{verdict}[/]",
            f"{d['deciding_run']}/{d['deciding']}",
            str(len(d["must_failures"])),
            str(len(d["should_failures"])),
            str(len(d["policy_failures"])),
            str(d["not_applicable"]),
            str(d["skipped"]),
            str(d["errors"]),
        )
    out.print(table)
    checks = report["checks"]

    def listing(title: str, style: str, shown: list[dict[str, Any]], detail: Any) -> None:
        if not shown:
            return
        out.print(f"\n[bold {style}]{title}: {len(shown)}[/]")
        for c in shown:
            out.print(f"  [{style}]✗[/] {c['id']} [dim]{c['level']}[/] {escape(c['title'])}", soft_wrap=True)
            out.print(f"      [dim]{escape(masker.text(_first_line(detail(c))))}[/]", soft_wrap=True)

    listing(
        "Failed (these decide the verdict)",
        "red",
        [c for c in checks if c["outcome"] == "failed"],
        lambda c: c["reason"],
    )
    listing(
        "Errors in the kit's own code (not the target's failures; tracebacks in report.json)",
        "magenta",
        [c for c in checks if c["outcome"] == "error"],
        lambda c: c["reason"],
    )
    warnings = [c for c in checks if c["outcome"] == "warning"]
    listing("SHOULD not met (warnings)", "yellow", [c for c in warnings if not c["policy"]], lambda c: c["reason"])
    listing(
        "Policy not met (the kit asks more than the source; does not decide the verdict)",
        "yellow",
        [c for c in warnings if c["policy"]],
        lambda c: f"{c['policy']} — {c['reason']}",
    )
    not_applicable = [c for c in checks if c["outcome"] == "not-applicable"]
    if not_applicable:
        premises = Counter(_first_line(c["reason"], 200) for c in not_applicable)
        out.print(f"\n[bold]Not applicable: {len(not_applicable)}[/] (a premise does not hold; no failure, no gap)")
        for premise, n in premises.most_common():
            out.print(f"  - {n} × {escape(masker.text(premise))}", soft_wrap=True)
    skipped = [c for c in checks if c["outcome"] == "skipped"]
    if skipped:
        reasons = Counter(_first_line(c["reason"], 200) for c in skipped)
        out.print(f"\n[bold]Not run: {len(skipped)}[/]")
        for reason, n in reasons.most_common():
            out.print(f"  - {n} × {escape(masker.text(reason))}", soft_wrap=True)
    s = report["summary"]
    out.print(
        f"\n{len(checks)} requirements: {s['passed']} passed, {s['failed']} failed, {s['warnings']} warnings, "
        f"{s['errors']} errors, {s['not_applicable']} not applicable, {s['skipped']} not run; "
        f"{report['run']['tests']} test items ran in {report['run']['checks_s']:.1f} s ({took:.1f} s with start-up)"
    )
    if report.get("unmapped_tests"):
        out.print(f"[yellow]{len(report['unmapped_tests'])} conformance tests name no catalogue entry[/]")
    out.print("Reports: " + ", ".join(str(p) for p in paths.values()), soft_wrap=True)
    certified = report["run"]["certified_options"]
    verdicts = report["options"]
    details = report["option_details"]
    failing = [o for o in certified if verdicts[o] == "fail"]
    incomplete = [o for o in certified if verdicts[o] == "incomplete"]
    if failing:
        out.print(f"[bold red]Not certified[/]: MUST requirements failed for {', '.join(failing)}.", soft_wrap=True)
    elif incomplete:
        ran = ", ".join(f"{o} {details[o]['deciding_run']} of {details[o]['deciding']}" for o in incomplete)
        out.print(
            f"[bold yellow]Not certified, incomplete[/]: not every MUST requirement was established ({ran} ran; "
            "the rest were not run or raised in the kit).",
            soft_wrap=True,
        )
    else:
        ran = ", ".join(
            f"{o} {details[o]['deciding_run']} of {details[o]['deciding']}"
            + (
                f" ({details[o]['deciding_not_applicable']} not applicable)"
                if details[o]["deciding_not_applicable"]
                else ""
            )
            for o in certified
        )
        out.print(f"[bold green]Certified[/]: every MUST requirement held ({ran}).", soft_wrap=True)
    if s["errors"]:
        out.print(f"[bold magenta]{s['errors']} checks raised in the kit's own code[/]: report it (exit code 4).")
    broken = [n for n in report.get("notebooks", []) if not n["ok"]]
    for notebook in broken:
        out.print(f"[bold red]Notebook {notebook['name']} failed[/]: {escape(notebook['error'] or '')}", soft_wrap=True)
    if report.get("notebooks") and not broken:
        out.print(f"Notebooks: all {len(report['notebooks'])} ran to their end (report.html links them).")
