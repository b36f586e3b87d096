"""Helpers for the MCP checks: SDK sessions at a chosen revision, raw JSON-RPC over HTTP, challenges.

The SDK client speaks ``httpx2``; the raw checks use ``httpx`` like the rest of the suite. Both carry
the target's client hooks (credential guard, ``--spreadapi-max-rps``, evidence; ``target_session`` passes them on), so a
failing check driven by the SDK shows its JSON-RPC exchanges in the report as the raw ones do. In process,
both go through an ASGI transport, and the app's lifespan must run (``running``): the SDK's session
managers live in it. ``httpx``'s and ``httpx2``'s ASGI transports buffer whole responses, so a
standalone GET stream (which never ends) is read over loopback in process (``streaming_client``).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import httpx2
import mcp.types as types
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.types.version import HANDSHAKE_PROTOCOL_VERSIONS, LATEST_HANDSHAKE_VERSION, MODERN_PROTOCOL_VERSIONS

from spreadapi_conformance.fixtures import load_services
from spreadapi_conformance.offtarget import origin
from spreadapi_conformance.report import evidence

from ..answers import field
from ..premise import not_applicable
from ..rest._support import ok_json

if TYPE_CHECKING:
    from ..target import Target


# Every revision the SDK negotiates: the initialize handshake ones and the stateless 2026-07-28.
REVISIONS = (*HANDSHAKE_PROTOCOL_VERSIONS, *MODERN_PROTOCOL_VERSIONS)
MODERN = MODERN_PROTOCOL_VERSIONS[-1]
LATEST = LATEST_HANDSHAKE_VERSION
ACCEPT = "application/json, text/event-stream"
# s: how long the SDK client waits for the answer to one request (a server that answers with the wrong id, or
# not at all, fails the check with a timeout instead of holding it until the check's own limit), and, once an
# endpoint has let a request time out in this run, how long the next sessions on it wait: a broken target
# costs its first timeout, not one per check.
REQUEST_TIMEOUT = 10.0
UNANSWERED_TIMEOUT = 2.0
_UNANSWERED: set[str] = set()  # endpoint URLs that let a request time out in this run
JSON_RPC_HEADERS = {"accept": ACCEPT, "content-type": "application/json"}
SERVICE_TOOLS = ["spreadapi_calc", "spreadapi_batch", "spreadapi_get_details"]
BRIDGE_TOOLS = ["spreadapi_list_services", "spreadapi_get_service_details", "spreadapi_calc", "spreadapi_batch"]
FIXTURE_IDS = tuple(load_services())


def service_path(service_id: str) -> str:
    return f"/api/mcp/services/{service_id}"


@dataclass
class Endpoint:
    """The MCP endpoint the generic transport checks talk to, as the kit found it."""

    path: str
    headers: dict[str, str]  # its bearer credential, if the target file gives one
    what: str  # for messages: which endpoint this is and why
    revision: str | None  # what it answered an initialize at LATEST with (None: no usable answer)


_ENDPOINTS: dict[tuple[str, str], Endpoint] = {}


def _bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def transport_choice(target: Target) -> tuple[str, dict[str, str], str]:
    """``(path, headers, what)``: the one MCP endpoint of a target whose ``[paths]`` gives ``single_service_mcp``
    as a fixed path (an MCP server that is not SpreadAPI; its credential from ``[credentials]``), else the
    single-service endpoint of a published service (a public one, or a private one with its token), else
    ``/api/mcp`` with a credential from ``[credentials]``. The transport checks need no SpreadAPI tool."""
    spec = target.spec
    fixed = spec.paths.get("single_service_mcp") or ""
    if fixed and "{id}" not in fixed:
        return fixed, _bearer(spec.credentials.get("single_service_mcp")), f"the MCP endpoint {fixed}"
    services = sorted(spec.services.values(), key=lambda s: (not s.public, s.fixture))
    for service in services:
        if service.public or service.token:
            path = target.path("single_service_mcp", id=service.id)
            return path, _bearer(service.token), f"the single-service endpoint of {service.id!r}"
    if spec.credentials.get("mcp"):
        return target.path("mcp"), _bearer(spec.credentials["mcp"]), "the multi-service endpoint"
    not_applicable(
        "the target file names no MCP endpoint the kit can open: no fixed [paths] single_service_mcp, no "
        "published service with its token, no [credentials] mcp"
    )


async def transport_endpoint(client: httpx.AsyncClient, target: Target) -> Endpoint:
    """:func:`transport_choice`, probed once per run with an initialize at LATEST. Premise of every
    transport check: the kit can open the endpoint. When it answers 401 to a request without a credential
    and the target file describes OAuth the kit can complete (``[oauth]``, consent not manual), the kit
    obtains an access token for it as a connector would and uses that; otherwise the transport checks are not
    applicable (they would only fail on the challenge the kit caused)."""
    path, headers, what = transport_choice(target)
    key = (target.base_url, path)
    if key not in _ENDPOINTS:
        response = await client.post(path, json=initialize_message(), headers={**JSON_RPC_HEADERS, **headers})
        if response.status_code == 401 and not headers:
            headers = _bearer(await endpoint_credential(client, target, path, None, what))
            response = await client.post(path, json=initialize_message(), headers={**JSON_RPC_HEADERS, **headers})
        revision = None
        if response.status_code == 200:
            with contextlib.suppress(AssertionError, ValueError, KeyError, TypeError):
                revision = str(answer(response, 1)["result"]["protocolVersion"])
        _ENDPOINTS[key] = Endpoint(path, headers, what, revision)
    return _ENDPOINTS[key]


_TOKENS: dict[tuple[str, str], str] = {}


async def endpoint_credential(
    client: httpx.AsyncClient, target: Target, path: str, given: str | None, what: str
) -> str:
    """A credential ``path`` accepts: the one the target file gives, else an access token the kit obtains
    through the target's OAuth as a connector would (once per run), else the check does not apply."""
    if given:
        return given
    key = (target.base_url, path)
    if key not in _TOKENS:
        _TOKENS[key] = await _oauth_token(client, target, path, what)
    return _TOKENS[key]


