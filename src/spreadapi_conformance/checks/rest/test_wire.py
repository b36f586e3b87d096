"""REST-WIRE: the bytes on the wire, below what a JSON or HTTP library shows (RFC 8259 §8.1, RFC 9112 §7.1).

REST-WIRE-001 reads the raw bytes of a handful of JSON answers (the platform OpenAPI document, an execute,
the RFC 8414 metadata, a token endpoint error, an MCP ``initialize`` answer): none may start with a byte order
mark. REST-WIRE-002 and -003 send one request over a raw socket (TLS for an ``https`` target) whose chunk
size is a 20-digit hexadecimal number, 2^76 + 14: a parser that keeps only the low 64 bits reads 14, exactly
the data that follows, and answers as if the request were whole. The embedded reference has no HTTP parser
(the checks call the application in process), so those two apply only to a served target.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx
import pytest

from ..premise import not_applicable
from ._support import excerpt

if TYPE_CHECKING:
    from ..target import Target

pytestmark = pytest.mark.conformance

BOM = b"\xef\xbb\xbf"


# -- RFC 8259 §8.1: no byte order mark --------------------------------------------------------------


def is_json(response: httpx.Response) -> bool:
    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
    return kind == "application/json" or kind.endswith("+json")


def json_texts(response: httpx.Response) -> list[bytes]:
    """The JSON texts of an answer as sent: the body, or each SSE event's data (the stream's start too)."""
    if is_json(response):
        return [response.content]
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        texts = [response.content[: len(BOM)]] if response.content.startswith(BOM) else []
        for line in re.split(rb"\r?\n", response.content):
            if line.startswith(b"data:"):
                data = line[5:]
                texts.append(data[1:] if data.startswith(b" ") else data)
        return texts
    return []


async def json_answers(client: httpx.AsyncClient, target: Target) -> dict[str, httpx.Response]:
    """The answers judged, by what they are: those of the surfaces the target offers."""
    from ..mcp._support import JSON_RPC_HEADERS, initialize_message, transport_endpoint
    from ..oauth._support import endpoints, well_known

    answers: dict[str, httpx.Response] = {}
    claims = target.spec.claims
    if claims is None or "rest-actions" in claims:
        answers["the platform OpenAPI document"] = await client.get(target.path("platform_openapi"))
        service = next((s for s in target.spec.services.values() if s.public or s.token), None)
        if service is not None:
            inputs = target.fixture(service.fixture).golden[0]["inputs"]
            headers = {} if service.public else {"Authorization": f"Bearer {service.token}"}
            path = target.path("execute", id=service.id)
            answers[f"an execute of {service.id!r}"] = await client.post(path, json={"inputs": inputs}, headers=headers)
    if target.spec.oauth is not None:
        with contextlib.suppress(pytest.skip.Exception, AssertionError):  # other checks judge OAuth's answers
            found = await endpoints(client, target)
            metadata_url = well_known(found.issuer, "oauth-authorization-server")
            answers["the RFC 8414 metadata"] = await client.get(metadata_url)
            token_request = {"grant_type": "authorization_code", "code": "spreadapi-conformance-never-issued"}
            answers["a token endpoint error"] = await client.post(
                found.endpoint_of("token_endpoint"), data=token_request
            )
    with contextlib.suppress(pytest.skip.Exception, AssertionError):  # no MCP endpoint the kit can open
        endpoint = await transport_endpoint(client, target)
        headers = {**JSON_RPC_HEADERS, **endpoint.headers}
        answers["an MCP initialize answer"] = await client.post(
            endpoint.path, json=initialize_message(), headers=headers
        )
    return answers


async def test_no_byte_order_mark(client, target):
    """REST-WIRE-001 MUST NOT: no JSON text the deployment sends starts with a byte order mark (EF BB BF):
    the platform OpenAPI document, an execute, the RFC 8414 metadata, a token endpoint error, an MCP
    initialize answer, each as the bytes arrived."""
    answers = {what: r for what, r in (await json_answers(client, target)).items() if json_texts(r)}
    if not answers:
        not_applicable("the target sent no JSON answer to the requests of this check")
    marked = [
        f"{what}: {excerpt(response)}"
        for what, response in answers.items()
        if any(text.startswith(BOM) for text in json_texts(response))
    ]
    assert not marked, "a JSON text starts with a byte order mark: " + "; ".join(marked)


# -- RFC 9112 §7.1: a huge chunk size ---------------------------------------------------------------

HUGE_CHUNK_SIZE = "1000000000000000000E"  # 20 hexadecimal digits: 2^76 + 14; its low 64 bits are 14
READ_TIMEOUT = 10.0


@dataclass(frozen=True)
class RawAnswer:
    """What came back for the raw request: a status line, the connection closed, or nothing in time."""

    status: int | None  # None: no status line
    closed: bool  # the server closed the connection without a status line
    head: str  # the first bytes, for the reason
    sent: str  # the request as sent, for the reason


_SENT: dict[str, RawAnswer] = {}


def huge_chunk_request(target: Target) -> tuple[str, bytes]:
    """(what it is, the request): POST execute of a public service with a body of one 14-byte chunk whose size
    line is HUGE_CHUNK_SIZE; without a public service, the listing (it then proves only the absence of a 5xx)."""
    public = next((s for s in target.spec.services.values() if s.public), None)
    body = b""
    if public is not None:
        path = target.path("execute", id=public.id)
        data = json.dumps({"inputs": target.fixture(public.fixture).golden[0]["inputs"]}, separators=(",", ":"))
    else:
        path, data = target.path("services"), "{}"
    # The data is whatever the low 64 bits of the size say: 14 bytes. Pad or cut the JSON to 14 would break it,
    # so the chunk carries 14 bytes of the body, the rest follows as the next chunk.
    encoded = data.encode()
    first, rest = encoded[:14].ljust(14, b" "), encoded[14:]
    body += f"{HUGE_CHUNK_SIZE}\r\n".encode() + first + b"\r\n"
    if rest:
        body += f"{len(rest):x}\r\n".encode() + rest + b"\r\n"
    body += b"0\r\n\r\n"
    parts = urlsplit(target.base_url)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\nUser-Agent: spreadapi-conformance\r\n\r\n"
    )
    return f"POST {path}", head.encode() + body


async def send_huge_chunk(target: Target) -> RawAnswer:
    """The raw request, once per run (two checks judge its answer); paced like every request of the run."""
    if target.app is not None:
        not_applicable(
            "the embedded reference is called in process: there is no HTTP parser to judge (certify a served "
            "reference, `spreadapi-conformance serve`, for this)"
        )
    if target.base_url in _SENT:
        return _SENT[target.base_url]
    parts = urlsplit(target.base_url)
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    what, request = huge_chunk_request(target)
    if target.limiter is not None:
        await target.limiter.acquire()
    context = ssl.create_default_context() if secure else None
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                parts.hostname, port, ssl=context, server_hostname=parts.hostname if secure else None
            ),
            READ_TIMEOUT,
        )
    except (OSError, TimeoutError) as exc:  # refused, unreachable, a TLS handshake that fails
        raise AssertionError(f"no connection to {parts.hostname}:{port}: {exc!r}") from None
    try:
        with contextlib.suppress(OSError):  # a server that closes while the request is sent
            writer.write(request)
            await writer.drain()
        try:
            head = await asyncio.wait_for(reader.read(300), READ_TIMEOUT)
        except TimeoutError:
            answer = RawAnswer(None, False, "", what)
        except OSError:  # reset, or TLS torn down: the connection was closed on us
            answer = RawAnswer(None, True, "", what)
        else:
            match = re.match(rb"HTTP/\d(?:\.\d)? (\d{3})", head)
            text = head.decode("latin-1")
            answer = RawAnswer(int(match.group(1)) if match else None, not head, text, what)
    finally:
        writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), 2)
    _SENT[target.base_url] = answer
    return answer


def told(answer: RawAnswer) -> str:
    return f"{answer.sent} with the chunk size {HUGE_CHUNK_SIZE} was answered {answer.head[:200]!r}"


async def test_huge_chunk_size_does_not_overflow(target):
    """REST-WIRE-002 MUST: a chunk size of 20 hexadecimal digits (2^76 + 14) neither overflows nor breaks the
    server: no 5xx, and no 2xx, which would mean the size was read as its low 64 bits (14, the data sent)."""
    answer = await send_huge_chunk(target)
    if answer.status is None:
        return  # refused by closing, or still waiting for the data: the number was not misread
    assert not 500 <= answer.status < 600, f"a server error: {told(answer)}"
    assert not 200 <= answer.status < 300, f"the request was taken as whole (the size overflowed): {told(answer)}"


async def test_huge_chunk_size_refused_at_once(target):
    """REST-WIRE-003 MUST: a chunk size of 20 hexadecimal digits is refused at once: a 4xx (400, 413) or the
    connection closed within 10 s, not a connection held open waiting for 2^76 bytes."""
    answer = await send_huge_chunk(target)
    if answer.status is None:
        assert answer.closed, (
            f"{answer.sent} with the chunk size {HUGE_CHUNK_SIZE}: no answer and the connection still open "
            f"after {READ_TIMEOUT:.0f} s"
        )
        return
    assert 400 <= answer.status < 500, f"expected a 4xx refusal: {told(answer)}"
