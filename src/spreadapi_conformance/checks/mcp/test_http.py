"""MCP-HTTP: Streamable HTTP by hand: the transport's rules on raw HTTP requests (MCP transports and
lifecycle of each revision), and the handshake through the SDK client.

The transport checks talk to one MCP endpoint of any target (``_support.transport_endpoint``): the one
endpoint of a target whose ``[paths]`` gives ``single_service_mcp`` as a fixed path, with the bearer
credential of ``[credentials]`` when it needs one (an MCP server that is not SpreadAPI), else a published
service's single-service endpoint; they need no SpreadAPI tool. Their premises: the kit can open the
endpoint (a 401 without a credential makes them not applicable), and a revision's checks apply when the
server negotiates that revision or the target file claims it (``mcp_revisions``): a server that answers an
offer of 2025-03-26 with 2025-06-18 made a correct counter-offer. The checks of 2026-07-28 are parametrized
over that one revision, so ``--spreadapi-mcp-revision`` (certify ``--mcp-revision``) leaves them out like
the other revisions' variants.

MCP-HTTP-039..044 judge every message of one ordinary transcript (``_support.transcript``: what a client sends,
good and bad, in a handshake-era session and at 2026-07-28 when served), so a rule about every message (result
or error, notifications without id, ``_meta`` key names, UTF-8, defined error codes, log messages) is judged on
errors and results alike; the transcript calls no tool for real but spreadapi_get_details, which only describes.
MCP-HTTP-049 and 052 judge its 2026-07-28 answers too (trace context and serverInfo in ``_meta``); MCP-HTTP-051 opens
a session at each handshake revision the server negotiates and judges its answers by what that revision defines.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import pytest

from ..premise import control_failed, not_applicable
from ._support import (
    JSON_RPC_HEADERS,
    LATEST,
    MODERN,
    NO_SUCH_TOOL,
    READ_ONLY_TOOL,
    REVISIONS,
    SERVICE_TOOLS,
    Endpoint,
    Exchange,
    RawSession,
    answer,
    capabilities_of,
    initialize_message,
    instructions,
    messages,
    modern_premise,
    modern_request,
    request_message,
    result,
    revision_premise,
    rpc_error,
    said,
    service_session,
    tool_names,
    transcript,
    transport_endpoint,
)

if TYPE_CHECKING:
    from ..target import Target


pytestmark = pytest.mark.conformance


async def opened(client: httpx.AsyncClient, target: Target) -> tuple[Endpoint, RawSession]:
    endpoint = await transport_endpoint(client, target)
    session = RawSession(client, endpoint.path, endpoint.headers)
    await session.open()
    return endpoint, session


async def opened_with_session(client: httpx.AsyncClient, target: Target) -> tuple[Endpoint, RawSession]:
    """An initialized session whose server issued a session id (premise of the session checks)."""
    endpoint, session = await opened(client, target)
    if session.session_id is None:
        not_applicable("the server issues no session ids (Mcp-Session-Id): it keeps no sessions")
    return endpoint, session


async def post(client: httpx.AsyncClient, endpoint: Endpoint, message: Any, **headers: str) -> httpx.Response:
    return await client.post(endpoint.path, json=message, headers={**JSON_RPC_HEADERS, **endpoint.headers, **headers})


def own_origin(target: Target) -> str:
    parts = urlsplit(target.base_url)
    return f"{parts.scheme}://{parts.netloc}"


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


@pytest.mark.parametrize("revision", ["2025-03-26", "2025-06-18", LATEST])
async def test_initialize_answers_with_a_session(mcp_target, client, revision):
    """MCP-HTTP-010 MUST: initialize is answered (JSON or SSE) with the offered revision and, when the server
    keeps sessions, an Mcp-Session-Id of visible ASCII only (0x21-0x7E)."""
    endpoint = await transport_endpoint(client, mcp_target)
    response = await post(client, endpoint, initialize_message(revision))
    assert response.status_code == 200, said(response)
    opened = result(response, 1)
    revision_premise(mcp_target, revision, opened.get("protocolVersion"))
    assert opened["protocolVersion"] == revision, said(response)
    info, capabilities = opened.get("serverInfo"), opened.get("capabilities")
    assert isinstance(info, dict) and info.get("name"), f"initialize named no server: {said(response)}"
    assert isinstance(capabilities, dict), f"initialize gave no capabilities object: {said(response)}"
    session_id = response.headers.get("mcp-session-id")
    if session_id is not None:
        assert re.fullmatch(r"[\x21-\x7e]+", session_id), repr(session_id)


async def test_unsupported_revision_gets_a_counter_offer(mcp_target, client):
    """MCP-HTTP-011 MUST: initialize offering an unknown revision is answered with another revision the
    server supports."""
    endpoint = await transport_endpoint(client, mcp_target)
    response = await post(client, endpoint, initialize_message("1999-01-01"))
    assert response.status_code == 200, said(response)
    offered = result(response, 1).get("protocolVersion")
    assert offered in REVISIONS, f"the counter-offer {offered!r} is no MCP revision: {said(response)}"


async def test_notification_is_accepted_without_body(mcp_target, client):
    """MCP-HTTP-012 MUST: a notification POSTed is answered 202 Accepted with no body; one the server cannot
    accept (a cancellation of nothing, a response to nothing) is 202 or an HTTP error, never a result."""
    _endpoint, session = await opened(client, mcp_target)
    response = await session.post({"jsonrpc": "2.0", "method": "notifications/initialized"})
    assert response.status_code == 202, said(response)
    assert response.content == b"", said(response)
    for message in (
        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 99}},
        {"jsonrpc": "2.0", "id": "server-1", "result": {}},
    ):
        response = await session.post(message)
        if response.status_code == 202:
            assert response.content == b"", (message, said(response))
        else:
            assert 400 <= response.status_code < 600, (message, said(response))


async def test_session_id_is_required_after_initialize(mcp_target, client):
    """MCP-HTTP-013 SHOULD: a server that requires its session id answers a request without it with 400."""
    _endpoint, session = await opened_with_session(client, mcp_target)
    response = await session.post(request_message("tools/list"), **{"mcp-session-id": None})
    if response.status_code == 200:
        not_applicable("the server answers without its session id: it issues session ids but does not require them")
    assert response.status_code == 400, said(response)


async def test_unknown_session_is_404(mcp_target, client):
    """MCP-HTTP-014 MUST: a request with a session id the server does not know (never issued, or ended) is
    404."""
    _endpoint, session = await opened_with_session(client, mcp_target)
    response = await session.post(request_message("tools/list"), **{"mcp-session-id": "0" * 32})
    assert response.status_code == 404, said(response)


async def test_delete_ends_the_session(mcp_target, client):
    """MCP-HTTP-015 MUST: DELETE with the session id ends it (2xx, or 405 if unsupported); afterwards 404."""
    endpoint, session = await opened_with_session(client, mcp_target)
    listed = await session.call("tools/list")
    assert "result" in listed, f"tools/list: {listed}"
    deleted = await client.delete(endpoint.path, headers=session.headers())
    if deleted.status_code == 405:
        not_applicable("the server does not let clients end sessions (405)")
    assert 200 <= deleted.status_code < 300, said(deleted)
    after = await session.post(request_message("tools/list", 3))
    assert after.status_code == 404, said(after)


async def test_protocol_version_header_is_validated(mcp_target, client):
    """MCP-HTTP-016 MUST: an invalid or unsupported MCP-Protocol-Version is 400; the negotiated one works."""
    endpoint, session = await opened(client, mcp_target)
    revision_premise(mcp_target, LATEST, endpoint.revision)  # the header is validated from 2025-06-18 on
    for bad in ("1999-01-01", "latest", "2025-13-45"):
        response = await session.post(request_message("tools/list"), **{"mcp-protocol-version": bad})
        assert response.status_code == 400, (bad, said(response))
    assert "result" in await session.call("tools/list")


async def test_ping_is_answered(mcp_target, client):
    """MCP-HTTP-019 MUST: after initialize, ping is answered with an empty result (2025-06-18 and 2025-11-25
    utilities, ping)."""
    _endpoint, session = await opened(client, mcp_target)  # initialize-based revisions all define ping
    answered = await session.call("ping", 7)
    assert answered.get("result") == {}, f"ping: {answered}"


async def test_missing_protocol_version_header_is_tolerated(mcp_target, client):
    """MCP-HTTP-017 SHOULD: without MCP-Protocol-Version the server assumes 2025-03-26 and still answers."""
    _endpoint, session = await opened(client, mcp_target)
    response = await session.post(request_message("tools/list"), **{"mcp-protocol-version": None})
    assert response.status_code == 200, said(response)
    result(response, 2)


async def test_invalid_origin_is_403(mcp_target, client):
    """MCP-HTTP-018 MUST: a request with an Origin the server does not serve is 403 (DNS rebinding); its own
    origin is accepted."""
    endpoint = await transport_endpoint(client, mcp_target)
    revision_premise(mcp_target, LATEST, endpoint.revision)  # the 403 is 2025-11-25's rule
    bad = await post(client, endpoint, initialize_message(), origin="https://evil.example")
    assert bad.status_code == 403, said(bad)
    good = await post(client, endpoint, initialize_message(), origin=own_origin(mcp_target))
    assert good.status_code == 200, said(good)


def refused(response: httpx.Response) -> dict[str, Any] | None:
    """The message was refused: an HTTP error (4xx; its body MAY be a JSON-RPC error), or a JSON-RPC error
    response; never a 5xx, an acceptance (202) or a result. The JSON-RPC error, when there is one."""
    assert response.status_code < 500, f"a 5xx instead of a refusal: {said(response)}"
    assert response.status_code != 202, f"accepted as if it were a notification: {said(response)}"
    if 400 <= response.status_code < 500:
        try:
            return rpc_error(response)
        except AssertionError:
            return None  # an HTTP error with a body of its own (MCP transports: the JSON-RPC body is a MAY)
    return rpc_error(response)


MALFORMED = (b"{not json", b'{"jsonrpc": "2.0", "id": 1, "method": ', b"\xff\xfe")
BAD_IDS = {"null": None, "bool": True, "float": 1.5, "object": {"n": 1}, "array": [1]}
NOT_A_REQUEST = {
    "no-jsonrpc": {"id": 5, "method": "tools/list"},
    "jsonrpc-1.0": {"jsonrpc": "1.0", "id": 5, "method": "tools/list"},
    "string": "tools/list",
}


async def test_malformed_json_is_parse_error(mcp_target, client):
    """MCP-HTTP-020 MUST: a body that is not JSON is refused (an HTTP error, or a JSON-RPC error), never a 5xx,
    an acceptance or a result."""
    _endpoint, session = await opened(client, mcp_target)
    for body in MALFORMED:
        refused(await session.post(body))


@pytest.mark.parametrize("bad_id", list(BAD_IDS.values()), ids=list(BAD_IDS))
async def test_request_id_must_be_string_or_integer(mcp_target, client, bad_id):
    """MCP-HTTP-021 MUST: a request whose id is null, boolean, fractional or structured is refused as an invalid
    request, never silently accepted as a notification or answered with a result."""
    _endpoint, session = await opened(client, mcp_target)
    refused(await session.post({"jsonrpc": "2.0", "id": bad_id, "method": "tools/list"}))


async def test_malformed_messages_get_the_json_rpc_codes(mcp_target, client):
    """MCP-HTTP-025 MUST: a JSON-RPC error answering a malformed message has the code JSON-RPC 2.0 defines for
    it: -32700 (and id null) for a body that is not JSON, -32600 (or -32602) for a message that is no valid
    request."""
    _endpoint, session = await opened(client, mcp_target)
    wrong = []
    for body in MALFORMED:
        error = refused(await session.post(body))
        if error is not None and (error["code"], error["id"]) != (-32700, None):
            wrong.append(f"{body!r}: code {error['code']}, id {error['id']!r} (expected -32700, null)")
    for name, message in [
        *((f"id {k}", {"jsonrpc": "2.0", "id": v, "method": "tools/list"}) for k, v in BAD_IDS.items()),
        *NOT_A_REQUEST.items(),
    ]:
        error = refused(await session.post(message))
        if error is not None and error["code"] not in (-32600, -32602):
            wrong.append(f"{name}: code {error['code']} (expected -32600)")
    assert not wrong, "; ".join(wrong)


@pytest.mark.parametrize("good_id", ["abc-1", "", 0, -7, 2**53 - 1])
async def test_request_id_is_echoed(mcp_target, client, good_id):
    """MCP-HTTP-022 MUST: string and integer ids are echoed exactly in the response."""
    _endpoint, session = await opened(client, mcp_target)
    reply = await session.call("tools/list", good_id)
    assert reply["id"] == good_id and type(reply["id"]) is type(good_id)


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
    is no message is refused (an HTTP error, or a JSON-RPC error), not answered."""
    endpoint, session = await opened(client, mcp_target)
    if isinstance(body, list):  # 2025-03-26 servers must accept batches
        revision_premise(mcp_target, LATEST, endpoint.revision)
    refused(await session.post(body))


