"""The controller half of ``certify``'s reporting: tests folded into requirements, progress, results.

``certify`` runs ``pytest -m conformance`` with an instance of :class:`ConformancePlugin` and, in every
process that runs checks, :mod:`.worker`, which deselects the checks of options not being certified,
records each check's evidence and decides each report's outcome (:mod:`.outcomes`). This plugin reads
those outcomes back from the reports (the same way one check at a time and under pytest-xdist), shows a
progress bar, and :meth:`ConformancePlugin.results` folds the tests into one result per catalogue entry:

- ``error`` when any of its tests raised in the kit's own code (the verdict on it is unknown);
- else ``failed`` when any failed, or ``warning`` when the entry does not decide a verdict (a SHOULD, a
  SHOULD NOT, or a policy of the kit beyond its source);
- else ``passed`` when any passed (the report says which variants did not apply or were not run);
- else ``not-applicable`` when every test's premise failed, and ``skipped`` otherwise (not run).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest

from ..catalog import Requirement
from .masking import Masker
from .outcomes import ERROR, FAILED, NOT_APPLICABLE, NOT_APPLICABLE_OUTCOME, PASSED, SKIPPED, CheckTimeout
from .worker import EVIDENCE, MEASURED, OUTCOME, REQUESTS, REQUIREMENT, TRACEBACK, WAITED, properties

EVIDENCE_TESTS = 3  # failing tests of one requirement whose exchanges go into the report
REASON_LIMIT = 2000
WARNING = "warning"
# A test's phases (setup, call, teardown) each report; the worst outcome is the test's.
_SEVERITY = {PASSED: 0, SKIPPED: 1, NOT_APPLICABLE_OUTCOME: 2, FAILED: 3, ERROR: 4}


@dataclass
class ItemResult:
    nodeid: str
    requirement: str | None  # None: the docstring names no requirement
    outcome: str = PASSED  # passed | failed | error | not-applicable | skipped
    reason: str | None = None
    evidence: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    traceback: str | None = None
    measured: Counter[str] = field(default_factory=Counter)


@dataclass
class CheckResult:
    requirement: Requirement
    outcome: str  # passed | failed | warning | error | not-applicable | skipped
    reason: str | None
    evidence: list[dict[str, Any]]
    tests: dict[str, int]  # outcome -> number of tests (parametrized variants)
    traceback: str | None = None
    measured: dict[str, int] = field(default_factory=dict)  # what its tests counted (the fuzzers' cases)


def _variant(nodeid: str) -> str:
    """``rest/test_auth.py::test_y[quote-3]`` -> ``test_y[quote-3]``."""
    return nodeid.rsplit("::", 1)[-1]


def _failure_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None and crash.message:
        text = crash.message
    else:
        lines = [line for line in str(longrepr).splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("E ")]
        text = "\n".join(errors[-5:]) if errors else (lines[-1] if lines else "failed")
    return text if report.when == "call" else f"in {report.when}: {text}"


def _skip_reason(report: pytest.TestReport) -> str:
    if hasattr(report, "wasxfail"):
        return f"expected failure: {report.wasxfail}" if report.wasxfail else "expected failure"
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return text.removeprefix("Skipped: ")


class ConformancePlugin:
    def __init__(
        self,
        catalog: dict[str, Requirement],
        certified: Iterable[str] | None = None,
        *,
        secrets: Iterable[str | None] = (),
        not_certified_reasons: dict[str, str] | None = None,
        progress: bool = True,
    ) -> None:
        self.catalog = catalog
        self.certified = set(certified) if certified is not None else None  # None: every option
        self.secrets = list(secrets)
        self.not_certified_reasons = not_certified_reasons or {}  # option -> why it is not certified
        self.show_progress = progress
        self.tests: dict[str, ItemResult] = {}
        self.collection_errors: list[str] = []
        self.internal_errors: list[str] = []
        self._progress: Any = None
        self._task: Any = None
        self._counts: Counter[str] = Counter()
        self._order: dict[str, int] = {}  # collection order (under xdist reports arrive as workers finish)
        self.checks_started: float | None = None  # monotonic: when the first check could start (the bar's zero)
        self.checks_took: float = 0.0  # s: from then to the last check's end, as the progress bar counts

    def masker(self) -> Masker:
        # Built when needed: the target fixture registers the in-process reference's tokens mid-run.
        return Masker(self.secrets)

    # -- collection ---------------------------------------------------------------------------------

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            text = str(report.longrepr).strip().splitlines()
            self.collection_errors.append(self.masker().text(f"{report.nodeid}: {text[-1] if text else 'error'}"))

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        # One check at a time: the items left after -m, -k and the worker module's deselection.
        if session.items and not self._order:
            self._order = {item.nodeid: index for index, item in enumerate(session.items)}
            self._start_progress(len(session.items))

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        # Every worker collects the same checks, in the same order: the first one says which and how many.
        if not self._order:
            self._order = {nodeid: index for index, nodeid in enumerate(ids)}
        self._start_progress(len(ids))

    # -- running ------------------------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        if self._progress is not None:
            result = self.tests.get(nodeid)
            self._progress.update(self._task, check=(result.requirement if result else None) or _variant(nodeid))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        sent = properties(report)
        if OUTCOME not in sent:
            return  # a test the worker module did not see
        result = self.tests.setdefault(report.nodeid, ItemResult(report.nodeid, sent.get(REQUIREMENT)))
        outcome = sent[OUTCOME]
        result.measured.update(sent.get(MEASURED) or {})
        if _SEVERITY[outcome] <= _SEVERITY[result.outcome]:
            return
        masker = self.masker()
        result.outcome = outcome
        if outcome in (FAILED, ERROR):
            reason = _failure_reason(report).replace(f"{CheckTimeout.__module__}.", "")
            if sent.get(WAITED):
                reason = f"{reason.splitlines()[0]}, waiting for the answer to {sent[WAITED]}"
            result.reason = masker.text(reason)[:REASON_LIMIT]
            result.evidence = masker.obj(sent.get(EVIDENCE) or [])
            result.requests = sent.get(REQUESTS, 0)
            if outcome == ERROR:
                result.traceback = masker.text(sent.get(TRACEBACK) or "")
        else:
            result.reason = masker.text(_skip_reason(report))[:REASON_LIMIT]

    def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> None:
        result = self.tests.get(nodeid)
        if result is not None:
            self._counts[result.outcome] += 1
        if self._progress is not None:
            counts = self._counts
            self._progress.update(
                self._task,
                advance=1,
                status=f"[green]{counts[PASSED]} passed[/] [red]{counts[FAILED]} failed[/] "
                f"[magenta]{counts[ERROR]} errors[/] "
                f"[yellow]{counts[SKIPPED] + counts[NOT_APPLICABLE_OUTCOME]} not run[/]",
            )

    def pytest_internalerror(self, excrepr: Any) -> None:
        lines = str(excrepr).strip().splitlines()
        self.internal_errors.append(self.masker().text(lines[-1] if lines else "internal error"))

    def pytest_sessionfinish(self) -> None:
        if self.checks_started is not None:
            self.checks_took = time.monotonic() - self.checks_started
        self._stop_progress()

    def pytest_unconfigure(self) -> None:
        self._stop_progress()

    # -- progress -----------------------------------------------------------------------------------

    def _start_progress(self, total: int) -> None:
        if self.checks_started is None:
            self.checks_started = time.monotonic()
        if not self.show_progress or self._progress is not None:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("[bold]certify[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[status]}"),
            TextColumn("[dim]{task.fields[check]}[/]"),
            console=Console(stderr=True),
            transient=False,
        )
        self._task = self._progress.add_task("checks", total=total, status="", check="")
        self._progress.start()

    def _stop_progress(self) -> None:
        if self._progress is not None:
            self._progress.update(self._task, check="")
            self._progress.stop()
            self._progress = None

    # -- results ------------------------------------------------------------------------------------

    def unmapped(self) -> list[ItemResult]:
        """Conformance tests whose docstring names no catalogue entry (suites/meta keeps this empty)."""
        return [t for t in self.tests.values() if t.requirement not in self.catalog]

    def results(self) -> list[CheckResult]:
        """One result per catalogue entry, in catalogue order."""
        by_requirement: dict[str, list[ItemResult]] = {}
        ordered = sorted(self.tests.values(), key=lambda t: self._order.get(t.nodeid, len(self._order)))
        for test in ordered:
            if test.requirement in self.catalog:
                by_requirement.setdefault(test.requirement, []).append(test)
        return [self._fold(req, by_requirement.get(rid, [])) for rid, req in self.catalog.items()]

    def _not_run_reason(self, requirement: Requirement) -> str:
        # Deselected (by the worker module) because none of its options is being certified.
        if self.certified is not None and not self.certified & set(requirement.options):
            reasons = self.not_certified_reasons
            why = [f"{option} ({reasons.get(option, 'not requested')})" for option in requirement.options]
            return "not run: its options are not being certified: " + ", ".join(why)
        return "not run: no check of this requirement was selected (-k) or collected"

    def _fold(self, requirement: Requirement, tests: list[ItemResult]) -> CheckResult:
        result = self._fold_outcome(requirement, tests)
        result.measured = dict(sum((t.measured for t in tests), Counter()))
        return result

    def _fold_outcome(self, requirement: Requirement, tests: list[ItemResult]) -> CheckResult:
        counts = Counter(t.outcome for t in tests)
        tally = {k: counts.get(k, 0) for k in (PASSED, FAILED, ERROR, NOT_APPLICABLE_OUTCOME, SKIPPED)}
        if not tests:
            return CheckResult(requirement, SKIPPED, self._not_run_reason(requirement), [], tally)
        share = len(tests) > 1
        for outcome in (ERROR, FAILED):
            hit = [t for t in tests if t.outcome == outcome]
            if not hit:
                continue
            first = hit[0]
            prefix = f"[{_variant(first.nodeid)}] " if share else ""
            suffix = (
                f" ({len(hit)} of {len(tests)} tests {'failed' if outcome == FAILED else 'raised'})" if share else ""
            )
            shown: list[dict[str, Any]] = []
            for test in hit[:EVIDENCE_TESTS]:
                shown += [{"test": test.nodeid, **exchange} for exchange in test.evidence]
            folded = WARNING if outcome == FAILED and not requirement.decides_verdict else outcome
            return CheckResult(requirement, folded, f"{prefix}{first.reason}{suffix}", shown, tally, first.traceback)
        not_run = [t for t in tests if t.outcome != PASSED]
        if counts[PASSED]:
            reason = None
            if not_run:
                reason = f"{len(not_run)} of {len(tests)} tests not run: " + _distinct(t.reason for t in not_run)
            return CheckResult(requirement, PASSED, reason, [], tally)
        if counts[NOT_APPLICABLE_OUTCOME] == len(tests):
            premises = _distinct((t.reason or "").removeprefix(NOT_APPLICABLE) for t in tests)
            return CheckResult(requirement, NOT_APPLICABLE_OUTCOME, premises, [], tally)
        return CheckResult(requirement, SKIPPED, _distinct(t.reason for t in not_run), [], tally)


def _distinct(reasons: Iterable[str | None]) -> str:
    return "; ".join(dict.fromkeys(r or "skipped" for r in reasons))
