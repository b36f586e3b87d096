"""What a check's run says about the target, decided in the process that ran it.

- ``passed``;
- ``failed``: the target broke what the check asserts: an ``AssertionError`` or ``pytest.fail`` in the
  check, a transport error (the target closed the connection, did not answer in time, spoke broken HTTP),
  a JSON-RPC error where the check expected a result, a server message the MCP SDK finds invalid against
  the protocol's schema or a tool result outside the tool's own outputSchema, the check's time limit (it
  says what it waited for);
- ``error``: any other exception, raised by the kit's own code (a check that indexed an answer it had not
  judged, a crash in a helper, a request the credential guard refused): a defect of the kit, never the
  target's failure; the report keeps its traceback;
- ``not-applicable``: the check's premise does not hold (the option is not claimed by this endpoint, the
  server did not negotiate that revision, keeps no sessions, offers no registration, no credential for
  the endpoint): :func:`~spreadapi_conformance.checks.premise.not_applicable`, a skip whose reason starts
  with :data:`NOT_APPLICABLE`;
- ``skipped``: not run for any other reason (a revision not selected, a narrowed run).
"""

from __future__ import annotations

from typing import Any

PASSED, FAILED, ERROR, NOT_APPLICABLE_OUTCOME, SKIPPED = "passed", "failed", "error", "not-applicable", "skipped"
NOT_APPLICABLE = "not applicable: "  # the reason of a premise's skip starts with this
TRACEBACK_LIMIT = 6000  # characters of an error's traceback kept in the report


class CheckTimeout(TimeoutError):
    """A check's time limit ran out while it waited on the target (checks/plugin.py sets the limit)."""


def _target_failure_types() -> tuple[type[BaseException], ...]:
    import httpx
    from _pytest.outcomes import Failed

    types: list[type[BaseException]] = [AssertionError, Failed, httpx.TransportError, TimeoutError]
    try:
        import httpx2

        types.append(httpx2.TransportError)
    except ImportError:  # pragma: no cover (the MCP SDK brings it)
        pass
    try:
        from mcp.shared.exceptions import MCPError

        types.append(MCPError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(types)


# The MCP SDK validates what the server sends into these models; a ValidationError of one of them is the
# server's answer failing the protocol's schema, not the kit's own code (which builds only request models).
SERVER_MESSAGE_MODELS = ("JSONRPCMessage", "JSONRPCResponse", "JSONRPCError", "ServerNotification", "ServerRequest")


# What the MCP SDK's client raises, as RuntimeError, when the server's answer breaks the protocol: a tool
# result outside the tool's own outputSchema (or none where it declares one), an unusable schema, a
# revision the client never offered.
SDK_REFUSALS = (
    "Invalid structured content returned by tool ",
    "has an output schema but did not return structured content",
    "Invalid schema for tool ",
    "Unsupported protocol version from the server",
    "No mutually supported modern protocol version",
)


def _server_message_invalid(exc: BaseException) -> bool:
    try:
        from pydantic import ValidationError
    except ImportError:  # pragma: no cover (the MCP SDK brings it)
        return False
    if isinstance(exc, RuntimeError) and any(marker in str(exc) for marker in SDK_REFUSALS):
        return True
    title = getattr(exc, "title", "") if isinstance(exc, ValidationError) else ""
    # A result the SDK reads into one of several models is titled "union[CallToolResult,InputRequiredResult]".
    models = title[len("union[") : -1].split(",") if title.startswith("union[") and title.endswith("]") else [title]
    return bool(title) and all(m.endswith("Result") or m in SERVER_MESSAGE_MODELS for m in models)


def is_target_failure(exc: BaseException) -> bool:
    """True when ``exc`` says the target broke something; an exception group only when all of it does."""
    if isinstance(exc, BaseExceptionGroup):
        return all(is_target_failure(inner) for inner in exc.exceptions)
    if _server_message_invalid(exc):
        return True
    from ..offtarget import OffTargetRequest

    return isinstance(exc, _target_failure_types()) and not isinstance(exc, OffTargetRequest)


def outcome_of(report: Any, excinfo: Any) -> str:
    """The outcome of one phase's report (``pytest_runtest_makereport``); ``excinfo`` is the call's."""
    if report.passed:
        return PASSED
    if report.skipped:
        if hasattr(report, "wasxfail"):
            return SKIPPED
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        return NOT_APPLICABLE_OUTCOME if reason.removeprefix("Skipped: ").startswith(NOT_APPLICABLE) else SKIPPED
    if excinfo is not None and not is_target_failure(excinfo.value):
        return ERROR
    return FAILED
