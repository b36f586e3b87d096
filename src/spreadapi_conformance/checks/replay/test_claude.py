"""REPLAY-CLAUDE: Claude Desktop replayed with a stdio bridge.

Claude Desktop starts the command of its ``mcpServers`` entry with ``SPREADAPI_URL`` (the deployment's
base URL), ``SPREADAPI_SERVICE_ID`` and, for a private service, ``SPREADAPI_TOKEN`` in its environment,
and speaks MCP over the process's stdin and stdout. The replay does the same with the MCP SDK's stdio
client: the command is ``spreadapi-conformance bridge`` unless certify's ``--bridge-command`` (or
``SPREADAPI_BRIDGE_COMMAND``; the plugin's ``--spreadapi-bridge-command``) names another, such as
``npx spreadapi-mcp``. In process, the reference is
served on a loopback port for the bridge to reach.

REPLAY-CLAUDE-015 reads the bridge's stdout itself, line by line (the SDK's stdio client would answer a request of
the server's own, or drop it), to judge what a 2026-07-28 server may write there.

REPLAY-CLAUDE-010..014 configure the bridge for the private service with a credential that grants nothing
there (never issued, revoked, expired, another service's, an MCP token): no result may reach the client.
The bridge may refuse to start or answer spreadapi_calc with an error (isError or a JSON-RPC error), never
with outputs. Each first shows the bridge computing with a good token (the control); the credentials they
need are issued through ``[admin]`` and revoked afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import tempfile
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import mcp.types as types
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, get_default_environment, stdio_client
from mcp.shared.exceptions import MCPError

from spreadapi_conformance.bridge import client_env
from spreadapi_conformance.target import DEFAULT_PATHS

from .._admin import Admin
from ..mcp._support import MODERN, READ_ONLY_TOOL, REQUEST_TIMEOUT, modern_meta, request_message
from ..oauth._support import oracle_problem, structured
from ..premise import control_failed, not_applicable

if TYPE_CHECKING:
    from ..target import Target


pytestmark = pytest.mark.conformance


START_TIMEOUT = 60.0  # s: a first `npx` may download the package


def claude_env(target: Target, base_url: str, fixture_id: str) -> dict[str, str]:
    """The ``env`` of the Claude Desktop entry for this service (the service page shows the same)."""
    service = target.published(fixture_id)
    mcp_url = None
    if target.template("single_service_mcp") != DEFAULT_PATHS["single_service_mcp"]:
        # The deployment serves MCP elsewhere ([paths]): the bridge is told the endpoint itself.
        mcp_url = base_url.rstrip("/") + target.path("single_service_mcp", fixture=fixture_id)
    if not service.public and not service.token:
        not_applicable(f"the target file gives no token for the private service {service.id!r}")
    token = None if service.public else service.token
    return client_env(base_url, service_id=service.id, token=token, mcp_url=mcp_url)


@contextlib.asynccontextmanager
async def claude(command: list[str], env: dict[str, str]) -> AsyncIterator[ClientSession]:
    """The bridge launched over stdio and initialized, as Claude Desktop does; its stderr in failures."""
    params = StdioServerParameters(command=command[0], args=command[1:], env=env)
    with tempfile.TemporaryFile("w+", encoding="utf-8") as errlog:
        async with contextlib.AsyncExitStack() as stack:
            try:
                read, write = await stack.enter_async_context(stdio_client(params, errlog=errlog))
                session = await stack.enter_async_context(
                    ClientSession(read, write, read_timeout_seconds=REQUEST_TIMEOUT)
                )
                async with asyncio.timeout(START_TIMEOUT):
                    await session.initialize()
            except Exception as exc:
                errlog.seek(0)
                stderr = errlog.read().strip()[-1500:]
                raise AssertionError(
                    f"the bridge {' '.join(command)!r} did not start: {exc!r}; its stderr: {stderr!r}"
                ) from exc
            yield session


async def replay(target: Target, base_url: str, command: list[str], fixture_id: str) -> list[str]:
    """Launch, initialize, tools/list, then every golden case through spreadapi_calc: what went wrong."""
    problems = []
    env = claude_env(target, base_url, fixture_id)
    try:
        async with claude(command, env) as session:
            info = session.initialize_result
            if info is None or not info.server_info.name:
                problems.append(f"{fixture_id}: initialize named no server")
            tools = [tool.name for tool in (await session.list_tools()).tools]
            if "spreadapi_calc" not in tools:
                return [*problems, f"{fixture_id}: no spreadapi_calc in tools/list through the bridge: {tools}"]
            for case in target.fixture(fixture_id).golden:
                result = await session.call_tool("spreadapi_calc", {"inputs": case["inputs"]})
                if result.is_error:
                    problems.append(f"{fixture_id}: {case['title']}: the tool answered an error: {result.content}")
                elif problem := oracle_problem(fixture_id, case, structured(result)):
                    problems.append(problem)
    except Exception as exc:  # the stdio client's task groups wrap what went wrong in exception groups
        while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
            exc = exc.exceptions[0]
        problems.append(str(exc) if isinstance(exc, AssertionError) else f"{fixture_id}: {exc!r}")
    return problems


async def test_private_service_through_the_bridge(reachable_url, mcp_target, bridge_command):
    """REPLAY-CLAUDE-001 MUST: for a private service, the bridge command started over stdio with Claude
    Desktop's environment (URL, service id, its token) initializes, lists spreadapi_calc and answers every
    golden case with the oracle's outputs."""
    problems = await replay(mcp_target, reachable_url, bridge_command, "quote")
    assert not problems, "; ".join(problems)


