"""Every check survives hostile answers: certify against a deployment whose every answer (but the listing
pre-flight needs) is deep, huge, truncated, wrong-typed or not JSON ends with failures that say what came, and
not one ``error`` (an exception in the kit's own code). Every check family runs: REST, OpenAPI, OAuth (consent
by form), MCP (raw HTTP and the SDK client), the replays; with ``[admin]``, so that the checks that issue
credentials of their own run too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ..serve.conftest import uvicorn_thread
from ._hostile import MODES, hostile_app
from .conftest import SECRET_ADMIN_TOKEN, SECRET_MCP_TOKEN, SECRET_QUOTE_TOKEN, certify

pytestmark = pytest.mark.live


def target_file(directory: Path, base_url: str) -> Path:
    path = directory / "hostile.toml"
    path.write_text(
        f"""base_url = "{base_url}"
[services.loan-calculator]
fixture = "loan-calculator"
[services.quote]
fixture = "quote"
public = false
token = "{SECRET_QUOTE_TOKEN}"
[services.edge-cases]
fixture = "edge-cases"
[mcp_tokens]
all = "{SECRET_MCP_TOKEN}"
[oauth]
registration = true
[admin]
token = "{SECRET_ADMIN_TOKEN}"
""",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("mode", MODES)
def test_no_check_crashes_on_hostile_answers(mode: str, tmp_path: Path):
    with uvicorn_thread(hostile_app(mode), name=f"hostile-{mode}") as base:
        run = certify(tmp_path / "reports", "--target", str(target_file(tmp_path, base)), "--no-progress", timeout=900)
    assert run.returncode in (1, 3), f"{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    checks = run.json()["checks"]
    errors = {c["id"]: (c["reason"] or "")[:300] for c in checks if c["outcome"] == "error"}
    assert not errors, f"{len(errors)} checks raised in the kit's own code on {mode} answers: {errors}"
    assert sum(c["outcome"] == "failed" for c in checks) > 50, "the hostile answers failed too few checks"


def stalling_app():
    """A deployment that lists its services, then never answers anything else."""
    import asyncio

    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from ._hostile import LISTING

    async def listing(request):
        return JSONResponse(LISTING)

    async def stall(request):
        await asyncio.sleep(3600)

    methods = ["GET", "POST", "DELETE"]
    return Starlette(routes=[Route("/api/v1/services", listing), Route("/{rest:path}", stall, methods=methods)])


def test_a_check_that_waits_too_long_fails_naming_what_it_waited_for(tmp_path: Path):
    """A target that never answers costs each check its time limit, not the client's 30 s per request or
    the SDK's wait forever: the check fails and says which request it was waiting for."""
    with uvicorn_thread(stalling_app(), name="stalling") as base:
        target = tmp_path / "stalling.toml"  # a public service only: pre-flight just lists
        target.write_text(f'base_url = "{base}"\n[services.loan-calculator]\nfixture = "loan-calculator"\n')
        run = certify(
            tmp_path / "reports",
            "--target",
            str(target),
            "--check-timeout",
            "2",
            "-k",
            "test_golden_post_outputs or test_handshake_at_each_revision",
            "--mcp-revision",
            "2025-11-25",
            "--no-progress",
            timeout=300,
        )
    report = run.json()
    checks = {c["id"]: c for c in report["checks"]}
    for rid, method in (("REST-EXEC-001", "POST"), ("MCP-HTTP-001", "POST")):  # 001's quote variants: n/a
        check = checks[rid]
        assert check["outcome"] in ("failed", "warning"), (rid, check["outcome"], check["reason"])
        waited = f"waiting for the answer to {method} {base}"
        assert "time limit" in check["reason"] and waited in check["reason"], check
    assert report["run"]["duration_s"] < 120, report["run"]["duration_s"]


