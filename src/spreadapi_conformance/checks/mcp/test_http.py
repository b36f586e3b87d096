"""MCP-HTTP: Streamable HTTP by hand: the transport's rules on raw HTTP requests (MCP transports and
lifecycle of each revision), and the handshake through the SDK client.

The checks talk to the public single-service endpoint of any target (or to the one MCP endpoint of a target
whose ``[paths]`` gives ``single_service_mcp`` as a fixed path: they need no SpreadAPI tool, so they also
check an MCP server that is not SpreadAPI). The checks of 2026-07-28 are parametrized over that one
revision, so ``--spreadapi-mcp-revision`` (certify ``--mcp-revision``) leaves them out like the other
revisions' variants.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from ..premise import not_applicable
from ._support import (
    JSON_RPC_HEADERS,
    LATEST,
    MODERN,
    REVISIONS,
    SERVICE_TOOLS,
    RawSession,
    answer,
    initialize_message,
    instructions,
    modern_request,
    open_mcp_path,
    request_message,
    said,
    service_session,
)

pytestmark = pytest.mark.conformance


conformance = pytest.mark.conformance


def public_path(target: Any) -> str:
    return open_mcp_path(target)


async def opened(client: httpx.AsyncClient, target: Any) -> RawSession:
    session = RawSession(client, public_path(target))
    await session.open()
    return session


async def opened_with_session(client: httpx.AsyncClient, target: Any) -> RawSession:
    """An initialized session whose server issued a session id (the session checks skip without one)."""
    session = await opened(client, target)
    if session.session_id is None:
        not_applicable("the server does not use sessions")
    return session


def own_origin(target: Any) -> str:
    parts = urlsplit(target.base_url)
    return f"{parts.scheme}://{parts.netloc}"


async def serves_modern(client: httpx.AsyncClient, path: str) -> None:
    """The control of the 2026-07-28 checks: server/discover, well formed, is answered and offers 2026-07-28
    (a server that refuses the revision outright would otherwise pass the checks that expect a 400)."""
    message, headers = modern_request("server/discover")
    discovered = await client.post(path, json=message, headers=headers)
    refused = f"the server does not serve {MODERN}: server/discover answered {said(discovered)}"
    assert discovered.status_code == 200, refused
    assert MODERN in answer(discovered, 1)["result"].get("supportedVersions", []), refused


@pytest.mark.parametrize("revision", REVISIONS)
@pytest.mark.parametrize("fixture_id", ["loan-calculator", "quote"])
async def test_handshake_at_each_revision(mcp_target, fixture_id, revision):
    """MCP-HTTP-001 MUST: the endpoint negotiates every revision the SDK offers (2024-11-05 to 2026-07-28), names
    the service and gives instructions; tools are advertised."""
    service = mcp_target.fixture(fixture_id)
    async with service_session(mcp_target, fixture_id, revision) as s:
        assert s.protocol_version == revision
        assert s.server_capabilities is not None and s.server_capabilities.tools is not None
        text = instructions(s)
        assert service.title in text, text
        assert all(spec.name in text for spec in service.inputs if spec.mandatory), text
        listing = await s.list_tools()
        assert [t.name for t in listing.tools] == SERVICE_TOOLS


@conformance
@pytest.mark.parametrize("revision", ["2025-03-26", "2025-06-18", LATEST])
async def test_initialize_answers_with_a_session(mcp_target, client, revision):
    """MCP-HTTP-010 MUST: initialize is answered (JSON or SSE) with the offered revision and, when the server
    keeps sessions, an Mcp-Session-Id of visible ASCII only (0x21-0x7E)."""
    response = await client.post(public_path(mcp_target), json=initialize_message(revision), headers=JSON_RPC_HEADERS)
    assert response.status_code == 200, said(response)
    kind = response.headers["content-type"]
    assert kind.startswith(("application/json", "text/event-stream")), kind
    result = answer(response, 1)["result"]
    assert result["protocolVersion"] == revision
    assert result["serverInfo"]["name"] and isinstance(result["capabilities"].get("tools"), dict)
    session_id = response.headers.get("mcp-session-id")
    if session_id is not None:
        assert re.fullmatch(r"[\x21-\x7e]+", session_id), repr(session_id)


@conformance
async def test_unsupported_revision_gets_a_counter_offer(mcp_target, client):
    """MCP-HTTP-011 MUST: initialize offering an unknown revision is answered with one the server supports."""
    response = await client.post(
        public_path(mcp_target), json=initialize_message("1999-01-01"), headers=JSON_RPC_HEADERS
    )
    assert response.status_code == 200, said(response)
    assert answer(response, 1)["result"]["protocolVersion"] in ("2025-06-18", "2025-11-25", "2025-03-26")


@conformance
async def test_notification_is_accepted_without_body(mcp_target, client):
    """MCP-HTTP-012 MUST: a notification (and a client's response) POSTed is answered 202 Accepted, no body."""
    session = await opened(client, mcp_target)
    for message in (
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 99}},
        {"jsonrpc": "2.0", "id": "server-1", "result": {}},
    ):
        response = await session.post(message)
        assert response.status_code == 202, (message, said(response))
        assert response.content == b"", (message, said(response))


