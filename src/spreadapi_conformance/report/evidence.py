"""Evidence: the HTTP exchanges a check made, recorded by event hooks on the suite's HTTP clients.

``Target.client()`` (``checks/target.py``) builds every client with :func:`event_hooks`. The hooks
append each request to the recorder of the check that is running (the report plugin starts one per
test; without a plugin nothing is recorded) and pace requests with the target's rate limiter. Only
references are kept while the check runs (the last few); they become text, each body cut to 4 KB and
every secret masked, only when a report needs them (:meth:`Recorder.evidence`), so passing checks cost
next to nothing. A body is never read by the hooks: a response the client streams (the MCP SDK reads
its SSE answers event by event and never keeps the body) is watched as the client reads it, and the
evidence shows what it read, up to the same limit.

The hooks take any client with httpx's hook protocol: ``httpx`` and the MCP SDK's ``httpx2``
(``checks/mcp/_support.py``'s ``http2_client``).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..offtarget import CredentialGuard
from .masking import Masker

BODY_LIMIT = 4096  # characters of each body kept in evidence
KEEP = 4  # exchanges kept per check: the last ones, which led to the outcome
# Header values that are credentials whatever their format: shown as their scheme and token kind only.
CREDENTIAL_HEADERS = {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"}


@dataclass
class _Exchange:
    request: Any
    response: Any = None
    error: str | None = None
    seen: _Seen | None = None  # what the client read of a streamed response body


class _Seen:
    """The first bytes of a streamed body as the client reads it, and how many it read in all."""

    __slots__ = ("chunks", "done", "kept", "total")

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.kept = 0
        self.total = 0
        self.done = False  # the stream ended (read to the end), not merely closed

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = BODY_LIMIT * 4 - self.kept
        if room > 0:
            self.chunks.append(chunk[:room])
            self.kept += min(len(chunk), room)

    def raw(self) -> bytes:
        return b"".join(self.chunks)


_STREAM_TYPES: dict[str, type] = {}


def _watching(stream: Any, seen: _Seen) -> Any:
    """``stream`` (a response's async byte stream) wrapped so that what is read of it lands in ``seen``.

    The wrapper is an ``AsyncByteStream`` of the stream's own library (httpx or httpx2 check the type),
    and passes everything else (``aclose``, ``elapsed``) through."""
    library = type(stream).__module__.split(".", 1)[0]
    cls = _STREAM_TYPES.get(library)
    if cls is None:
        import importlib

        base = getattr(importlib.import_module(library), "AsyncByteStream", None)
        if base is None:
            return stream

        class Watched(base):  # type: ignore[misc, valid-type]
            def __init__(self, inner: Any, sink: _Seen) -> None:
                self._inner, self._sink = inner, sink

            async def __aiter__(self):  # type: ignore[override]
                inner = self._inner.__aiter__()
                try:
                    async for chunk in inner:
                        self._sink.add(chunk)
                        yield chunk
                    self._sink.done = True
                finally:  # as httpx does: close the inner generator now, not when it is collected
                    if isinstance(inner, AsyncGenerator):
                        await inner.aclose()

            async def aclose(self) -> None:
                await self._inner.aclose()

            def __getattr__(self, name: str) -> Any:
                return getattr(self._inner, name)

        cls = _STREAM_TYPES[library] = Watched
    return cls(stream, seen)


@dataclass
class Recorder:
    """The exchanges of one check, newest last; older ones fall off beyond ``keep``."""

    name: str = ""
    keep: int = KEEP
    total: int = 0  # every request the check made, kept or not
    measured: dict[str, int] = field(default_factory=dict)  # what the check counted (the fuzzers' cases)
    exchanges: deque[_Exchange] = field(init=False)

    def __post_init__(self) -> None:
        self.exchanges = deque(maxlen=self.keep)
        self._lock = threading.Lock()

    def on_request(self, request: Any) -> None:
        with self._lock:
            self.exchanges.append(_Exchange(request))
            self.total += 1

    def on_response(self, response: Any) -> None:
        with self._lock:
            for exchange in reversed(self.exchanges):
                if exchange.request is response.request and exchange.response is None:
                    exchange.response = response
                    if not _is_read(response):
                        exchange.seen = _Seen()
                        response.stream = _watching(response.stream, exchange.seen)
                    return

    def pending(self, masker: Masker | None = None) -> str | None:
        """The request still waiting for its answer (the last one sent without a response), masked."""
        with self._lock:
            waiting = [e for e in self.exchanges if e.response is None and e.error is None]
        if not waiting:
            return None
        request = waiting[-1].request
        return (masker or Masker()).text(f"{request.method} {request.url}")

    def wire_bytes(self) -> tuple[int, int]:
        """Bytes sent and received by the recorded exchanges, as HTTP/1.1 messages: start line, headers and
        body (a streamed body as far as the client read it; chunk framing and TLS not counted).

        Only a recorder that kept every exchange can say (``keep`` at least ``total``)."""
        with self._lock:
            if self.total > len(self.exchanges):
                raise ValueError(f"{self.name or 'the recorder'} kept {len(self.exchanges)} of {self.total} exchanges")
            kept = list(self.exchanges)
        sizes = [_wire_size(exchange) for exchange in kept]
        return sum(sent for sent, _ in sizes), sum(received for _, received in sizes)

    def evidence(self, masker: Masker | None = None) -> list[dict[str, Any]]:
        """The kept exchanges as JSON-ready dicts, masked, bodies cut to :data:`BODY_LIMIT`."""
        masker = masker or Masker()
        with self._lock:
            kept = list(self.exchanges)
        return [masker.obj(_describe(exchange)) for exchange in kept]


_current: Recorder | None = None


def start(name: str = "") -> Recorder:
    """Record into a new recorder from now on (the plugin calls this as each check starts)."""
    global _current
    _current = Recorder(name)
    return _current


def stop() -> None:
    global _current
    _current = None


def current() -> Recorder | None:
    return _current


def measure(what: str, count: int = 1) -> None:
    """Add ``count`` to the running check's figure ``what`` (a fuzzer's cases): the report states it for
    every outcome, so how much a check tried is measurable from a certify run."""
    recorder = _current
    if recorder is not None:
        with recorder._lock:
            recorder.measured[what] = recorder.measured.get(what, 0) + count


@contextlib.contextmanager
def recording(recorder: Recorder) -> Iterator[Recorder]:
    """Record into ``recorder`` inside the block, then into whatever recorded before (the notebooks' steps)."""
    global _current
    previous, _current = _current, recorder
    try:
        yield recorder
    finally:
        _current = previous


class RateLimiter:
    """A token bucket shared by every client of the run: at most ``rate`` requests per second on
    average, bursts of up to ``burst``. Waiting is an ``asyncio.sleep`` in the request hook, so a
    throttled check yields to others; the state is guarded by a thread lock, not bound to any event
    loop (in-process tests run one loop per test)."""

    def __init__(self, rate: float, burst: int | None = None, clock: Callable[[], float] = time.monotonic):
        if rate <= 0:
            raise ValueError("the rate must be positive")
        self.interval = 1.0 / rate
        self.burst = max(1, int(burst if burst is not None else rate))
        self.clock = clock
        self._tat = 0.0  # theoretical arrival time of the next request (GCRA)
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Claim the next slot; return how long to wait for it."""
        with self._lock:
            now = self.clock()
            tat = max(self._tat, now)
            wait = tat - (self.burst - 1) * self.interval - now
            self._tat = tat + self.interval
            return max(0.0, wait)

    async def acquire(self) -> None:
        wait = self.reserve()
        if wait > 0:
            await asyncio.sleep(wait)


def event_hooks(
    limiter: RateLimiter | None = None, extra: dict[str, list] | None = None, *, guard: CredentialGuard | None = None
) -> dict[str, list]:
    """``event_hooks`` for an async client: refuse what ``guard`` refuses (a credential off the target,
    before anything else), pace by ``limiter``, record into the running check's recorder.

    ``extra`` (the caller's own hooks) run after these."""

    async def on_request(request: Any) -> None:
        if guard is not None:
            guard.check(request)
        if limiter is not None:
            await limiter.acquire()
        recorder = _current
        if recorder is not None:
            recorder.on_request(request)

    async def on_response(response: Any) -> None:
        recorder = _current
        if recorder is not None:
            recorder.on_response(response)

    extra = extra or {}
    return {
        "request": [on_request, *extra.get("request", [])],
        "response": [on_response, *extra.get("response", [])],
    }


# -- turning an exchange into text ------------------------------------------------------------------


def _excerpt(raw: bytes | None, limit: int = BODY_LIMIT) -> str | None:
    if raw is None:
        return None
    text = raw[: limit * 4].decode("utf-8", errors="replace")
    if len(text) > limit or len(raw) > limit * 4:
        return text[:limit] + f"… ({len(raw)} bytes in all)"
    return text


def _headers(headers: Any) -> dict[str, str]:
    shown: dict[str, str] = {}
    for name, value in headers.multi_items():
        name = name.lower()
        if name in CREDENTIAL_HEADERS:
            value = _credential(value)
        shown[name] = f"{shown[name]}, {value}" if name in shown else value
    return shown


def _credential(value: str) -> str:
    """A credential header as its scheme and the kind of token: ``Bearer svc_tk_…(masked)``."""
    from .masking import MASK, TOKEN_PREFIXES

    scheme, _, rest = value.strip().partition(" ")
    if not rest:  # no scheme: the whole value is the secret
        scheme, rest = "", scheme
    rest = rest.strip()
    kind = next((p for p in TOKEN_PREFIXES if rest.startswith(p)), "")
    shown = f"{kind}{MASK}" if rest else ""
    return f"{scheme} {shown}".strip()


def _request_body(request: Any) -> str | None:
    try:
        content = request.content
    except Exception:  # a streamed upload (a chunked body) is not kept
        return "(streamed body, not recorded)"
    return _excerpt(content) if content else None


def _is_read(response: Any) -> bool:
    try:
        response.content  # noqa: B018 (raises until the body has been read)
    except Exception:
        return False
    return True


def _response_body(response: Any, seen: _Seen | None = None) -> str | None:
    try:
        content = response.content
    except Exception:  # not read whole: a stream the client read event by event, or left unread
        content = None
    if content is not None:
        return _excerpt(content)
    if seen is None or not seen.total:
        return "(body not read)"
    shown = seen.raw().decode("utf-8", errors="replace")
    if len(shown) > BODY_LIMIT or seen.total > seen.kept:
        shown = f"{shown[:BODY_LIMIT]}… ({seen.total} bytes read in all)"
    # The client stopped reading before the stream ended: the SDK does once it has its answer, and a
    # standalone GET stream never ends. Whatever came later is not known.
    return shown if seen.done else f"{shown}\n(the client read no further)"


def _header_bytes(headers: Any) -> int:
    return sum(len(name) + len(value) + 4 for name, value in headers.raw)  # "name: value\r\n"


def _wire_size(exchange: _Exchange) -> tuple[int, int]:
    request, response = exchange.request, exchange.response
    try:
        body = len(request.content)
    except Exception:  # a streamed upload: its size is not known here
        body = 0
    sent = len(f"{request.method} {request.url.raw_path.decode()} HTTP/1.1\r\n") + _header_bytes(request.headers)
    sent += 2 + body
    if response is None:
        return sent, 0
    if exchange.seen is not None:
        body = exchange.seen.total
    else:
        body = len(response.content) if _is_read(response) else 0
    received = len(f"HTTP/1.1 {response.status_code} {response.reason_phrase}\r\n") + _header_bytes(response.headers)
    return sent, received + 2 + body


def _describe(exchange: _Exchange) -> dict[str, Any]:
    request, response = exchange.request, exchange.response
    described: dict[str, Any] = {
        "request": {
            "method": request.method,
            "url": str(request.url),
            "headers": _headers(request.headers),
            "body": _request_body(request),
        },
        "response": None,
    }
    if response is not None:
        described["response"] = {
            "status": response.status_code,
            "headers": _headers(response.headers),
            "body": _response_body(response, exchange.seen),
        }
    elif exchange.error:
        described["error"] = exchange.error
    else:
        described["error"] = "no response recorded (the connection failed or the check stopped waiting)"
    return described