def echoing_app():
    """A deployment that refuses every execute with a legal 400 echoing the whole request body in its details."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from ._hostile import LISTING

    async def listing(request: Request) -> Response:
        return JSONResponse(LISTING)

    async def refuse(request: Request) -> Response:
        echo = (await request.body()).decode("utf-8", errors="replace")
        body = '{"error": "VALIDATION_ERROR", "message": "Parameter validation failed", "details": ' + echo + "}"
        return Response(body, status_code=400, media_type="application/json")

    return Starlette(routes=[Route("/api/v1/services", listing), Route("/{rest:path}", refuse, methods=["POST"])])


def test_a_legal_answer_echoing_a_deep_input_passes(tmp_path: Path):
    """REST-ERR-006 sends JSON nested 1,000 and 100,000 levels deep; a 400 whose details echo it is a legal
    answer, and the check reads it (its top level) instead of crashing or failing it."""
    with uvicorn_thread(echoing_app(), name="echoing") as base:
        target = tmp_path / "echoing.toml"
        target.write_text(f'base_url = "{base}"\n[services.loan-calculator]\nfixture = "loan-calculator"\n')
        run = certify(tmp_path / "reports", "--target", str(target), "-k", "test_deeply_nested_json", "--no-progress")
    check = next(c for c in run.json()["checks"] if c["id"] == "REST-ERR-006")
    assert check["outcome"] == "passed", check


def one_endpoint_checks(tmp_path: Path, app: Any, *requirements: str) -> dict[str, dict[str, Any]]:
    """The ``requirements`` as certify reports them for ``app``, an MCP server that is not SpreadAPI (its one
    endpoint at /mcp), by ID."""
    with uvicorn_thread(app, name="one-endpoint") as base:
        target = tmp_path / "one-endpoint.toml"
        text = f'base_url = "{base}"\nclaims = ["claude-desktop"]\n[paths]\nsingle_service_mcp = "/mcp"\n'
        target.write_text(text, encoding="utf-8")
        chosen = " or ".join(requirements)
        run = certify(tmp_path / "reports", "--target", str(target), "-k", chosen, "--no-progress")
    return {c["id"]: c for c in run.json()["checks"] if c["id"] in requirements}


async def json_rpc(request: Any) -> Any:
    """The request's JSON body, or None when it is not JSON (the small servers below answer it 400, not a
    crash that would cut the connection under the next request)."""
    import json

    try:
        return json.loads(await request.body())
    except ValueError:
        return None


def latin1_mcp_app():
    """One MCP endpoint that answers initialize (and every request after it) in Latin-1, as it declares: a server
    that breaks the transports' UTF-8 rule, which the reference cannot be made to break where the bug would live
    (its answers are serialised by the MCP SDK)."""
    import json

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def mcp(request: Request) -> Response:
        message = await json_rpc(request)
        if not isinstance(message, dict) or "id" not in message:
            return Response(status_code=202 if isinstance(message, dict) else 400)
        info = {"name": "Café", "version": "1"}
        result = {"protocolVersion": "2025-11-25", "capabilities": {}, "serverInfo": info, "tools": []}
        body = json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}, ensure_ascii=False)
        return Response(body.encode("latin-1"), media_type="application/json; charset=iso-8859-1")

    return Starlette(routes=[Route("/mcp", mcp, methods=["POST"])])


def test_a_body_in_another_charset_fails_the_utf_8_check(tmp_path: Path):
    """MCP-HTTP-042 fails a server whose JSON-RPC answers are Latin-1 (declared, and not decodable as UTF-8)."""
    check = one_endpoint_checks(tmp_path, latin1_mcp_app(), "MCP-HTTP-042")["MCP-HTTP-042"]
    assert check["outcome"] == "failed" and "charset=iso-8859-1" in check["reason"], check


MODERN_REVISION = "2026-07-28"


def careless_modern_app():
    """One MCP endpoint that serves 2026-07-28 (and 2025-11-25, whatever initialize offers) with three faults no
    SDK server has, so the reference cannot be made to have them: on every answer but server/discover's it first
    sends a request of its own (roots/list) and a notifications/cancelled, and it answers a 2026-07-28 request
    that lacks the MCP-Protocol-Version header though it serves no client older than 2025-06-18."""
    import json

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    hints = {"resultType": "complete", "ttlMs": 0, "cacheScope": "private"}
    results = {
        "initialize": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "serverInfo": {"name": "careless", "version": "1"},
        },
        "server/discover": {**hints, "supportedVersions": [MODERN_REVISION], "capabilities": {}},
    }
    asides = [
        {"jsonrpc": "2.0", "id": "server-1", "method": "roots/list"},
        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": "server-0"}},
    ]

    async def mcp(request: Request) -> Response:
        message = await json_rpc(request)
        if not isinstance(message, dict) or "id" not in message:
            return Response(status_code=202 if isinstance(message, dict) else 400)
        method = message.get("method", "")
        answer = {"jsonrpc": "2.0", "id": message["id"], "result": results.get(method, {**hints, "tools": []})}
        if method in ("initialize", "server/discover"):
            return JSONResponse(answer)
        events = "".join(f"event: message\ndata: {json.dumps(m)}\n\n" for m in (*asides, answer))
        return Response(events, media_type="text/event-stream")

    return Starlette(routes=[Route("/mcp", mcp, methods=["POST"])])


def test_a_careless_modern_server_fails_the_transport_checks(tmp_path: Path):
    """MCP-HTTP-046, 047 and 048 fail a 2026-07-28 server that sends a request and a cancellation of its own on
    its answers and takes a request without MCP-Protocol-Version."""
    checks = one_endpoint_checks(tmp_path, careless_modern_app(), "MCP-HTTP-046", "MCP-HTTP-047", "MCP-HTTP-048")
    assert {rid: c["outcome"] for rid, c in checks.items()} == dict.fromkeys(checks, "failed"), checks
    assert len(checks) == 3 and "roots/list" in checks["MCP-HTTP-046"]["reason"], checks
    assert "notifications/cancelled" in checks["MCP-HTTP-048"]["reason"], checks


def sloppy_modern_only_app():
    """One MCP endpoint that serves only 2026-07-28, with faults the reference (an SDK server that also serves the
    handshake era, with one-page lists and no tracing) cannot be given where they would live: a malformed
    traceparent in server/discover's _meta, a tools/list in two pages whose cacheScope differs, results without
    the io.modelcontextprotocol/serverInfo stamp, and an error to initialize that names no supported version."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    def tool(name: str) -> dict[str, Any]:
        return {"name": name, "inputSchema": {"type": "object"}}

    pages = {
        None: {"tools": [tool("first")], "nextCursor": "page-2", "cacheScope": "public"},
        "page-2": {"tools": [tool("second")], "cacheScope": "private"},
    }

    async def mcp(request: Request) -> Response:
        message = await json_rpc(request)
        if not isinstance(message, dict) or "id" not in message:
            return Response(status_code=202 if isinstance(message, dict) else 400)
        method, params = message.get("method"), message.get("params") or {}
        if method == "initialize":
            error = {"code": -32601, "message": "Method not found"}
            return JSONResponse({"jsonrpc": "2.0", "id": message["id"], "error": error}, status_code=400)
        if method == "server/discover":
            found = {"supportedVersions": [MODERN_REVISION], "capabilities": {"tools": {}}, "ttlMs": 0}
            found |= {"cacheScope": "private", "_meta": {"traceparent": "00-not-a-trace-id-01"}}
        elif method == "tools/list" and params.get("cursor") in pages:
            found = {**pages[params.get("cursor")], "ttlMs": 0}
        else:
            error = {"code": -32602, "message": f"Unknown: {method}"}
            return JSONResponse({"jsonrpc": "2.0", "id": message["id"], "error": error})
        return JSONResponse({"jsonrpc": "2.0", "id": message["id"], "result": {"resultType": "complete", **found}})

    return Starlette(routes=[Route("/mcp", mcp, methods=["POST"])])