@conformance
async def test_session_id_is_required_after_initialize(mcp_target, client):
    """MCP-HTTP-013 SHOULD: with sessions in use, a request without Mcp-Session-Id is 400."""
    session = await opened_with_session(client, mcp_target)
    response = await session.post(request_message("tools/list"), **{"mcp-session-id": None})
    assert response.status_code == 400, said(response)


@conformance
async def test_unknown_session_is_404(mcp_target, client):
    """MCP-HTTP-014 MUST: a request with a session id the server does not know is 404."""
    session = await opened_with_session(client, mcp_target)
    response = await session.post(request_message("tools/list"), **{"mcp-session-id": "0" * 32})
    assert response.status_code == 404, said(response)


@conformance
async def test_delete_ends_the_session(mcp_target, client):
    """MCP-HTTP-015 MUST: DELETE with the session id ends it (2xx, or 405 if unsupported); afterwards 404."""
    session = await opened_with_session(client, mcp_target)
    assert (await session.call("tools/list"))["result"]["tools"]
    deleted = await client.delete(public_path(mcp_target), headers=session.headers())
    if deleted.status_code == 405:
        not_applicable("the server does not let clients end sessions (405)")
    assert 200 <= deleted.status_code < 300, said(deleted)
    after = await session.post(request_message("tools/list", 3))
    assert after.status_code == 404, said(after)


@conformance
async def test_protocol_version_header_is_validated(mcp_target, client):
    """MCP-HTTP-016 MUST: an invalid or unsupported MCP-Protocol-Version is 400; the negotiated one works."""
    session = await opened(client, mcp_target)
    for bad in ("1999-01-01", "latest", "2025-13-45"):
        response = await session.post(request_message("tools/list"), **{"mcp-protocol-version": bad})
        assert response.status_code == 400, (bad, said(response))
    assert (await session.call("tools/list"))["result"]["tools"]


@conformance
async def test_missing_protocol_version_header_is_tolerated(mcp_target, client):
    """MCP-HTTP-017 SHOULD: without MCP-Protocol-Version the server assumes 2025-03-26 and still answers."""
    session = await opened(client, mcp_target)
    response = await session.post(request_message("tools/list"), **{"mcp-protocol-version": None})
    assert response.status_code == 200, said(response)
    assert answer(response, 2)["result"]["tools"]


@conformance
async def test_invalid_origin_is_403(mcp_target, client):
    """MCP-HTTP-018 MUST: a request with an Origin the server does not serve is 403 (DNS rebinding); its own
    origin is accepted."""
    path = public_path(mcp_target)
    bad = await client.post(
        path, json=initialize_message(), headers={**JSON_RPC_HEADERS, "origin": "https://evil.example"}
    )
    assert bad.status_code == 403, said(bad)
    good = await client.post(
        path, json=initialize_message(), headers={**JSON_RPC_HEADERS, "origin": own_origin(mcp_target)}
    )
    assert good.status_code == 200, said(good)


@conformance
async def test_malformed_json_is_parse_error(mcp_target, client):
    """MCP-HTTP-020 MUST: a body that is not JSON is a 4xx with JSON-RPC error -32700 and id null."""
    session = await opened(client, mcp_target)
    for body in (b"{not json", b'{"jsonrpc": "2.0", "id": 1, "method": ', b"\xff\xfe"):
        response = await session.post(body)
        assert 400 <= response.status_code < 500, (body, said(response))
        error = response.json()
        assert error["error"]["code"] == -32700 and error["id"] is None, error


@conformance
@pytest.mark.parametrize("bad_id", [None, True, 1.5, {"n": 1}, [1]], ids=["null", "bool", "float", "object", "array"])
async def test_request_id_must_be_string_or_integer(mcp_target, client, bad_id):
    """MCP-HTTP-021 MUST: a request whose id is null, boolean, fractional or structured is an Invalid Request
    (-32600, id null), never silently accepted as a notification."""
    session = await opened(client, mcp_target)
    response = await session.post({"jsonrpc": "2.0", "id": bad_id, "method": "tools/list"})
    assert 400 <= response.status_code < 500, said(response)
    error = response.json()
    assert error["error"]["code"] == -32600 and error["id"] is None, error