async def _oauth_token(client: httpx.AsyncClient, target: Target, path: str, what: str) -> str:
    from ..oauth._support import access_token, grant_for, resources  # the OAuth helpers build on these

    oauth = target.spec.oauth
    resource = next((r for r in resources(target) if r.path == path), None) if oauth is not None else None
    if resource is None or oauth.consent == "manual":
        not_applicable(
            f"{what} needs a credential: the target file gives none for it ([credentials] single_service_mcp, or "
            "a service's token) and no OAuth the kit can complete for it ([oauth] with a consent it can play)"
        )
    try:
        return await access_token(client, await grant_for(client, target, resource))
    except AssertionError as exc:
        not_applicable(f"{what} needs a credential and no access token could be obtained for it: {str(exc)[:300]}")


def revision_premise(target: Target, revision: str, negotiated: str | None) -> None:
    """A revision's checks apply when the server negotiates it or the target file claims it (mcp_revisions);
    a server that answers an offer of ``revision`` with another revision it supports made a correct
    counter-offer, not a mistake."""
    if negotiated != revision and revision not in target.spec.mcp_revisions:
        not_applicable(
            f"the server does not speak MCP {revision} (offered it, it answered {negotiated or 'no revision'}) and "
            "the target file does not claim it (mcp_revisions)"
        )


async def modern_premise(client: httpx.AsyncClient, target: Target, endpoint: Endpoint) -> None:
    """The 2026-07-28 checks apply to a server that serves 2026-07-28 (server/discover answers and offers it)
    or whose target file claims it; a server that refuses the revision outright would otherwise pass the
    checks that expect a 400."""
    message, headers = modern_request("server/discover")
    discovered = await client.post(endpoint.path, json=message, headers={**headers, **endpoint.headers})
    served = False
    if discovered.status_code == 200:
        try:
            served = MODERN in (result(discovered, 1).get("supportedVersions") or [])
        except AssertionError:
            served = False
    if served:
        return
    if MODERN in target.spec.mcp_revisions:
        raise AssertionError(f"the target file claims {MODERN}, but server/discover answered {said(discovered)}")
    not_applicable(f"the server does not serve MCP {MODERN} (server/discover: HTTP {discovered.status_code})")


