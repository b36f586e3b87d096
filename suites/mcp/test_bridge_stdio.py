"""The stdio bridge, ``spreadapi-conformance bridge``, driven over stdio by the SDK's stdio client against ``serve``.

One ``serve`` subprocess for the module; each test launches the bridge as Claude Desktop would, with
the environment of one mode:

- ``public``: single-service, the public ``loan-calculator``, no token;
- ``private``: single-service, the private ``quote``, its service token from the target file;
- ``bridge``: the multi-service bridge endpoint, the MCP token ``all`` from the target file.

What comes through the bridge must be what the upstream endpoint says when asked directly (the same
``initialize`` result, the same tool list, the same errors with the same codes), and every golden case
must equal REST ``execute``; the service page's Claude Desktop configuration works as pasted. The
reference sends no notifications, so a small SDK server whose tool logs and reports progress checks
that notifications reach the client and that a cancelled call is cancelled upstream. The error paths
run the bridge as a bare process with stdin left open: it must end by itself with exit code 1, one
clear line on stderr, nothing on stdout, no traceback.
"""

from __future__ import annotations

import contextlib
import html
import json
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import mcp.types as types
import pytest
from mcp.client.client import Client
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.shared.exceptions import MCPError

from spreadapi_conformance.bridge import ConfigError, config_from_env
from spreadapi_conformance.checks.mcp._support import (
    SERVICE_TOOLS,
    handshake,
    mcp_session,
    rest_result,
    service_path,
    tool_text,
)
from spreadapi_conformance.fixtures import load_services

from ..serve.conftest import Served, free_port, start_serve, uvicorn_thread

pytestmark = pytest.mark.live

SERVICES = load_services()
BRIDGE = [sys.executable, "-m", "spreadapi_conformance", "bridge"]
MODES = ["public", "private", "bridge"]
MODE_SERVICE = {"public": "loan-calculator", "private": "quote"}  # bridge mode: every service
# Inputs the service refuses (a fractional year; a quantity that is no number): an isError result.
INVALID = {"loan-calculator": {"principal": 250000, "rate": 0.05, "years": 99}, "quote": {"quantity": "lots"}}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    server = start_serve(tmp_path_factory.mktemp("bridge-stdio"))
    yield server
    server.stop()


def mode_env(served: Served, mode: str) -> dict[str, str]:
    """The Claude Desktop ``env`` of a mode: base URL, service id and token as the target file gives them."""
    target = served.target
    env = {"SPREADAPI_URL": served.base_url}
    if mode == "bridge":
        env["SPREADAPI_TOKEN"] = target.mcp_tokens["all"]
    else:
        service = target.services[MODE_SERVICE[mode]]
        env["SPREADAPI_SERVICE_ID"] = service.id
        if not service.public:
            assert service.token, "the target file holds no token for the private service"
            env["SPREADAPI_TOKEN"] = service.token
    return env


def upstream(served: Served, mode: str) -> tuple[str, str | None]:
    """(path, token) of the endpoint the bridge forwards to in ``mode``."""
    env = mode_env(served, mode)
    if mode == "bridge":
        return "/api/mcp/bridge", env["SPREADAPI_TOKEN"]
    return service_path(env["SPREADAPI_SERVICE_ID"]), env.get("SPREADAPI_TOKEN")


@contextlib.asynccontextmanager
async def bridged(served: Served, mode: str, tmp_path: Path, initialize: bool = True) -> AsyncIterator[ClientSession]:
    """An SDK ClientSession talking to the bridge over stdio (after ``initialize`` unless told otherwise)."""
    params = StdioServerParameters(command=BRIDGE[0], args=BRIDGE[1:], env=mode_env(served, mode))
    with (tmp_path / f"bridge-{mode}.stderr").open("w+", encoding="utf-8") as errlog:
        try:
            async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
                if initialize:
                    await session.initialize()
                yield session
        finally:
            errlog.seek(0)
            stderr = errlog.read()
            assert "Traceback" not in stderr, stderr
            assert "error:" not in stderr, f"the bridge complained on stderr: {stderr}"