@conformance
@pytest.mark.parametrize("good_id", ["abc-1", "", 0, -7, 2**53 - 1])
async def test_request_id_is_echoed(mcp_target, client, good_id):
    """MCP-HTTP-022 MUST: string and integer ids are echoed exactly in the response."""
    session = await opened(client, mcp_target)
    reply = await session.call("tools/list", good_id)
    assert reply["id"] == good_id and type(reply["id"]) is type(good_id)


@conformance
@pytest.mark.parametrize(
    "body",
    [
        [request_message("tools/list")],
        {"id": 5, "method": "tools/list"},
        {"jsonrpc": "1.0", "id": 5, "method": "tools/list"},
        "tools/list",
    ],
    ids=["batch", "no-jsonrpc", "jsonrpc-1.0", "string"],
)
async def test_not_a_single_request_is_invalid(mcp_target, client, body):
    """MCP-HTTP-023 MUST: a batch (removed in 2025-06-18), a message without jsonrpc "2.0", or a JSON value that
    is no message is refused with 4xx and JSON-RPC -32600 or -32602."""
    session = await opened(client, mcp_target)
    response = await session.post(body)
    assert 400 <= response.status_code < 500, said(response)
    assert response.json()["error"]["code"] in (-32600, -32602), said(response)


@conformance
async def test_unknown_method_over_http(mcp_target, client):
    """MCP-HTTP-024 MUST: an unknown method is answered with its id and error -32601."""
    session = await opened(client, mcp_target)
    reply = await session.call("spreadapi/nothing", 7)
    assert reply["id"] == 7 and reply["error"]["code"] == -32601, reply


@conformance
async def test_get_without_a_session(mcp_target, client):
    """MCP-HTTP-030 MUST: GET is either a text/event-stream (here: not without a session, 400) or 405."""
    response = await client.get(public_path(mcp_target), headers={"accept": "text/event-stream"})
    assert response.status_code in (400, 405), said(response)


@conformance
@pytest.mark.parametrize("revision", [MODERN])
async def test_get_at_2026_07_28_is_405(mcp_target, client, revision):
    """MCP-HTTP-031 SHOULD: at 2026-07-28 there is no GET stream: 405 with an Allow header."""
    response = await client.get(
        public_path(mcp_target), headers={"accept": "text/event-stream", "mcp-protocol-version": MODERN}
    )
    assert response.status_code == 405, said(response)
    assert "POST" in response.headers.get("allow", ""), response.headers


@conformance
@pytest.mark.parametrize("revision", [MODERN])
async def test_modern_request_is_a_single_exchange(mcp_target, client, revision):
    """MCP-HTTP-032 MUST: a 2026-07-28 request (with its _meta envelope and Mcp-Method) is answered in one
    exchange, without a session, and the result says resultType complete."""
    path = public_path(mcp_target)
    await serves_modern(client, path)
    message, headers = modern_request("tools/list", 2)
    response = await client.post(path, json=message, headers=headers)
    assert response.status_code == 200, said(response)
    assert "mcp-session-id" not in response.headers
    result = answer(response, 2)["result"]
    assert result["resultType"] == "complete" and isinstance(result["tools"], list), result


@conformance
@pytest.mark.parametrize("revision", [MODERN])
async def test_modern_request_without_envelope_is_400(mcp_target, client, revision):
    """MCP-HTTP-033 MUST: a 2026-07-28 request without the _meta envelope is 400 with a JSON-RPC error."""
    await serves_modern(client, public_path(mcp_target))
    _message, headers = modern_request("tools/list")
    response = await client.post(public_path(mcp_target), json=request_message("tools/list", 4), headers=headers)
    assert response.status_code == 400, said(response)
    assert answer(response, 4)["error"]["code"] in (-32600, -32602), said(response)


@conformance
@pytest.mark.parametrize("revision", [MODERN])
async def test_modern_method_header_must_match(mcp_target, client, revision):
    """MCP-HTTP-034 MUST: at 2026-07-28 an Mcp-Method header that disagrees with the body is 400."""
    await serves_modern(client, public_path(mcp_target))
    message, headers = modern_request("tools/list")
    response = await client.post(public_path(mcp_target), json=message, headers={**headers, "mcp-method": "ping"})
    assert response.status_code == 400, said(response)