@contextlib.asynccontextmanager
async def running(app: Any) -> AsyncIterator[None]:
    """The app's lifespan, as a server runs it (in-process ASGI transports skip it); no-op for None.

    The lifespan runs in a task of its own, as under uvicorn: the SDK's task groups must be entered
    and left by one task, and pytest-asyncio sets a fixture up and tears it down in different ones.
    """
    if app is None:
        yield
        return
    started, stop = asyncio.Event(), asyncio.Event()

    async def lifespan() -> None:
        async with app.router.lifespan_context(app):
            started.set()
            await stop.wait()

    task = asyncio.create_task(lifespan())
    waiter = asyncio.create_task(started.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if not started.is_set():
        waiter.cancel()
        await task  # raises what the startup raised
    try:
        yield
    finally:
        stop.set()
        await task


def http2_client(
    app: Any,
    base_url: str = "http://testserver",
    token: str | None = None,
    *,
    hooks: dict[str, list] | None = None,
    **headers: str,
) -> httpx2.AsyncClient:
    """An httpx2 client for the SDK: in process when ``app`` is given, else over the network.

    ``hooks`` are a target's (``Target.hooks()``: the credential guard, --spreadapi-max-rps, certify's evidence);
    without them the exchanges are still recorded as evidence."""
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    transport = httpx2.ASGITransport(app=app) if app is not None else None
    return httpx2.AsyncClient(
        transport=transport,
        base_url=base_url,
        headers=headers,
        timeout=30,
        event_hooks=hooks or evidence.event_hooks(),
    )


async def handshake(session: ClientSession, revision: str) -> None:
    """Open the conversation at ``revision``: ``server/discover`` for 2026-07-28, else ``initialize``.

    The SDK's ``initialize()`` always offers its newest handshake revision; older ones are offered
    by sending the request ourselves and adopting the answer, as a client of that revision would.
    """
    if revision in MODERN_PROTOCOL_VERSIONS:
        await session.discover()
        return
    if revision == LATEST:
        await session.initialize()
        return
    params = types.InitializeRequestParams(
        protocol_version=revision,
        capabilities=types.ClientCapabilities(),
        client_info=types.Implementation(name="spreadapi-conformance", version="1"),
    )
    result = await session.send_request(types.InitializeRequest(params=params), types.InitializeResult)
    assert result.protocol_version == revision, f"offered {revision}, the server answered {result.protocol_version}"
    session.adopt(result)
    await session.send_notification(types.InitializedNotification())


@contextlib.asynccontextmanager
async def mcp_session(
    app: Any,
    path: str,
    token: str | None = None,
    revision: str = LATEST,
    base_url: str = "http://testserver",
    hooks: dict[str, list] | None = None,
    paced: float = 0.0,
) -> AsyncIterator[ClientSession]:
    """An SDK ``ClientSession`` on ``path``, past the handshake at ``revision``; ``paced``: seconds between two
    requests under --spreadapi-max-rps, added to the wait for an answer (the pace delays the request itself)."""
    url = base_url.rstrip("/") + path
    timeout = (UNANSWERED_TIMEOUT if url in _UNANSWERED else REQUEST_TIMEOUT) + 4 * paced
    try:
        async with (
            http2_client(app, base_url, token, hooks=hooks) as http,
            streamable_http_client(url, http_client=http) as (read, write),
            ClientSession(read, write, read_timeout_seconds=timeout) as session,
        ):
            await handshake(session, revision)
            yield session
    except BaseException as exc:
        if _timed_out(exc):
            _UNANSWERED.add(url)
        raise


def _timed_out(exc: BaseException) -> bool:
    if isinstance(exc, BaseExceptionGroup):
        return any(_timed_out(inner) for inner in exc.exceptions)
    return isinstance(exc, MCPError) and exc.code == types.REQUEST_TIMEOUT


def target_session(
    target: Target, path: str, token: str | None = None, revision: str = LATEST
) -> contextlib.AbstractAsyncContextManager[ClientSession]:
    """:func:`mcp_session` on the target under test (in process or live), with its client hooks."""
    paced = target.limiter.interval if target.limiter is not None else 0.0
    return mcp_session(target.app, path, token, revision, target.base_url, target.hooks(), paced)


def service_session(
    target: Target, fixture_id: str, revision: str = LATEST
) -> contextlib.AbstractAsyncContextManager[ClientSession]:
    """An SDK session on the target's single-service endpoint of ``fixture_id``, authorised if private."""
    token = target.auth(fixture_id).get("Authorization", "").removeprefix("Bearer ") or None
    path = target.path("single_service_mcp", fixture=fixture_id)
    return target_session(target, path, token=token, revision=revision)


async def rest_execute(client: Any, target: Target, fixture_id: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """The REST ``execute`` body for ``inputs``, which an MCP tool result must match."""
    response = await client.post(
        target.execute_path(fixture_id), json={"inputs": inputs}, headers=target.auth(fixture_id)
    )
    return ok_json(response)


def instructions(session: ClientSession) -> str:
    result = session.initialize_result or session.discover_result
    assert result is not None
    return result.instructions or ""


# -- raw JSON-RPC ----------------------------------------------------------------------------------


def initialize_message(revision: str = LATEST, request_id: int | str = 1) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "initialize",
        "params": {
            "protocolVersion": revision,
            "capabilities": {},
            "clientInfo": {"name": "spreadapi-conformance", "version": "1"},
        },
    }


def request_message(method: str, request_id: int | str = 2, **params: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params:
        message["params"] = params
    return message


def modern_meta() -> dict[str, Any]:
    """The ``_meta`` envelope of a 2026-07-28 request: its protocol version, capabilities (none) and client."""
    return {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "spreadapi-conformance", "version": "1"},
    }


def modern_request(method: str, request_id: int | str = 1, name: str | None = None, **params: Any) -> tuple:
    """A 2026-07-28 request and its headers: the ``_meta`` envelope, ``Mcp-Method`` (and ``Mcp-Name``)."""
    meta = modern_meta()
    headers = {**JSON_RPC_HEADERS, "mcp-protocol-version": MODERN, "mcp-method": method}
    if name is not None:
        headers["mcp-name"] = name
        params["name"] = name
    return request_message(method, request_id, _meta=meta, **params), headers


def _json(text: str, response: httpx.Response) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise AssertionError(f"not JSON: {said(response)}") from None


def messages(response: httpx.Response) -> list[dict[str, Any]]:
    """The JSON-RPC messages of a response: one JSON body, or the ``data`` of each SSE event; an
    AssertionError saying what came when the answer is neither (HTML, plain text, broken JSON)."""
    kind = response.headers.get("content-type", "")
    if kind.startswith("application/json"):
        found = [_json(response.text, response)]
    else:
        assert kind.startswith("text/event-stream"), f"neither JSON nor an event stream: {said(response)}"
        found = []
        for event in re.split(r"\r?\n\r?\n", response.text):
            data = [line[5:].lstrip() for line in re.split(r"\r?\n", event) if line.startswith("data:")]
            if data and "".join(data):
                found.append(_json("\n".join(data), response))
    shapeless = [m for m in found if not isinstance(m, dict)]
    assert not shapeless, f"an answer that is not a JSON-RPC message object: {said(response)}"
    return found


def rpc_error(response: httpx.Response) -> dict[str, Any]:
    """The one JSON-RPC error object a response carries (``{"code", "message", ...}`` with its ``id``)."""
    errors = [m for m in messages(response) if isinstance(m.get("error"), dict)]
    assert len(errors) == 1, f"expected one JSON-RPC error, got {said(response)}"
    error = errors[0]["error"]
    assert isinstance(error.get("code"), int) and isinstance(error.get("message"), str), (
        f"the error has no integer code and string message: {said(response)}"
    )
    return {**error, "id": errors[0].get("id", "absent")}


def said(response: httpx.Response) -> str:
    """A response in one line, for an assertion's message (a check's reason in the report)."""
    kind = response.headers.get("content-type", "no content-type")
    return f"HTTP {response.status_code} ({kind}): {response.text[:300]!r}"


def answer(response: httpx.Response, request_id: Any) -> dict[str, Any]:
    """The response to ``request_id`` among what the server sent; its ``result`` (when it has one) is an
    object, so ``answer(...)["result"]`` can be read without another guard."""
    for message in messages(response):
        if message.get("id") == request_id and type(message.get("id")) is type(request_id):
            if "result" in message:
                assert isinstance(message["result"], dict), f"the result is not an object: {said(response)}"
                return message
            if "error" in message:
                return message
    raise AssertionError(f"no answer to id {request_id!r}: {said(response)}")


def result(response: httpx.Response, request_id: Any) -> dict[str, Any]:
    """The ``result`` object answering ``request_id`` (an AssertionError when it is an error or absent)."""
    message = answer(response, request_id)
    assert "result" in message, f"expected a result for id {request_id!r}, got an error: {said(response)}"
    return message["result"]


class RawSession:
    """A handshake-era session driven by hand: POSTs with the session id and version headers."""

    def __init__(self, http: httpx.AsyncClient, path: str, headers: dict[str, str] | None = None) -> None:
        self.http, self.path, self.extra = http, path, dict(headers or {})
        self.session_id: str | None = None
        self.revision = LATEST

    async def open(self, revision: str = LATEST) -> dict[str, Any]:
        response = await self.http.post(
            self.path, json=initialize_message(revision), headers={**JSON_RPC_HEADERS, **self.extra}
        )
        assert response.status_code == 200, f"initialize: {said(response)}"
        self.session_id = response.headers.get("mcp-session-id")
        opened = result(response, 1)
        assert isinstance(opened.get("protocolVersion"), str), f"initialize named no protocolVersion: {said(response)}"
        self.revision = opened["protocolVersion"]
        await self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return answer(response, 1)

    def headers(self, **overrides: str | None) -> dict[str, str]:
        headers: dict[str, str | None] = {**JSON_RPC_HEADERS, "mcp-protocol-version": self.revision, **self.extra}
        if self.session_id:
            headers["mcp-session-id"] = self.session_id
        headers.update(overrides)
        return {k: v for k, v in headers.items() if v is not None}

    async def post(self, message: Any, **overrides: str | None) -> httpx.Response:
        content = message if isinstance(message, bytes) else json.dumps(message).encode()
        return await self.http.post(self.path, content=content, headers=self.headers(**overrides))

    async def call(self, method: str, request_id: int | str = 2, **params: Any) -> dict[str, Any]:
        response = await self.post(request_message(method, request_id, **params))
        assert response.status_code == 200, f"{method}: {said(response)}"
        return answer(response, request_id)


# -- challenges ------------------------------------------------------------------------------------

_PARAM = re.compile(r'\s*([A-Za-z_]+)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')


def challenge(response: httpx.Response) -> tuple[str, dict[str, str]]:
    """(scheme, parameters) of the response's WWW-Authenticate header (RFC 9110 §11.6.1, quoted values)."""
    header = response.headers.get("www-authenticate")
    assert header, f"HTTP {response.status_code} without WWW-Authenticate: {response.text[:300]}"
    scheme, _, rest = header.partition(" ")
    params = {m.group(1).lower(): re.sub(r"\\(.)", r"\1", m.group(2)) for m in _PARAM.finditer(rest)}
    return scheme, params


def prm_url(base_url: str, path: str) -> str:
    """RFC 9728 §3.1: the protected-resource metadata URL of the resource at ``path``."""
    return f"{base_url.rstrip('/')}/.well-known/oauth-protected-resource{path}"


def rest_result(body: Any, what: str = "the result") -> dict[str, Any]:
    """The parts of an execute body that must be identical over MCP (timings and stamps differ)."""
    return {key: field(body, key, what=what) for key in ("service", "inputs", "outputs")}


def tool_json(result: types.CallToolResult) -> Any:
    """The JSON in the result's first text block."""
    first = result.content[0]
    assert isinstance(first, types.TextContent), f"expected a text block, got {first!r}"
    return json.loads(first.text)


def tool_text(result: types.CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, types.TextContent))


