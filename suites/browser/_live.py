"""A reference listening on loopback, with an MCP token to paste, for the browser and official-MCP suites.

Preferred: ``spreadapi-conformance serve`` as a subprocess (``suites/serve/conftest.py``), its MCP
token read from the ``[mcp_tokens]`` table of the target file it writes. A ``serve`` that does not yet
write that table makes the helper fall back to the reference in this process, under uvicorn in a
thread, where ``Reference.mcp_tokens`` is read directly; ``Live.how`` says which one a test got.

Also here: where the tools these suites need are, and the failure (never a skip) when one is missing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ..serve.conftest import free_port, start_serve, uvicorn_thread

REPO = Path(__file__).resolve().parents[2]
REPORTS = REPO / "reports"
INSTALL = "scripts/install-tools.sh"


@dataclass
class Live:
    base_url: str  # the issuer: no trailing slash
    mcp_token: str = field(repr=False)  # spapi_live_… granting every service ("all")
    how: str  # "serve" (subprocess) or "in-process" (uvicorn thread)


@contextmanager
def live_reference(tmp_path: Path) -> Iterator[Live]:
    served = start_serve(tmp_path)
    token = (getattr(served.target, "mcp_tokens", None) or {}).get("all")
    if token:
        try:
            yield Live(served.base_url, token, "serve")
        finally:
            served.stop()
        return
    # `serve` does not write [mcp_tokens] (yet): the same reference, in this process.
    served.stop()
    with _in_process() as live:
        yield live


@contextmanager
def _in_process() -> Iterator[Live]:
    from spreadapi_conformance.reference.app import Reference
    from spreadapi_conformance.reference.config import ReferenceConfig

    port = free_port()
    reference = Reference(ReferenceConfig(base_url=f"http://127.0.0.1:{port}", warm_up=False))
    with uvicorn_thread(reference.app, port, name="live-reference") as base:  # seeded in its lifespan
        yield Live(base, reference.mcp_tokens["all"], "in-process")


# -- tools ------------------------------------------------------------------------------------------


def missing(what: str, looked: str) -> None:
    pytest.fail(f"{what} is missing ({looked}); install it with `{INSTALL}` (as root), then rerun", pytrace=False)


def chromium() -> str:
    path = os.environ.get("SPREADAPI_CHROMIUM", "/usr/bin/chromium")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        missing("Chromium", f"looked for {path}; SPREADAPI_CHROMIUM overrides")
    return path


# As root in a container with no GPU and a closed network (the machine notes for python-svc).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def headless_chromium() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (never a browser Playwright downloads)."""
    executable = chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the playwright package is missing: pip install -e '.[dev]'", pytrace=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def node_bin_dir() -> Path:
    """The directory holding Node 22's ``node`` (the system Node 20 cannot run the MCP conformance suite)."""
    env = os.environ.get("SPREADAPI_NODE_BIN")
    candidates = [Path(env)] if env else sorted((REPO / ".tools/node/node_modules").glob("node-linux-*/bin"))
    for candidate in candidates:
        if (candidate / "node").is_file():
            return candidate
    missing("Node 22", f"looked in {env or REPO / '.tools/node/node_modules/node-linux-*/bin'}; SPREADAPI_NODE_BIN")
    raise AssertionError  # unreachable


def npm_tool(name: str) -> Path:
    """An executable of the npm tools that ``scripts/tools/package.json`` pins."""
    directory = Path(os.environ.get("SPREADAPI_NPM_TOOLS", REPO / ".tools/npm/node_modules/.bin"))
    tool = directory / name
    if not tool.exists():
        missing(f"the npm tool {name!r}", f"looked for {tool}; SPREADAPI_NPM_TOOLS overrides the directory")
    return tool


def node_env() -> dict[str, str]:
    """The environment for a Node tool: Node 22 first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{node_bin_dir()}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("NO_COLOR", "1")
    return env


def which_node(env: dict[str, str]) -> str | None:
    return shutil.which("node", path=env["PATH"])