async def test_unknown_method_over_http(mcp_target, client):
    """MCP-HTTP-024 MUST: an unknown method is answered with its id and error -32601."""
    _endpoint, session = await opened(client, mcp_target)
    reply = await session.call("spreadapi/nothing", 7)
    assert reply["id"] == 7 and isinstance(reply.get("error"), dict), reply
    assert reply["error"].get("code") == -32601, reply


async def test_get_without_a_session(mcp_target, client):
    """MCP-HTTP-030 MUST: GET with Accept: text/event-stream opens an event stream or is 405 (a server that
    requires a session answers 400 to a GET without one)."""
    endpoint = await transport_endpoint(client, mcp_target)
    headers = {**endpoint.headers, "accept": "text/event-stream"}
    async with client.stream("GET", endpoint.path, headers=headers) as response:  # a stream may never end
        kind = response.headers.get("content-type", "")
        stream = response.status_code == 200 and kind.startswith("text/event-stream")
        assert stream or response.status_code in (400, 405), f"HTTP {response.status_code} {kind!r}"


@pytest.mark.parametrize("revision", [MODERN])
async def test_get_at_2026_07_28_is_405(mcp_target, client, revision):
    """MCP-HTTP-031 SHOULD: at 2026-07-28 there is no GET stream: 405 with an Allow header."""
    endpoint = await transport_endpoint(client, mcp_target)
    await modern_premise(client, mcp_target, endpoint)
    headers = {**endpoint.headers, "accept": "text/event-stream", "mcp-protocol-version": MODERN}
    response = await client.get(endpoint.path, headers=headers)
    assert response.status_code == 405, said(response)
    assert "POST" in response.headers.get("allow", ""), response.headers