# -- OAuth access tokens (in process, through the OAuth suite's driver) ------------------------------

ISSUER = "http://testserver"


async def multi_service_oat(oauth: Any, mcp_token: str | None = None) -> str:
    """An ``oat_`` for ``/api/mcp`` (Option 3): the user pastes ``mcp_token`` (default: the seeded "all")."""
    pending = await oauth.start(resource=f"{ISSUER}/api/mcp")
    return await oauth.access_token(pending, **({"mcp_tokens": mcp_token} if mcp_token else {}))


async def single_service_oat(oauth: Any, service_id: str, service_token: str | None = None) -> str:
    """An ``oat_`` for ``/api/mcp/services/{id}`` (Option 2); a private service needs its token pasted."""
    pending = await oauth.start(resource=f"{ISSUER}{service_path(service_id)}")
    return await oauth.access_token(pending, **({"service_token": service_token} if service_token else {}))


# -- a transcript: every answer of a few ordinary exchanges, for the checks of message shape -----------------


@dataclass
class Exchange:
    what: str  # the request, in a few words
    modern: bool  # sent as a 2026-07-28 request
    response: httpx.Response

    @property
    def carries_json_rpc(self) -> bool:
        """Whether the answer has a JSON or event-stream body (a transport error may carry a body of its own)."""
        kind = self.response.headers.get("content-type", "")
        return bool(self.response.content) and kind.startswith(("application/json", "text/event-stream"))

    def messages(self) -> list[dict[str, Any]]:
        """Its JSON-RPC messages (none when it carries no JSON-RPC body)."""
        return messages(self.response) if self.carries_json_rpc else []


