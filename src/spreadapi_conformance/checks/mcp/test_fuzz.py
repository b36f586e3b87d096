"""MCP-FUZZ: a JSON-RPC fuzzer for the MCP endpoint of any target. Hypothesis generates messages of each kind
below (``--spreadapi-fuzz-examples`` times the kind's ``SHARE``, the same on every run); the kit POSTs them in
one initialized session of the transport checks' endpoint (``_support.transport_endpoint``), through its own
client and pace. Premise: that of the transport checks (the kit can open the endpoint).

What each kind must get, beyond "never a 5xx" (MCP-FUZZ-001):

- ``not-json``: bytes that are no JSON text: refused; a JSON-RPC error is -32700 with id null;
- ``not-a-request``: a JSON value that is no request object, or a request with a broken envelope (no or
  another ``jsonrpc``, no or a non-string ``method``) or an id that is null, boolean, fractional or
  structured: refused; a JSON-RPC error is -32600 (or -32602, as MCP-HTTP-025 allows);
- ``unknown-method``: a valid request of a method no MCP revision defines: a JSON-RPC error -32601 with its id;
- ``wrong-params``: ``tools/call`` without params, or whose params are no object, whose name is no string, or
  whose arguments (of a SpreadAPI tool that only reads or calculates) are no object: refused (a tool result
  with isError refuses arguments too); a JSON-RPC error is -32602 (or -32600: params that are neither an
  object nor an array make no valid request object);
- ``wrong-cursor``: ``tools/list`` with a cursor that is no string: a JSON-RPC error is -32602 (or -32600); not
  required to be refused, since MCP's pagination says only SHOULD;
- ``oversized`` and ``batch``: a valid request padded to hundreds of kilobytes, arrays of messages: judged
  only by MCP-FUZZ-001 (a server may serve them, refuse them 413, or, for a batch, per revision).

Every check judges the same messages, sent once per module; a failing check sends its first offending
message once more, so that exchange is the report's evidence, and names it in its reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from hypothesis import strategies as st

from spreadapi_conformance.report.evidence import measure
from spreadapi_conformance.strategies import drawn

from ._support import RawSession, messages, said, transport_endpoint

if TYPE_CHECKING:
    from ..target import Target


# Requests per fuzz example (the messages of SHARE), and a few more: the oversized ones, the handshakes.
pytestmark = [pytest.mark.conformance, pytest.mark.fuzz(8, 10)]

# Methods some MCP revision defines: a generated "unknown" method is none of these.
KNOWN_METHODS = {
    "initialize", "ping", "server/discover", "tools/list", "tools/call", "resources/list", "resources/read",
    "resources/templates/list", "resources/subscribe", "resources/unsubscribe", "prompts/list", "prompts/get",
    "completion/complete", "logging/setLevel", "sampling/createMessage", "roots/list", "elicitation/create",
    "tasks/get", "tasks/list", "tasks/cancel", "tasks/result",
}  # fmt: skip
# SpreadAPI's tools that only read or calculate, in the order the fuzzer prefers them.
HARMLESS_TOOLS = ("spreadapi_get_details", "spreadapi_get_service_details", "spreadapi_calc")
PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS = -32700, -32600, -32601, -32602
EXPECTED_CODES = {
    "not-json": (PARSE_ERROR,),
    "not-a-request": (INVALID_REQUEST, INVALID_PARAMS),
    "unknown-method": (METHOD_NOT_FOUND,),
    "wrong-params": (INVALID_PARAMS, INVALID_REQUEST),
    "wrong-cursor": (INVALID_PARAMS, INVALID_REQUEST),
}
# The kinds MCP-FUZZ-002 requires refused: a wrong cursor is only a SHOULD (MCP pagination), so not among them.
REFUSED = ("not-json", "not-a-request", "unknown-method", "wrong-params")
# Messages of each kind per fuzz example: the kinds with the most shapes get more; the oversized ones are few
# (each is hundreds of kilobytes) and drawn apart, OVERSIZED_MESSAGES at most.
SHARE = {"not-json": 1, "not-a-request": 2, "unknown-method": 1, "wrong-params": 2, "wrong-cursor": 1, "batch": 1}
OVERSIZED_MESSAGES = 6
OVERSIZED = (200_000, 600_000, 990_000)  # bytes of padding: large, but under the kit's 1,000,000-byte REST limit
SHOWN = 300  # characters of a message shown in a reason


# -- the messages -------------------------------------------------------------------------------------

ids = st.one_of(st.integers(-(2**53) + 1, 2**53 - 1), st.text(max_size=12))
fractions = st.floats(allow_nan=False).filter(lambda f: not f.is_integer())
bad_ids = st.one_of(
    st.none(),
    st.booleans(),
    fractions,
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.lists(st.integers(), max_size=2),
)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20)
)


def nested(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)


json_values = st.recursive(scalars, nested, max_leaves=8)
not_a_string = json_values.filter(lambda v: not isinstance(v, str))
not_an_object = json_values.filter(lambda v: not isinstance(v, dict) and v is not None)


def request(method: str, params: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(lambda i, p: {"jsonrpc": "2.0", "id": i, "method": method, "params": p}, ids, params)


def is_json(raw: bytes) -> bool:
    try:
        json.loads(raw)
    except (ValueError, RecursionError):
        return False
    return True


def not_json() -> st.SearchStrategy[bytes]:
    """JSON cut short, and bytes or text that happen not to be JSON."""
    structured = json_values.filter(lambda v: isinstance(v, dict | list))
    cut = st.builds(lambda value, at: json.dumps(value).encode()[:at], structured, st.integers(1, 60))
    garbage = st.one_of(st.binary(min_size=1, max_size=40), st.text(min_size=1, max_size=40).map(str.encode))
    return st.one_of(cut, garbage).filter(lambda raw: not is_json(raw))


def not_a_request() -> st.SearchStrategy[Any]:
    envelope = st.fixed_dictionaries({"jsonrpc": st.just("2.0"), "id": ids, "method": st.just("tools/list")})
    return st.one_of(
        scalars,
        envelope.map(lambda m: {k: v for k, v in m.items() if k != "jsonrpc"}),
        st.builds(lambda m, v: {**m, "jsonrpc": v}, envelope, json_values.filter(lambda v: v != "2.0")),
        envelope.map(lambda m: {k: v for k, v in m.items() if k != "method"}),
        st.builds(lambda m, v: {**m, "method": v}, envelope, not_a_string),
        st.builds(lambda m, v: {**m, "id": v}, envelope, bad_ids),
    )


def unknown_method() -> st.SearchStrategy[Any]:
    names = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz/_-."), min_size=1, max_size=24)
    known = KNOWN_METHODS | {"notifications"}
    names = names.filter(lambda n: n not in known and not n.startswith("notifications/"))
    return st.builds(lambda i, n: {"jsonrpc": "2.0", "id": i, "method": n}, ids, names)


def wrong_params(tool: str | None) -> st.SearchStrategy[Any]:
    """tools/call without params, with params that are no object, a name that is no string, or (given a tool the
    server lists) arguments that are no object."""
    params = [not_an_object, st.builds(lambda n: {"name": n, "arguments": {}}, not_a_string)]
    if tool is not None:
        params.append(st.builds(lambda a: {"name": tool, "arguments": a}, not_an_object))
    without = st.builds(lambda i: {"jsonrpc": "2.0", "id": i, "method": "tools/call"}, ids)
    return st.one_of(without, request("tools/call", st.one_of(params)))


def wrong_cursor() -> st.SearchStrategy[Any]:
    """tools/list with a cursor that is no string (MCP's pagination: an invalid cursor SHOULD be -32602)."""
    return request("tools/list", st.builds(lambda c: {"cursor": c}, not_a_string.filter(lambda v: v is not None)))


def oversized() -> st.SearchStrategy[Any]:
    return st.builds(
        lambda i, size: {"jsonrpc": "2.0", "id": i, "method": "tools/list", "params": {"_meta": {"pad": "x" * size}}},
        ids,
        st.sampled_from(OVERSIZED),
    )


def batch() -> st.SearchStrategy[Any]:
    one = st.one_of(
        unknown_method(), not_a_request(), st.builds(lambda i: {"jsonrpc": "2.0", "id": i, "method": "ping"}, ids)
    )
    return st.lists(one, max_size=4)


def planned(tool: str | None, count: int) -> dict[str, list[Any]]:
    """The messages to send, by kind: ``count`` fuzz examples' worth (SHARE), the same on every run."""
    strategies = {
        "not-json": not_json(),
        "not-a-request": not_a_request(),
        "unknown-method": unknown_method(),
        "wrong-params": wrong_params(tool),
        "wrong-cursor": wrong_cursor(),
        "batch": batch(),
    }
    plan = {kind: drawn(strategy, SHARE[kind] * count) for kind, strategy in strategies.items()}
    plan["oversized"] = drawn(oversized(), min(count, OVERSIZED_MESSAGES))
    return plan


# -- sending ------------------------------------------------------------------------------------------


@dataclass
class Exchange:
    kind: str
    body: bytes
    status: int
    answer: str  # the answer in one line
    errors: list[dict[str, Any]]  # the JSON-RPC errors it carries (with their "id")
    result: str | None  # it carries a result: "tool error" (a tools/call result with isError), else "result"


@dataclass
class Run:
    exchanges: list[Exchange] = field(default_factory=list)


@pytest.fixture(scope="module")
def fuzz_run() -> dict[str, Run]:
    return {}


def encoded(message: Any) -> bytes:
    return message if isinstance(message, bytes) else json.dumps(message).encode()


def any_messages(response: httpx.Response) -> list[dict[str, Any]]:
    """The JSON-RPC messages of an answer; none when it is something else (HTML, plain text, broken JSON)."""
    try:
        return messages(response)
    except AssertionError:
        return []


def read(response: httpx.Response) -> tuple[list[dict[str, Any]], str | None]:
    """The JSON-RPC errors and what result came (see :attr:`Exchange.result`), from an answer that may be
    anything."""
    found = any_messages(response)
    errors = [{**m["error"], "id": m.get("id", "absent")} for m in found if isinstance(m.get("error"), dict)]
    results = [m["result"] for m in found if "result" in m]
    if not results:
        return errors, None
    tool_error = all(isinstance(r, dict) and r.get("isError") is True for r in results)
    return errors, "tool error" if tool_error else "result"


async def harmless_tool(session: RawSession) -> str | None:
    """A SpreadAPI tool the server lists that only reads or calculates, for tools/call with arguments of the
    wrong type (None: it lists none). Another server's tools are never called: one may write, and a server
    lenient about its arguments would run it."""
    response = await session.post({"jsonrpc": "2.0", "id": "fuzz-tools", "method": "tools/list"})
    listed = set()
    for message in any_messages(response):
        result = message.get("result")
        for tool in (result.get("tools") if isinstance(result, dict) else None) or []:
            if isinstance(tool, dict) and isinstance(tool.get("name"), str):
                listed.add(tool["name"])
    return next((name for name in HARMLESS_TOOLS if name in listed), None)


async def opened(client: httpx.AsyncClient, target: Target) -> RawSession:
    """A new session of the transport checks' endpoint; a handshake that fails says so (the server's failure,
    as in MCP-HTTP's checks: nothing can be fuzzed without it)."""
    endpoint = await transport_endpoint(client, target)
    session = RawSession(client, endpoint.path, endpoint.headers)
    try:
        await session.open()
    except AssertionError as exc:
        raise AssertionError(f"no session to send the generated messages in: {exc}") from None
    return session


async def fuzz(client: httpx.AsyncClient, target: Target, count: int) -> Run:
    session = await opened(client, target)
    plan = planned(await harmless_tool(session), count)
    run = Run()
    for kind, generated in plan.items():
        for message in generated:
            body = encoded(message)
            response = await session.post(body)
            if response.status_code == 404:  # the server ended the session: go on in a new one
                session = await opened(client, target)
            errors, result = read(response)
            run.exchanges.append(Exchange(kind, body, response.status_code, said(response), errors, result))
    return run


async def fuzzed(client: httpx.AsyncClient, target: Target, runs: dict[str, Run], count: int) -> Run:
    if "run" not in runs:
        runs["run"] = await fuzz(client, target, count)
    run = runs["run"]
    measure("messages", len(run.exchanges))
    for exchange in run.exchanges:
        measure(f"messages {exchange.kind}")
    return run


def shown(body: bytes) -> str:
    text = repr(body[:SHOWN])[2:-1]
    return text + ("…" if len(body) > SHOWN else "") + f" ({len(body)} bytes)"


async def offending(
    client: httpx.AsyncClient, target: Target, run: Run, found: list[tuple[Exchange, str]], what: str
) -> str:
    """The failure's reason; the first offending message is sent again in a new session, as evidence."""
    first, why = found[0]
    session = await opened(client, target)
    again = await session.post(first.body)
    return (
        f"{len(found)} of {len(run.exchanges)} generated messages {what}; the first, a "
        f"{first.kind} message {shown(first.body)}: {why} (sent again: HTTP {again.status_code})"
    )


def refused(exchange: Exchange) -> str | None:
    """Why the answer to an invalid request is no refusal, or None. A tool result with isError refuses
    arguments of the wrong type as MCP 2025-11-25 asks for invalid input (a tool execution error)."""
    if exchange.status == 202:
        return f"accepted as a notification: {exchange.answer}"
    if exchange.result == "result" or (exchange.result and exchange.kind != "wrong-params"):
        return f"answered with a result: {exchange.answer}"
    if 400 <= exchange.status < 500 or exchange.errors or exchange.result:
        return None
    return f"neither an HTTP error nor a JSON-RPC error: {exchange.answer}"


def wrong_code(exchange: Exchange) -> str | None:
    """Why the JSON-RPC error answering a malformed message has the wrong code or id, or None."""
    expected = EXPECTED_CODES.get(exchange.kind)
    if expected is None or not exchange.errors:
        return None
    error = exchange.errors[0]
    if error.get("code") not in expected:
        return f"answered code {error.get('code')!r}, expected {' or '.join(map(str, expected))}: {exchange.answer}"
    if exchange.kind == "not-json" and error["id"] is not None:
        return f"answered a parse error with id {error['id']!r}, expected null: {exchange.answer}"
    if exchange.kind == "unknown-method":
        sent = json.loads(exchange.body)["id"]
        if error["id"] != sent or type(error["id"]) is not type(sent):
            return f"answered -32601 with id {error['id']!r}, expected the request's {sent!r}: {exchange.answer}"
    return None


# -- the checks ---------------------------------------------------------------------------------------


async def test_no_server_error(mcp_target, client, fuzz_run, fuzz_budget):
    """MCP-FUZZ-001 MUST: no generated message (not JSON, oversized, a batch, a wrong-typed envelope or params, an
    unknown method) is answered with a 5xx."""
    run = await fuzzed(client, mcp_target, fuzz_run, fuzz_budget)
    found = [(e, e.answer) for e in run.exchanges if e.status >= 500]
    if found:
        raise AssertionError(await offending(client, mcp_target, run, found, "got a 5xx"))


async def test_invalid_requests_are_refused(mcp_target, client, fuzz_run, fuzz_budget):
    """MCP-FUZZ-002 MUST: a generated request that is not valid (not JSON, a broken envelope, an id of the wrong
    type, an unknown method, params of the wrong type) is refused (an HTTP 4xx, or a JSON-RPC error), never
    accepted as a notification or answered with a result."""
    run = await fuzzed(client, mcp_target, fuzz_run, fuzz_budget)
    judged = [e for e in run.exchanges if e.kind in REFUSED and e.status < 500]
    found = [(e, why) for e in judged if (why := refused(e))]
    if found:
        raise AssertionError(await offending(client, mcp_target, run, found, "were not refused"))


async def test_errors_have_the_json_rpc_codes(mcp_target, client, fuzz_run, fuzz_budget):
    """MCP-FUZZ-003 MUST: a JSON-RPC error answering a generated malformed message has the code JSON-RPC 2.0
    defines for it: -32700 with id null (not JSON), -32600 or -32602 (an invalid request), -32601 with its id
    (an unknown method), -32602 or -32600 (params of the wrong type)."""
    run = await fuzzed(client, mcp_target, fuzz_run, fuzz_budget)
    found = [(e, why) for e in run.exchanges if (why := wrong_code(e))]
    if found:
        raise AssertionError(await offending(client, mcp_target, run, found, "got the wrong JSON-RPC error"))
