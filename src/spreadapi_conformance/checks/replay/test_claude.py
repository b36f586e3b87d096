"""REPLAY-CLAUDE: Claude Desktop replayed with a stdio bridge.

Claude Desktop starts the command of its ``mcpServers`` entry with ``SPREADAPI_URL`` (the deployment's
base URL), ``SPREADAPI_SERVICE_ID`` and, for a private service, ``SPREADAPI_TOKEN`` in its environment,
and speaks MCP over the process's stdin and stdout. The replay does the same with the MCP SDK's stdio
client: the command is ``spreadapi-conformance bridge`` unless certify's ``--bridge-command`` (or
``SPREADAPI_BRIDGE_COMMAND``; the plugin's ``--spreadapi-bridge-command``) names another, such as
``npx spreadapi-mcp``. In process, the reference is
served on a loopback port for the bridge to reach.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from spreadapi_conformance.target import DEFAULT_PATHS

from ..mcp._support import REQUEST_TIMEOUT
from ..oauth._support import oracle_problem, structured
from ..premise import not_applicable

if TYPE_CHECKING:
    from ..target import Target


pytestmark = pytest.mark.conformance


START_TIMEOUT = 60.0  # s: a first `npx` may download the package


def claude_env(target: Target, base_url: str, fixture_id: str) -> dict[str, str]:
    """The ``env`` of the Claude Desktop entry for this service (the service page shows the same)."""
    service = target.published(fixture_id)
    env = {"SPREADAPI_URL": base_url, "SPREADAPI_SERVICE_ID": service.id}
    if target.template("single_service_mcp") != DEFAULT_PATHS["single_service_mcp"]:
        # The deployment serves MCP elsewhere ([paths]): the bridge is told the endpoint itself.
        env["SPREADAPI_MCP_URL"] = base_url.rstrip("/") + target.path("single_service_mcp", fixture=fixture_id)
    if not service.public:
        if not service.token:
            not_applicable(f"the target file gives no token for the private service {service.id!r}")
        env["SPREADAPI_TOKEN"] = service.token
    return env


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