def direct(served: Served, mode: str):
    path, token = upstream(served, mode)
    return mcp_session(None, path, token=token, base_url=served.base_url)


def calc_arguments(mode: str, service_id: str, inputs: dict[str, Any]) -> dict[str, Any]:
    arguments: dict[str, Any] = {"inputs": inputs}
    if mode == "bridge":
        arguments["serviceId"] = service_id
    return arguments


def dump(model: Any) -> Any:
    return model.model_dump(mode="json", by_alias=True, exclude_none=True) if model is not None else None


# -- what the client sees equals what the upstream says --------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_initialize_and_tools_are_the_upstreams(served, mode, tmp_path):
    """The client gets the upstream's own initialize result (server name, title, version, instructions,
    capabilities, protocol version), not a bridge's, and the upstream's tool list unchanged."""
    async with direct(served, mode) as upstream_session:
        expected_init = upstream_session.initialize_result
        expected_tools = dump(await upstream_session.list_tools())
    async with bridged(served, mode, tmp_path) as session:
        got_init = session.initialize_result
        got_tools = dump(await session.list_tools())
        await session.send_ping()
    assert got_init is not None and expected_init is not None
    assert dump(got_init.server_info) == dump(expected_init.server_info)
    assert got_init.server_info.name.startswith("spreadapi"), got_init.server_info
    assert got_init.instructions == expected_init.instructions and got_init.instructions
    assert dump(got_init.capabilities) == dump(expected_init.capabilities)
    assert got_init.protocol_version == expected_init.protocol_version
    assert got_tools == expected_tools


@pytest.mark.parametrize("mode", MODES)
async def test_golden_cases_equal_rest(served, mode, tmp_path):
    """Every golden case of the mode's service(s), through spreadapi_calc over the bridge, gives the service,
    inputs and outputs of REST execute for the same inputs."""
    service_ids = [MODE_SERVICE[mode]] if mode in MODE_SERVICE else list(SERVICES)
    cases = [(sid, case["inputs"]) for sid in service_ids for case in SERVICES[sid].golden]
    assert cases, "no golden cases"
    async with bridged(served, mode, tmp_path) as session:
        for service_id, inputs in cases:
            result = await session.call_tool("spreadapi_calc", calc_arguments(mode, service_id, inputs))
            assert not result.is_error, f"{service_id} {inputs}: {tool_text(result)}"
            expected = rest_result(served.execute(service_id, inputs))
            assert rest_result(result.structured_content) == expected, (service_id, inputs)


@pytest.mark.parametrize("mode", MODES)
async def test_errors_are_the_upstreams(served, mode, tmp_path):
    """An invalid input is an isError result (a result, not a protocol error), as upstream; an unknown tool is
    the upstream's JSON-RPC error with the same code, message and data (-32602)."""
    service_id = MODE_SERVICE.get(mode, "loan-calculator")
    bad = calc_arguments(mode, service_id, {**SERVICES[service_id].golden[0]["inputs"], **INVALID[service_id]})
    async with direct(served, mode) as upstream_session:
        expected_result = dump(await upstream_session.call_tool("spreadapi_calc", bad))
        with pytest.raises(MCPError) as expected_error:
            await upstream_session.call_tool("spreadapi_no_such_tool", {})
    async with bridged(served, mode, tmp_path) as session:
        result = await session.call_tool("spreadapi_calc", bad)
        with pytest.raises(MCPError) as got_error:
            await session.call_tool("spreadapi_no_such_tool", {})
    assert result.is_error, tool_text(result)
    assert dump(result) == expected_result
    assert got_error.value.code == expected_error.value.code == types.INVALID_PARAMS
    assert got_error.value.message == expected_error.value.message
    assert got_error.value.error.data == expected_error.value.error.data


@pytest.mark.parametrize("revision", ["2025-06-18", "2025-03-26"])
async def test_the_clients_revision_is_negotiated_upstream(served, revision, tmp_path):
    """A client that asks for an older revision gets the upstream's answer to that revision (the bridge redoes its
    upstream handshake), and the session works at it."""
    async with bridged(served, "private", tmp_path, initialize=False) as session:
        await handshake(session, revision)  # asserts the answered revision
        assert session.initialize_result is not None
        assert session.initialize_result.server_info.name == "spreadapi-quote"
        assert [t.name for t in (await session.list_tools()).tools] == SERVICE_TOOLS