NO_SUCH_TOOL = "spreadapi_conformance_no_such_tool"
NO_SUCH_RESOURCE = "spreadapi-conformance://no-such-resource"
READ_ONLY_TOOL = "spreadapi_get_details"  # the one tool the transcript calls for real: it only describes


async def transcript(client: httpx.AsyncClient, endpoint: Endpoint) -> list[Exchange]:
    """The answers to what an ordinary client sends, good and bad: a handshake-era session (initialize, lists,
    ping, an unknown method, an unknown tool, a request with id null, a body that is not JSON) and, when the
    server answers server/discover, the same at 2026-07-28 with a mismatched and an unsupported version. The
    only tool called for real is spreadapi_get_details, which only describes its service; nothing changes."""
    found = await _handshake_exchanges(client, endpoint)
    return found + await _modern_exchanges(client, endpoint)


async def _handshake_exchanges(client: httpx.AsyncClient, endpoint: Endpoint) -> list[Exchange]:
    session = RawSession(client, endpoint.path, endpoint.headers)
    opened = await client.post(endpoint.path, json=initialize_message(), headers=session.headers())
    found = [Exchange("initialize", False, opened)]
    if opened.status_code != 200:
        return found
    session.session_id = opened.headers.get("mcp-session-id")
    with contextlib.suppress(AssertionError, KeyError, TypeError):
        session.revision = str(answer(opened, 1)["result"]["protocolVersion"])
    sent: list[tuple[str, Any]] = [
        ("notifications/initialized", {"jsonrpc": "2.0", "method": "notifications/initialized"}),
        ("tools/list", request_message("tools/list", 2)),
        ("ping", request_message("ping", 3)),
        ("an unknown method", request_message("spreadapi_conformance/nothing", 4)),
        ("an unknown tool", request_message("tools/call", 5, name=NO_SUCH_TOOL, arguments={})),
        ("a request with id null", {"jsonrpc": "2.0", "id": None, "method": "tools/list"}),
        ("a body that is not JSON", b"{not json"),
    ]
    for what, message in sent:
        found.append(Exchange(what, False, await session.post(message)))
    if READ_ONLY_TOOL in tool_names(found[2]):
        called = request_message("tools/call", 6, name=READ_ONLY_TOOL, arguments={})
        found.append(Exchange(READ_ONLY_TOOL, False, await session.post(called)))
    return found