@pytest.mark.parametrize("revision", [MODERN])
async def test_modern_request_is_a_single_exchange(mcp_target, client, revision):
    """MCP-HTTP-032 MUST: a 2026-07-28 request (with its _meta envelope and Mcp-Method) is answered in one
    exchange, without a session, and the result says resultType complete."""
    endpoint = await transport_endpoint(client, mcp_target)
    await modern_premise(client, mcp_target, endpoint)
    message, headers = modern_request("tools/list", 2)
    response = await client.post(endpoint.path, json=message, headers={**headers, **endpoint.headers})
    assert response.status_code == 200, said(response)
    assert "mcp-session-id" not in response.headers
    listed = result(response, 2)
    assert listed.get("resultType") == "complete" and isinstance(listed.get("tools"), list), said(response)


@pytest.mark.parametrize("revision", [MODERN])
async def test_modern_request_without_envelope_is_400(mcp_target, client, revision):
    """MCP-HTTP-033 MUST: a 2026-07-28 request without the _meta envelope (its required protocol fields) is
    400 with JSON-RPC error -32602 (Invalid params)."""
    endpoint = await transport_endpoint(client, mcp_target)
    await modern_premise(client, mcp_target, endpoint)
    _message, headers = modern_request("tools/list")
    response = await client.post(
        endpoint.path, json=request_message("tools/list", 4), headers={**headers, **endpoint.headers}
    )
    assert response.status_code == 400, said(response)
    assert rpc_error(response)["code"] == -32602, said(response)


@pytest.mark.parametrize("revision", [MODERN])
async def test_modern_method_header_must_match(mcp_target, client, revision):
    """MCP-HTTP-034 MUST: at 2026-07-28 an Mcp-Method header that disagrees with the body is 400 with
    JSON-RPC error -32020 (HeaderMismatch)."""
    endpoint = await transport_endpoint(client, mcp_target)
    await modern_premise(client, mcp_target, endpoint)
    message, headers = modern_request("tools/list")
    response = await client.post(
        endpoint.path, json=message, headers={**headers, **endpoint.headers, "mcp-method": "ping"}
    )
    assert response.status_code == 400, said(response)
    assert rpc_error(response)["code"] == -32020, said(response)


