"""The reference's Streamable HTTP endpoints where the specification leaves the answer open, pinned to
what the reference (the MCP SDK behind it) answers: 406 for a bad Accept, 421 for a foreign Host, 405 for
PUT, 413, 503 without the lifespan, sessions bound to their endpoint and credential. The transport's
rules that bind any server are checks (``checks/mcp/test_http.py``, MCP-HTTP).
"""

from __future__ import annotations

import httpx

from spreadapi_conformance.checks.mcp._support import (
    JSON_RPC_HEADERS,
    RawSession,
    answer,
    initialize_message,
    messages,
    modern_request,
    request_message,
    service_path,
)


async def test_accept_must_list_json_and_sse(reference, http):
    """The reference (SSE responses) answers 406 unless Accept lists both JSON and SSE."""
    path = service_path("loan-calculator")
    for accept in ("application/json", "text/event-stream", "text/html"):
        response = await http.post(path, json=initialize_message(), headers={**JSON_RPC_HEADERS, "accept": accept})
        assert response.status_code == 406, (accept, response.text)
    ok = await http.post(path, json=initialize_message(), headers={**JSON_RPC_HEADERS, "accept": "*/*"})
    assert ok.status_code == 200 and ok.headers["content-type"].startswith("text/event-stream")


async def test_content_type_must_be_json(reference, http):
    """A POST whose Content-Type is not application/json is refused with 400."""
    response = await http.post(
        service_path("loan-calculator"),
        content=b'{"jsonrpc": "2.0", "id": 1, "method": "ping"}',
        headers={**JSON_RPC_HEADERS, "content-type": "text/plain"},
    )
    assert response.status_code in (400, 415), response.text


async def test_foreign_host_is_421(reference, http):
    """A Host the deployment is not configured for is 421 (the SDK's DNS-rebinding check)."""
    response = await http.post(
        "http://evil.example" + service_path("loan-calculator"), json=initialize_message(), headers=JSON_RPC_HEADERS
    )
    assert response.status_code == 421, response.text


async def test_other_http_methods_are_405(reference, http):
    """PUT and PATCH on an endpoint are 405 with Allow: GET, POST, DELETE."""
    for method in ("PUT", "PATCH"):
        response = await http.request(method, service_path("loan-calculator"), headers=JSON_RPC_HEADERS)
        assert response.status_code == 405, (method, response.text)
        assert "POST" in response.headers.get("allow", "")


async def test_body_too_large_is_413(reference, http):
    """A body over 4 MiB is 413, before it is parsed."""
    big = b'{"jsonrpc": "2.0", "id": 1, "method": "ping", "pad": "' + b"x" * (4 * 1024 * 1024) + b'"}'
    response = await http.post(service_path("loan-calculator"), content=big, headers=JSON_RPC_HEADERS)
    assert response.status_code == 413, response.status_code


async def test_session_is_bound_to_endpoint_and_credential(reference, http):
    """A session id only works on the endpoint, and with the credential, that opened it (404
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
    """The reference answers requests as SSE whose events carry the JSON-RPC response."""
    session = RawSession(http, service_path("loan-calculator"))
    await session.open()
    response = await session.post(request_message("ping", 9))
    assert response.headers["content-type"].startswith("text/event-stream")
    assert answer(response, 9)["result"] == {}
    assert all(m.get("jsonrpc") == "2.0" for m in messages(response))


async def test_without_lifespan_the_endpoints_are_503(shared_reference):
    """An app whose lifespan is not running answers 503 instead of crashing (the REST API works)."""
    transport = httpx.ASGITransport(app=shared_reference.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as bare:
        response = await bare.post(service_path("loan-calculator"), json=initialize_message(), headers=JSON_RPC_HEADERS)
        assert response.status_code == 503, response.text
        assert (await bare.get("/api/v1/services")).status_code == 200


async def test_modern_notification_is_202(reference, http):
    """At 2026-07-28 a notification POST is acknowledged 202 with no body."""
    _message, headers = modern_request("tools/list")
    response = await http.post(
        service_path("loan-calculator"), json={"jsonrpc": "2.0", "method": "notifications/cancelled"}, headers=headers
    )
    assert response.status_code == 202 and response.content == b"", response.text


async def test_served_behind_a_hostname():
    """With --base-url https://mcp.example.com the endpoints accept that Host and Origin (and
    loopback), refuse others (421 / 403), and the challenge points at metadata on the configured URL."""
    from spreadapi_conformance.checks.mcp._support import challenge, running
    from spreadapi_conformance.reference.app import create_reference
    from spreadapi_conformance.reference.config import ReferenceConfig

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
    """Optional whitespace around a header value is not part of it (RFC 9110 §5.5), so a padded
    Mcp-Name still matches the body."""
    message, headers = modern_request("tools/call", 3, name="spreadapi_get_details", arguments={})
    headers = {**headers, "mcp-name": "  spreadapi_get_details\t", "mcp-method": " tools/call "}
    response = await http.post(service_path("loan-calculator"), json=message, headers=headers)
    assert response.status_code == 200, response.text
    assert answer(response, 3)["result"]["structuredContent"]["serviceId"] == "loan-calculator"
