"""Outcomes decided where the checks run (report/outcomes.py, report/worker.py): a target's failure, the
kit's own error, a premise that does not hold, a check not run. A pytest run of small checks written here,
each raising what a check can raise, through the worker module and certify's plugin."""

from __future__ import annotations

import textwrap
from pathlib import Path

import httpx
import pytest

from spreadapi_conformance.catalog import Requirement
from spreadapi_conformance.offtarget import OffTargetRequest
from spreadapi_conformance.report.outcomes import is_target_failure
from spreadapi_conformance.report.plugin import ConformancePlugin

CHECKS = {
    "REST-T-001": "assert 1 == 2, 'the target answered 500'",
    "REST-T-002": "raise httpx.ConnectError('connection refused')",
    "REST-T-003": "{}['outputs']",
    "REST-T-004": "raise RecursionError('maximum recursion depth exceeded')",
    "REST-T-005": "not_applicable('the server keeps no sessions')",
    "REST-T-006": "pytest.skip('not run: MCP revision 2025-03-26 is not selected')",
    "REST-T-007": "raise ExceptionGroup('tasks', [AssertionError('bad id'), httpx.ReadTimeout('slow')])",
    "REST-T-008": "raise ExceptionGroup('tasks', [AssertionError('bad id'), TypeError('kit')])",
    "REST-T-009": "raise OffTargetRequest('refused to send a credential to https://elsewhere')",
    "REST-T-010": "pass",
}
EXPECTED = {
    "REST-T-001": "failed",
    "REST-T-002": "failed",
    "REST-T-003": "error",
    "REST-T-004": "error",
    "REST-T-005": "not-applicable",
    "REST-T-006": "skipped",
    "REST-T-007": "failed",
    "REST-T-008": "error",
    "REST-T-009": "error",
    "REST-T-010": "passed",
}


def test_what_the_mcp_sdk_refuses_in_a_server_answer_is_the_targets_failure():
    """A tool result outside the tool's outputSchema, a result model the SDK cannot read (also a union of
    them) and a revision never offered are the server's; the SDK's other RuntimeErrors stay the kit's."""
    from pydantic import BaseModel, TypeAdapter, ValidationError

    class CallToolResult(BaseModel):
        resultType: str

    class InputRequiredResult(BaseModel):
        resultType: str

    with pytest.raises(ValidationError) as single:
        CallToolResult.model_validate({})
    with pytest.raises(ValidationError) as union:
        TypeAdapter(CallToolResult | InputRequiredResult).validate_python({})
    assert is_target_failure(single.value)
    assert union.value.title.startswith("union[") and is_target_failure(union.value), union.value.title
    assert is_target_failure(RuntimeError("Invalid structured content returned by tool calc: 'title' is required"))
    assert is_target_failure(RuntimeError("Tool calc has an output schema but did not return structured content"))
    assert is_target_failure(RuntimeError("Unsupported protocol version from the server: 1999-01-01"))
    assert not is_target_failure(RuntimeError("Session not initialized"))


def test_is_target_failure_unwraps_exception_groups():
    assert is_target_failure(AssertionError()) and is_target_failure(httpx.ReadTimeout("t"))
    assert not is_target_failure(KeyError("x")) and not is_target_failure(OffTargetRequest("x"))
    assert is_target_failure(ExceptionGroup("g", [ExceptionGroup("h", [AssertionError()]), TimeoutError()]))
    assert not is_target_failure(ExceptionGroup("g", [AssertionError(), ValueError()]))


def test_each_kind_of_exception_gets_its_outcome(tmp_path: Path):
    body = "\n\n".join(
        f'def test_{n}():\n    """{rid} MUST: check {n}."""\n    {code}' for n, (rid, code) in enumerate(CHECKS.items())
    )
    (tmp_path / "test_kinds.py").write_text(
        textwrap.dedent(
            """\
            import httpx
            import pytest

            from spreadapi_conformance.checks.premise import not_applicable
            from spreadapi_conformance.offtarget import OffTargetRequest

            pytestmark = pytest.mark.conformance

            """
        )
        + body
        + "\n",
        encoding="utf-8",
    )
    catalog = {rid: Requirement(rid, rid, "s", "MUST", ("rest-actions",), "REST") for rid in CHECKS}
    plugin = ConformancePlugin(catalog, progress=False)
    args = [
        str(tmp_path),
        "-c",
        "/dev/null",
        "--rootdir",
        str(tmp_path),
        "-o",
        "asyncio_default_fixture_loop_scope=function",
        "-p",
        "spreadapi_conformance.report.worker",
    ]
    code = pytest.main([*args, "-p", "no:cacheprovider", "-p", "no:terminal"], plugins=[plugin])
    assert code == pytest.ExitCode.TESTS_FAILED
    results = {r.requirement.id: r for r in plugin.results()}
    assert {rid: r.outcome for rid, r in results.items()} == EXPECTED
    assert "KeyError" in results["REST-T-003"].traceback and "test_kinds.py" in results["REST-T-003"].traceback
    assert results["REST-T-005"].reason == "the server keeps no sessions"
    assert results["REST-T-001"].traceback is None, "a target's failure carries no traceback of the kit"