async def test_public_services_through_the_bridge(reachable_url, mcp_target, bridge_command):
    """REPLAY-CLAUDE-002 MUST: for a public service, the bridge started without a token initializes, lists
    spreadapi_calc and answers every golden case with the oracle's outputs (each public fixture service,
    their bridges side by side)."""
    public = [f for f in ("loan-calculator", "edge-cases") if f in mcp_target.spec.services]
    if not public:
        not_applicable("the target file publishes no public fixture service")
    runs = [replay(mcp_target, reachable_url, bridge_command, fixture_id) for fixture_id in public]
    problems = [problem for found in await asyncio.gather(*runs) for problem in found]
    assert not problems, "; ".join(problems)


# -- the bridge with a credential that grants nothing (Claude Desktop configured with a bad token) ------------

PRIVATE = "quote"


def innermost(exc: BaseException) -> BaseException:
    """The one exception inside the stdio client's exception groups."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


async def calc_through_bridge(
    command: list[str], env: dict[str, str], inputs: dict[str, Any]
) -> types.CallToolResult | str:
    """One spreadapi_calc through the bridge started with ``env``: its CallToolResult, or (a string) why none
    came: the bridge did not start, or the call was answered with a JSON-RPC error."""
    try:
        async with claude(command, env) as session:
            return await session.call_tool("spreadapi_calc", {"inputs": inputs})
    except Exception as exc:
        inner = innermost(exc)
        if isinstance(inner, MCPError):
            return f"JSON-RPC error {inner.error.code}: {inner.error.message}"
        if isinstance(inner, AssertionError):  # claude(): the bridge did not start
            return str(inner)[:500]
        raise


def case_of(target: Target) -> dict[str, Any]:
    return target.fixture(PRIVATE).golden[0]


async def control_problem(target: Target, command: list[str], env: dict[str, str]) -> str | None:
    """The control: the bridge started with ``env`` computes the private service's first golden case."""
    answer = await calc_through_bridge(command, env, case_of(target)["inputs"])
    if isinstance(answer, str):
        return answer
    if answer.is_error:
        return f"the tool answered an error: {str(answer.content)[:300]}"
    return oracle_problem(PRIVATE, case_of(target), structured(answer))


_CONTROLS: dict[tuple[str, ...], str | None] = {}  # per bridge command and target: what the control found


async def control(target: Target, base_url: str, command: list[str]) -> None:
    """The bridge with the private service's own token computes (checked once per run), else a refusal under
    a bad credential would prove nothing."""
    key = (*command, target.base_url)
    if key not in _CONTROLS:
        _CONTROLS[key] = await control_problem(target, command, claude_env(target, base_url, PRIVATE))
    if _CONTROLS[key] is not None:
        control_failed(f"the bridge with {PRIVATE!r}'s own token does not compute either: {_CONTROLS[key]}")


def private(target: Target) -> None:
    """Premise of the bad-credential checks: the target publishes the private fixture service as private."""
    if target.published(PRIVATE).public:
        not_applicable(f"the target publishes {PRIVATE!r} as a public service: the bridge needs no token for it")


def with_token(target: Target, base_url: str, token: str) -> dict[str, str]:
    """Claude Desktop's environment for the private service, with ``token`` as SPREADAPI_TOKEN."""
    private(target)
    return {**claude_env(target, base_url, PRIVATE), "SPREADAPI_TOKEN": token}