async def modern_post(
    client: httpx.AsyncClient, endpoint: Endpoint, method: str, request_id: int, *, header: str, meta: str
) -> httpx.Response:
    """A 2026-07-28 request whose MCP-Protocol-Version header says ``header`` and whose ``_meta`` says ``meta``."""
    message, headers = modern_request(method, request_id)
    message["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = meta
    headers = {**headers, **endpoint.headers, "mcp-protocol-version": header}
    return await client.post(endpoint.path, json=message, headers=headers)


@pytest.mark.parametrize("revision", [MODERN])
async def test_modern_version_header_must_match_the_body(mcp_target, client, revision):
    """MCP-HTTP-035 MUST: a request whose MCP-Protocol-Version header says 2026-07-28 while its _meta
    protocolVersion says 2025-11-25 is 400 with JSON-RPC error -32020 (HeaderMismatch), never answered."""
    endpoint = await transport_endpoint(client, mcp_target)
    await modern_premise(client, mcp_target, endpoint)
    # The header names 2026-07-28, so the request is one of that revision and its rule applies. The body names
    # a revision the server knows, so no other refusal (an unsupported version) competes with the mismatch; the
    # reverse (an older header) is an older revision's request to a server that routes by the header.
    response = await modern_post(client, endpoint, "tools/list", 5, header=MODERN, meta=LATEST)
    assert response.status_code == 400, said(response)
    assert rpc_error(response)["code"] == -32020, said(response)


@pytest.mark.parametrize("revision", [MODERN])
async def test_unsupported_modern_version_lists_the_supported(mcp_target, client, revision):
    """MCP-HTTP-036 MUST: a request whose header and _meta both name a protocol version the server does not
    implement is 400 with JSON-RPC error -32022 (UnsupportedProtocolVersionError) whose data.supported lists
    the versions it does, 2026-07-28 among them."""
    endpoint = await transport_endpoint(client, mcp_target)
    await modern_premise(client, mcp_target, endpoint)
    response = await modern_post(client, endpoint, "tools/list", 6, header="1999-01-01", meta="1999-01-01")
    assert response.status_code == 400, said(response)
    error = rpc_error(response)
    assert error["code"] == -32022, f"code {error['code']}, expected -32022: {said(response)}"
    data = error.get("data")
    supported = data.get("supported") if isinstance(data, dict) else None
    assert isinstance(supported, list) and MODERN in supported, (
        f"data.supported must list the supported versions ({MODERN} among them): {said(response)}"
    )


# The results a 2026-07-28 server must give caching hints, and the capability that makes each exist.
CACHEABLE = {
    "server/discover": None,
    "tools/list": "tools",
    "prompts/list": "prompts",
    "resources/list": "resources",
    "resources/templates/list": "resources",
}


def cache_hint_problem(method: str, listed: dict[str, Any]) -> str | None:
    """What is wrong with the caching hints of a complete result, or None."""
    if listed.get("resultType", "complete") != "complete":
        return None  # an interim (input_required) result carries no hints
    ttl, scope = listed.get("ttlMs"), listed.get("cacheScope")
    if type(ttl) is not int or ttl < 0:
        return f"{method}: ttlMs is {ttl!r}, not an integer >= 0"
    if scope not in ("public", "private"):
        return f"{method}: cacheScope is {scope!r}, not 'public' or 'private'"
    return None


@pytest.mark.parametrize("revision", [MODERN])
async def test_cacheable_results_carry_hints(mcp_target, client, revision):
    """MCP-HTTP-037 MUST: at 2026-07-28 the complete results of server/discover and of each list the server's
    capabilities offer (tools, prompts, resources and their templates) carry ttlMs, an integer >= 0, and
    cacheScope, public or private."""
    endpoint = await transport_endpoint(client, mcp_target)
    await modern_premise(client, mcp_target, endpoint)
    message, headers = modern_request("server/discover")
    discovered = result(await client.post(endpoint.path, json=message, headers={**headers, **endpoint.headers}), 1)
    capabilities = discovered.get("capabilities") if isinstance(discovered.get("capabilities"), dict) else {}
    problems = [cache_hint_problem("server/discover", discovered)]
    for request_id, (method, capability) in enumerate(CACHEABLE.items(), start=2):
        if capability is None or capability not in capabilities:
            continue
        message, headers = modern_request(method, request_id)
        response = await client.post(endpoint.path, json=message, headers={**headers, **endpoint.headers})
        assert response.status_code == 200, f"{method}: {said(response)}"
        problems.append(cache_hint_problem(method, result(response, request_id)))
    found = [problem for problem in problems if problem]
    assert not found, "; ".join(found)


async def test_invalid_origin_is_refused_at_2025_06_18(mcp_target, client):
    """MCP-HTTP-038 MUST: at 2025-06-18 the server validates Origin: an initialize with an Origin it does not
    serve is refused with an HTTP error (4xx; 2025-06-18 names no status), and its own origin is accepted."""
    endpoint = await transport_endpoint(client, mcp_target)
    revision = "2025-06-18"
    good = await post(client, endpoint, initialize_message(revision), origin=own_origin(mcp_target))
    assert good.status_code == 200, f"its own origin: {said(good)}"
    revision_premise(mcp_target, revision, result(good, 1).get("protocolVersion"))
    bad = await post(client, endpoint, initialize_message(revision), origin="https://evil.example")
    assert 400 <= bad.status_code < 500, f"Origin https://evil.example: {said(bad)}"


def shape_problem(message: dict[str, Any]) -> str | None:
    """What makes a message the server sent malformed: a response (an id, no method) with both or neither of
    result and error, or a notification with an id."""
    method = message.get("method")
    if method is None and "id" in message and ("result" in message) == ("error" in message):
        return "a response with both result and error" if "result" in message else "a response with neither"
    if isinstance(method, str) and method.startswith("notifications/") and "id" in message:
        return "a notification with an id"
    return None


async def test_responses_carry_result_or_error(mcp_target, client):
    """MCP-HTTP-039 MUST NOT: no response the server sends carries both result and error (each carries exactly
    one), and no notification it sends carries an id; judged on every message of an ordinary transcript
    (handshake era, and 2026-07-28 when served), errors included."""
    endpoint = await transport_endpoint(client, mcp_target)
    problems = []
    for exchange in await transcript(client, endpoint):
        for message in exchange.messages():
            if problem := shape_problem(message):
                problems.append(f"{exchange.what}: {problem}: {json.dumps(message)[:300]}")
    assert not problems, "; ".join(problems)


_LABEL = r"[A-Za-z](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
# basic, General fields, _meta: an optional prefix of dot-separated labels ending in a slash, then a name that,
# unless empty, begins and ends alphanumeric with hyphens, underscores and dots between.
META_KEY = re.compile(rf"(?:{_LABEL}(?:\.{_LABEL})*/)?(?:[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)?")


def meta_keys(value: Any) -> list[str]:
    """Every key of every _meta object anywhere in ``value``."""
    if isinstance(value, list):
        return [key for item in value for key in meta_keys(item)]
    if not isinstance(value, dict):
        return []
    found = list(value["_meta"]) if isinstance(value.get("_meta"), dict) else []
    return found + [key for item in value.values() for key in meta_keys(item)]


async def test_meta_keys_follow_the_naming_rules(mcp_target, client):
    """MCP-HTTP-040 MUST: every _meta key in what the server sends (results, tool definitions, errors) follows
    the naming rules: an optional prefix of dot-separated labels (each starting with a letter, ending with a
    letter or digit) and a slash, then a name beginning and ending alphanumeric."""
    endpoint = await transport_endpoint(client, mcp_target)
    bad = {}
    for exchange in await transcript(client, endpoint):
        for message in exchange.messages():
            for key in meta_keys(message):
                if not META_KEY.fullmatch(key):
                    bad.setdefault(key, exchange.what)
    assert not bad, "; ".join(f"{key!r} (in the answer to {what})" for key, what in bad.items())


DEFINED_RESERVED = {-32020, -32021, -32022}  # 2026-07-28 basic, Error Codes: defined in -32020..-32099
RETIRED = {-32002, -32042}  # codes of earlier revisions 2026-07-28 forbids


@pytest.mark.parametrize("revision", [MODERN])
async def test_modern_error_codes_are_defined_ones(mcp_target, client, revision):
    """MCP-HTTP-041 MUST NOT: at 2026-07-28 the server emits no error code of the range the specification reserves
    (-32020 to -32099) that it does not define (only -32020, -32021, -32022), nor the retired -32002 and -32042;
    judged on every error of an ordinary transcript (an unknown method, tool and resource, a mismatched and an
    unsupported version)."""
    endpoint = await transport_endpoint(client, mcp_target)
    await modern_premise(client, mcp_target, endpoint)
    wrong = []
    for exchange in await transcript(client, endpoint):
        for message in exchange.messages() if exchange.modern else []:
            code = message.get("error", {}).get("code") if isinstance(message.get("error"), dict) else None
            reserved = isinstance(code, int) and -32099 <= code <= -32020 and code not in DEFINED_RESERVED
            if reserved or code in RETIRED:
                wrong.append(f"{exchange.what}: code {code}: {json.dumps(message)[:300]}")
    assert not wrong, "; ".join(wrong)


def encoding_problem(response: httpx.Response) -> str | None:
    """What keeps a JSON-RPC body from being UTF-8: a charset other than utf-8, or bytes that do not decode."""
    kind = response.headers.get("content-type", "")
    charset = next((p.split("=", 1)[1].strip().strip('"') for p in kind.split(";")[1:] if "=" in p), None)
    if charset is not None and charset.lower() not in ("utf-8", "utf8"):
        return f"declares charset={charset}"
    try:
        response.content.decode("utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        return f"is not UTF-8 ({exc.reason} at byte {exc.start})"
    return None


async def test_json_rpc_bodies_are_utf_8(mcp_target, client):
    """MCP-HTTP-042 MUST: every JSON-RPC body the server sends (JSON or an event stream) is UTF-8: it decodes
    strictly as UTF-8 and declares no other charset; judged on every answer of an ordinary transcript."""
    endpoint = await transport_endpoint(client, mcp_target)
    problems = []
    for exchange in await transcript(client, endpoint):
        if exchange.carries_json_rpc and (problem := encoding_problem(exchange.response)):
            problems.append(f"the answer to {exchange.what} {problem}: {said(exchange.response)}")
    assert not problems, "; ".join(problems)


def is_log_message(message: dict[str, Any]) -> bool:
    return message.get("method") == "notifications/message"


def log_messages(exchange: Exchange) -> list[dict[str, Any]]:
    return [m for m in exchange.messages() if is_log_message(m)]


async def modern_messages(client: httpx.AsyncClient, target: Target, wanted: Callable[[dict], bool]) -> list[str]:
    """The messages ``wanted`` picks among the 2026-07-28 answers of the transcript, each in a line (premise: the
    server serves 2026-07-28)."""
    endpoint = await transport_endpoint(client, target)
    await modern_premise(client, target, endpoint)
    return [
        f"{exchange.what}: {json.dumps(message)[:200]}"
        for exchange in await transcript(client, endpoint)
        if exchange.modern
        for message in exchange.messages()
        if wanted(message)
    ]


@pytest.mark.parametrize("revision", [MODERN])
async def test_no_log_messages_unless_asked(mcp_target, client, revision):
    """MCP-HTTP-043 MUST NOT: at 2026-07-28 the server sends no notifications/message in answer to a request whose
    _meta carries no io.modelcontextprotocol/logLevel (none of the transcript's requests asks for log messages)."""
    logged = await modern_messages(client, mcp_target, is_log_message)
    assert not logged, "log messages nobody asked for: " + "; ".join(logged)


def declared_capabilities(exchanges: list[Exchange], what: str) -> dict[str, Any]:
    """The capabilities the answer to ``what`` (initialize, server/discover) declared ({} when none came)."""
    return next((capabilities_of(e) for e in exchanges if e.what == what), {})


async def test_log_messages_only_with_the_logging_capability(mcp_target, client):
    """MCP-HTTP-044 MUST: a server that sends notifications/message declares the logging capability (in the
    initialize result of that session, or in server/discover at 2026-07-28); judged on every message of an
    ordinary transcript."""
    endpoint = await transport_endpoint(client, mcp_target)
    exchanges = await transcript(client, endpoint)
    undeclared = []
    for modern, declaring in ((False, "initialize"), (True, "server/discover")):
        logged = [e.what for e in exchanges if e.modern is modern and log_messages(e)]
        if logged and "logging" not in declared_capabilities(exchanges, declaring):
            undeclared.append(f"log messages answer {', '.join(logged)}, but {declaring} declared no logging")
    assert not undeclared, "; ".join(undeclared)


def sentinel(value: str) -> str:
    """``value`` in the Base64 sentinel form of header values (=?base64?…?=, the UTF-8 bytes encoded)."""
    return "=?base64?" + base64.b64encode(value.encode()).decode() + "?="


def outcome(response: httpx.Response, request_id: int) -> str:
    """An answer in a few words: a result, or the JSON-RPC error code (what two answers are compared by)."""
    try:
        replied = answer(response, request_id)
    except AssertionError:
        try:  # an error the server could not tie to the request (id null)
            return f"error {rpc_error(response)['code']}"
        except AssertionError:
            return f"HTTP {response.status_code} without an answer"
    error = replied.get("error")
    return "a result" if "result" in replied else f"error {error.get('code') if isinstance(error, dict) else error}"


@pytest.mark.parametrize("revision", [MODERN])
async def test_encoded_name_header_is_decoded(mcp_target, client, revision):
    """MCP-HTTP-045 MUST: at 2026-07-28 a tools/call whose Mcp-Name carries the tool's name in the Base64 sentinel
    form (=?base64?…?=) is decoded before it is compared with the body: it is answered as the same call with the
    plain name is, never refused as a HeaderMismatch (-32020)."""
    endpoint = await transport_endpoint(client, mcp_target)
    await modern_premise(client, mcp_target, endpoint)
    listed, headers = modern_request("tools/list", 1)
    names = result(await client.post(endpoint.path, json=listed, headers={**headers, **endpoint.headers}), 1)
    # Only a tool that only describes is called for real; on any other server an unknown tool is answered alike.
    known = {t.get("name") for t in names.get("tools", []) if isinstance(t, dict)}
    tool = READ_ONLY_TOOL if READ_ONLY_TOOL in known else NO_SUCH_TOOL
    answers = {}
    for request_id, name_header in ((2, tool), (3, sentinel(tool))):
        message, headers = modern_request("tools/call", request_id, name=tool, arguments={})
        headers = {**headers, **endpoint.headers, "mcp-name": name_header}
        answers[name_header] = outcome(await client.post(endpoint.path, json=message, headers=headers), request_id)
    plain, encoded = answers[tool], answers[sentinel(tool)]
    if plain == "error -32020":
        control_failed(f"tools/call {tool} with its plain Mcp-Name is refused as a HeaderMismatch too")
    assert encoded == plain, f"with Mcp-Name {sentinel(tool)}: {encoded}; with the plain name: {plain}"


@pytest.mark.parametrize("revision", [MODERN])
async def test_no_server_requests_on_a_modern_answer(mcp_target, client, revision):
    """MCP-HTTP-046 MUST NOT: at 2026-07-28 the server sends no JSON-RPC request of its own (a message with a
    method and an id) on a request's answer: what it needs from the client comes as an input-required result.
    Judged on every 2026-07-28 answer of an ordinary transcript."""
    sent = await modern_messages(client, mcp_target, lambda m: "method" in m and "id" in m)
    assert not sent, "requests of the server's own on a 2026-07-28 answer: " + "; ".join(sent)


@pytest.mark.parametrize("revision", [MODERN])
async def test_no_cancellation_on_a_modern_answer(mcp_target, client, revision):
    """MCP-HTTP-048 MUST NOT: at 2026-07-28 the server sends notifications/cancelled only to end a
    subscriptions/listen stream, so none on the answers of an ordinary transcript (which opens no such stream)."""
    cancelled = await modern_messages(client, mcp_target, lambda m: m.get("method") == "notifications/cancelled")
    assert not cancelled, "notifications/cancelled on a 2026-07-28 answer: " + "; ".join(cancelled)


OLD_CLIENT_REVISIONS = ("2025-03-26", "2024-11-05")  # revisions without the MCP-Protocol-Version header


async def negotiated(client: httpx.AsyncClient, endpoint: Endpoint, offered: str) -> str | None:
    """The revision the server answers an initialize offering ``offered`` with (None: no initialize result)."""
    response = await post(client, endpoint, initialize_message(offered))
    try:
        return result(response, 1).get("protocolVersion")
    except AssertionError:
        return None


@pytest.mark.parametrize("revision", [MODERN])
async def test_missing_version_header_is_refused_without_old_clients(mcp_target, client, revision):
    """MCP-HTTP-047 MUST: a server that serves 2026-07-28 and no client older than 2025-06-18 (an initialize
    offering 2025-03-26 is not answered with 2025-03-26 or 2024-11-05) refuses a 2026-07-28 request without the
    MCP-Protocol-Version header: 400 with JSON-RPC error -32020 (HeaderMismatch: a required header is missing)."""
    endpoint = await transport_endpoint(client, mcp_target)
    await modern_premise(client, mcp_target, endpoint)
    if await negotiated(client, endpoint, OLD_CLIENT_REVISIONS[0]) in OLD_CLIENT_REVISIONS:
        not_applicable("the server serves clients older than 2025-06-18: it MAY take a request without the header")
    message, headers = modern_request("tools/list", 9)
    headers = {k: v for k, v in {**headers, **endpoint.headers}.items() if k != "mcp-protocol-version"}
    response = await client.post(endpoint.path, json=message, headers=headers)
    assert response.status_code == 400, said(response)
    assert rpc_error(response)["code"] == -32020, said(response)


# -- OpenTelemetry trace context in _meta (2026-07-28 basic, General fields, _meta) ------------------------------

TRACE_KEYS = ("traceparent", "tracestate", "baggage")
_HEX = "[0-9a-f]"
# W3C Trace Context, traceparent: version "-" trace-id "-" parent-id "-" trace-flags, lowercase hex; version ff is
# invalid, version 00 ends there, a later version may append "-" and more; trace-id and parent-id not all zeros.
TRACEPARENT = re.compile(rf"({_HEX}{{2}})-({_HEX}{{32}})-({_HEX}{{16}})-{_HEX}{{2}}(-.*)?", re.DOTALL)
# W3C Trace Context, tracestate: up to 32 comma-separated list-members key=value (empty members allowed), each key a
# simple key (lcalpha, then up to 255 of lcalpha digit _ - * /) or tenant@system, each value 1 to 256 printable
# ASCII characters without comma or equals sign, not ending in a space.
_TS_CHAR = r"[a-z0-9_\-*/]"
_TS_KEY = rf"(?:[a-z]{_TS_CHAR}{{0,255}}|[a-z0-9]{_TS_CHAR}{{0,240}}@[a-z]{_TS_CHAR}{{0,13}})"
TRACESTATE_MEMBER = re.compile(rf"{_TS_KEY}=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{{0,255}}[\x21-\x2b\x2d-\x3c\x3e-\x7e]")
# W3C Baggage: 1 to 180 comma-separated list-members key=value, then ;-separated properties (key, or key=value);
# keys are HTTP tokens, values printable ASCII without space, double quote, comma, semicolon or backslash.
_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_BAGGAGE_VALUE = r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*"
_OWS = r"[ \t]*"
BAGGAGE_MEMBER = re.compile(
    rf"{_OWS}{_TOKEN}{_OWS}={_OWS}{_BAGGAGE_VALUE}"
    rf"(?:{_OWS};{_OWS}{_TOKEN}(?:{_OWS}={_OWS}{_BAGGAGE_VALUE})?)*{_OWS}"
)


def traceparent_problem(value: str) -> str | None:
    m = TRACEPARENT.fullmatch(value)
    if m is None:
        return "not version-traceid-parentid-flags in lowercase hex"
    version, trace_id, parent_id, rest = m.groups()
    if version == "ff":
        return "version ff is invalid"
    if version == "00" and rest is not None:
        return "version 00 has nothing after the flags"
    if set(trace_id) == {"0"} or set(parent_id) == {"0"}:
        return "an all-zero trace-id or parent-id is invalid"
    return None


def tracestate_problem(value: str) -> str | None:
    members = [member.strip(" \t") for member in value.split(",")]
    if len([m for m in members if m]) > 32:
        return "more than 32 list-members"
    bad = [m for m in members if m and not TRACESTATE_MEMBER.fullmatch(m)]
    return f"list-members not key=value: {bad[:3]}" if bad else None


def baggage_problem(value: str) -> str | None:
    members = value.split(",")
    if len(members) > 180:
        return "more than 180 list-members"
    bad = [m for m in members if not BAGGAGE_MEMBER.fullmatch(m)]
    return f"list-members not key=value[;properties]: {bad[:3]}" if bad else None


TRACE_GRAMMARS: dict[str, Callable[[str], str | None]] = {
    "traceparent": traceparent_problem,
    "tracestate": tracestate_problem,
    "baggage": baggage_problem,
}


def meta_entries(value: Any) -> list[tuple[str, Any]]:
    """Every (key, value) of every _meta object anywhere in ``value``."""
    if isinstance(value, list):
        return [entry for item in value for entry in meta_entries(item)]
    if not isinstance(value, dict):
        return []
    found = list(value["_meta"].items()) if isinstance(value.get("_meta"), dict) else []
    return found + [entry for item in value.values() for entry in meta_entries(item)]


def trace_context_problem(key: str, value: Any) -> str | None:
    if not isinstance(value, str):
        return f"not a string but {json.dumps(value)[:80]}"
    return TRACE_GRAMMARS[key](value)


@pytest.mark.parametrize("revision", [MODERN])
async def test_trace_context_follows_the_w3c_formats(mcp_target, client, revision):
    """MCP-HTTP-049 MUST: at 2026-07-28 every traceparent, tracestate and baggage value the server puts in a _meta
    (of a result, a notification, a tool definition) follows W3C Trace Context and W3C Baggage; judged on every
    2026-07-28 answer of an ordinary transcript (server/discover, tools/list, tools/call), not applicable when the
    server emits none of these keys there."""
    endpoint = await transport_endpoint(client, mcp_target)
    await modern_premise(client, mcp_target, endpoint)
    seen, wrong = 0, []
    for exchange in await transcript(client, endpoint):
        for message in exchange.messages() if exchange.modern else []:
            for key, value in meta_entries(message):
                if key in TRACE_GRAMMARS:
                    seen += 1
                    if problem := trace_context_problem(key, value):
                        wrong.append(f"{exchange.what}: {key} {json.dumps(value)[:120]}: {problem}")
    if not seen:
        not_applicable(
            "the server emits no traceparent, tracestate or baggage in the _meta of its 2026-07-28 answers "
            "(server/discover, tools/list, tools/call)"
        )
    assert not wrong, "; ".join(wrong)


# -- Caching: one cacheScope for all pages of a list (2026-07-28 server/utilities/caching) ------------------------

MAX_PAGES = 25  # a list longer than this is paged no further (a server that loops its cursors ends the walk)


async def list_pages(client: httpx.AsyncClient, endpoint: Endpoint, method: str) -> list[dict[str, Any]]:
    """Every page of one 2026-07-28 list request, following nextCursor (at most MAX_PAGES)."""
    pages: list[dict[str, Any]] = []
    cursor: str | None = None
    while len(pages) < MAX_PAGES:
        message, headers = modern_request(method, len(pages) + 1, **({"cursor": cursor} if cursor else {}))
        response = await client.post(endpoint.path, json=message, headers={**headers, **endpoint.headers})
        assert response.status_code == 200, f"{method} page {len(pages) + 1}: {said(response)}"
        page = result(response, len(pages) + 1)
        pages.append(page)
        cursor = page.get("nextCursor")
        if not isinstance(cursor, str) or not cursor:
            break
    return pages


@pytest.mark.parametrize("revision", [MODERN])
async def test_pages_of_a_list_share_one_cache_scope(mcp_target, client, revision):
    """MCP-HTTP-050 MUST: at 2026-07-28 every page of one list request (tools, prompts, resources and their
    templates, each the server's capabilities offer, followed through nextCursor) carries the same cacheScope; not
    applicable when every list fits one page."""
    endpoint = await transport_endpoint(client, mcp_target)
    await modern_premise(client, mcp_target, endpoint)
    message, headers = modern_request("server/discover")
    discovered = result(await client.post(endpoint.path, json=message, headers={**headers, **endpoint.headers}), 1)
    capabilities = discovered.get("capabilities") if isinstance(discovered.get("capabilities"), dict) else {}
    paged, mixed = [], []
    for method, capability in CACHEABLE.items():
        if capability is None or capability not in capabilities:
            continue
        pages = await list_pages(client, endpoint, method)
        if len(pages) < 2:
            continue
        paged.append(method)
        scopes = [page.get("cacheScope") for page in pages]
        if len(set(map(json.dumps, scopes))) > 1:
            mixed.append(f"{method}: the {len(pages)} pages carry cacheScope {', '.join(map(json.dumps, scopes))}")
    if not paged:
        not_applicable("every list the server offers fits one page (no nextCursor): there are no pages to compare")
    assert not mixed, "; ".join(mixed)


# -- What the negotiated revision defines (lifecycle, Operation) --------------------------------------------------

HANDSHAKE_REVISIONS = tuple(r for r in REVISIONS if r != MODERN)
# The content block types each revision's schema defines for a tool result (CallToolResult.content), with the
# members each requires; a block of another type is one a client of that revision cannot read.
_BLOCKS_2024 = {"text": ("text",), "image": ("data", "mimeType"), "resource": ("resource",)}
_BLOCKS_2025 = {**_BLOCKS_2024, "audio": ("data", "mimeType")}
CONTENT_BLOCKS = {
    "2024-11-05": _BLOCKS_2024,
    "2025-03-26": _BLOCKS_2025,
    "2025-06-18": {**_BLOCKS_2025, "resource_link": ("uri", "name")},
    "2025-11-25": {**_BLOCKS_2025, "resource_link": ("uri", "name")},
}
# Server notifications that use a capability, and the capability (and flag) the server must have declared.
NOTIFICATION_CAPABILITIES = {
    "notifications/message": ("logging", None),
    "notifications/tools/list_changed": ("tools", "listChanged"),
    "notifications/prompts/list_changed": ("prompts", "listChanged"),
    "notifications/resources/list_changed": ("resources", "listChanged"),
    "notifications/resources/updated": ("resources", "subscribe"),
}


def initialize_problems(opened: dict[str, Any]) -> list[str]:
    info, problems = opened.get("serverInfo"), []
    if not isinstance(opened.get("capabilities"), dict):
        problems.append("initialize: capabilities is not an object")
    if not (isinstance(info, dict) and isinstance(info.get("name"), str) and isinstance(info.get("version"), str)):
        problems.append(f"initialize: serverInfo lacks a string name and version: {json.dumps(info)[:120]}")
    return problems


def tool_list_problems(listed: dict[str, Any]) -> list[str]:
    tools = listed.get("tools")
    if not isinstance(tools, list):
        return [f"tools/list: tools is not an array: {json.dumps(tools)[:120]}"]
    problems = []
    for tool in tools:
        name = tool.get("name") if isinstance(tool, dict) else None
        schema = tool.get("inputSchema") if isinstance(tool, dict) else None
        if not isinstance(name, str) or not (isinstance(schema, dict) and schema.get("type") == "object"):
            problems.append(f"tools/list: a tool without a name and an object inputSchema: {json.dumps(tool)[:160]}")
    return problems


def tool_result_problems(revision: str, called: dict[str, Any]) -> list[str]:
    content, blocks = called.get("content"), CONTENT_BLOCKS[revision]
    if not isinstance(content, list):
        return [f"tools/call: content is not an array (the result is {json.dumps(called)[:160]})"]
    problems = [] if isinstance(called.get("isError", False), bool) else ["tools/call: isError is not a boolean"]
    for block in content:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind not in blocks:
            problems.append(f"tools/call: a content block of type {kind!r}, which {revision} does not define")
        elif missing := [member for member in blocks[kind] if member not in block]:
            problems.append(f"tools/call: a {kind} block without {', '.join(missing)}")
    return problems


def undeclared_notifications(capabilities: dict[str, Any], found: list[dict[str, Any]]) -> list[str]:
    problems = []
    for message in found:
        needed = NOTIFICATION_CAPABILITIES.get(message.get("method")) if "id" not in message else None
        if needed is None:
            continue
        capability, flag = needed
        declared = capabilities.get(capability)
        if not isinstance(declared, dict) or (flag is not None and declared.get(flag) is not True):
            wanted = f"{capability}.{flag}" if flag else capability
            problems.append(f"{message['method']} without the {wanted} capability declared")
    return problems


@pytest.mark.parametrize("revision", HANDSHAKE_REVISIONS)
async def test_answers_respect_the_negotiated_revision(mcp_target, client, revision):
    """MCP-HTTP-051 MUST: in a session at each handshake revision the server negotiates, its answers are what that
    revision defines: initialize carries capabilities and a serverInfo with name and version, tools/list an array
    of tools each with a name and an object inputSchema, a tools/call result a content array of block types that
    revision has (no resource_link before 2025-06-18, no audio before 2025-03-26, no 2026-07-28 input-required
    result without content); and no notification uses a capability the server did not declare (log messages,
    list changes, resource updates). tools/call is judged on spreadapi_get_details when listed (it only
    describes); members a later revision adds are not judged (every revision's schema leaves objects open)."""
    endpoint = await transport_endpoint(client, mcp_target)
    response = await post(client, endpoint, initialize_message(revision))
    try:
        opened = result(response, 1)
    except AssertionError:
        opened = {}
    revision_premise(mcp_target, revision, opened.get("protocolVersion"))
    assert opened.get("protocolVersion") == revision, f"offered {revision}: {said(response)}"
    session = RawSession(client, endpoint.path, endpoint.headers)
    session.session_id, session.revision = response.headers.get("mcp-session-id"), revision
    await session.post({"jsonrpc": "2.0", "method": "notifications/initialized"})
    listed = await session.post(request_message("tools/list", 2))
    answers = [response, listed]
    problems = initialize_problems(opened) + tool_list_problems(result(listed, 2))
    if READ_ONLY_TOOL in tool_names(Exchange("tools/list", False, listed)):
        called = await session.post(request_message("tools/call", 3, name=READ_ONLY_TOOL, arguments={}))
        answers.append(called)
        if "result" in (reply := answer(called, 3)):  # a JSON-RPC error is no result to judge here
            problems += tool_result_problems(revision, reply["result"])
    capabilities = opened.get("capabilities") if isinstance(opened.get("capabilities"), dict) else {}
    problems += undeclared_notifications(capabilities, [m for a in answers for m in messages(a)])
    assert not problems, f"at {revision}: " + "; ".join(problems)


# -- The server's identity and versions, where 2026-07-28 and the handshake ask for them ----------------------------

SERVER_INFO_KEY = "io.modelcontextprotocol/serverInfo"


def server_info_problem(found: dict[str, Any]) -> str | None:
    meta = found.get("_meta")
    info = meta.get(SERVER_INFO_KEY) if isinstance(meta, dict) else None
    if not isinstance(info, dict):
        return f"no _meta {SERVER_INFO_KEY}"
    if not (isinstance(info.get("name"), str) and isinstance(info.get("version"), str)):
        return f"_meta {SERVER_INFO_KEY} without a string name and version: {json.dumps(info)[:120]}"
    return None


@pytest.mark.parametrize("revision", [MODERN])
async def test_modern_results_name_the_server(mcp_target, client, revision):
    """MCP-HTTP-052 SHOULD: at 2026-07-28 every result's _meta carries io.modelcontextprotocol/serverInfo with the
    server's name and version (server/discover's included); judged on every result of the 2026-07-28 part of an
    ordinary transcript (server/discover, tools/list, tools/call)."""
    endpoint = await transport_endpoint(client, mcp_target)
    await modern_premise(client, mcp_target, endpoint)
    missing = [
        f"{exchange.what}: {problem}"
        for exchange in await transcript(client, endpoint)
        if exchange.modern
        for message in exchange.messages()
        if isinstance(message.get("result"), dict) and (problem := server_info_problem(message["result"]))
    ]
    assert not missing, "; ".join(missing)


UNKNOWN_REVISION = "1999-01-01"


async def test_counter_offer_is_the_latest_supported(mcp_target, client):
    """MCP-HTTP-053 SHOULD: an initialize offering a revision the server does not support is answered with the
    latest revision it supports: the newest handshake revision it accepts when offered (each offered in turn)."""
    endpoint = await transport_endpoint(client, mcp_target)
    accepted = [r for r in HANDSHAKE_REVISIONS if await negotiated(client, endpoint, r) == r]
    if not accepted:
        not_applicable("the server accepts no handshake revision offered to it (initialize)")
    counter = await negotiated(client, endpoint, UNKNOWN_REVISION)
    newest = accepted[-1]
    offered = f"counter-offered {counter!r}" if counter is not None else "answered no revision"
    assert counter == newest, (
        f"offered {UNKNOWN_REVISION}, the server {offered}; it accepts {', '.join(accepted)} when offered, the "
        f"latest being {newest}"
    )


@pytest.mark.parametrize("revision", [MODERN])
async def test_modern_only_server_names_its_versions_to_initialize(mcp_target, client, revision):
    """MCP-HTTP-054 SHOULD: a server that serves 2026-07-28 and refuses initialize (it supports only modern
    revisions) names the protocol versions it supports (those server/discover lists) in that error: its JSON-RPC
    error's message or data, or the body of an HTTP error without one."""
    endpoint = await transport_endpoint(client, mcp_target)
    await modern_premise(client, mcp_target, endpoint)
    response = await post(client, endpoint, initialize_message())
    with contextlib.suppress(AssertionError):
        if "result" in answer(response, 1):
            not_applicable("the server answers initialize: it serves the handshake era too, it is not modern-only")
    message, headers = modern_request("server/discover")
    discovered = result(await client.post(endpoint.path, json=message, headers={**headers, **endpoint.headers}), 1)
    listed = discovered.get("supportedVersions")
    versions = [v for v in listed if isinstance(v, str)] if isinstance(listed, list) else [MODERN]
    try:
        error = rpc_error(response)
        told = json.dumps({"message": error.get("message"), "data": error.get("data")})
    except AssertionError:
        told = response.text
    unnamed = [v for v in versions if v not in told]
    assert not unnamed, f"the error to initialize does not name {', '.join(unnamed)}: {said(response)}"
