"""The worker half of the report plugin, for ``certify --workers N`` (pytest-xdist).

Under xdist the checks run in worker processes and the controller, where :class:`~.plugin.ConformancePlugin`
lives, only sees their reports. ``certify`` loads this module into every worker (``-p
spreadapi_conformance.report.worker``); it does there what the plugin does in a serial run and sends the
results along with each report, in ``user_properties``:

- deselects the checks of options that are not being certified (``--spreadapi-certified``);
- records each check's HTTP exchanges (``evidence.start``/``stop`` around it, as the plugin does);
- tags every report with its requirement ID, and a failing one with its evidence, masked here, in the
  worker that knows the run's secrets, before it leaves the process.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from ..catalog import docstring_requirement, load_catalog
from . import evidence
from .masking import Masker

REQUIREMENT = "spreadapi.requirement"
EVIDENCE = "spreadapi.evidence"
REQUESTS = "spreadapi.requests"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--spreadapi-certified",
        default=None,
        help="(certify, in xdist workers) comma-separated options being certified; their checks run",
    )


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


@pytest.hookimpl(trylast=True)  # after -m and -k, as the plugin
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
    report.user_properties.append((REQUIREMENT, requirement_of(item)))
    if report.failed:
        recorder = evidence.current()
        if recorder is not None:
            report.user_properties.append((EVIDENCE, recorder.evidence(Masker())))
            report.user_properties.append((REQUESTS, recorder.total))
    return report


def properties(report: pytest.TestReport) -> dict[str, Any]:
    """What a worker attached to ``report`` (empty for a report of a serial run)."""
    return {k: v for k, v in getattr(report, "user_properties", ()) if k in (REQUIREMENT, EVIDENCE, REQUESTS)}
