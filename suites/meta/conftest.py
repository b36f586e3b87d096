"""Fixtures for the tests of certify itself: runs of the command in a subprocess, a fake target.

``certify_in_process`` is one full in-process certify, run once per session and shared. ``fake_target``
is a tiny Starlette app under uvicorn in a thread: under ``/broken`` a SpreadAPI listing and HTTP 500
(echoing the caller's credentials) for everything else; under ``/wrong-mcp`` a listing and MCP endpoints
that answer in SSE with a revision nobody offered (echoing the credential too); elsewhere 404 (a wrong
base URL).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ..serve.conftest import uvicorn_thread

SECRET_QUOTE_TOKEN = "svc_tk_" + "5eed" * 16  # the fake target's "private service token"
SECRET_MCP_TOKEN = "spapi_live_" + "c0de" * 16
SECRET_ADMIN_TOKEN = "admin-secret-for-the-fake-target"


@dataclass
class Certified:
    """One finished certify run."""

    returncode: int
    stdout: str
    stderr: str
    report_dir: Path

    def file(self, name: str) -> Path:
        return self.report_dir / name

    def json(self) -> dict[str, Any]:
        import json

        return json.loads(self.file("report.json").read_text(encoding="utf-8"))


def certify(report_dir: Path, *args: str, timeout: float = 600, env: dict[str, str] | None = None) -> Certified:
    """``spreadapi-conformance certify --report-dir DIR ARGS`` in a subprocess."""
    command = [sys.executable, "-m", "spreadapi_conformance", "certify", "--report-dir", str(report_dir), *args]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    run = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env={**environment, **(env or {})})
    return Certified(run.returncode, run.stdout, run.stderr, report_dir)


@pytest.fixture(scope="session")
def certify_in_process(tmp_path_factory: pytest.TempPathFactory) -> Certified:
    """The main job: every check against the in-process reference (about 15 s on two cores)."""
    return certify(tmp_path_factory.mktemp("certify-in-process"), "--in-process")


# -- a fake target ------------------------------------------------------------------------------------


def fake_app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    services = [
        {"id": "loan-calculator", "name": "Loan", "requiresToken": False},
        {"id": "quote", "name": "Quote", "requiresToken": True},
    ]

    async def listing(request: Request) -> JSONResponse:
        page = {"total": 2, "limit": 50, "offset": 0, "hasMore": False}
        return JSONResponse({"services": services, "pagination": page})

    async def broken(request: Request) -> JSONResponse:
        # A server that fails, and leaks what it was sent: the report must mask it all the same.
        echo = {"authorization": request.headers.get("authorization"), "query": request.url.query}
        return JSONResponse({"error": "Internal Server Error", "echo": echo}, status_code=500)

    async def missing(request: Request) -> JSONResponse:
        return JSONResponse({"error": "Not found"}, status_code=404)

    async def wrong_mcp(request: Request) -> Response:
        # An MCP endpoint that answers in SSE, as the reference does, but wrongly: initialize with a
        # revision nobody offered, anything else "method not found"; it echoes the caller's credential.
        message = json.loads(await request.body() or b"{}")
        if "id" not in message:
            return Response(status_code=202)
        if message.get("method") == "initialize":
            answer = {
                "protocolVersion": "1999-01-01",
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "wrong", "version": "1"},
                "instructions": f"you sent {request.headers.get('authorization')}",
            }
            reply = {"jsonrpc": "2.0", "id": message["id"], "result": answer}
        else:
            reply = {"jsonrpc": "2.0", "id": message["id"], "error": {"code": -32601, "message": "Method not found"}}
        event = f"event: message\ndata: {json.dumps(reply)}\n\n"
        return Response(event, media_type="text/event-stream", headers={"mcp-session-id": "wrong-session"})

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]
    return Starlette(
        routes=[
            Route("/broken/api/v1/services", listing),
            Route("/broken/{rest:path}", broken, methods=methods),
            Route("/wrong-mcp/api/v1/services", listing),
            Route("/wrong-mcp/api/v1/services/{service}/execute", broken, methods=["POST"]),
            Route("/wrong-mcp/api/mcp/services/{service}", wrong_mcp, methods=["POST"]),
            Route("/{rest:path}", missing, methods=methods),
        ]
    )


@dataclass
class FakeTarget:
    base_url: str  # the server root

    def target_file(self, directory: Path, prefix: str = "/broken", **extra: str) -> Path:
        path = directory / f"fake{prefix.replace('/', '-')}.toml"
        lines = [
            f'base_url = "{self.base_url}{prefix}"',
            *(f"{k} = {v}" for k, v in extra.items()),
            "[services.loan-calculator]",
            'fixture = "loan-calculator"',
            "public = true",
            "[services.quote]",
            'fixture = "quote"',
            "public = false",
            f'token = "{SECRET_QUOTE_TOKEN}"',
            "[mcp_tokens]",
            f'all = "{SECRET_MCP_TOKEN}"',
            "[admin]",
            f'token = "{SECRET_ADMIN_TOKEN}"',
        ]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path


@pytest.fixture(scope="session")
def fake_target() -> Iterator[FakeTarget]:
    with uvicorn_thread(fake_app(), name="fake-target") as base:
        yield FakeTarget(base)


@pytest.fixture(scope="session")
def broken_run(fake_target: FakeTarget, tmp_path_factory: pytest.TempPathFactory) -> Certified:
    """The fake target answering 500, claiming two options; a subset of checks to keep it short."""
    directory = tmp_path_factory.mktemp("certify-broken")
    target = fake_target.target_file(directory, claims='["rest-actions", "legacy-bridge"]')
    return certify(
        directory / "reports",
        "--target",
        str(target),
        "-k",
        "test_auth or test_list or test_bridge or test_scheme_is_case_insensitive",
    )