def test_a_sloppy_modern_only_server_fails_the_checks_of_its_faults(tmp_path: Path):
    """MCP-HTTP-049 and 050 fail, 052 and 054 warn, on a 2026-07-28-only server with a malformed traceparent, pages
    of one list with different cacheScopes, no serverInfo stamps and an error to initialize naming no version."""
    requirements = ("MCP-HTTP-049", "MCP-HTTP-050", "MCP-HTTP-052", "MCP-HTTP-054")
    checks = one_endpoint_checks(tmp_path, sloppy_modern_only_app(), *requirements)
    outcomes = {rid: c["outcome"] for rid, c in checks.items()}
    assert outcomes == {"MCP-HTTP-049": "failed", "MCP-HTTP-050": "failed"} | dict.fromkeys(
        ("MCP-HTTP-052", "MCP-HTTP-054"), "warning"
    ), checks
    assert "traceparent" in checks["MCP-HTTP-049"]["reason"], checks
    assert '"public", "private"' in checks["MCP-HTTP-050"]["reason"], checks
    assert "serverInfo" in checks["MCP-HTTP-052"]["reason"] and MODERN_REVISION in checks["MCP-HTTP-054"]["reason"]


def stale_handshake_app():
    """One MCP endpoint that accepts each handshake revision offered to it but counter-offers the oldest,
    2024-11-05, to an offer it does not know (as the SpreadAPI platform does), and answers tools/list with a
    notifications/tools/list_changed first though it declared no capability; the reference counter-offers what its
    SDK does, the latest (a fault there would only rewrite the SDK's answer at the edge), and its SDK sends no list
    change it did not declare."""
    import json

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    known = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")

    async def mcp(request: Request) -> Response:
        message = await json_rpc(request)
        if not isinstance(message, dict) or "id" not in message:
            return Response(status_code=202 if isinstance(message, dict) else 400)
        offered = (message.get("params") or {}).get("protocolVersion")
        if message.get("method") == "tools/list":
            changed = {"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}
            listed = {"jsonrpc": "2.0", "id": message["id"], "result": {"tools": []}}
            events = "".join(f"event: message\ndata: {json.dumps(m)}\n\n" for m in (changed, listed))
            return Response(events, media_type="text/event-stream")
        if message.get("method") != "initialize":
            error = {"code": -32601, "message": "Method not found"}
            return JSONResponse({"jsonrpc": "2.0", "id": message["id"], "error": error})
        version = offered if offered in known else known[0]
        found = {"protocolVersion": version, "capabilities": {}, "serverInfo": {"name": "stale", "version": "1"}}
        return JSONResponse({"jsonrpc": "2.0", "id": message["id"], "result": found})

    return Starlette(routes=[Route("/mcp", mcp, methods=["POST"])])


def test_a_counter_offer_of_the_oldest_revision_warns(tmp_path: Path):
    """MCP-HTTP-053 warns on a server that counter-offers 2024-11-05 while it accepts 2025-11-25, and MCP-HTTP-051
    fails it for a list change it sends without declaring tools.listChanged."""
    checks = one_endpoint_checks(tmp_path, stale_handshake_app(), "MCP-HTTP-053", "MCP-HTTP-051")
    assert checks["MCP-HTTP-053"]["outcome"] == "warning" and "'2024-11-05'" in checks["MCP-HTTP-053"]["reason"]
    assert checks["MCP-HTTP-051"]["outcome"] == "failed", checks["MCP-HTTP-051"]
    assert "tools.listChanged" in checks["MCP-HTTP-051"]["reason"], checks["MCP-HTTP-051"]


HANDSHAKE_REVISIONS = ("2025-03-26", "2025-06-18", "2025-11-25")
# entry -> (what the small MCP server below does wrong when it is broken for that entry, what the check's reason
# then shows). The MCP SDK the reference serves through gets each of these right, so no fault of the reference
# can have them where the bug would live.
BROKEN_TRANSPORT = {
    "MCP-HTTP-010": ("its session ids have a space in them (visible ASCII only)", "'session "),
    "MCP-HTTP-014": ("it never looks a session id up: one it never issued is served", "assert 200 == 404"),
    "MCP-HTTP-022": ('after initialize it echoes request ids as strings: id 0 comes back as "0"', '"id":"0"'),
    "MCP-HTTP-032": ("it opens a session (Mcp-Session-Id) for a 2026-07-28 request", "'mcp-session-id': 's"),
    "MCP-HTTP-033": ("it serves a 2026-07-28 request without the _meta envelope as handshake-era", "assert 200 == 400"),
}


def small_mcp_app(broken: str = ""):
    """One MCP endpoint at /mcp that keeps the transport rules MCP-HTTP-010 to 034 judge: handshake-era sessions
    (2025-03-26 to 2025-11-25: initialize opens one, a request without its id is 400, an id it does not know 404,
    DELETE ends it; notifications 202; ids echoed; unknown methods -32601) and 2026-07-28 single exchanges
    (server/discover, the _meta envelope required, Mcp-Method compared). ``broken``: an entry of BROKEN_TRANSPORT,
    whose rule it then breaks."""
    import itertools

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    sessions: set[str] = set()
    numbers = itertools.count(1)

    def reply(message: dict, outcome: dict, status: int = 200, headers: dict | None = None) -> Response:
        stringified = broken == "MCP-HTTP-022" and message.get("method") != "initialize"
        request_id = str(message["id"]) if stringified else message["id"]
        return JSONResponse({"jsonrpc": "2.0", "id": request_id, **outcome}, status, headers=headers)

    def error(code: int, text: str, status: int) -> Response:
        return JSONResponse({"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": text}}, status)

    def served(message: dict, extra: dict) -> Response:
        method = message.get("method")
        if method == "tools/list":
            return reply(message, {"result": {"tools": [], **extra}})
        if method == "ping":
            return reply(message, {"result": {}})
        return reply(message, {"error": {"code": -32601, "message": f"Method not found: {method}"}})

    async def modern(request: Request, message: dict) -> Response:
        meta = (message.get("params") or {}).get("_meta") or {}
        if "io.modelcontextprotocol/protocolVersion" not in meta and broken != "MCP-HTTP-033":
            return error(-32602, "Invalid params: the _meta envelope is required at 2026-07-28", 400)
        if request.headers.get("mcp-method") != message.get("method"):
            return error(-32020, "HeaderMismatch: Mcp-Method differs from the body's method", 400)
        if message.get("method") == "server/discover":
            result = {"resultType": "complete", "supportedVersions": [MODERN_REVISION], "capabilities": {}}
            return reply(message, {"result": result})
        opened = {"mcp-session-id": f"s{next(numbers)}"} if broken == "MCP-HTTP-032" else None
        answer = served(message, {"resultType": "complete", "ttlMs": 0, "cacheScope": "private"})
        answer.headers.update(opened or {})
        return answer

    async def mcp(request: Request) -> Response:
        session_id = request.headers.get("mcp-session-id")
        if request.method == "DELETE":
            if session_id not in sessions:
                return Response(status_code=404)
            sessions.discard(session_id)
            return Response(status_code=204)
        message = await json_rpc(request)
        if not isinstance(message, dict) or not isinstance(message.get("method"), str):
            return error(-32600, "Invalid Request", 400)
        if request.headers.get("mcp-protocol-version") == MODERN_REVISION:
            return await modern(request, message)
        if message["method"] == "initialize":
            offered = (message.get("params") or {}).get("protocolVersion")
            revision = offered if offered in HANDSHAKE_REVISIONS else HANDSHAKE_REVISIONS[-1]
            new_id = f"session {next(numbers)}" if broken == "MCP-HTTP-010" else f"s{next(numbers)}"
            sessions.add(new_id)
            result = {"protocolVersion": revision, "capabilities": {"tools": {}}, "serverInfo": {"name": "small"}}
            return reply(message, {"result": result}, headers={"mcp-session-id": new_id})
        if session_id is None:
            return error(-32600, "Bad Request: Mcp-Session-Id is required", 400)
        if session_id not in sessions and broken != "MCP-HTTP-014":
            return error(-32001, "Session not found", 404)
        if "id" not in message:
            return Response(status_code=202)
        return served(message, {})

    return Starlette(routes=[Route("/mcp", mcp, methods=["POST", "DELETE"])])


def test_the_small_mcp_server_passes_the_transport_checks(tmp_path: Path):
    """The control for the test below: unbroken, the small server passes every check it is broken for there."""
    checks = one_endpoint_checks(tmp_path, small_mcp_app(), *BROKEN_TRANSPORT)
    assert {rid: c["outcome"] for rid, c in checks.items()} == dict.fromkeys(BROKEN_TRANSPORT, "passed"), checks


@pytest.mark.parametrize("rid", list(BROKEN_TRANSPORT))
def test_a_server_breaking_one_transport_rule_fails_its_check(rid: str, tmp_path: Path):
    """MCP-HTTP-010, 014, 022, 032 and 033 each fail the small server broken in their one rule (BROKEN_TRANSPORT),
    and say what it did."""
    broken, evidence = BROKEN_TRANSPORT[rid]
    check = one_endpoint_checks(tmp_path, small_mcp_app(broken=rid), rid)[rid]
    assert check["outcome"] in ("failed", "warning"), (broken, check)  # warning: an entry with a policy
    assert evidence in check["reason"], (broken, check["reason"])
