"""Streamable HTTP by hand: the transport MUSTs of requirements section 5, on raw HTTP requests.

The ``conformance`` checks talk to the public single-service endpoint of any target (or to the one MCP
endpoint of a target whose ``[paths]`` gives ``single_service_mcp`` as a fixed path: they need no SpreadAPI
tool, so they also check an MCP server that is not SpreadAPI, ``suites/mcp_official/test_server_everything.py``).
The checks of 2026-07-28 are parametrized over that one revision, so ``--mcp-revision`` leaves them out
like the other revisions' variants. The others pin
what the reference (the SDK behind it) answers where the specification leaves the status open
(406 for a bad Accept, 421 for a foreign Host, 413, 503 without the lifespan).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from ._support import (
    JSON_RPC_HEADERS,
    LATEST,
    MODERN,
    RawSession,
    answer,
    initialize_message,
    messages,
    modern_request,
    open_mcp_path,
    request_message,
    said,
    service_path,
)

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
        pytest.skip("the server does not use sessions")
    return session


def own_origin(target: Any) -> str:
    parts = urlsplit(target.base_url)
    return f"{parts.scheme}://{parts.netloc}"


# -- lifecycle -------------------------------------------------------------------------------------


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
        pytest.skip("the server does not let clients end sessions (405)")
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


# -- JSON-RPC envelope -----------------------------------------------------------------------------


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


# -- GET, other methods, 2026-07-28 ----------------------------------------------------------------


async def serves_modern(client: httpx.AsyncClient, path: str) -> None:
    """The control of the 2026-07-28 checks: server/discover, well formed, is answered and offers 2026-07-28
    (a server that refuses the revision outright would otherwise pass the checks that expect a 400)."""
    message, headers = modern_request("server/discover")
    discovered = await client.post(path, json=message, headers=headers)
    refused = f"the server does not serve {MODERN}: server/discover answered {said(discovered)}"
    assert discovered.status_code == 200, refused
    assert MODERN in answer(discovered, 1)["result"].get("supportedVersions", []), refused


@conformance
async def test_get_without_a_session(mcp_target, client):
    """MCP-HTTP-030 MUST: GET is either a text/event-stream (here: not without a session, 400) or 405."""
    response = await client.get(public_path(mcp_target), headers={"accept": "text/event-stream"})
    assert response.status_code in (400, 405), said(response)


@conformance
@pytest.mark.parametrize("revision", [MODERN])
async def test_get_at_2026_07_28_is_405(mcp_target, client, revision):
    """MCP-HTTP-031 MUST: at 2026-07-28 there is no GET stream: 405 with an Allow header."""
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


# -- what the reference answers where the specification leaves it open -----------------------------


async def test_accept_must_list_json_and_sse(reference, http):
    """MCP-HTTP-040: the reference (SSE responses) answers 406 unless Accept lists both JSON and SSE."""
    path = service_path("loan-calculator")
    for accept in ("application/json", "text/event-stream", "text/html"):
        response = await http.post(path, json=initialize_message(), headers={**JSON_RPC_HEADERS, "accept": accept})
        assert response.status_code == 406, (accept, response.text)
    ok = await http.post(path, json=initialize_message(), headers={**JSON_RPC_HEADERS, "accept": "*/*"})
    assert ok.status_code == 200 and ok.headers["content-type"].startswith("text/event-stream")


async def test_content_type_must_be_json(reference, http):
    """MCP-HTTP-041: a POST whose Content-Type is not application/json is refused with 400."""
    response = await http.post(
        service_path("loan-calculator"),
        content=b'{"jsonrpc": "2.0", "id": 1, "method": "ping"}',
        headers={**JSON_RPC_HEADERS, "content-type": "text/plain"},
    )
    assert response.status_code in (400, 415), response.text


async def test_foreign_host_is_421(reference, http):
    """MCP-HTTP-042: a Host the deployment is not configured for is 421 (the SDK's DNS-rebinding check)."""
    response = await http.post(
        "http://evil.example" + service_path("loan-calculator"), json=initialize_message(), headers=JSON_RPC_HEADERS
    )
    assert response.status_code == 421, response.text


async def test_other_http_methods_are_405(reference, http):
    """MCP-HTTP-043: PUT and PATCH on an endpoint are 405 with Allow: GET, POST, DELETE."""
    for method in ("PUT", "PATCH"):
        response = await http.request(method, service_path("loan-calculator"), headers=JSON_RPC_HEADERS)
        assert response.status_code == 405, (method, response.text)
        assert "POST" in response.headers.get("allow", "")


async def test_body_too_large_is_413(reference, http):
    """MCP-HTTP-044: a body over 4 MiB is 413, before it is parsed."""
    big = b'{"jsonrpc": "2.0", "id": 1, "method": "ping", "pad": "' + b"x" * (4 * 1024 * 1024) + b'"}'
    response = await http.post(service_path("loan-calculator"), content=big, headers=JSON_RPC_HEADERS)
    assert response.status_code == 413, response.status_code


async def test_session_is_bound_to_endpoint_and_credential(reference, http):
    """MCP-HTTP-045: a session id only works on the endpoint, and with the credential, that opened it (404
    otherwise, as for an unknown session)."""
    session = RawSession(http, service_path("loan-calculator"))
    await session.open()
    elsewhere = await http.post(
        service_path("edge-cases"), json=request_message("tools/list"), headers=session.headers()
    )
    assert elsewhere.status_code == 404, elsewhere.text

    first = await reference.app.state.service_tokens.issue("quote", name="first")
    second = await reference.app.state.service_tokens.issue("quote", name="second")
    private = RawSession(http, service_path("quote"), {"authorization": f"Bearer {first.token}"})
    await private.open()
    assert (await private.call("tools/list"))["result"]["tools"]
    other = await private.post(request_message("tools/list"), authorization=f"Bearer {second.token}")
    assert other.status_code == 404, other.text


async def test_sse_answer_carries_the_response(reference, http):
    """MCP-HTTP-046: the reference answers requests as SSE whose events carry the JSON-RPC response."""
    session = RawSession(http, service_path("loan-calculator"))
    await session.open()
    response = await session.post(request_message("ping", 9))
    assert response.headers["content-type"].startswith("text/event-stream")
    assert answer(response, 9)["result"] == {}
    assert all(m.get("jsonrpc") == "2.0" for m in messages(response))


async def test_without_lifespan_the_endpoints_are_503(shared_reference):
    """MCP-HTTP-047: an app whose lifespan is not running answers 503 instead of crashing (the REST API works)."""
    transport = httpx.ASGITransport(app=shared_reference.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as bare:
        response = await bare.post(service_path("loan-calculator"), json=initialize_message(), headers=JSON_RPC_HEADERS)
        assert response.status_code == 503, response.text
        assert (await bare.get("/api/v1/services")).status_code == 200


async def test_modern_notification_is_202(reference, http):
    """MCP-HTTP-048: at 2026-07-28 a notification POST is acknowledged 202 with no body."""
    _message, headers = modern_request("tools/list")
    response = await http.post(
        service_path("loan-calculator"), json={"jsonrpc": "2.0", "method": "notifications/cancelled"}, headers=headers
    )
    assert response.status_code == 202 and response.content == b"", response.text


async def test_served_behind_a_hostname():
    """MCP-HTTP-049: with --base-url https://mcp.example.com the endpoints accept that Host and Origin (and
    loopback), refuse others (421 / 403), and the challenge points at metadata on the configured URL."""
    from spreadapi_conformance.reference.app import create_reference
    from spreadapi_conformance.reference.config import ReferenceConfig

    from ._support import challenge, running

    reference = await create_reference(ReferenceConfig(base_url="https://mcp.example.com", warm_up=False))
    async with running(reference.app):
        transport = httpx.ASGITransport(app=reference.app)
        async with httpx.AsyncClient(transport=transport, base_url="https://mcp.example.com") as http:
            path = service_path("loan-calculator")
            headers = {**JSON_RPC_HEADERS, "origin": "https://mcp.example.com"}
            assert (await http.post(path, json=initialize_message(), headers=headers)).status_code == 200
            local = {**JSON_RPC_HEADERS, "host": "127.0.0.1:8787", "origin": "http://localhost:5173"}
            assert (await http.post(path, json=initialize_message(), headers=local)).status_code == 200
            foreign = {**JSON_RPC_HEADERS, "host": "mcp.example.com.evil.example"}
            assert (await http.post(path, json=initialize_message(), headers=foreign)).status_code == 421
            other_origin = {**JSON_RPC_HEADERS, "origin": "https://mcp.example.com.evil.example"}
            assert (await http.post(path, json=initialize_message(), headers=other_origin)).status_code == 403
            denied = await http.post(service_path("quote"), json=initialize_message(), headers=JSON_RPC_HEADERS)
            _scheme, params = challenge(denied)
            assert params["resource_metadata"] == (
                "https://mcp.example.com/.well-known/oauth-protected-resource/api/mcp/services/quote"
            )


async def test_whitespace_around_header_values_is_ignored(reference, http):
    """MCP-HTTP-050: optional whitespace around a header value is not part of it (RFC 9110 §5.5), so a padded
    Mcp-Name still matches the body."""
    message, headers = modern_request("tools/call", 3, name="spreadapi_get_details", arguments={})
    headers = {**headers, "mcp-name": "  spreadapi_get_details\t", "mcp-method": " tools/call "}
    response = await http.post(service_path("loan-calculator"), json=message, headers=headers)
    assert response.status_code == 200, response.text
    assert answer(response, 3)["result"]["structuredContent"]["serviceId"] == "loan-calculator"