async def test_an_auto_client_falls_back_to_initialize(served, tmp_path):
    """The SDK's Client in mode 'auto' probes server/discover first; the bridge relays it into the upstream
    session, where it is -32601, so the client falls back to the initialize handshake and works."""
    params = StdioServerParameters(command=BRIDGE[0], args=BRIDGE[1:], env=mode_env(served, "public"))
    async with Client(params, mode="auto") as client:
        assert client.session.initialize_result is not None
        assert client.session.initialize_result.server_info.name == "spreadapi-loan-calculator"
        inputs = SERVICES["loan-calculator"].golden[0]["inputs"]
        result = await client.call_tool("spreadapi_calc", {"inputs": inputs})
    assert rest_result(result.structured_content) == rest_result(served.execute("loan-calculator", inputs))


@pytest.mark.parametrize("service_id", ["loan-calculator", "quote"])
async def test_the_service_pages_claude_desktop_configuration_works(served, service_id):
    """The configuration the service page offers to paste into claude_desktop_config.json (``#claude-config``)
    starts a working bridge: its command is this CLI, its env reaches the service (with the real token in place of
    the placeholder for a private service), and a golden case equals REST execute."""
    page = httpx.get(f"{served.base_url}/services/{served.target.services[service_id].id}", timeout=30)
    assert page.status_code == 200, page.text[:300]
    block = re.search(r'<pre id="claude-config">(.*?)</pre>', page.text, re.S)
    assert block, "the service page shows no Claude Desktop configuration"
    servers = json.loads(html.unescape(block.group(1)))["mcpServers"]
    assert len(servers) == 1, servers
    entry = next(iter(servers.values()))
    assert entry["command"] == "spreadapi-conformance" and entry["args"] == ["bridge"], entry
    env = dict(entry["env"])
    token = served.target.services[service_id].token
    if token:
        assert env.get("SPREADAPI_TOKEN") and not env["SPREADAPI_TOKEN"].startswith("svc_tk_"), "a placeholder"
        env["SPREADAPI_TOKEN"] = token
    else:
        assert "SPREADAPI_TOKEN" not in env, env
    # The installed console script is this module's CLI; run it with this interpreter.
    params = StdioServerParameters(command=BRIDGE[0], args=[*BRIDGE[1:-1], *entry["args"]], env=env)
    inputs = SERVICES[service_id].golden[0]["inputs"]
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        result = await session.call_tool("spreadapi_calc", {"inputs": inputs})
    assert rest_result(result.structured_content) == rest_result(served.execute(service_id, inputs))


# -- notifications, against a server that sends them -----------------------------------------------


CHATTY_EVENTS: list[str] = []  # what the chatty server's tools saw


@pytest.fixture(scope="module")
def chatty() -> Iterator[str]:
    """A small SDK server (not the reference, which sends no notifications) whose tool logs and reports progress,
    under uvicorn in a thread; its MCP URL contains /api/mcp, so the bridge takes it as it is."""
    server = MCPServer("chatty", version="1.2.3", instructions="Counts, loudly.")

    @server.tool()
    async def count(n: int, ctx: Context) -> int:
        """Count to n, logging and reporting progress on the way."""
        for i in range(1, n + 1):
            await ctx.info(f"counted {i}")
            await ctx.report_progress(i, n, f"{i} of {n}")
        return n

    @server.tool()
    async def wait(seconds: float) -> str:
        """Wait, and note whether the wait was cancelled."""
        CHATTY_EVENTS.append("wait started")
        try:
            await anyio.sleep(seconds)
        except anyio.get_cancelled_exc_class():
            CHATTY_EVENTS.append("wait cancelled")
            raise
        return "waited"

    path = "/api/mcp/services/chatty"
    app = server.streamable_http_app(streamable_http_path=path)
    with uvicorn_thread(app, name="chatty-mcp") as base_url:
        yield base_url + path


