"""The stream and progress checks (MCP-STREAM, MCP-PROGRESS) pass a server that streams with care and fail one
that breaks each rule. The reference cannot show them failing where the bug would live: it sends no progress,
keeps no event store (no event ids, no resumption) and its SDK routes each message to one stream. So a small MCP
server does it here, served on loopback: a session whose answers are event streams with progress notifications
and event ids, any number of standalone GET streams (each told a notification whenever a request comes),
resumption with Last-Event-ID, and 2026-07-28 answers; each fault breaks one rule."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from .test_hostile import json_rpc, one_endpoint_checks

pytestmark = pytest.mark.live

MODERN = "2026-07-28"
HANDSHAKE = ("2025-03-26", "2025-06-18", "2025-11-25")
FAULTS = {
    "response-on-get": "every response is also sent on every GET stream",
    "broadcast": "the notification a request causes on the GET streams is sent on every one of them",
    "progress-on-get": "the progress of a request goes on the GET streams instead of its answer",
    "ids-per-stream": "each stream numbers its events from 1 (ids repeat across a session's streams)",
    "replay-all": "a resumption replays every event after the Last-Event-ID, whatever stream it was on",
    "progress-down": "the second progress notification's value is lower than the first",
    "progress-foreign": "a progress notification for a token no request gave",
    "progress-late": "a progress notification after the response, on the same stream",
    "change-on-answer": "a 2026-07-28 answer carries notifications/tools/list_changed",
    "no-priming": "an answer starts with its first message, without a priming event (an id and empty data)",
    "get-closes": "a GET stream is closed after its first event, without a retry field",
}


class _Session:
    def __init__(self) -> None:
        self.listeners: list[asyncio.Queue] = []
        self.log: list[tuple[str, str, dict[str, Any]]] = []  # (stream, event id, message)
        self.counters: dict[str, int] = {}


def streaming_app(*faults: str) -> Any:
    """The MCP server described above, at /mcp, with ``faults`` (keys of FAULTS)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    assert set(faults) <= set(FAULTS), faults
    sessions: dict[str, _Session] = {}
    modern_session = _Session()  # 2026-07-28 requests belong to no session; their ids still count

    def event(session: _Session, stream: str, message: dict[str, Any] | None) -> str:
        """The SSE event of ``message`` (None: a priming event), its id logged for a resumption."""
        key = stream if "ids-per-stream" in faults else "session"
        session.counters[key] = session.counters.get(key, 0) + 1
        event_id = str(session.counters[key])
        session.log.append((stream, event_id, message))
        return wire(event_id, message)

    def wire(event_id: str, message: dict[str, Any] | None) -> str:
        return f"id: {event_id}\ndata: {'' if message is None else json.dumps(message)}\n\n"

    def progress(token: Any, value: float) -> dict[str, Any]:
        params = {"progressToken": token, "progress": value, "total": 2}
        return {"jsonrpc": "2.0", "method": "notifications/progress", "params": params}

    def answer_stream(session: _Session, message: dict[str, Any], result: dict[str, Any]) -> Response:
        stream = f"post-{message['id']}"
        token = (message.get("params") or {}).get("_meta", {}).get("progressToken")
        response = {"jsonrpc": "2.0", "id": message["id"], "result": result}
        before, after = [], []
        if token is not None:
            values = (1, 0.5) if "progress-down" in faults else (1, 2)
            steps = [progress(token, value) for value in values]
            if "progress-on-get" in faults:
                tell(session, *steps)
            else:
                before += steps
            if "progress-late" in faults:
                after.append(progress(token, 3))
        if "progress-foreign" in faults:
            before.append(progress("no-request-gave-this-token", 1))
        if (
            "change-on-answer" in faults
            and "method" in message
            and message.get("params", {}).get("_meta", {}).get("io.modelcontextprotocol/protocolVersion")
        ):
            before.append({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
        tick = {"level": "info", "data": f"tick {uuid.uuid4().hex[:8]}"}  # unrelated to the request
        tell(session, {"jsonrpc": "2.0", "method": "notifications/message", "params": tick})
        if "response-on-get" in faults:
            tell(session, response)
        priming = [] if "no-priming" in faults else [None]
        body = "".join(event(session, stream, m) for m in (*priming, *before, response, *after))
        return Response(body, media_type="text/event-stream")

    def tell(session: _Session, *messages: dict[str, Any]) -> None:
        """Messages for the standalone streams: on the first one only, or on every one (broadcast)."""
        listeners = session.listeners if "broadcast" in faults else session.listeners[:1]
        for queue in listeners:
            for message in messages:
                queue.put_nowait(message)

    async def listen(request: Request, session: _Session) -> Response:
        if (last := request.headers.get("last-event-id")) is not None:
            return replay(session, last)
        queue: asyncio.Queue = asyncio.Queue()
        session.listeners.append(queue)
        stream = f"get-{len(session.listeners)}"

        async def events():
            try:
                while True:
                    yield event(session, stream, await queue.get())
                    if "get-closes" in faults:
                        return
            finally:
                session.listeners.remove(queue)

        return StreamingResponse(events(), media_type="text/event-stream")

    def replay(session: _Session, last: str) -> Response:
        found = [n for n, (_stream, event_id, _message) in enumerate(session.log) if event_id == last]
        if not found:
            return Response(status_code=404)
        origin = session.log[found[0]][0]
        later = session.log[found[0] + 1 :]
        kept = later if "replay-all" in faults else [entry for entry in later if entry[0] == origin]
        body = "".join(wire(event_id, m) for _stream, event_id, m in kept)
        return Response(body, media_type="text/event-stream")

    async def mcp(request: Request) -> Response:
        session = sessions.get(request.headers.get("mcp-session-id", ""))
        if request.method == "GET":
            if session is None:
                return Response(status_code=400)
            return await listen(request, session)
        message = await json_rpc(request)
        if not isinstance(message, dict) or "id" not in message:
            return Response(status_code=202 if isinstance(message, dict) else 400)
        method = message.get("method")
        if method == "initialize":
            offered = (message.get("params") or {}).get("protocolVersion")
            revision = offered if offered in HANDSHAKE else HANDSHAKE[-1]
            result = {
                "protocolVersion": revision,
                "capabilities": {},
                "serverInfo": {"name": "streams", "version": "1"},
            }
            session_id = uuid.uuid4().hex
            sessions[session_id] = _Session()
            answer = {"jsonrpc": "2.0", "id": message["id"], "result": result}
            return JSONResponse(answer, headers={"mcp-session-id": session_id})
        hints = {"resultType": "complete", "ttlMs": 0, "cacheScope": "private"}
        if request.headers.get("mcp-protocol-version") == MODERN:
            if method == "server/discover":
                result = {**hints, "supportedVersions": [MODERN], "capabilities": {"tools": {}}}
                return JSONResponse({"jsonrpc": "2.0", "id": message["id"], "result": result})
            return answer_stream(modern_session, message, {**hints, "tools": []})
        if session is None:
            return Response(status_code=404)
        return answer_stream(session, message, {"tools": []} if method == "tools/list" else {})

    return Starlette(routes=[Route("/mcp", mcp, methods=["GET", "POST"])])


STREAM_CHECKS = [f"MCP-STREAM-00{n}" for n in range(1, 10)]
PROGRESS_CHECKS = [f"MCP-PROGRESS-00{n}" for n in range(1, 4)]


def outcomes(checks: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {rid: check["outcome"] for rid, check in sorted(checks.items())}


def test_a_careful_streaming_server_passes_the_stream_and_progress_checks(tmp_path: Path):
    """Without a fault every stream and progress check has its premise (GET streams, notifications, event ids,
    priming events, resumption, progress) and passes: the checks judge, and find nothing wrong with a server that
    keeps the rules. MCP-STREAM-008 alone does not apply: the server keeps its GET streams open."""
    checks = one_endpoint_checks(tmp_path, streaming_app(), *STREAM_CHECKS, *PROGRESS_CHECKS)
    expected = {**dict.fromkeys(sorted(checks), "passed"), "MCP-STREAM-008": "not-applicable"}
    assert outcomes(checks) == expected, checks
    assert len(checks) == 12, checks
    assert "kept its GET stream open" in checks["MCP-STREAM-008"]["reason"], checks


def test_a_careless_streaming_server_fails_the_stream_checks(tmp_path: Path):
    """MCP-STREAM-002, 003 and 004 fail (and 006 and 007 warn about) a server that copies its responses and its
    notifications onto every GET stream, sends a request's progress there, numbers each stream's events from 1
    and starts its answers without a priming event."""
    app = streaming_app("response-on-get", "broadcast", "progress-on-get", "ids-per-stream", "no-priming")
    chosen = ("MCP-STREAM-002", "MCP-STREAM-003", "MCP-STREAM-004", "MCP-STREAM-006", "MCP-STREAM-007")
    checks = one_endpoint_checks(tmp_path, app, *chosen)
    assert outcomes(checks) == {
        "MCP-STREAM-002": "failed",
        "MCP-STREAM-003": "failed",
        "MCP-STREAM-004": "failed",
        "MCP-STREAM-006": "warning",
        "MCP-STREAM-007": "warning",
    }, checks
    assert '"result"' in checks["MCP-STREAM-002"]["reason"], checks
    assert "GET stream 1 and GET stream 2" in checks["MCP-STREAM-003"]["reason"], checks
    assert "'1' on" in checks["MCP-STREAM-004"]["reason"], checks
    assert "notifications/progress" in checks["MCP-STREAM-006"]["reason"], checks
    assert "without a priming event" in checks["MCP-STREAM-007"]["reason"], checks


def test_careless_progress_and_replay_fail_their_checks(tmp_path: Path):
    """MCP-PROGRESS-001, 002 and 003 fail a server whose progress goes down, names a token no request gave and
    goes on after the response; MCP-STREAM-001 fails its 2026-07-28 answers for that foreign progress and a
    list_changed, and MCP-STREAM-009 warns about the foreign progress on its earlier revisions' answers;
    MCP-STREAM-005 fails its resumption, which replays the other answers' events too; MCP-STREAM-008
    warns about its GET streams, closed without a retry field."""
    faults = ("progress-down", "progress-foreign", "progress-late", "change-on-answer", "replay-all", "get-closes")
    chosen = ("MCP-STREAM-001", "MCP-STREAM-005", "MCP-STREAM-008", "MCP-STREAM-009", *PROGRESS_CHECKS)
    checks = one_endpoint_checks(tmp_path, streaming_app(*faults), *chosen)
    warned = {"MCP-STREAM-008": "warning", "MCP-STREAM-009": "warning"}
    assert outcomes(checks) == {**dict.fromkeys(sorted(checks), "failed"), **warned}, checks
    assert len(checks) == 7, checks
    assert "no-request-gave-this-token" in checks["MCP-STREAM-009"]["reason"], checks
    assert "without a retry field" in checks["MCP-STREAM-008"]["reason"], checks
    assert "0.5 after 1" in checks["MCP-PROGRESS-001"]["reason"], checks
    assert "no-request-gave-this-token" in checks["MCP-PROGRESS-002"]["reason"], checks
    assert "after the response" in checks["MCP-PROGRESS-003"]["reason"], checks
    assert "tools/list_changed" in checks["MCP-STREAM-001"]["reason"], checks
    assert "delivered on" in checks["MCP-STREAM-005"]["reason"], checks
