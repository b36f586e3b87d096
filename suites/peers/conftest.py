"""Independent peers: MCP servers and authorization servers nobody here wrote, started for certify to judge.

Each peer of ``peers/`` (installed by ``scripts/install-tools.sh``) runs on free loopback ports. Its target file
(``peers/<name>/target.toml``) names the default ports; the harness writes a copy with the ports it chose.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from ..browser._live import REPO, node_bin_dir, node_env, npm_tool
from ..serve.conftest import free_port, stop_process

PEERS = REPO / "peers"
TOOLS = REPO / ".tools"
START_TIMEOUT = 30


@dataclass(frozen=True)
class Peer:
    name: str
    defaults: tuple[int, ...]  # the ports its target.toml names, in the order the command takes them
    env: dict[str, str] = field(default_factory=dict)  # what certify needs (the env: secrets of its target file)

    @property
    def directory(self) -> Path:
        return PEERS / self.name

    def command(self, ports: list[int]) -> tuple[list[str], dict[str, str]]:
        if self.name == "fastmcp":
            python = TOOLS / "peers/fastmcp/bin/python"
            if not python.exists():
                pytest.fail(f"the FastMCP peer is not installed ({python}): run scripts/install-tools.sh")
            return [str(python), "-u", str(self.directory / "server.py"), str(ports[0])], dict(os.environ)
        if self.name == "oidc":
            if not (self.directory / "node_modules/.installed").exists():
                pytest.fail("the oidc-provider peer is not installed: run scripts/install-tools.sh")
            node = node_bin_dir() / "node"
            return [str(node), str(self.directory / "start.mjs"), *map(str, ports)], node_env()
        if self.name == "server-everything":
            return [str(npm_tool("mcp-server-everything")), "streamableHttp"], {**node_env(), "PORT": str(ports[0])}
        raise AssertionError(self.name)

    def target_file(self, ports: list[int], directory: Path) -> Path:
        text = (self.directory / "target.toml").read_text(encoding="utf-8")
        for default, port in zip(self.defaults, ports, strict=True):
            assert f"127.0.0.1:{default}" in text, f"{self.name}/target.toml does not name port {default}"
            text = text.replace(f"127.0.0.1:{default}", f"127.0.0.1:{port}")
        path = directory / f"{self.name}.toml"
        path.write_text(text, encoding="utf-8")
        return path


PEER_LIST = [
    Peer("fastmcp", (8801,)),
    Peer("oidc", (8811, 8812), {"PEER_OIDC_PASSWORD": "conformance-password"}),
    Peer("server-everything", (3001,)),
]


@contextlib.contextmanager
def running(peer: Peer, log: Path) -> Iterator[list[int]]:
    """The peer on free ports until the block ends; yields the ports. Up when its last port answers HTTP."""
    ports = [free_port() for _ in peer.defaults]
    command, env = peer.command(ports)
    with log.open("w") as out:  # a file, never a pipe nobody reads
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=peer.directory)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"{peer.name} exited with {process.returncode}: {log.read_text()[-2000:]}")
            try:
                httpx.get(f"http://127.0.0.1:{ports[-1]}/mcp", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    pytest.fail(f"{peer.name} did not listen within {START_TIMEOUT} s: {log.read_text()[-2000:]}")
                time.sleep(0.1)
        yield ports
    finally:
        stop_process(process)
