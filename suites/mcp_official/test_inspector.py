"""The MCP Inspector's CLI (``@modelcontextprotocol/inspector@2.12.0``, the TypeScript SDK's client) against ``serve``.

The pinned copy under ``.tools/npm`` (``scripts/install-tools.sh``), under Node 22, the way a user runs
it from a shell: ``inspector --cli URL --transport http --method tools/list`` and
``--method tools/call --tool-name spreadapi_calc --tool-arg inputs={…}``, with
``--header "Authorization: Bearer …"``, against the private single-service endpoint (its service
token from the target file) and the multi-service bridge (an MCP token), and once through the stdio
bridge (``spreadapi-conformance bridge``) the way Claude Desktop launches it. The output is
``--format json``: one JSON object on stdout. ``--strict`` makes schema-portability errors fail
``tools/list`` (exit 6); its warnings are read from stderr and must be none.

``--transport http`` is needed: the Inspector guesses the transport from the URL's end (``/mcp``),
and an MCP URL of this platform ends in a service id or ``/bridge``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from spreadapi_conformance.checks.mcp._support import BRIDGE_TOOLS, SERVICE_TOOLS, rest_result
from spreadapi_conformance.fixtures import load_services

from ..browser._live import node_env, npm_tool
from ..serve.conftest import Served
from .conftest import INSPECTOR_VERSION

pytestmark = pytest.mark.live

SERVICES = load_services()
TIMEOUT = 120


@pytest.fixture(scope="module")
def inspector(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], dict[str, str]]:
    """The Inspector command, with HOME and its catalog in a scratch directory (it writes ~/.mcp-inspector)."""
    tool = npm_tool("inspector")
    home = tmp_path_factory.mktemp("inspector-home")
    env = {**node_env(), "HOME": str(home), "MCP_CATALOG_PATH": str(home / "mcp.json")}
    version = subprocess.run([str(tool), "--version"], capture_output=True, text=True, env=env, timeout=60)
    if version.returncode != 0 or version.stdout.strip() != INSPECTOR_VERSION:
        pytest.fail(f"{tool} --version: {version.stdout.strip()} {version.stderr.strip()[-500:]}", pytrace=False)
    return [str(tool), "--cli"], env


def run_inspector(inspector: tuple[list[str], dict[str, str]], *args: str) -> tuple[dict[str, Any], str]:
    """Run the CLI; (the JSON result, stderr). Fails with its output when it exits non-zero."""
    command, env = inspector
    # --format before the target: after "--" everything belongs to the stdio server's command line.
    arguments = [*command, "--format", "json", *args]
    finished = subprocess.run(arguments, capture_output=True, text=True, env=env, timeout=TIMEOUT)
    output = f"{finished.stdout[-2000:]} {finished.stderr[-2000:]}"
    assert finished.returncode == 0, f"inspector exited {finished.returncode}: {output}"
    document = json.loads(finished.stdout)
    assert "result" in document, document
    return document["result"], finished.stderr


def endpoint(served: Served, kind: str) -> tuple[str, str]:
    """(URL, bearer token) of the private single-service endpoint or of the bridge."""
    target = served.target
    if kind == "service-private":
        quote = target.services["quote"]
        assert quote.token, "the target file holds no token for quote"
        return f"{served.base_url}/api/mcp/services/{quote.id}", quote.token
    return f"{served.base_url}/api/mcp/bridge", target.mcp_tokens["all"]


@pytest.mark.parametrize("kind", ["service-private", "bridge"])
def test_inspector_lists_the_tools(served, inspector, kind):
    """tools/list over Streamable HTTP with a bearer header: the endpoint's tools, no schema-portability error
    or warning."""
    url, token = endpoint(served, kind)
    result, stderr = run_inspector(
        inspector,
        url,
        "--transport",
        "http",
        "--method",
        "tools/list",
        "--header",
        f"Authorization: Bearer {token}",
        "--strict",
    )
    names = [tool["name"] for tool in result["tools"]]
    assert names == (SERVICE_TOOLS if kind == "service-private" else BRIDGE_TOOLS)
    for tool in result["tools"]:
        assert tool["inputSchema"]["type"] == "object" and tool.get("outputSchema"), tool["name"]
    # Portability warnings (a `type` array, say) do not fail --strict: they are read here.
    # It prints nothing when there is none, else 'Warning: tool "…"' blocks and "0 errors, N warnings across …".
    assert "Warning:" not in stderr and "warnings across" not in stderr, stderr[-3000:]


CALLS = [
    ("service-private", "quote", 0),
    ("service-private", "quote", 4),
    ("bridge", "quote", 1),
    ("bridge", "loan-calculator", 0),
]


@pytest.mark.parametrize("kind, service_id, case", CALLS, ids=[f"{k}-{s}-{c}" for k, s, c in CALLS])
def test_inspector_calc_equals_rest(served, inspector, kind, service_id, case):
    """tools/call spreadapi_calc with --tool-arg (JSON values) gives REST execute's service, inputs and outputs."""
    url, token = endpoint(served, kind)
    inputs = SERVICES[service_id].golden[case]["inputs"]
    arguments = ["--tool-arg", f"inputs={json.dumps(inputs)}"]
    if kind == "bridge":
        arguments = ["--tool-arg", f"serviceId={served.target.services[service_id].id}", *arguments]
    result, _ = run_inspector(
        inspector,
        url,
        "--transport",
        "http",
        "--method",
        "tools/call",
        "--tool-name",
        "spreadapi_calc",
        *arguments,
        "--header",
        f"Authorization: Bearer {token}",
    )
    assert result.get("isError") is not True, result
    expected = rest_result(served.execute(service_id, inputs))
    assert rest_result(result["structuredContent"]) == expected
    assert rest_result(json.loads(result["content"][0]["text"])) == expected


def test_inspector_through_the_stdio_bridge(served, inspector, tmp_path: Path):
    """The Inspector launching ``spreadapi-conformance bridge`` over stdio, as Claude Desktop does (-e for its
    environment): the private service's tools, and a calculation equal to REST execute."""
    quote = served.target.services["quote"]
    assert quote.token
    launch = [
        "-e",
        f"SPREADAPI_URL={served.base_url}",
        "-e",
        f"SPREADAPI_SERVICE_ID={quote.id}",
        "-e",
        f"SPREADAPI_TOKEN={quote.token}",
        "--transport",
        "stdio",
        "--",
        sys.executable,
        "-m",
        "spreadapi_conformance",
        "bridge",
    ]
    listed, _ = run_inspector(inspector, "--method", "tools/list", *launch)
    assert [tool["name"] for tool in listed["tools"]] == SERVICE_TOOLS
    inputs = SERVICES["quote"].golden[2]["inputs"]
    called, _ = run_inspector(
        inspector,
        "--method",
        "tools/call",
        "--tool-name",
        "spreadapi_calc",
        "--tool-arg",
        f"inputs={json.dumps(inputs)}",
        *launch,
    )
    assert rest_result(called["structuredContent"]) == rest_result(served.execute("quote", inputs))