async def assert_bridge_refuses(target: Target, base_url: str, command: list[str], token: str, what: str) -> None:
    """With ``token`` the bridge yields no result: it does not start, or spreadapi_calc comes back as a JSON-RPC
    error or an isError result without outputs."""
    answer = await calc_through_bridge(command, with_token(target, base_url, token), case_of(target)["inputs"])
    if isinstance(answer, str):
        return
    shown = answer.structured_content
    computed = not answer.is_error or (isinstance(shown, dict) and bool(shown.get("outputs")))
    kind = "an isError result with outputs" if answer.is_error else "a result"
    assert not computed, f"the bridge with {what} computed {PRIVATE!r}, {kind}: {str(shown or answer.content)[:300]}"


async def test_bridge_with_a_never_issued_token(reachable_url, mcp_target, bridge_command):
    """REPLAY-CLAUDE-010 MUST: the bridge started for the private service with a well-formed service token that
    was never issued yields no result: spreadapi_calc comes back isError or a JSON-RPC error (or the bridge
    does not start), never outputs."""
    private(mcp_target)
    await control(mcp_target, reachable_url, bridge_command)
    token = "svc_tk_" + secrets.token_hex(32)
    await assert_bridge_refuses(mcp_target, reachable_url, bridge_command, token, "a token never issued")


async def test_bridge_with_a_revoked_token(reachable_url, mcp_target, client, bridge_command):
    """REPLAY-CLAUDE-011 MUST: the bridge started with a service token of the private service that was revoked
    (after computing through the bridge a moment before) yields no result."""
    private(mcp_target)
    admin = Admin.of(client, mcp_target)
    issued = await admin.issue_service_token(mcp_target.published(PRIVATE).id)
    problem = await control_problem(mcp_target, bridge_command, with_token(mcp_target, reachable_url, issued))
    await admin.revoke_service_token(issued)
    if problem is not None:
        control_failed(f"the bridge with a fresh token of {PRIVATE!r} does not compute either: {problem}")
    await assert_bridge_refuses(mcp_target, reachable_url, bridge_command, issued, "a revoked token")


async def test_bridge_with_an_expired_token(reachable_url, mcp_target, client, bridge_command):
    """REPLAY-CLAUDE-012 MUST: the bridge started with an expired service token of the private service yields no
    result."""
    private(mcp_target)
    admin = Admin.of(client, mcp_target)
    await control(mcp_target, reachable_url, bridge_command)
    expired = await admin.issue_service_token(mcp_target.published(PRIVATE).id, expires_at=time.time() - 60)
    try:
        await assert_bridge_refuses(mcp_target, reachable_url, bridge_command, expired, "an expired token")
    finally:
        await admin.revoke_service_token(expired, live=False)


async def test_bridge_with_another_services_token(reachable_url, mcp_target, client, bridge_command):
    """REPLAY-CLAUDE-013 MUST: the bridge started for the private service with a valid token of another service
    yields no result for the private service."""
    private(mcp_target)
    admin = Admin.of(client, mcp_target)
    other = next((s for s in mcp_target.spec.services.values() if s.fixture != PRIVATE), None)
    if other is None:
        not_applicable("the target file publishes no second service")
    await control(mcp_target, reachable_url, bridge_command)
    token = await admin.issue_service_token(other.id)
    try:
        await assert_bridge_refuses(mcp_target, reachable_url, bridge_command, token, f"a token of {other.id!r}")
    finally:
        await admin.revoke_service_token(token)


async def test_bridge_with_an_mcp_token(reachable_url, mcp_target, client, bridge_command):
    """REPLAY-CLAUDE-014 MUST: the bridge started in single-service mode with an MCP token (one granting the
    private service) yields no result: the single-service endpoint takes service tokens only."""
    private(mcp_target)
    admin = Admin.of(client, mcp_target)
    await control(mcp_target, reachable_url, bridge_command)
    token = await admin.issue_mcp_token(mcp_target.published(PRIVATE).id)
    try:
        await assert_bridge_refuses(mcp_target, reachable_url, bridge_command, token, "an MCP token")
    finally:
        await admin.revoke_mcp_token(token)


# -- the bridge's stdout read raw, at 2026-07-28 -------------------------------------------------------------------


STDOUT_LINE_LIMIT = 16 * 1024 * 1024  # bytes: one JSON-RPC message per line, however large a tool result is


