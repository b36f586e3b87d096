"""The half of certify's reporting that runs where the checks run: in the certify process one check at a
time, or in each pytest-xdist worker (``certify --workers N``).

``certify`` loads this module into every process that runs checks (``-p spreadapi_conformance.report.worker``).
It deselects the checks of options that are not being certified (``--spreadapi-certified``), records each
check's HTTP exchanges (``evidence.start``/``stop`` around it), decides each report's outcome where the
exception is at hand (:mod:`.outcomes`: failed, error, not-applicable, …) and sends it along with the report
in ``user_properties``, with the requirement ID and, for a failure or an error, the evidence and the
traceback, masked here, in the process that knows the run's secrets, before the report leaves it.
:class:`~.plugin.ConformancePlugin` (the controller) reads them back with :func:`properties`.
"""

from __future__ import annotations

import io
from collections.abc import Generator
from typing import Any

import pytest
from _pytest.config import create_terminal_writer

from ..catalog import docstring_requirement, load_catalog
from . import evidence
from .masking import Masker
from .outcomes import ERROR, FAILED, TRACEBACK_LIMIT, CheckTimeout, outcome_of

REQUIREMENT = "spreadapi.requirement"
OUTCOME = "spreadapi.outcome"
EVIDENCE = "spreadapi.evidence"
REQUESTS = "spreadapi.requests"
TRACEBACK = "spreadapi.traceback"
WAITED = "spreadapi.waited"  # the request a check was waiting on when its time ran out
MEASURED = "spreadapi.measured"  # what the check counted (evidence.measure), whatever its outcome
KEYS = (REQUIREMENT, OUTCOME, EVIDENCE, REQUESTS, TRACEBACK, WAITED, MEASURED)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--spreadapi-certified",
        default=None,
        help="(certify) comma-separated options being certified; the checks of other options are deselected",
    )


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """Under certify, pytest's terminal reporter writes into nothing: certify prints its own progress and
    summary. The reporter stays registered because pytest's assertion explanations use its writer: without
    one, a failed ``assert a == b, message`` loses its message and reports a bare AssertionError."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if config.getoption("--spreadapi-certified", None) is not None and reporter is not None:
        reporter._tw = create_terminal_writer(config, io.StringIO())


def requirement_of(item: pytest.Item) -> str | None:
    found = docstring_requirement(getattr(getattr(item, "function", None), "__doc__", None))
    return found[0] if found else None


def split_by_options(
    items: list[pytest.Item], certified: set[str] | None
) -> tuple[list[pytest.Item], list[pytest.Item]]:
    """``(keep, drop)``: drop the checks whose requirement belongs to no option being certified."""
    if certified is None:
        return list(items), []
    catalog = load_catalog()
    keep, drop = [], []
    for item in items:
        rid = requirement_of(item)
        requirement = catalog.get(rid) if rid else None
        (drop if requirement is not None and not certified & set(requirement.options) else keep).append(item)
    return keep, drop


def pytest_itemcollected(item: pytest.Item) -> None:
    # So that -k selects by requirement ID: `-k OAUTH-TOKEN-007`, or a prefix such as `-k OAUTH-TOKEN`.
    if rid := requirement_of(item):
        item.extra_keyword_matches.add(rid)


@pytest.hookimpl(trylast=True)  # after -m and -k
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    given = config.getoption("--spreadapi-certified")
    certified = None if given is None else {o for o in given.split(",") if o}
    keep, drop = split_by_options(items, certified)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logstart(nodeid: str, location: Any) -> None:
    evidence.start(nodeid)


def pytest_runtest_logfinish(nodeid: str, location: Any) -> None:
    evidence.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    outcome = outcome_of(report, call.excinfo)
    report.user_properties.append((REQUIREMENT, requirement_of(item)))
    report.user_properties.append((OUTCOME, outcome))
    recorder = evidence.current()
    if call.when == "call" and recorder is not None and recorder.measured:
        report.user_properties.append((MEASURED, dict(recorder.measured)))
    if outcome in (FAILED, ERROR):
        masker = Masker()
        recorder = evidence.current()
        if recorder is not None:
            report.user_properties.append((EVIDENCE, recorder.evidence(masker)))
            report.user_properties.append((REQUESTS, recorder.total))
            timed_out = call.excinfo is not None and call.excinfo.errisinstance(CheckTimeout)
            if timed_out and (waiting := recorder.pending(masker)):
                report.user_properties.append((WAITED, waiting))
        if outcome == ERROR:
            text = str(report.longrepr)
            report.user_properties.append((TRACEBACK, masker.text(text[-TRACEBACK_LIMIT:])))
    return report


def properties(report: pytest.TestReport) -> dict[str, Any]:
    """What this module attached to ``report`` (empty for a report it did not see)."""
    return {k: v for k, v in getattr(report, "user_properties", ()) if k in KEYS}
