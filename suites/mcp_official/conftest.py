"""Shared by the official-MCP-tool suites: the pinned npm tools under Node 22, and one ``serve`` to point them at.

The tools are installed by ``scripts/install-tools.sh`` (``.tools/npm``, Node 22 in ``.tools/node``);
a missing or wrong tool fails the test with the command to run, never skips it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from ..browser._live import node_env, npm_tool, which_node
from ..serve.conftest import Served, start_serve

CONFORMANCE_VERSION = "0.2.0-alpha.12"
INSPECTOR_VERSION = "2.12.0"


def _node22(env: dict[str, str]) -> None:
    node = which_node(env)
    version = subprocess.run([node or "node", "--version"], capture_output=True, text=True, env=env).stdout.strip()
    if not version.startswith("v") or int(version[1:].split(".")[0]) < 22:
        found = f"{version or 'no node'} at {node}"
        pytest.fail(f"the MCP tools need Node >= 22, found {found}; run scripts/install-tools.sh", pytrace=False)


def _pinned(tool: str, args: list[str], env: dict[str, str], expected: str) -> None:
    check = subprocess.run([tool, *args], capture_output=True, text=True, env=env, timeout=60)
    if check.returncode != 0 or check.stdout.strip() != expected:
        found = f"{check.stdout.strip()} {check.stderr.strip()[-500:]}"
        pytest.fail(f"{tool} {' '.join(args)}: expected {expected}, got {found}", pytrace=False)


@pytest.fixture(scope="session")
def conformance() -> tuple[list[str], dict[str, str]]:
    """The conformance harness command and its environment (Node 22 first on PATH); fails if either is missing."""
    tool = npm_tool("conformance")
    env = node_env()
    _node22(env)
    _pinned(str(tool), ["--version"], env, CONFORMANCE_VERSION)
    return [str(tool)], env


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``spreadapi-conformance serve`` on a free loopback port, with its target file (service and MCP tokens)."""
    server = start_serve(tmp_path_factory.mktemp("mcp-official-serve"))
    yield server
    server.stop()