class RawStdio:
    """The bridge launched as Claude Desktop launches it, driven by hand: JSON-RPC lines written to its stdin, every
    line of its stdout kept (``seen``: each parsed message, in order), its stderr for failures."""

    def __init__(self, process: asyncio.subprocess.Process, errlog: Any) -> None:
        self.process, self.errlog = process, errlog
        self.seen: list[dict[str, Any]] = []

    async def request(self, message: dict[str, Any], timeout: float) -> dict[str, Any] | None:
        """Send ``message``; the response to its id (None when stdout ends first), reading every line before it."""
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            self.process.stdin.write(json.dumps(message).encode() + b"\n")
            await self.process.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            return None  # the bridge has exited
        async with asyncio.timeout(timeout):
            while line := await self._line():
                with contextlib.suppress(ValueError):  # a line that is no JSON is another rule's concern
                    parsed = json.loads(line)
                    if isinstance(parsed, dict):
                        self.seen.append(parsed)
                        if parsed.get("id") == message["id"] and "method" not in parsed:
                            return parsed
        return None

    async def _line(self) -> bytes:
        assert self.process.stdout is not None
        try:
            return await self.process.stdout.readline()
        except ValueError:  # asyncio's LimitOverrunError: no newline within STDOUT_LINE_LIMIT bytes
            raise AssertionError(f"the bridge wrote a line of more than {STDOUT_LINE_LIMIT} bytes to stdout") from None

    def stderr(self) -> str:
        self.errlog.seek(0)
        return self.errlog.read().strip()[-1500:]


@contextlib.asynccontextmanager
async def raw_bridge(command: list[str], env: dict[str, str]) -> AsyncIterator[RawStdio]:
    """The bridge over pipes of the kit's own; stdin is closed and the process ended on the way out."""
    with tempfile.TemporaryFile("w+", encoding="utf-8") as errlog:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=errlog,
            env={**get_default_environment(), **env},
            limit=STDOUT_LINE_LIMIT,
        )
        try:
            yield RawStdio(process, errlog)
        finally:
            if process.stdin is not None:
                process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), 5)
            except TimeoutError:
                process.kill()
                await process.wait()


def modern_stdio_request(method: str, request_id: int, **params: Any) -> dict[str, Any]:
    """A 2026-07-28 request as stdio carries it: the protocol fields in _meta, no header layer."""
    return request_message(method, request_id, **params, _meta=modern_meta())


def served_modern(answer: dict[str, Any] | None) -> bool:
    found = answer.get("result") if answer is not None else None
    versions = found.get("supportedVersions") if isinstance(found, dict) else None
    return isinstance(versions, list) and MODERN in versions


def listed_tools(answer: dict[str, Any] | None) -> list[str]:
    found = answer.get("result") if answer is not None else None
    tools = found.get("tools") if isinstance(found, dict) else None
    return [t.get("name") for t in tools if isinstance(t, dict)] if isinstance(tools, list) else []


@pytest.mark.parametrize("revision", [MODERN])
async def test_bridge_writes_no_requests_at_2026_07_28(reachable_url, mcp_target, bridge_command, revision):
    """REPLAY-CLAUDE-015 MUST NOT: a bridge that serves 2026-07-28 on stdio (its server/discover answer lists it)
    writes no JSON-RPC request (a message with a method and an id) to stdout: judged on every line it writes while
    answering server/discover, tools/list and a tools/call of spreadapi_get_details (which only describes), started
    for the private service as Claude Desktop starts it; not applicable when server/discover does not list
    2026-07-28 (the bridge speaks the handshake era, whose servers may send requests)."""
    env = claude_env(mcp_target, reachable_url, PRIVATE)
    async with raw_bridge(bridge_command, env) as bridge:
        try:
            discovered = await bridge.request(modern_stdio_request("server/discover", 1), START_TIMEOUT)
            if not served_modern(discovered):
                said = json.dumps(discovered)[:300] if discovered is not None else "nothing (the bridge ended)"
                not_applicable(
                    f"the bridge does not serve {MODERN} on stdio: server/discover was answered {said}; its stderr: "
                    f"{bridge.stderr()[-300:]!r}"
                )
            listed = await bridge.request(modern_stdio_request("tools/list", 2), REQUEST_TIMEOUT)
            if READ_ONLY_TOOL in listed_tools(listed):
                call = modern_stdio_request("tools/call", 3, name=READ_ONLY_TOOL, arguments={})
                await bridge.request(call, REQUEST_TIMEOUT)
        except TimeoutError:
            raise AssertionError(f"the bridge left a request unanswered; its stderr: {bridge.stderr()!r}") from None
    requests = [m for m in bridge.seen if "method" in m and "id" in m]
    assert not requests, "JSON-RPC requests on the bridge's stdout at 2026-07-28: " + "; ".join(
        json.dumps(m)[:200] for m in requests
    )
