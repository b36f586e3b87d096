"""The pytest plugin behind ``certify``: checks mapped to requirements, outcomes, evidence, progress.

``certify`` runs ``pytest -m conformance`` with an instance of :class:`ConformancePlugin`. For each
check it finds the requirement named by the docstring, deselects checks that belong to no option being
certified, records the outcome of every test (setup errors and teardown errors count as failures;
skips keep their reason), keeps the evidence of failing tests (the last HTTP exchanges, masked), and
shows a progress bar. :meth:`ConformancePlugin.results` folds the tests into one result per catalogue
entry: a requirement fails if any of its tests (parametrized variants) fails, a failed SHOULD is a
warning, and an entry with no test run is skipped with the reason why.

Under pytest-xdist (``certify --workers N``) the plugin is the controller's: the workers collect, deselect
and record evidence (``worker.py``) and their reports carry the requirement and the evidence; the plugin
learns the tests from those reports, and the progress total from the workers' collections.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest

from ..catalog import Requirement, docstring_requirement
from . import evidence
from .masking import Masker
from .worker import EVIDENCE, REQUESTS, REQUIREMENT, properties, split_by_options

EVIDENCE_TESTS = 3  # failing tests of one requirement whose exchanges go into the report
REASON_LIMIT = 2000


@dataclass
class ItemResult:
    nodeid: str
    requirement: str | None  # None: the docstring names no requirement
    outcome: str = "passed"  # passed | failed | skipped
    reason: str | None = None
    evidence: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0


@dataclass
class CheckResult:
    requirement: Requirement
    outcome: str  # passed | failed | warning | skipped
    reason: str | None
    evidence: list[dict[str, Any]]
    tests: dict[str, int]  # outcome -> number of tests (parametrized variants)


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
    return text if report.when == "call" else f"error in {report.when}: {text}"


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
        self.option_deselected: dict[str, list[str]] = {}  # requirement -> deselected tests
        self.collection_errors: list[str] = []
        self.internal_errors: list[str] = []
        self._progress: Any = None
        self._task: Any = None
        self._counts: Counter[str] = Counter()
        self._order: dict[str, int] = {}  # under xdist: collection order (reports arrive as workers finish)

    def masker(self) -> Masker:
        # Built when needed: the target fixture registers the in-process reference's tokens mid-run.
        return Masker(self.secrets)

    # -- collection ---------------------------------------------------------------------------------

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            text = str(report.longrepr).strip().splitlines()
            self.collection_errors.append(self.masker().text(f"{report.nodeid}: {text[-1] if text else 'error'}"))

    @pytest.hookimpl(trylast=True)  # after -m and -k have deselected theirs
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        keep, drop = split_by_options(items, self.certified)
        for item in drop:
            found = docstring_requirement(getattr(getattr(item, "function", None), "__doc__", None))
            if found:
                self.option_deselected.setdefault(found[0], []).append(item.nodeid)
        for item in keep:
            found = docstring_requirement(getattr(getattr(item, "function", None), "__doc__", None))
            self.tests[item.nodeid] = ItemResult(item.nodeid, found[0] if found else None)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep
        self._start_progress(len(keep))

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        # Every worker collects the same checks, in the same order: the first one says which and how many.
        if not self._order:
            self._order = {nodeid: index for index, nodeid in enumerate(ids)}
        self._start_progress(len(ids))

    # -- running ------------------------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        evidence.start(nodeid)
        if self._progress is not None:
            result = self.tests.get(nodeid)
            self._progress.update(self._task, check=(result.requirement if result else None) or _variant(nodeid))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        sent = properties(report)  # from a worker (xdist): the requirement, and a failure's evidence
        result = self.tests.get(report.nodeid)
        if result is None and REQUIREMENT in sent:
            result = self.tests[report.nodeid] = ItemResult(report.nodeid, sent[REQUIREMENT])
        if result is None:
            return
        if report.failed and result.outcome != "failed":
            result.outcome = "failed"
            result.reason = self.masker().text(_failure_reason(report))[:REASON_LIMIT]
            recorder = evidence.current()
            if EVIDENCE in sent:
                result.evidence = self.masker().obj(sent[EVIDENCE])
                result.requests = sent.get(REQUESTS, 0)
            elif recorder is not None:
                result.evidence = recorder.evidence(self.masker())
                result.requests = recorder.total
        elif report.skipped and result.outcome == "passed":
            result.outcome = "skipped"
            result.reason = self.masker().text(_skip_reason(report))[:REASON_LIMIT]

    def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> None:
        evidence.stop()
        result = self.tests.get(nodeid)
        if result is not None:
            self._counts[result.outcome] += 1
        if self._progress is not None:
            counts = self._counts
            self._progress.update(
                self._task,
                advance=1,
                status=f"[green]{counts['passed']} passed[/] [red]{counts['failed']} failed[/] "
                f"[yellow]{counts['skipped']} skipped[/]",
            )

    def pytest_internalerror(self, excrepr: Any) -> None:
        lines = str(excrepr).strip().splitlines()
        self.internal_errors.append(self.masker().text(lines[-1] if lines else "internal error"))

    def pytest_sessionfinish(self) -> None:
        self._stop_progress()

    def pytest_unconfigure(self) -> None:
        self._stop_progress()
        evidence.stop()

    # -- progress -----------------------------------------------------------------------------------

    def _start_progress(self, total: int) -> None:
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
        # Deselected here, or (under xdist) in the workers, for the same reason.
        deselected = self.certified is not None and not self.certified & set(requirement.options)
        if requirement.id in self.option_deselected or deselected:
            reasons = self.not_certified_reasons
            why = [f"{option} ({reasons.get(option, 'not requested')})" for option in requirement.options]
            return "not run: its options are not being certified: " + ", ".join(why)
        return "not run: no check of this requirement was selected (-k) or collected"

    def _fold(self, requirement: Requirement, tests: list[ItemResult]) -> CheckResult:
        counts = Counter(t.outcome for t in tests)
        tally = {k: counts.get(k, 0) for k in ("passed", "failed", "skipped")}
        if not tests:
            return CheckResult(requirement, "skipped", self._not_run_reason(requirement), [], tally)
        failed = [t for t in tests if t.outcome == "failed"]
        skipped = [t for t in tests if t.outcome == "skipped"]
        if failed:
            first = failed[0]
            prefix = f"[{_variant(first.nodeid)}] " if len(tests) > 1 else ""
            share = f" ({len(failed)} of {len(tests)} tests failed)" if len(tests) > 1 else ""
            shown: list[dict[str, Any]] = []
            for test in failed[:EVIDENCE_TESTS]:
                shown += [{"test": test.nodeid, **exchange} for exchange in test.evidence]
            outcome = "warning" if requirement.level == "SHOULD" else "failed"
            return CheckResult(requirement, outcome, f"{prefix}{first.reason}{share}", shown, tally)
        if counts["passed"]:
            reason = None
            if skipped:
                reason = f"{len(skipped)} of {len(tests)} tests skipped: " + _distinct(t.reason for t in skipped)
            return CheckResult(requirement, "passed", reason, [], tally)
        return CheckResult(requirement, "skipped", _distinct(t.reason for t in skipped), [], tally)


def _distinct(reasons: Iterable[str | None]) -> str:
    return "; ".join(dict.fromkeys(r or "skipped" for r in reasons))