# Logging is deprecated at 2026-07-28, but this conversation is at 2025-11-25, where it is the way to log.
@pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")
async def test_notifications_reach_the_client(chatty, tmp_path):
    """The server's log messages and progress notifications for a call come through the bridge while the call
    runs (progress under the client's own token); the result follows; the handshake is the server's."""
    params = StdioServerParameters(command=BRIDGE[0], args=BRIDGE[1:], env={"SPREADAPI_URL": chatty})
    logs: list[str] = []
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logs.append(str(params.data))

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    with (tmp_path / "bridge.stderr").open("w+", encoding="utf-8") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write, logging_callback=on_log) as session,
        ):
            init = await session.initialize()
            result = await session.call_tool("count", {"n": 3}, progress_callback=on_progress)
    identity = (init.server_info.name, init.server_info.version, init.instructions)
    assert identity == ("chatty", "1.2.3", "Counts, loudly.")
    assert result.structured_content == {"result": 3}, result
    assert logs == ["counted 1", "counted 2", "counted 3"]
    assert progress == [(1.0, 3.0, "1 of 3"), (2.0, 3.0, "2 of 3"), (3.0, 3.0, "3 of 3")]


async def test_a_cancelled_call_is_cancelled_upstream(chatty, tmp_path):
    """notifications/cancelled from the client ends the forwarded request, and the bridge's upstream session
    cancels it at the server, whose tool stops; the session goes on working."""
    params = StdioServerParameters(command=BRIDGE[0], args=BRIDGE[1:], env={"SPREADAPI_URL": chatty})
    CHATTY_EVENTS.clear()
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        with anyio.move_on_after(1) as waited:  # the SDK sends notifications/cancelled when it gives up
            await session.call_tool("wait", {"seconds": 60})
        assert waited.cancelled_caught, "the call returned before it was cancelled"
        with anyio.fail_after(10):
            while "wait cancelled" not in CHATTY_EVENTS:
                await anyio.sleep(0.05)
        result = await session.call_tool("wait", {"seconds": 0})
    assert result.structured_content == {"result": "waited"}, result
    assert CHATTY_EVENTS[:2] == ["wait started", "wait cancelled"], CHATTY_EVENTS


# -- error paths -----------------------------------------------------------------------------------