async def _modern_exchanges(client: httpx.AsyncClient, endpoint: Endpoint) -> list[Exchange]:
    async def send(what: str, message: dict[str, Any], headers: dict[str, str], **changed: str) -> Exchange:
        sent = await client.post(endpoint.path, json=message, headers={**headers, **endpoint.headers, **changed})
        return Exchange(what, True, sent)

    discovered = await send("server/discover", *modern_request("server/discover", 1))
    if discovered.response.status_code != 200:
        return []  # the server does not serve 2026-07-28
    unsupported, headers = modern_request("tools/list", 5)
    unsupported["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = "1999-01-01"
    mismatched, _ = modern_request("tools/list", 6)
    mismatched["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = LATEST  # the header says MODERN
    found = [
        discovered,
        await send("tools/list", *modern_request("tools/list", 2)),
        await send("an unknown method", *modern_request("spreadapi_conformance/nothing", 3)),
        await send("an unknown tool", *modern_request("tools/call", 4, name=NO_SUCH_TOOL, arguments={})),
        await send("an unsupported version", unsupported, headers, **{"mcp-protocol-version": "1999-01-01"}),
        await send("a mismatched version header", mismatched, headers),
    ]
    if "resources" in capabilities_of(discovered):
        read, headers = modern_request("resources/read", 7, uri=NO_SUCH_RESOURCE)
        found.append(await send("an unknown resource", read, headers, **{"mcp-name": NO_SUCH_RESOURCE}))
    if READ_ONLY_TOOL in tool_names(found[1]):
        found.append(await send(READ_ONLY_TOOL, *modern_request("tools/call", 8, name=READ_ONLY_TOOL, arguments={})))
    return found


def _result_of(exchange: Exchange) -> dict[str, Any]:
    with contextlib.suppress(AssertionError):
        for message in exchange.messages():
            if isinstance(message.get("result"), dict):
                return message["result"]
    return {}


def tool_names(exchange: Exchange) -> list[str]:
    tools = _result_of(exchange).get("tools")
    return [t.get("name") for t in tools if isinstance(t, dict)] if isinstance(tools, list) else []


def capabilities_of(exchange: Exchange) -> dict[str, Any]:
    capabilities = _result_of(exchange).get("capabilities")
    return capabilities if isinstance(capabilities, dict) else {}


# -- event streams read as they come, each for a bounded time -----------------------------------------------

# s: how long a standalone GET stream (or a resumed one) is read once the kit's requests are answered (it never
# ends by itself).
LISTEN_WINDOW = 1.0
# s: the wait for an answer and for a POST's event stream to end: the SDK client's wait for one answer,
# stretched under --max-rps as the SDK client's is (the pace delays the request itself).
_ANSWER_WINDOW: contextvars.ContextVar[float] = contextvars.ContextVar("answer_window", default=REQUEST_TIMEOUT)
PROGRESS_TOKEN = "spreadapi-conformance-progress"


@dataclass
class SseEvent:
    """One event of a stream as the SSE standard reads it: its fields, when it came, its JSON-RPC message."""

    id: str | None
    data: str
    retry: str | None
    at: float  # time.monotonic() when it was read
    message: dict[str, Any] | None  # None: no data (a priming event), or data that is no JSON object


@dataclass
class Stream:
    """What one HTTP response of a session carried: a POST's answer, a standalone GET stream, a resumption."""

    name: str  # for messages: "GET stream 1", "the answer to tools/list (id 2)"
    kind: str  # "get", "post" or "resume"
    request_id: Any = None  # the POST's request (or, resuming, the request of the stream resumed)
    token: str | None = None  # the progressToken the POST gave
    resumes: str | None = None  # resuming: the name of the stream resumed
    status: int = 0  # 0: a GET not answered in time
    content_type: str = ""
    events: list[SseEvent] = dataclasses.field(default_factory=list)
    ended: bool = False  # the server ended it within the window

    @property
    def is_sse(self) -> bool:
        return self.status == 200 and self.content_type.startswith("text/event-stream")

    def messages(self) -> list[dict[str, Any]]:
        return [event.message for event in self.events if event.message is not None]

    def answer(self) -> SseEvent | None:
        """The event that carried the response to this stream's request (None: it did not come on this stream)."""
        for event in self.events:
            message = event.message or {}
            if "method" not in message and message.get("id") == self.request_id and self.request_id is not None:
                return event
        return None


class StreamReader:
    """An HTTP response read event by event in a task of its own while the check goes on; the connection is
    closed on exit, whether or not the server ended the stream (a standalone GET stream never does)."""

    def __init__(self, http: httpx.AsyncClient, stream: Stream, method: str, path: str, **kwargs: Any) -> None:
        self.stream = stream
        self._context: Any = http.stream(method, path, **kwargs)
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> StreamReader:
        try:
            response = await asyncio.wait_for(self._context.__aenter__(), _ANSWER_WINDOW.get())
        except TimeoutError:
            if self.stream.kind == "post":
                raise AssertionError(f"{self.stream.name}: no answer within {_ANSWER_WINDOW.get():g} s") from None
            self._context = None  # a GET left unanswered: no stream (the checks that need one do not apply)
            return self
        self.stream.status = response.status_code
        self.stream.content_type = response.headers.get("content-type", "")
        if self.stream.is_sse:
            self._task = asyncio.create_task(self._read(response))
        else:
            body = await asyncio.wait_for(response.aread(), _ANSWER_WINDOW.get())
            self.stream.ended = True
            json_answer = self.stream.kind == "post" and self.stream.content_type.startswith("application/json")
            with contextlib.suppress(ValueError, RecursionError):
                message = json.loads(body) if json_answer else None  # a refused GET's error is no stream message
                if isinstance(message, dict):
                    self.stream.events.append(
                        SseEvent(None, body.decode(errors="replace"), None, time.monotonic(), message)
                    )
        return self

    async def _read(self, response: httpx.Response) -> None:
        fields: dict[str, str] = {}
        data: list[str] = []
        with contextlib.suppress(httpx.HTTPError, UnicodeDecodeError):  # a cut connection, bytes no SSE has
            async for line in response.aiter_lines():
                if line.startswith(":"):
                    continue  # a comment (a keep-alive)
                if line:
                    name, _, value = line.partition(":")
                    value = value.removeprefix(" ")
                    if name == "data":
                        data.append(value)
                    else:
                        fields[name] = value
                    continue
                if fields or data:
                    self.stream.events.append(_event(fields, data))
                fields, data = {}, []
        self.stream.ended = True

    async def wait(self, seconds: float) -> None:
        """Until the server ends the stream, at most ``seconds``."""
        if self._task is not None:
            await asyncio.wait({self._task}, timeout=seconds)

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._context is not None:
            await self._context.__aexit__(None, None, None)


def _event(fields: dict[str, str], data: list[str]) -> SseEvent:
    text = "\n".join(data)
    message = None
    with contextlib.suppress(ValueError, RecursionError):
        parsed = json.loads(text) if text else None
        message = parsed if isinstance(parsed, dict) else None
    return SseEvent(fields.get("id"), text, fields.get("retry"), time.monotonic(), message)


@contextlib.asynccontextmanager
async def streaming_client(target: Target) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose answers can be read while they come: the target's own for a live target; in process, the
    app served on a loopback port (httpx's ASGI transport hands a response over only once it has ended, and a
    GET stream never does), that origin trusted as the target's since it is the same app."""
    if target.app is None:
        async with target.client() as http:
            yield http
        return
    from ..replay._support import loopback_server

    async with loopback_server(target.app) as url:
        guard = dataclasses.replace(target.guard, origins=target.guard.origins | {origin(url)})
        hooks = evidence.event_hooks(target.limiter, guard=guard)
        async with httpx.AsyncClient(base_url=url, timeout=30, event_hooks=hooks) as http:
            yield http


@dataclass
class Observation:
    """Every stream of one conversation: at a handshake revision, a session with up to two standalone GET
    streams held open while the kit sends its requests (each with a progressToken) and, when the answers carried
    event ids, a resumption with Last-Event-ID; at 2026-07-28, the answers to the same requests."""

    revision: str
    negotiated: str | None  # what initialize answered (None at 2026-07-28)
    streams: list[Stream] = dataclasses.field(default_factory=list)
    refused: str | None = None  # why initialize at ``revision`` failed

    def answered(self) -> str:
        """How each request was answered, for a reason."""
        return "; ".join(f"{s.name}: HTTP {s.status} {s.content_type!r}" for s in self.of("post"))

    def of(self, *kinds: str) -> list[Stream]:
        return [stream for stream in self.streams if stream.kind in kinds]

    def asked(self) -> str:
        """The requests the kit sent, for a reason."""
        return ", ".join(s.name.removeprefix("the answer to ") for s in self.of("post")) or "no request"

    def tokens(self) -> dict[str, Stream]:
        """The progressTokens the kit gave, with the POST that gave each."""
        return {s.token: s for s in self.of("post") if s.token is not None}


_OBSERVED: dict[tuple[str, str, str], Observation] = {}
_UNOBSERVED: dict[tuple[str, str, str], str] = {}  # why the conversation failed


async def observed_streams(client: httpx.AsyncClient, target: Target, revision: str) -> Observation:
    """The :class:`Observation` of the transport endpoint at ``revision`` (once per run and revision: the
    checks of streams and progress judge the same conversation), after the revision's premise."""
    endpoint = await transport_endpoint(client, target)
    if revision in MODERN_PROTOCOL_VERSIONS:
        await modern_premise(client, target, endpoint)
    key = (target.base_url, endpoint.path, revision)
    if key in _UNOBSERVED:  # the conversation already failed in this run: the same reason, not another wait
        raise AssertionError(_UNOBSERVED[key])
    if key not in _OBSERVED:
        paced = target.limiter.interval if target.limiter is not None else 0.0
        window = _ANSWER_WINDOW.set(REQUEST_TIMEOUT + 4 * paced)
        try:
            async with streaming_client(target) as http:
                if revision in MODERN_PROTOCOL_VERSIONS:
                    _OBSERVED[key] = await _observe_modern(http, endpoint, revision)
                else:
                    _OBSERVED[key] = await _observe_session(http, endpoint, revision)
        except AssertionError as exc:
            _UNOBSERVED[key] = str(exc)
            raise
        finally:
            _ANSWER_WINDOW.reset(window)
    observation = _OBSERVED[key]
    if revision not in MODERN_PROTOCOL_VERSIONS:
        revision_premise(target, revision, observation.negotiated)
    assert observation.refused is None, observation.refused  # the target file claims the revision
    return observation


def _with_token(message: dict[str, Any], token: str) -> dict[str, Any]:
    params = message.setdefault("params", {})
    params["_meta"] = {**params.get("_meta", {}), "progressToken": token}
    return message


async def _answer(http: httpx.AsyncClient, observation: Observation, path: str, message: dict, headers: dict) -> Stream:
    """POST ``message`` and read its answer to the end (at most the wait for an answer)."""
    request_id, method = message["id"], message["method"]
    token = message["params"]["_meta"]["progressToken"]
    stream = Stream(f"the answer to {method} (id {request_id})", "post", request_id=request_id, token=token)
    observation.streams.append(stream)
    content = json.dumps(message).encode()
    async with StreamReader(http, stream, "POST", path, content=content, headers=headers) as reader:
        await reader.wait(_ANSWER_WINDOW.get())
    return stream


def _listed_tools(stream: Stream) -> list[str]:
    for message in stream.messages():
        tools = message.get("result", {}).get("tools") if isinstance(message.get("result"), dict) else None
        if isinstance(tools, list):
            return [tool.get("name") for tool in tools if isinstance(tool, dict)]
    return []


async def _observe_session(http: httpx.AsyncClient, endpoint: Endpoint, revision: str) -> Observation:
    session = RawSession(http, endpoint.path, endpoint.headers)
    try:
        await session.open(revision)
    except AssertionError as exc:  # not served: not applicable unless the target file claims the revision
        return Observation(revision, None, refused=f"initialize at {revision}: {exc}")
    observation = Observation(revision, session.revision)
    if session.revision != revision:
        return observation
    listen = session.headers(accept="text/event-stream", **{"content-type": None})
    token = f"{PROGRESS_TOKEN}-{revision}"
    async with contextlib.AsyncExitStack() as held:
        for number in (1, 2):  # two standalone streams at once, when the server allows two
            stream = Stream(f"GET stream {number}", "get")
            observation.streams.append(stream)
            await held.enter_async_context(StreamReader(http, stream, "GET", endpoint.path, headers=listen))
            if not stream.is_sse:
                break
        listed = await _answer(
            http,
            observation,
            endpoint.path,
            _with_token(request_message("tools/list", 2), f"{token}-2"),
            session.headers(),
        )
        ping = _with_token(request_message("ping", 3), f"{token}-3")
        await _answer(http, observation, endpoint.path, ping, session.headers())
        if READ_ONLY_TOOL in _listed_tools(listed):
            called = request_message("tools/call", 4, name=READ_ONLY_TOOL, arguments={})
            await _answer(http, observation, endpoint.path, _with_token(called, f"{token}-4"), session.headers())
        if observation.of("get")[0].is_sse:
            await asyncio.sleep(LISTEN_WINDOW)  # what the server still sends once the answers are in
    await _resume(http, observation, endpoint.path, listen)
    with contextlib.suppress(httpx.HTTPError):
        await http.delete(endpoint.path, headers=session.headers())
    return observation


async def _resume(http: httpx.AsyncClient, observation: Observation, path: str, listen: dict[str, str]) -> None:
    """Resume the first answer that carried an event id from its first one (a GET with Last-Event-ID), as a
    client whose connection broke there would."""
    for resumed in observation.of("post"):
        first = next((event.id for event in resumed.events if event.id), None)
        if first is None:
            continue
        name = f"the GET resuming {resumed.name} after event {first!r}"
        stream = Stream(name, "resume", request_id=resumed.request_id, resumes=resumed.name)
        observation.streams.append(stream)
        async with StreamReader(http, stream, "GET", path, headers={**listen, "last-event-id": first}) as reader:
            await reader.wait(LISTEN_WINDOW)
        return


async def _observe_modern(http: httpx.AsyncClient, endpoint: Endpoint, revision: str) -> Observation:
    observation = Observation(revision, None)
    token = f"{PROGRESS_TOKEN}-{revision}"
    message, headers = modern_request("tools/list", 2)
    listed = await _answer(
        http, observation, endpoint.path, _with_token(message, f"{token}-2"), {**headers, **endpoint.headers}
    )
    if READ_ONLY_TOOL in _listed_tools(listed):
        message, headers = modern_request("tools/call", 3, name=READ_ONLY_TOOL, arguments={})
        await _answer(
            http, observation, endpoint.path, _with_token(message, f"{token}-3"), {**headers, **endpoint.headers}
        )
    return observation


def notifications(stream: Stream, method: str | None = None) -> list[tuple[SseEvent, dict[str, Any]]]:
    """The notifications of a stream (of ``method``), with their events."""
    return [
        (event, event.message)
        for event in stream.events
        if event.message is not None
        and isinstance(event.message.get("method"), str)
        and "id" not in event.message
        and (method is None or event.message["method"] == method)
    ]


def progress_token(message: dict[str, Any]) -> str | int | None:
    """The progressToken a notification names (None: none, or a value no token can be: a list, an object)."""
    params = message.get("params")
    token = params.get("progressToken") if isinstance(params, dict) else None
    return token if isinstance(token, str | int) else None


def shown(message: dict[str, Any]) -> str:
    return json.dumps(message)[:300]
