"""``spreadapi-conformance bridge``: a stdio MCP server that forwards to a SpreadAPI deployment.

The counterpart of the npm package ``spreadapi-mcp`` that Claude Desktop launches (behaviour reference
§5), configured the same way::

    SPREADAPI_URL          the deployment's base URL (required); a URL that already contains /api/mcp
                           is the MCP endpoint itself and is used as it is
    SPREADAPI_SERVICE_ID   single-service mode: {SPREADAPI_URL}/api/mcp/services/{id}
                           (without it: the multi-service bridge, {SPREADAPI_URL}/api/mcp/bridge)
    SPREADAPI_MCP_URL      the MCP endpoint URL itself, for a deployment that serves MCP elsewhere than
                           the seed's paths (a target file's [paths]); it wins over the path derived
                           from SPREADAPI_URL, and SPREADAPI_SERVICE_ID then only selects the mode
    SPREADAPI_TOKEN        the bearer token: a service token (svc_tk_…, nothing for a public service)
                           in single-service mode, an MCP token (spapi_live_…, required) otherwise
    SPREADAPI_LOG_LEVEL    stderr logging (default warning); stdout carries only the protocol

Unlike the npm bridge, which answers ``initialize`` itself, posts every request stateless with id 1,
and turns every failure into an empty list or an ``isError`` text, this one forwards faithfully:

- the client's ``initialize`` is answered with the upstream's own result (server name, title,
  version, instructions, capabilities, protocol version);
- every other request goes upstream as it came (method and params, ``_meta`` included) and its
  result comes back as the upstream sent it; a JSON-RPC error stays an error with its code, message
  and data (an unknown tool is -32602 here exactly as upstream), and an ``isError`` tool result stays
  a result;
- there is one upstream session for the bridge's lifetime (its ``Mcp-Session-Id`` is kept and sent,
  and ended with DELETE at exit); notifications flow both ways (upstream progress, log messages and
  list changes to the client; the client's notifications upstream), and ``notifications/cancelled``
  from the client cancels the forwarded request, which cancels it upstream too.

Design. The stdio side is a raw JSON-RPC relay over the SDK's ``stdio_server`` streams, not the
low-level ``mcp.server.lowlevel.Server``: that server answers ``initialize`` and unknown methods
itself, computes its own capabilities and re-types every result, which is exactly what a faithful
bridge must not do. The upstream side is the SDK's ``ClientSession`` over ``streamable_http_client``
with the bearer header on its ``httpx2`` client, so the transport's session id, protocol-version
header, SSE handling and cancellation are the SDK's; requests are sent through
``ClientSession.send_request`` with a plain-dict result type (the SDK still checks each result
against the negotiated revision's schema).

The upstream handshake happens at start, before stdin is read, so a wrong URL, an unreachable host or
a bad token ends the bridge at once with a one-line message on stderr and exit code 1 (never a
traceback). It uses the SDK's newest handshake revision; when the client asks for another one in
its ``initialize``, the bridge redoes the upstream handshake at that revision, so the client gets
the upstream's real answer to what it asked (still one session at a time). The bridge announces no
client capabilities upstream: server-initiated requests (sampling, elicitation, roots) are not
relayed; SpreadAPI servers send none. It speaks the handshake era on stdio: a 2026-07-28
``server/discover`` probe goes upstream inside the session, where the server answers -32601, and
the client falls back to ``initialize``.

HTTP failures that carry no JSON-RPC body (a 401 from the auth layer, a 404 for an unknown service,
a refused connection) would reach the SDK's client as a bare "Server returned an error response" or
crash its transport; a small ``httpx2`` transport wrapper turns them into JSON-RPC errors (-32603)
that name the HTTP status and the server's own description, so the client sees why.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import anyio
import httpx2
import mcp.types as types
from anyio.abc import TaskGroup
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError
from mcp.shared.message import SessionMessage
from mcp.types.version import LATEST_HANDSHAKE_VERSION
from pydantic import TypeAdapter, ValidationError

__all__ = ["BridgeConfig", "ConfigError", "UpstreamError", "config_from_env", "main", "run"]

log = logging.getLogger("spreadapi_conformance.bridge")

STARTUP_TIMEOUT = 30.0  # seconds for connecting and the upstream handshake
DRAIN_TIMEOUT = 30.0  # seconds the answers to requests still running get once stdin has closed
HTTP_TIMEOUT = httpx2.Timeout(30.0, read=300.0)  # the SDK's defaults: long reads for slow calculations
_RAW = TypeAdapter(dict[str, Any])
# Keys of the error ``data`` the transport wrapper below attaches to HTTP failures.
HTTP_STATUS = "httpStatus"
DESCRIPTION = "description"
UNREACHABLE = "unreachable"


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("spreadapi-conformance")
    except Exception:  # a source checkout on sys.path
        return "0"


CLIENT_INFO = types.Implementation(name="spreadapi-conformance-bridge", version=_version())


# -- configuration ---------------------------------------------------------------------------------


class ConfigError(ValueError):
    """The environment does not describe a usable upstream; the message is one line for the user."""


class UpstreamError(RuntimeError):
    """The upstream cannot be used (unreachable, refused the token, not an MCP endpoint)."""


@dataclass(frozen=True)
class BridgeConfig:
    endpoint: str  # the upstream MCP endpoint URL
    token: str | None = field(default=None, repr=False)
    single_service: bool = False


def config_from_env(env: Mapping[str, str]) -> BridgeConfig:
    url = (env.get("SPREADAPI_URL") or "").strip().rstrip("/")
    token = (env.get("SPREADAPI_TOKEN") or "").strip() or None
    service_id = (env.get("SPREADAPI_SERVICE_ID") or "").strip() or None
    if explicit := (env.get("SPREADAPI_MCP_URL") or "").strip():
        return _config(_plain_url(explicit, "SPREADAPI_MCP_URL"), token, single=service_id is not None)
    if not url:
        raise ConfigError(
            "SPREADAPI_URL is not set: set it to the SpreadAPI deployment's base URL (e.g. https://spreadapi.example.com)"
        )
    parts = urlsplit(_plain_url(url, "SPREADAPI_URL"))
    if "/api/mcp" in parts.path:
        endpoint = url  # the MCP endpoint itself
        path = parts.path
        if service_id is not None and path.rstrip("/") != f"/api/mcp/services/{quote(service_id, safe='')}":
            raise ConfigError(
                f"SPREADAPI_SERVICE_ID={service_id} but SPREADAPI_URL points at another MCP endpoint ({path}); "
                "give the base URL, or leave SPREADAPI_SERVICE_ID unset"
            )
        single = "/api/mcp/services/" in path
    elif service_id is not None:
        endpoint = f"{url}/api/mcp/services/{quote(service_id, safe='')}"
        single = True
    else:
        endpoint = f"{url}/api/mcp/bridge"
        single = False
    return _config(endpoint, token, single)


def client_env(
    base_url: str, *, service_id: str | None = None, token: str | None = None, mcp_url: str | None = None
) -> dict[str, str]:
    """The environment a client gives the bridge (Claude Desktop's ``mcpServers`` entry, as the service page
    shows it): what :func:`config_from_env` reads. ``mcp_url``: for a deployment that serves MCP elsewhere."""
    env = {"SPREADAPI_URL": base_url}
    if service_id:
        env["SPREADAPI_SERVICE_ID"] = service_id
    if token:
        env["SPREADAPI_TOKEN"] = token
    if mcp_url:
        env["SPREADAPI_MCP_URL"] = mcp_url
    return env


def _plain_url(url: str, name: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name} must be an http:// or https:// URL, got {url!r}")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigError(f"{name} must be a plain URL, without user information, query or fragment")
    return url.rstrip("/")


def _config(endpoint: str, token: str | None, single: bool) -> BridgeConfig:
    if not single and token is None:
        raise ConfigError(
            "SPREADAPI_TOKEN is not set: the multi-service bridge needs an MCP token (spapi_live_…); "
            "for one service, set SPREADAPI_SERVICE_ID (a public service needs no token)"
        )
    return BridgeConfig(endpoint=endpoint, token=token, single_service=single)


# -- HTTP failures as JSON-RPC errors --------------------------------------------------------------


def _description(status: int, headers: httpx2.Headers, body: bytes) -> str:
    """What the server said about a failed request: its error description, else a short body."""
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if isinstance(document, dict):
        for key in ("error_description", "message", "error"):
            if isinstance(document.get(key), str) and document[key].strip():
                return document[key].strip()[:300]
    challenge = headers.get("www-authenticate", "")
    if 'error_description="' in challenge:
        return challenge.split('error_description="', 1)[1].split('"', 1)[0][:300]
    text = body.decode("utf-8", "replace").strip()
    return text[:300] if text else (httpx2.codes.get_reason_phrase(status) or "no description")


def _error_response(request: httpx2.Request, message: str, data: dict[str, Any]) -> httpx2.Response:
    body = {"jsonrpc": "2.0", "id": None, "error": {"code": types.INTERNAL_ERROR, "message": message, "data": data}}
    return httpx2.Response(502, json=body, request=request)


class _HttpFailuresAsErrors(httpx2.AsyncBaseTransport):
    """Wrap the real transport: a POST that fails below JSON-RPC is answered with a JSON-RPC error body.

    The SDK's client transport reads a JSON-RPC error from a non-2xx JSON body and hands it to the
    waiting request with that request's id. Everything else (successes, JSON-RPC error bodies, GET
    and DELETE) passes through untouched.
    """

    def __init__(self, inner: httpx2.AsyncBaseTransport, endpoint: str) -> None:
        self.inner = inner
        self.endpoint = endpoint

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        try:
            response = await self.inner.handle_async_request(request)
        except httpx2.TransportError as exc:
            if request.method != "POST":
                raise
            reason = str(exc) or type(exc).__name__
            return _error_response(
                request, f"Cannot reach the SpreadAPI server at {self.endpoint}: {reason}", {UNREACHABLE: reason}
            )
        if request.method != "POST" or response.status_code < 400:
            return response
        try:
            body = await response.aread()
        finally:
            await response.aclose()
        kind = response.headers.get("content-type", "").lower()
        if kind.startswith("application/json"):
            with contextlib.suppress(ValueError):
                document = json.loads(body)
                if isinstance(document, dict) and document.get("jsonrpc") == "2.0" and "error" in document:
                    # The server's own JSON-RPC error: passed on as it is.
                    return httpx2.Response(
                        response.status_code, headers={"content-type": kind}, content=body, request=request
                    )
        status = response.status_code
        what = {401: "authentication failed", 403: "access denied", 404: "not found"}.get(status, "request failed")
        description = _description(status, response.headers, body)
        data: dict[str, Any] = {HTTP_STATUS: status, DESCRIPTION: description}
        if challenge := response.headers.get("www-authenticate"):
            data["wwwAuthenticate"] = challenge
        return _error_response(request, f"SpreadAPI server: {what} (HTTP {status}): {description}", data)

    async def aclose(self) -> None:
        await self.inner.aclose()


# -- the upstream session --------------------------------------------------------------------------


def _startup_problem(config: BridgeConfig, error: MCPError) -> str:
    """The one-line message for a failed upstream handshake."""
    data = error.error.data if isinstance(error.error.data, dict) else {}
    if UNREACHABLE in data:
        return f"cannot reach the SpreadAPI server at {config.endpoint}: {data[UNREACHABLE]}"
    status = data.get(HTTP_STATUS)
    said = data.get(DESCRIPTION) or error.message
    if status == 401:
        hint = "check SPREADAPI_TOKEN" if config.token else "set SPREADAPI_TOKEN"
        return f"authentication failed at {config.endpoint} (HTTP 401): {said.rstrip('.')}; {hint}"
    if status == 403:
        return f"access denied at {config.endpoint} (HTTP 403): {said.rstrip('.')}; check SPREADAPI_TOKEN"
    if status == 404:
        names = "SPREADAPI_URL and SPREADAPI_SERVICE_ID" if config.single_service else "SPREADAPI_URL"
        return f"no MCP endpoint at {config.endpoint} (HTTP 404): check {names}"
    if status is not None:
        return f"the SpreadAPI server at {config.endpoint} refused the MCP handshake (HTTP {status}): {said}"
    return f"the MCP handshake with {config.endpoint} failed: {error.message} (JSON-RPC {error.code})"


class Upstream:
    """One upstream MCP session, owned by a task of its own (its task groups must be left where entered).

    ``open`` starts the task and waits for the handshake; ``close`` ends the session (DELETE) and
    waits for the task. ``on_notification`` receives the server's notifications as JSON-RPC dicts.
    """

    def __init__(self, config: BridgeConfig) -> None:
        self.config = config
        self.session: ClientSession | None = None
        self.initialize_result: dict[str, Any] = {}
        self.on_notification: Callable[[dict[str, Any]], Any] | None = None
        self._ready = anyio.Event()
        self._closing = anyio.Event()
        self._closed = anyio.Event()
        self._error: str | None = None

    @property
    def protocol_version(self) -> str | None:
        version = self.initialize_result.get("protocolVersion")
        return version if isinstance(version, str) else None

    async def open(self, task_group: TaskGroup, protocol_version: str = LATEST_HANDSHAKE_VERSION) -> None:
        """Connect and do the handshake at ``protocol_version``; raises UpstreamError when it fails."""
        task_group.start_soon(self._own, protocol_version)
        await self._ready.wait()
        if self._error is not None:
            await self._closed.wait()
            raise UpstreamError(self._error)

    async def close(self) -> None:
        self._closing.set()
        await self._closed.wait()

    def _http_client(self) -> httpx2.AsyncClient:
        headers = {"Authorization": f"Bearer {self.config.token}"} if self.config.token else {}
        transport = _HttpFailuresAsErrors(httpx2.AsyncHTTPTransport(), self.config.endpoint)
        return httpx2.AsyncClient(headers=headers, timeout=HTTP_TIMEOUT, transport=transport)

    async def _own(self, protocol_version: str) -> None:
        try:
            async with (
                self._http_client() as http,
                streamable_http_client(self.config.endpoint, http_client=http) as (read, write),
                ClientSession(read, write, message_handler=self._from_server, client_info=CLIENT_INFO) as session,
            ):
                try:
                    with anyio.fail_after(STARTUP_TIMEOUT):
                        self.initialize_result = await self._handshake(session, protocol_version)
                except MCPError as exc:
                    self._error = _startup_problem(self.config, exc)
                except TimeoutError:
                    self._error = f"no answer from {self.config.endpoint} within {STARTUP_TIMEOUT:.0f} s"
                except ValidationError as exc:
                    self._error = f"{self.config.endpoint} is not an MCP endpoint: {exc.errors()[0]['msg']}"
                if self._error is not None:
                    return
                self.session = session
                self._ready.set()
                await self._closing.wait()
                self.session = None
        except Exception as exc:  # the transport failed below the wrapper; never a traceback
            log.debug("upstream session ended", exc_info=True)
            problem = f"the connection to {self.config.endpoint} failed: {exc!r}"
            if self._ready.is_set():  # while serving: later requests are answered with errors
                log.error("error: %s", problem)
            self._error = self._error or problem
        finally:
            self.session = None
            self._ready.set()
            self._closed.set()

    @staticmethod
    async def _handshake(session: ClientSession, protocol_version: str) -> dict[str, Any]:
        """``initialize`` at ``protocol_version``, keeping the server's result as it sent it, then ``initialized``."""
        params = types.InitializeRequestParams(
            protocol_version=protocol_version, capabilities=types.ClientCapabilities(), client_info=CLIENT_INFO
        )
        raw = await session.send_request(types.InitializeRequest(params=params), _RAW)
        session.adopt(types.InitializeResult.model_validate(raw, by_name=False))
        await session.send_notification(types.InitializedNotification())
        return raw

    async def request(self, method: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
        """Forward one request; its result as the server sent it. Raises MCPError for an error."""
        if self.session is None:
            raise MCPError(types.INTERNAL_ERROR, "The connection to the SpreadAPI server is closed.")
        request = types.Request[Any, Any](method=method, params=dict(params) if params is not None else None)
        return await self.session.send_request(request, _RAW)

    async def notify(self, method: str, params: Mapping[str, Any] | None) -> None:
        if self.session is not None:
            notification = types.Notification[Any, Any](method=method, params=dict(params) if params else None)
            await self.session.send_notification(notification)  # type: ignore[arg-type]

    async def _from_server(self, message: Any) -> None:
        if isinstance(message, Exception):
            log.warning("upstream transport: %s", message)
            return
        if self.on_notification is None:
            log.debug("upstream notification before the client connected: %s", message.method)
            return
        await self.on_notification(message.model_dump(by_alias=True, mode="json", exclude_unset=True))


# -- the stdio relay -------------------------------------------------------------------------------


class Relay:
    """Reads the client's JSON-RPC messages from stdin and relays them through ``Upstream``."""

    def __init__(self, config: BridgeConfig, upstream: Upstream, task_group: TaskGroup, write: Any) -> None:
        self.config = config
        self.upstream = upstream
        self.task_group = task_group
        self.write = write
        self.in_flight: dict[types.RequestId, anyio.CancelScope] = {}
        self.failed = False  # a redone handshake failed: the client gets the error, the exit code is 1
        self.pending = 0  # forwarded requests not answered yet
        self.idle = anyio.Event()
        self.idle.set()
        upstream.on_notification = self._notify_client

    async def _send(self, message: types.JSONRPCMessage) -> None:
        with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
            await self.write.send(SessionMessage(message))

    async def _notify_client(self, notification: dict[str, Any]) -> None:
        await self._send(types.JSONRPCNotification(jsonrpc="2.0", **notification))

    async def _reply_error(self, request_id: types.RequestId | None, code: int, message: str) -> None:
        error = types.ErrorData(code=code, message=message)
        await self._send(types.JSONRPCError(jsonrpc="2.0", id=request_id, error=error))

    async def serve(self, read: Any) -> None:
        async for item in read:
            if isinstance(item, Exception):  # a line that is not a JSON-RPC message (JSON-RPC 2.0 §5.1)
                unparsable = isinstance(item, ValidationError) and item.errors()[0]["type"] == "json_invalid"
                if unparsable:
                    await self._reply_error(None, types.PARSE_ERROR, "Parse error: the line is not JSON")
                else:
                    await self._reply_error(None, types.INVALID_REQUEST, "Invalid Request: not a JSON-RPC 2.0 message")
                continue
            message = item.message
            if isinstance(message, types.JSONRPCRequest):
                if message.method == "initialize":
                    await self._initialize(message)  # inline: nothing else may run while the session changes
                else:
                    if self.pending == 0:
                        self.idle = anyio.Event()
                    self.pending += 1
                    self.task_group.start_soon(self._forward, message)
            elif isinstance(message, types.JSONRPCNotification):
                await self._notification(message)
            else:  # a response: the bridge sends the client no requests
                log.debug("ignored a response from the client (id %r)", message.id)
        # stdin closed: let the answers to what was asked go out (a piped client reads them), then stop.
        with anyio.move_on_after(DRAIN_TIMEOUT):
            await self.idle.wait()
        for scope in list(self.in_flight.values()):
            scope.cancel()

    async def _initialize(self, message: types.JSONRPCRequest) -> None:
        asked = (message.params or {}).get("protocolVersion")
        if isinstance(asked, str) and asked != self.upstream.protocol_version:
            # Redo the upstream handshake at the client's revision, so it gets the server's answer to it.
            replacement = Upstream(self.config)
            await self.upstream.close()
            try:
                await replacement.open(self.task_group, asked)
            except UpstreamError as exc:
                log.error("error: %s", exc)
                await self._reply_error(message.id, types.INTERNAL_ERROR, str(exc))
                self.failed = True
                return
            replacement.on_notification = self._notify_client
            self.upstream = replacement
        await self._send(types.JSONRPCResponse(jsonrpc="2.0", id=message.id, result=self.upstream.initialize_result))

    async def _forward(self, message: types.JSONRPCRequest) -> None:
        reply: types.JSONRPCMessage | None = None
        with anyio.CancelScope() as scope:
            self.in_flight[message.id] = scope
            try:
                result = await self.upstream.request(message.method, message.params)
                reply = types.JSONRPCResponse(jsonrpc="2.0", id=message.id, result=result)
            except MCPError as exc:
                reply = types.JSONRPCError(jsonrpc="2.0", id=message.id, error=exc.error)
                if isinstance(exc.error.data, dict) and exc.error.data.get(HTTP_STATUS) == 401:
                    log.error("error: %s (the token was revoked or expired?)", exc.error.message)
            except ValidationError as exc:
                reply = types.JSONRPCError(
                    jsonrpc="2.0",
                    id=message.id,
                    error=types.ErrorData(
                        code=types.INTERNAL_ERROR, message=f"The SpreadAPI server sent an invalid result: {exc}"
                    ),
                )
            finally:
                if self.in_flight.get(message.id) is scope:
                    del self.in_flight[message.id]
        try:
            if reply is not None and not scope.cancelled_caught:
                await self._send(reply)
        finally:
            self.pending -= 1
            if self.pending == 0:
                self.idle.set()

    async def _notification(self, message: types.JSONRPCNotification) -> None:
        if message.method == "notifications/initialized":
            return  # the upstream session already got its own
        if message.method == "notifications/cancelled":
            request_id = (message.params or {}).get("requestId")
            if isinstance(request_id, str | int) and (scope := self.in_flight.get(request_id)) is not None:
                scope.cancel()  # the SDK then cancels the upstream request
            return
        await self.upstream.notify(message.method, message.params)


async def run(config: BridgeConfig, stdin: Any = None, stdout: Any = None) -> int:
    """Connect upstream, then relay stdio until stdin closes. The exit code."""
    async with anyio.create_task_group() as task_group:
        upstream = Upstream(config)
        try:
            await upstream.open(task_group)
        except UpstreamError as exc:
            log.error("error: %s", exc)
            return 1
        info = upstream.initialize_result.get("serverInfo") or {}
        log.info("connected to %s (%s %s)", config.endpoint, info.get("name"), upstream.protocol_version)
        async with stdio_server(stdin, stdout) as (read, write):
            relay = Relay(config, upstream, task_group, write)
            try:
                await relay.serve(read)
            except BaseException:
                task_group.cancel_scope.cancel()  # stdin may still be open: do not wait for it
                raise
            await relay.upstream.close()  # ends the upstream session (DELETE)
            await write.aclose()  # the stdout writer writes what it holds, then stops
        task_group.cancel_scope.cancel()  # what is left: requests cancelled after the drain
        return 1 if relay.failed else 0
    return 0  # unreachable: the task group is left by a return above


# -- entry point -----------------------------------------------------------------------------------


class _NoTracebacks(logging.Formatter):
    """stderr lines without tracebacks: a user sees one line per problem (set SPREADAPI_LOG_LEVEL=debug for more)."""

    def format(self, record: logging.LogRecord) -> str:
        if record.levelno <= logging.DEBUG:
            return super().format(record)
        record = logging.makeLogRecord(record.__dict__)
        record.exc_info = record.exc_text = record.stack_info = None
        return super().format(record)


def _configure_logging(level_name: str | None) -> int:
    level = logging.getLevelName((level_name or "warning").upper())
    level = level if isinstance(level, int) else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_NoTracebacks("spreadapi-bridge: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    return level


def main(env: Mapping[str, str] | None = None) -> int:
    """Run the bridge with the environment's settings; the process exit code."""
    env = os.environ if env is None else env
    level = _configure_logging(env.get("SPREADAPI_LOG_LEVEL"))
    try:
        config = config_from_env(env)
    except ConfigError as exc:
        log.error("error: %s", exc)
        return 1
    try:
        return anyio.run(run, config)
    except KeyboardInterrupt:
        return 130
    except BaseException as exc:  # the last line of defence: one line, no traceback
        log.debug("the bridge failed", exc_info=True)
        if level > logging.DEBUG:
            log.error("error: the bridge failed: %r", exc)
        return 1
