"""A deployment with another layout: `serve` behind a reverse proxy that moves every endpoint.

Real deployments differ from the seed's paths (the public SpreadAPI code serves single-service MCP at
``/api/mcp/service/{id}``). This proxy serves what ``serve`` serves at the paths of :data:`LAYOUT`,
rewriting paths both ways: in request paths, queries and bodies (so a form's ``resource`` reaches
``serve`` as ``serve`` knows it) and in response headers and bodies (so the 401 challenge, the RFC 9728
and RFC 8414 metadata, the OpenAPI documents and the consent page name the moved URLs). A request for
a seed path is 404 here, as on a deployment that does not serve it: a check that builds a path itself
instead of asking the target file fails against this deployment.

A slash may also be written ``%2F`` (a URL-encoded ``resource`` or ``redirect_uri``); the rewrite keeps
the encoding it found.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import anyio
import httpx

# The seed's path -> where this deployment serves it. A path that does not end in "/" is replaced only
# as a whole segment (``/api/mcp`` but not ``/api/mcp/auth_callback``, Claude's redirect URI).
LAYOUT = {
    "/api/mcp/services/": "/api/mcp/service/",  # the public SpreadAPI code's singular form
    "/api/mcp/bridge": "/bridge/mcp",
    "/api/mcp": "/mcp",
    "/api/oauth/": "/auth/api/",  # token endpoint and consent submission: found through RFC 8414
    "/oauth/": "/auth/",  # authorization page and registration
    "/api/v1/": "/v2/",
}

# The target file's [paths] for this layout.
PATHS = {
    "services": "/v2/services",
    "details": "/v2/services/{id}",
    "execute": "/v2/services/{id}/execute",
    "openapi": "/v2/services/{id}/openapi.json",
    "platform_openapi": "/v2/openapi.json",
    "mcp": "/mcp",
    "single_service_mcp": "/api/mcp/service/{id}",
    "bridge_mcp": "/bridge/mcp",
}

_SLASH = "(?:/|%2[Ff])"
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "te", "upgrade"}


def _rewriter(mapping: dict[str, str]) -> Callable[[str], str]:
    def pattern(path: str) -> str:
        body = _SLASH.join(re.escape(part) for part in path.split("/"))
        return body if path.endswith("/") else body + r"(?![\w./%-])"

    # Longest first: at one position the most specific path wins (/api/mcp/bridge before /api/mcp).
    ordered = sorted(mapping, key=len, reverse=True)
    regex = re.compile("|".join(f"({pattern(path)})" for path in ordered))

    def replace(match: re.Match[str]) -> str:
        found = match.group(0)
        moved = mapping[ordered[match.lastindex - 1]]
        return moved.replace("/", "%2F") if "%2" in found else moved

    return lambda text: regex.sub(replace, text)


to_upstream = _rewriter({moved: seed for seed, moved in LAYOUT.items()})
to_client = _rewriter(LAYOUT)


def _starts_with_one_of(paths: Any) -> re.Pattern[str]:
    prefixes = [re.escape(p) if p.endswith("/") else re.escape(p) + "(?:$|/)" for p in paths]
    return re.compile("^(?:/\\.well-known/oauth-protected-resource)?(?:" + "|".join(prefixes) + ")")


_SEED_PATH = _starts_with_one_of(LAYOUT)
_MOVED_PATH = _starts_with_one_of(LAYOUT.values())


def _bytes(rewrite: Callable[[str], str], data: bytes) -> bytes:
    return rewrite(data.decode("latin-1")).encode("latin-1")  # byte-transparent for UTF-8 bodies too


class RelocatingProxy:
    """An ASGI app forwarding to ``upstream`` (``serve``'s base URL) under :data:`LAYOUT`."""

    def __init__(self, upstream: str):
        self.upstream = upstream.rstrip("/")
        self.refused: list[str] = []  # the seed paths asked for (404 here)
        # No keep-alive upstream: a pooled connection that serve closes as idle can fail the next request
        # sent on it ("server disconnected"), which would read as the deployment's fault.
        self.http = httpx.AsyncClient(
            timeout=httpx.Timeout(60, read=None),
            follow_redirects=False,
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] == "lifespan":
            while True:
                event = (await receive())["type"]
                if event == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif event == "lifespan.shutdown":
                    await self.http.aclose()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if _SEED_PATH.match(scope["path"]) and not _MOVED_PATH.match(scope["path"]):
            self.refused.append(f"{scope['method']} {scope['path']}")
            await _not_found(send, scope["path"])
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = to_upstream(scope["raw_path"].decode("latin-1"))
        query = _bytes(to_upstream, scope["query_string"])
        headers = [
            (k.decode("latin-1"), _bytes(to_upstream, v).decode("latin-1"))
            for k, v in scope["headers"]
            if k.decode("latin-1").lower() not in _HOP_BY_HOP | {"accept-encoding"}
        ]
        request = self.http.build_request(
            scope["method"],
            self.upstream + path + ("?" + query.decode("latin-1") if query else ""),
            headers=[*headers, ("accept-encoding", "identity")],
            content=_bytes(to_upstream, body),
        )
        try:
            response = await self.http.send(request, stream=True)
        except httpx.TransportError as exc:
            await _answer(send, 502, f"the proxy could not reach serve: {exc!r}")
            return
        try:
            await self._relay(response, receive, send)
        finally:
            await response.aclose()

    async def _relay(self, response: httpx.Response, receive: Callable, send: Callable) -> None:
        headers = [
            (k.encode("latin-1"), _bytes(to_client, v.encode("latin-1")))
            for k, v in response.headers.multi_items()
            if k.lower() not in _HOP_BY_HOP
        ]
        await send({"type": "http.response.start", "status": response.status_code, "headers": headers})

        async def stream() -> None:
            held = ""  # a tail that may be the start of a path split across chunks
            async for chunk in response.aiter_raw():
                text = held + chunk.decode("latin-1")
                cut = _safe_end(text)
                held = text[cut:]
                if cut:
                    await send(
                        {
                            "type": "http.response.body",
                            "body": _bytes(to_client, text[:cut].encode("latin-1")),
                            "more_body": True,
                        }
                    )
            await send({"type": "http.response.body", "body": _bytes(to_client, held.encode("latin-1"))})

        async def disconnected() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        # A standalone SSE stream never ends: stop relaying when the client goes away.
        async with anyio.create_task_group() as group:

            async def first(run: Callable) -> None:
                await run()
                group.cancel_scope.cancel()

            group.start_soon(first, stream)
            group.start_soon(first, disconnected)


def _safe_end(text: str) -> int:
    """Where ``text`` can be cut without splitting a path: before the first '/' or '%' of the last line's
    tail, if any (a path holds no newline, so an SSE event, which ends with a blank line, is never held)."""
    longest = max(map(len, LAYOUT)) * 3  # a path with every slash written %2F
    start = max(text.rfind("\n") + 1, len(text) - longest)
    for i in range(start, len(text)):
        if text[i] in "/%":
            return i
    return len(text)


async def _not_found(send: Callable, path: str) -> None:
    await _answer(send, 404, f"No endpoint at {path}")


async def _answer(send: Callable, status: int, message: str) -> None:
    error = "Not found" if status == 404 else "Bad gateway"
    body = json.dumps({"error": error, "message": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