def run_bridge(env: dict[str, str], timeout: float = 60) -> tuple[int, str, str]:
    """The bridge as a bare process with stdin open and unused: it must end on its own."""
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), **env}
    process = subprocess.Popen(
        BRIDGE, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment
    )
    try:
        stdout, stderr = _wait(process, timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    return process.returncode, stdout, stderr


def _wait(process: subprocess.Popen, timeout: float) -> tuple[str, str]:
    """Wait for the exit without closing stdin (communicate() would close it and let a stdin-bound bridge go)."""
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the bridge did not exit within {timeout} s with stdin still open")
    assert process.stdout is not None and process.stderr is not None
    return process.stdout.read(), process.stderr.read()


def assert_failed(result: tuple[int, str, str], *mentions: str) -> str:
    code, stdout, stderr = result
    assert code == 1, f"exit code {code}; stderr: {stderr}"
    assert stdout == "", f"stdout carries only the protocol: {stdout!r}"
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"one clear line, got: {stderr}"
    for mention in mentions:
        assert mention.lower() in stderr.lower(), f"{mention!r} not in {stderr!r}"
    return stderr


def test_missing_url_exits_1():
    """Without SPREADAPI_URL the bridge says so and exits 1 before reading stdin."""
    assert_failed(run_bridge({"SPREADAPI_SERVICE_ID": "loan-calculator"}), "SPREADAPI_URL")


def test_bridge_mode_without_token_exits_1(served):
    """Multi-service mode (no SPREADAPI_SERVICE_ID) needs an MCP token: missing, it is a configuration error."""
    assert_failed(run_bridge({"SPREADAPI_URL": served.base_url}), "SPREADAPI_TOKEN", "MCP token")


@pytest.mark.parametrize("mode", ["public", "bridge"])
def test_unreachable_upstream_exits_1(mode):
    """A closed port: the bridge cannot connect at start, names the URL it tried, and exits 1."""
    base = f"http://127.0.0.1:{free_port()}"
    env = {"SPREADAPI_URL": base}
    if mode == "public":
        env["SPREADAPI_SERVICE_ID"] = "loan-calculator"
    else:
        env["SPREADAPI_TOKEN"] = "spapi_live_" + "0" * 64
    assert_failed(run_bridge(env), "cannot reach", base)


@pytest.mark.parametrize(
    "mode, token",
    [
        ("bridge", "spapi_live_" + "0" * 64),  # well-formed, unknown
        ("bridge", "svc_tk_" + "0" * 64),  # a service token where an MCP token belongs
        ("private", "svc_tk_" + "0" * 64),  # unknown service token
        ("private", None),  # a private service without its token
    ],
)
def test_bad_token_exits_1_mentioning_authentication(served, mode, token):
    """The upstream answers 401: the bridge reports an authentication failure with the server's reason, exit 1."""
    env = mode_env(served, mode)
    env.pop("SPREADAPI_TOKEN", None)
    if token is not None:
        env["SPREADAPI_TOKEN"] = token
    stderr = assert_failed(run_bridge(env), "authentication", "401", "SPREADAPI_TOKEN")
    assert token is None or token not in stderr, "the token must not be echoed"


def test_unknown_service_exits_1(served):
    """An unknown SPREADAPI_SERVICE_ID is a 404 upstream: the message points at the configuration."""
    assert_failed(
        run_bridge({"SPREADAPI_URL": served.base_url, "SPREADAPI_SERVICE_ID": "no-such-service"}),
        "404",
        "SPREADAPI_SERVICE_ID",
    )


# -- SPREADAPI_MCP_URL: a deployment that serves MCP elsewhere than the seed's paths -----------------


def test_mcp_url_wins_over_the_derived_path():
    """SPREADAPI_MCP_URL is the upstream as given; SPREADAPI_SERVICE_ID then only selects single-service mode."""
    config = config_from_env(
        {
            "SPREADAPI_URL": "https://calc.example.com",
            "SPREADAPI_MCP_URL": "https://calc.example.com/api/mcp/service/quote/",
            "SPREADAPI_SERVICE_ID": "quote",
        }
    )
    assert config.endpoint == "https://calc.example.com/api/mcp/service/quote"
    assert config.single_service


@pytest.mark.parametrize(
    "env, mentions",
    [
        ({"SPREADAPI_MCP_URL": "ftp://calc.example.com/mcp", "SPREADAPI_SERVICE_ID": "x"}, "SPREADAPI_MCP_URL"),
        ({"SPREADAPI_MCP_URL": "https://calc.example.com/mcp?token=1", "SPREADAPI_SERVICE_ID": "x"}, "plain URL"),
        ({"SPREADAPI_MCP_URL": "https://calc.example.com/bridge"}, "SPREADAPI_TOKEN"),  # multi-service, no token
    ],
)
def test_bad_mcp_url_is_a_configuration_error(env, mentions):
    """A SPREADAPI_MCP_URL that is not a plain http(s) URL, or multi-service mode without a token, is refused."""
    with pytest.raises(ConfigError, match=mentions):
        config_from_env(env)


async def test_mcp_url_reaches_the_endpoint_it_names(served, tmp_path):
    """With SPREADAPI_MCP_URL the bridge talks to that endpoint even when SPREADAPI_URL leads nowhere."""
    env = {
        "SPREADAPI_URL": f"http://127.0.0.1:{free_port()}",  # closed: the bridge fails if it goes there
        "SPREADAPI_MCP_URL": f"{served.base_url}/api/mcp/services/loan-calculator",
        "SPREADAPI_SERVICE_ID": "loan-calculator",
    }
    params = StdioServerParameters(command=BRIDGE[0], args=BRIDGE[1:], env=env)
    with (tmp_path / "bridge.stderr").open("w+", encoding="utf-8") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            assert [t.name for t in (await session.list_tools()).tools] == SERVICE_TOOLS
