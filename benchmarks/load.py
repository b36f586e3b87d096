"""Load and outage: ``serve`` with worker processes and Redis under concurrent clients, judged on correctness.

Starts its own ``redis-server`` (a free port, a temporary directory, append-only file) and
``spreadapi-conformance serve --workers 2`` on it, then runs two phases with the same clients:

* **load**: ``--clients`` concurrent clients for ``--seconds``, each looping over a mix of REST
  ``execute`` (inputs sampled from each fixture service, results compared with the oracle), an MCP
  session over Streamable HTTP (initialize, initialized, ``tools/call spreadapi_calc`` checked against
  the oracle, DELETE; on the bridge with the seeded MCP token, or on ``/api/mcp`` with an OAuth access
  token the client obtained) and a full OAuth code flow (registration once per client, the consent form
  approved with PKCE, the code exchanged, then exchanged again: that must be refused);
* **outage**: the same mix for ``--outage-seconds``; a third of the way in Redis is shut down (SIGTERM,
  which flushes its append-only file), ``--outage-down`` seconds later restarted on the same port and
  directory. Requests that need the store must get a clear 503 (JSON with ``error`` and a message; MCP
  endpoints the same HTTP 503, since they authenticate before reading JSON-RPC), nothing else may fail,
  and once Redis is back the service must resume without restarting ``serve``, every OAuth access token
  issued before the outage still opening ``/api/mcp``.

Throughput and p50/p95/p99 latency are reported per kind and per request; the assertions are on
correctness only (zero wrong results, zero 5xx but the outage's 503s, no traceback in any body, no
connection error or hang beyond the client timeout, every code redeemed exactly once), never on time.
Writes ``reports/load.json`` (credentials masked) and exits 1 when an assertion fails.

    python benchmarks/load.py                                   # 200 clients, 60 s, then a 30 s outage phase
    python benchmarks/load.py --clients 20 --seconds 5 --outage-seconds 12 --outage-down 3   # a smoke run
    python benchmarks/load.py --no-outage                       # the load phase only
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import redis

from spreadapi_conformance.checks.mcp._support import JSON_RPC_HEADERS, LATEST, initialize_message, request_message
from spreadapi_conformance.consent import consent_form
from spreadapi_conformance.fixtures import ServiceDef, load_services
from spreadapi_conformance.oracle import differences, expected_outputs
from spreadapi_conformance.reference.oauth import pkce_s256
from spreadapi_conformance.report.masking import mask
from spreadapi_conformance.strategies import cells_for, random_value
from spreadapi_conformance.target import TargetSpec, load_target
from spreadapi_conformance.threaded import free_port

ROOT = Path(__file__).resolve().parents[1]
CLIENT_TIMEOUT_S = 30.0  # the bound on any one answer: beyond it a request counts as a hang
RECOVERY_BOUND_S = 60.0  # Redis back: store requests must succeed again within this (generous on a busy machine)
MIX = {"execute": 5, "mcp": 3, "oauth": 2}  # relative weights of the operations a client picks
CASES_PER_SERVICE = 40
REDIRECT_URI = "http://127.0.0.1:9/callback"  # loopback: accepted at registration, never followed
TRACEBACK_MARKERS = ("Traceback (most recent call last)", 'File "/')
SAMPLES = 5  # failure samples kept per category
TOKEN_CHECKERS = 16  # connections checking the tokens issued before the outage


# ---------------------------------------------------------------------------------------------------
# Processes: Redis and serve


def _wait_until(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what}: not ready within {timeout:g} s")


class RedisServer:
    """A redis-server of our own, with an append-only file in ``directory`` so a restart keeps the data."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not on the PATH")
        command = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory)]
        command += ["--appendonly", "yes", "--save", "", "--protected-mode", "yes"]
        with (self.directory / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        _wait_until(self._answers, 30, "redis-server")

    def _answers(self) -> bool:
        try:
            with redis.Redis(port=self.port, socket_timeout=1) as client:
                return bool(client.ping())
        except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
            return False

    def shutdown(self) -> None:
        """SIGTERM: Redis shuts down as on SHUTDOWN (the append-only file flushed), refusing connections from
        then on. (SHUTDOWN through redis-py would retry the connection the command closes, for seconds.)"""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(30)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def cli_command() -> list[str]:
    script = Path(sys.executable).with_name("spreadapi-conformance")
    found = str(script) if script.exists() else shutil.which("spreadapi-conformance")
    return [found] if found else [sys.executable, "-m", "spreadapi_conformance"]


@dataclass
class Serve:
    process: subprocess.Popen
    base_url: str
    target: TargetSpec


@contextlib.contextmanager
def serve(redis_url: str, workers: int, workdir: Path) -> Iterator[Serve]:
    """``spreadapi-conformance serve --workers N`` on Redis, stopped on exit. Like Redis it stays in this
    process's group, so that killing the group (a test that gave up waiting) leaves nothing behind."""
    port = free_port()
    target_file = workdir / "target.toml"
    command = [*cli_command(), "serve", "--host", "127.0.0.1", "--port", str(port), "--redis-url", redis_url]
    command += ["--workers", str(workers), "--write-target", str(target_file)]
    with (workdir / "serve.log").open("ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:

        def answers() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"serve exited with {process.returncode}; see {workdir / 'serve.log'}")
            with contextlib.suppress(httpx.TransportError):
                return target_file.exists() and httpx.get(base_url + "/api/v1/services", timeout=2).status_code == 200
            return False

        _wait_until(answers, 60, "serve")
        yield Serve(process, base_url, load_target(target_file))
    finally:
        stop_serve(process)


def stop_serve(process: subprocess.Popen) -> None:
    """SIGINT (uvicorn's graceful shutdown stops its workers), then SIGKILL to it and its workers."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(20)
        return
    except subprocess.TimeoutExpired:
        pass
    for pid in [*children(process.pid), process.pid]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait(10)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far, from /proc (0 elsewhere)."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def cpu_now(serve_pid: int) -> dict[str, float]:
    """CPU seconds so far of this load generator and of serve with its workers."""
    return {"load_generator": time.process_time(), "serve": cpu_seconds([serve_pid, *children(serve_pid)])}


def cpu_used(before: dict[str, float], serve_pid: int, seconds: float) -> dict[str, float]:
    """CPU seconds each side used since ``before``, and the cores that makes on average."""
    after = cpu_now(serve_pid)
    used = {name: round(after[name] - before[name], 1) for name in before}
    return {**{f"{k}_s": v for k, v in used.items()}, **{f"{k}_cores": round(v / seconds, 2) for k, v in used.items()}}


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc; none elsewhere)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


# ---------------------------------------------------------------------------------------------------
# Inputs and what the oracle expects of them


@dataclass(frozen=True)
class Case:
    service_id: str
    inputs: dict[str, Any]
    expected: dict[str, Any]


def sample_cases(services: dict[str, ServiceDef], seed: int) -> list[Case]:
    """Valid inputs for every fixture service (mandatory inputs always, optional ones half of the time),
    with the oracle's outputs computed before the clock starts."""
    cases = []
    for service in services.values():
        rng = random.Random(f"{seed}:{service.id}")
        for _ in range(CASES_PER_SERVICE):
            inputs = {s.name: random_value(s, rng) for s in service.inputs if s.mandatory or rng.random() < 0.5}
            expected = dict(expected_outputs(service.id, cells_for(service, inputs)))
            cases.append(Case(service.id, inputs, expected))
    return cases


def outputs_by_name(body: Any) -> dict[str, Any] | None:
    outputs = body.get("outputs") if isinstance(body, dict) else None
    if not isinstance(outputs, list) or not all(isinstance(o, dict) and "name" in o for o in outputs):
        return None
    return {o["name"]: o.get("value") for o in outputs}


# ---------------------------------------------------------------------------------------------------
# Tallies


def percentiles(samples: list[float]) -> dict[str, float | None]:
    if len(samples) < 2:
        only = samples[0] * 1000 if samples else None
        return {"p50_ms": only, "p95_ms": only, "p99_ms": only}
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {
        "p50_ms": round(cuts[49] * 1000, 2),
        "p95_ms": round(cuts[94] * 1000, 2),
        "p99_ms": round(cuts[98] * 1000, 2),
    }


@dataclass
class Outage:
    """When Redis was down: a 503 is expected from a request in flight between ``stopped`` and
    ``restarted`` + the recovery bound; outside that window a 503 is a failure."""

    stopping: float | None = None
    restarted: float | None = None

    def covers(self, sent: float, done: float) -> bool:
        if self.stopping is None or done < self.stopping:
            return False
        return self.restarted is None or sent <= self.restarted + RECOVERY_BOUND_S


@dataclass
class Tally:
    secrets: set[str]
    outage: Outage = field(default_factory=Outage)
    latencies: dict[str, list[float]] = field(default_factory=dict)  # request step -> seconds (answered as expected)
    statuses: Counter = field(default_factory=Counter)  # "step status" -> count
    operations: Counter = field(default_factory=Counter)  # "kind ok|failed" -> count
    operation_latencies: dict[str, list[float]] = field(default_factory=dict)
    failures: Counter = field(default_factory=Counter)  # category -> count
    samples: dict[str, list[str]] = field(default_factory=dict)
    unavailable: int = 0  # clear 503s within the outage window
    last_unavailable: float | None = None
    codes: Counter = field(default_factory=Counter)  # issued, redeemed_once, double_redeemed
    sessions_lost: int = 0  # MCP sessions another worker did not know (404): re-initialised, as MCP says
    started: float = field(default_factory=time.perf_counter)
    timeline: Counter = field(default_factory=Counter)  # (second of the phase, "ok" | "503" | "other") -> answers

    def fail(self, category: str, detail: str) -> None:
        self.failures[category] += 1
        kept = self.samples.setdefault(category, [])
        if len(kept) < SAMPLES:
            kept.append(mask(detail[:400], extra=self.secrets))

    def record(self, step: str, response: httpx.Response, sent: float, done: float, expect: tuple[int, ...]) -> bool:
        """True when ``response`` is one of ``expect``; every other answer is classified here."""
        status = response.status_code
        self.statuses[f"{step} {status}"] += 1
        answer = "ok" if status in expect else "503" if status == 503 else "other"
        self.timeline[(int(done - self.started), answer)] += 1
        text = response.text
        if any(marker in text for marker in TRACEBACK_MARKERS):
            self.fail("traceback in a body", f"{step}: HTTP {status} {text}")
        if status in expect:
            self.latencies.setdefault(step, []).append(done - sent)
            return True
        if status == 503 and self.outage.covers(sent, done):
            self.unavailable += 1
            self.last_unavailable = max(done, self.last_unavailable or done)
            if not clear_unavailable(response):
                self.fail("503 without a clear JSON error", f"{step}: {text}")
        elif status == 503:
            self.fail("503 outside the outage", f"{step}: {text}")
        elif status >= 500:
            self.fail("5xx", f"{step}: HTTP {status} {text}")
        else:
            self.fail("unexpected status", f"{step}: HTTP {status} (expected {expect}) {text}")
        return False

    def summary(self, seconds: float) -> dict[str, Any]:
        requests = sum(self.statuses.values())
        kinds = {}
        for kind in MIX:
            ok, failed = self.operations[f"{kind} ok"], self.operations[f"{kind} failed"]
            kinds[kind] = {
                "operations_ok": ok,
                "operations_failed": failed,
                "per_s": round(ok / seconds, 1),
                **percentiles(self.operation_latencies.get(kind, [])),
            }
        steps = {
            step: {"answered": len(values), "per_s": round(len(values) / seconds, 1), **percentiles(values)}
            for step, values in sorted(self.latencies.items())
        }
        return {
            "seconds": round(seconds, 2),
            "requests": requests,
            "requests_per_s": round(requests / seconds, 1),
            "operations": kinds,
            "requests_by_step": steps,
            "statuses": dict(sorted(self.statuses.items())),
            "failures": dict(self.failures),
            "failure_samples": self.samples,
            "unavailable_503": self.unavailable,
            "codes": {k: self.codes[k] for k in ("issued", "redeemed_once", "double_redeemed")},
            "mcp_sessions_lost": self.sessions_lost,
            "timeline": self._timeline(),
        }

    def _timeline(self) -> dict[str, Any]:
        """Answers per second of the phase (with the outage's moments on the same clock)."""
        seconds = sorted({second for second, _ in self.timeline})
        outage = {
            name: _since(self.started, moment)
            for name, moment in (
                ("redis_stopping_s", self.outage.stopping),
                ("redis_restarted_s", self.outage.restarted),
            )
        }
        rows = {kind: [self.timeline[(s, kind)] for s in seconds] for kind in ("ok", "503", "other")}
        return {**outage, "second": seconds, **rows}


def clear_unavailable(response: httpx.Response) -> bool:
    """A 503 a client can act on: a JSON object with an ``error`` and a message."""
    try:
        body = response.json()
    except ValueError:
        return False
    message = body.get("message") or body.get("error_description") if isinstance(body, dict) else None
    return isinstance(body, dict) and isinstance(body.get("error"), str) and isinstance(message, str)


# ---------------------------------------------------------------------------------------------------
# One client


@dataclass
class Shared:
    base_url: str
    target: TargetSpec
    cases: list[Case]
    tally: Tally
    oauth_tokens: list[tuple[float, str]] = field(default_factory=list)  # (issued at, access token)
    # Codes whose fate a failed exchange left open (the outage): (token request, exchanges that succeeded)
    unsettled_codes: list[tuple[dict[str, Any], int]] = field(default_factory=list)


class Client:
    """One simulated client: its own connection, its OAuth registration and the access tokens it got."""

    def __init__(self, shared: Shared, index: int, seed: int) -> None:
        self.shared = shared
        self.tally = shared.tally
        self.rng = random.Random(f"{seed}:client:{index}")
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        self.http = httpx.AsyncClient(base_url=shared.base_url, timeout=CLIENT_TIMEOUT_S, limits=limits)
        self.client_id: str | None = None
        self.access_tokens: list[str] = []
        self.next_id = 0

    async def aclose(self) -> None:
        await self.http.aclose()

    async def call(self, step: str, method: str, url: str, expect: tuple[int, ...], **kwargs: Any):
        """The response when it was one of ``expect``, else None (the tally has classified it)."""
        sent = time.perf_counter()
        try:
            response = await self.http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            self.tally.fail("connection error or hang", f"{step}: {type(exc).__name__}: {exc}")
            return None
        return response if self.tally.record(step, response, sent, time.perf_counter(), expect) else None

    async def run(self, until: float) -> None:
        kinds, weights = list(MIX), list(MIX.values())
        while time.perf_counter() < until:
            kind = self.rng.choices(kinds, weights)[0]
            started = time.perf_counter()
            ok = await getattr(self, kind)()
            self.tally.operations[f"{kind} {'ok' if ok else 'failed'}"] += 1
            if ok:
                self.tally.operation_latencies.setdefault(kind, []).append(time.perf_counter() - started)
            else:
                await asyncio.sleep(0.05)  # a failed operation (the outage) is not retried in a tight loop

    def _check(self, what: str, case: Case, body: Any) -> bool:
        found = outputs_by_name(body)
        diff = differences(found or {}, case.expected) if found is not None else {"outputs": ("none", "a list")}
        if diff:
            self.tally.fail("wrong result", f"{what} {case.service_id} {case.inputs}: {diff}")
        return not diff

    # -- REST ----------------------------------------------------------------------------------------

    async def execute(self) -> bool:
        case = self.rng.choice(self.shared.cases)
        service = self.shared.target.services[case.service_id]
        headers = {"Authorization": f"Bearer {service.token}"} if service.token else {}
        url = f"/api/v1/services/{service.id}/execute"
        response = await self.call("execute", "POST", url, (200,), json={"inputs": case.inputs}, headers=headers)
        return response is not None and self._check("execute", case, response.json())

    # -- MCP over Streamable HTTP --------------------------------------------------------------------

    async def mcp(self) -> bool:
        if self.access_tokens and self.rng.random() < 0.5:
            path, token = "/api/mcp", self.rng.choice(self.access_tokens)
        else:
            path, token = "/api/mcp/bridge", self.shared.target.mcp_tokens["all"]
        case = self.rng.choice(self.shared.cases)
        return await self.mcp_session(path, token, case)

    async def mcp_session(self, path: str, token: str, case: Case | None) -> bool:
        """initialize, initialized, (tools/call with ``case``), DELETE: True when all went as MCP says."""
        headers = {**JSON_RPC_HEADERS, "Authorization": f"Bearer {token}"}
        opened = await self.call("mcp initialize", "POST", path, (200,), json=initialize_message(), headers=headers)
        if opened is None:
            return False
        session = opened.headers.get("mcp-session-id")
        if session is None:
            self.tally.fail("unexpected status", f"mcp initialize: 200 without an Mcp-Session-Id: {opened.text}")
            return False
        headers = {**headers, "mcp-session-id": session, "mcp-protocol-version": LATEST}
        ok = await self._in_session(path, headers, case)
        closed = await self.call("mcp delete", "DELETE", path, (200, 204, 404), headers=headers)
        return ok and closed is not None

    async def _in_session(self, path: str, headers: dict[str, str], case: Case | None) -> bool:
        note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        if await self.call("mcp initialized", "POST", path, (202, 404), json=note, headers=headers) is None:
            return False
        if case is None:
            return True
        self.next_id += 1
        service_id = self.shared.target.services[case.service_id].id
        arguments = {"serviceId": service_id, "inputs": case.inputs}
        message = request_message("tools/call", self.next_id, name="spreadapi_calc", arguments=arguments)
        answered = await self.call("mcp tools/call", "POST", path, (200, 404), json=message, headers=headers)
        if answered is None:
            return False
        if answered.status_code == 404:  # the session lives in another worker process: MCP says start again
            self.tally.sessions_lost += 1
            return False
        return self._check("mcp tools/call", case, tool_result(answered, self.next_id))

    # -- OAuth: registration, consent with PKCE, code exchange, and the refused second exchange -------

    async def oauth(self) -> bool:
        if self.client_id is None and not await self._register():
            return False
        code, verifier = await self._authorize()
        if code is None:
            return False
        self.tally.codes["issued"] += 1
        exchange = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "client_id": self.client_id,
            "code_verifier": verifier,
            "resource": self.shared.base_url + "/api/mcp",
        }
        first = await self.call("oauth token", "POST", "/api/oauth/token", (200,), data=exchange)
        if first is None:
            self.shared.unsettled_codes.append((exchange, 0))
            return False
        token = first.json()["access_token"]
        self.tally.secrets.add(token)
        self.access_tokens.append(token)
        self.shared.oauth_tokens.append((time.perf_counter(), token))
        return await self._redeem_again(exchange)

    async def _register(self) -> bool:
        body = {"client_name": "load client", "redirect_uris": [REDIRECT_URI]}
        registered = await self.call("oauth register", "POST", "/oauth/register", (201,), json=body)
        if registered is None:
            return False
        self.client_id = registered.json()["client_id"]
        return True

    async def _authorize(self) -> tuple[str | None, str]:
        """The consent page opened and its form approved as a browser posts it (the user pastes the MCP
        token): the code from the redirect back, or None."""
        verifier = secrets.token_urlsafe(48)
        params = {
            "client_id": self.client_id,
            "redirect_uri": REDIRECT_URI,
            "response_type": "code",
            "code_challenge": pkce_s256(verifier),
            "code_challenge_method": "S256",
            "state": secrets.token_urlsafe(8),
            "resource": self.shared.base_url + "/api/mcp",
        }
        page = await self.call("oauth consent page", "GET", "/oauth/authorize", (200,), params=params)
        if page is None:
            return None, verifier
        action, fields = consent_form(page)
        form = {**fields, "mcp_tokens": self.shared.target.mcp_tokens["all"], "action": "approve"}
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(action))
        headers = {"Origin": origin, "Sec-Fetch-Site": "same-origin"}
        approved = await self.call("oauth approve", "POST", action, (303,), data=form, headers=headers)
        if approved is None:
            return None, verifier
        return parse_qs(urlsplit(approved.headers["location"]).query).get("code", [None])[0], verifier

    async def _redeem_again(self, exchange: dict[str, Any]) -> bool:
        again = await self.call("oauth token again", "POST", "/api/oauth/token", (400, 200), data=exchange)
        if again is None:  # Redis went down in between (a 503, tallied): settled once it is back
            self.shared.unsettled_codes.append((exchange, 1))
            return False
        if again.status_code == 200:
            self.tally.codes["double_redeemed"] += 1
            self.tally.fail("code redeemed twice", f"second exchange answered 200: {again.text}")
            return False
        if again.json().get("error") != "invalid_grant":
            self.tally.fail("unexpected status", f"second exchange: 400 without invalid_grant: {again.text}")
            return False
        self.tally.codes["redeemed_once"] += 1
        return True


def tool_result(response: httpx.Response, request_id: int) -> Any:
    """The JSON of a tools/call answer (``structuredContent``, else its first text block), or None."""
    for line in response.text.splitlines():
        payload = line.removeprefix("data:").strip() if line.startswith("data:") else line.strip()
        with contextlib.suppress(ValueError):
            message = json.loads(payload)
            if isinstance(message, dict) and message.get("id") == request_id:
                result = message.get("result") or {}
                if result.get("isError"):
                    return None
                if result.get("structuredContent") is not None:
                    return result["structuredContent"]
                return json.loads(result["content"][0]["text"])
    return None


# ---------------------------------------------------------------------------------------------------
# Phases


async def run_clients(clients: list[Client], seconds: float) -> float:
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(*(c.run(until) for c in clients))
    return time.perf_counter() - started


async def warm_up(shared: Shared, seed: int) -> None:
    """Every service compiled in both workers before the clock starts: a few calls each, on several connections."""
    clients = [Client(shared, -i - 1, seed) for i in range(4)]
    try:
        for case in {c.service_id: c for c in shared.cases}.values():
            service = shared.target.services[case.service_id]
            headers = {"Authorization": f"Bearer {service.token}"} if service.token else {}
            url = f"/api/v1/services/{service.id}/execute"
            await asyncio.gather(*(c.http.post(url, json={"inputs": case.inputs}, headers=headers) for c in clients))
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))


async def load_phase(shared: Shared, clients: list[Client], seconds: float) -> dict[str, Any]:
    print(f"load: {len(clients)} clients for {seconds:g} s …", file=sys.stderr, flush=True)
    elapsed = await run_clients(clients, seconds)
    return shared.tally.summary(elapsed)


async def outage_phase(
    shared: Shared, clients: list[Client], redis_server: RedisServer, seconds: float, down: float
) -> dict[str, Any]:
    """The clients run for ``seconds``; a third of the way in Redis stops for ``down`` seconds."""
    tally = shared.tally
    print(f"outage: {len(clients)} clients for {seconds:g} s, Redis down {down:g} s …", file=sys.stderr, flush=True)
    prober = Client(shared, -100, 0)

    async def stop_and_restart() -> dict[str, float]:
        await asyncio.sleep(seconds / 3)
        tally.outage.stopping = time.perf_counter()
        await asyncio.to_thread(redis_server.shutdown)
        stopped = time.perf_counter()
        await asyncio.sleep(down)
        await asyncio.to_thread(redis_server.start)
        tally.outage.restarted = time.perf_counter()
        sent, answered = await first_store_success(prober, tally.outage.restarted + RECOVERY_BOUND_S)
        return {"stopped": stopped, "sent": sent, "answered": answered}

    try:
        elapsed, times = await asyncio.gather(run_clients(clients, seconds), stop_and_restart())
    finally:
        await prober.aclose()
    summary = tally.summary(elapsed)  # before the token check, whose requests are no part of the load
    before = [token for issued, token in shared.oauth_tokens if issued < tally.outage.stopping]
    kept, check_failures = await tokens_kept(shared, before)
    settled = await settle_codes(shared)
    restarted = tally.outage.restarted
    return {
        **summary,
        "redis_down_s": round(restarted - times["stopped"], 2),
        # The probe's first 200 after the restart: when it was sent, and when its answer came (behind the
        # clients' queue of requests, on a saturated server).
        "first_success_sent_after_restart_s": _since(restarted, times["sent"]),
        "recovered_after_restart_s": _since(restarted, times["answered"]),
        "last_503_after_restart_s": _since(restarted, tally.last_unavailable),
        "tokens_before_outage": len(before),
        "tokens_kept": kept,
        "token_check_failures": check_failures,
        "codes_settled_after_outage": settled,
    }


def _since(start: float, moment: float | None) -> float | None:
    return None if moment is None else round(moment - start, 2)


async def first_store_success(prober: Client, deadline: float) -> tuple[float | None, float | None]:
    """(sent, answered) of the first request after the restart that needs the store (a private
    service's execute: its token is looked up) and succeeds; (None, None) when none did by ``deadline``."""
    service = next(s for s in prober.shared.target.services.values() if s.token)
    case = next(c for c in prober.shared.cases if c.service_id == service.fixture)
    while time.perf_counter() < deadline:
        sent = time.perf_counter()
        with contextlib.suppress(httpx.HTTPError):
            response = await prober.http.post(
                f"/api/v1/services/{service.id}/execute",
                json={"inputs": case.inputs},
                headers={"Authorization": f"Bearer {service.token}"},
            )
            if response.status_code == 200:
                return sent, time.perf_counter()
        await asyncio.sleep(0.1)
    return None, None


async def settle_codes(shared: Shared) -> dict[str, Any]:
    """Redis back: every code whose exchange a 503 interrupted is exchanged twice more. Across all its
    exchanges a code may have succeeded once (or never: spent by a request that then failed, or never
    taken), never twice."""
    settler = Client(shared, -300, 0)
    settler.tally = tally = Tally(secrets=shared.tally.secrets)
    outcome: Counter = Counter()
    try:
        for exchange, succeeded in shared.unsettled_codes:
            for _ in range(2):
                answer = await settler.call("oauth token settle", "POST", "/api/oauth/token", (200, 400), data=exchange)
                succeeded += answer is not None and answer.status_code == 200
            outcome["redeemed twice" if succeeded > 1 else "redeemed once" if succeeded else "never redeemed"] += 1
    finally:
        await settler.aclose()
    shared.unsettled_codes.clear()
    return {"codes": dict(outcome), "failures": tally.samples}


async def tokens_kept(shared: Shared, tokens: list[str]) -> tuple[int, dict[str, list[str]]]:
    """How many of ``tokens`` still open ``/api/mcp`` (initialize, initialized, DELETE), a few at a time,
    and samples of what went wrong with the others (tallied apart from the load)."""
    tally = Tally(secrets=shared.tally.secrets)
    checkers = [Client(shared, -200 - i, 0) for i in range(TOKEN_CHECKERS)]
    for checker in checkers:
        checker.tally = tally
    waiting = list(tokens)

    async def check(checker: Client) -> int:
        kept = 0
        while waiting:
            if await checker.mcp_session("/api/mcp", waiting.pop(), None):
                kept += 1
            else:
                checker.tally.fail(
                    "token lost in the outage", "an access token issued before it no longer opens /api/mcp"
                )
        return kept

    try:
        kept = sum(await asyncio.gather(*(check(c) for c in checkers)))
        return kept, tally.samples
    finally:
        await asyncio.gather(*(c.aclose() for c in checkers))


# ---------------------------------------------------------------------------------------------------
# Verdict


def assertions(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The correctness properties, each with the figure it rests on."""
    found = []
    for name, phase in report["phases"].items():
        failures = phase["failures"]
        codes = phase["codes"]

        def check(what: str, ok: bool, figure: Any, phase_name: str = name) -> None:
            found.append({"phase": phase_name, "assertion": what, "ok": bool(ok), "figure": figure})

        check(
            "zero wrong results against the oracle",
            failures.get("wrong result", 0) == 0,
            failures.get("wrong result", 0),
        )
        server_errors = failures.get("5xx", 0) + failures.get("503 outside the outage", 0)
        check("zero 5xx (except the outage's 503s)", server_errors == 0, server_errors)
        check(
            "no traceback in any body",
            failures.get("traceback in a body", 0) == 0,
            failures.get("traceback in a body", 0),
        )
        hangs = failures.get("connection error or hang", 0)
        check(f"no connection error or answer slower than {CLIENT_TIMEOUT_S:g} s", hangs == 0, hangs)
        check("no unexpected status", failures.get("unexpected status", 0) == 0, failures.get("unexpected status", 0))
        check("no code redeemed twice", codes["double_redeemed"] == 0, codes["double_redeemed"])
        check("codes were exchanged", codes["redeemed_once"] > 0, codes["redeemed_once"])
        check(
            "every kind of operation succeeded",
            all(k["operations_ok"] > 0 for k in phase["operations"].values()),
            {k: v["operations_ok"] for k, v in phase["operations"].items()},
        )
        if name == "load":
            failed = {k: v["operations_failed"] for k, v in phase["operations"].items()}
            check("no operation failed", not any(failed.values()), failed)
            check("every code redeemed exactly once", codes["redeemed_once"] == codes["issued"], codes)
        if name == "outage":
            unclear = failures.get("503 without a clear JSON error", 0)
            check(
                "Redis down: requests needing the store got 503s",
                phase["unavailable_503"] > 0,
                phase["unavailable_503"],
            )
            check("every 503 a JSON error with a message", unclear == 0, unclear)
            check(
                "service resumed after Redis came back, serve not restarted",
                phase["recovered_after_restart_s"] is not None,
                phase["recovered_after_restart_s"],
            )
            check(
                "every OAuth token issued before the outage kept",
                phase["tokens_kept"] == phase["tokens_before_outage"],
                f"{phase['tokens_kept']} of {phase['tokens_before_outage']}",
            )
            check(
                "some tokens were issued before the outage",
                phase["tokens_before_outage"] > 0,
                phase["tokens_before_outage"],
            )
            settled = phase["codes_settled_after_outage"]
            check(
                "no code interrupted by the outage redeemed twice, once Redis was back",
                settled["codes"].get("redeemed twice", 0) == 0,
                settled["codes"],
            )
            after = {**phase["token_check_failures"], **settled["failures"]}
            check("the checks after the outage met no failure", not after, after)
    return found


def print_report(report: dict[str, Any]) -> None:
    meta = report["meta"]
    print(f"\nserve --workers {meta['workers']} on Redis, {meta['clients']} concurrent clients")
    for name, phase in report["phases"].items():
        print(f"\n{name}: {phase['seconds']:g} s, {phase['requests']} requests, {phase['requests_per_s']:g} req/s")
        print(f"  {'operation':<12}{'ok':>8}{'failed':>8}{'per s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
        for kind, row in phase["operations"].items():
            print(
                f"  {kind:<12}{row['operations_ok']:>8}{row['operations_failed']:>8}{row['per_s']:>8}"
                f"{_ms(row['p50_ms'])}{_ms(row['p95_ms'])}{_ms(row['p99_ms'])}"
            )
        print(f"  {'request':<22}{'answered':>9}{'per s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
        for step, row in phase["requests_by_step"].items():
            print(f"  {step:<22}{row['answered']:>9}{row['per_s']:>8}{_percentile_columns(row)}")
        print(
            f"  codes: {phase['codes']}; 503s in the outage: {phase['unavailable_503']}; "
            f"failures: {phase['failures'] or 'none'}"
        )
        if "cpu" in phase:
            cpu = phase["cpu"]
            print(
                f"  CPU: serve and its workers {cpu['serve_cores']} cores, this load generator "
                f"{cpu['load_generator_cores']} cores (of {os.cpu_count()})"
            )
        if name == "outage":
            print(
                f"  Redis down {phase['redis_down_s']} s; after the restart the first store request that succeeded "
                f"was sent at {phase['first_success_sent_after_restart_s']} s, answered at "
                f"{phase['recovered_after_restart_s']} s; last 503 at {phase['last_503_after_restart_s']} s; "
                "OAuth tokens kept "
                f"{phase['tokens_kept']} of {phase['tokens_before_outage']}"
            )
            print(
                "  codes whose exchange the outage interrupted, exchanged again once Redis was back: "
                f"{phase['codes_settled_after_outage']['codes']}"
            )
    if "serve_log_tail" in report:
        print("\nserve's log, last lines:\n  " + "\n  ".join(report["serve_log_tail"]))
    print()
    for row in report["assertions"]:
        print(f"  {'ok  ' if row['ok'] else 'FAIL'} [{row['phase']}] {row['assertion']}: {row['figure']}")


def _percentile_columns(row: dict[str, Any]) -> str:
    return f"{_ms(row['p50_ms'])}{_ms(row['p95_ms'])}{_ms(row['p99_ms'])}"


def _ms(value: float | None) -> str:
    return f"{'-':>9}" if value is None else f"{value:>9.1f}"


# ---------------------------------------------------------------------------------------------------


async def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    cases = sample_cases(load_services(), args.seed)
    redis_server = RedisServer(workdir)
    redis_server.start()
    try:
        with serve(redis_server.url, args.workers, workdir) as served:
            phases = await run_phases(args, served, redis_server, cases)
            serve_pid_alive = served.process.poll() is None
    finally:
        redis_server.kill()
    return {"phases": phases, "serve_survived": serve_pid_alive, "serve_log": log_tail(workdir / "serve.log")}


def log_tail(path: Path, lines: int = 30) -> list[str]:
    """The last lines of serve's log (its warnings say why a request got a 503), masked."""
    with contextlib.suppress(OSError):
        return [mask(line) for line in path.read_text(errors="replace").splitlines()[-lines:]]
    return []


async def run_phases(
    args: argparse.Namespace, served: Serve, redis_server: RedisServer, cases: list[Case]
) -> dict[str, Any]:
    """The load phase, then the outage phase, with the same clients; each phase tallied apart."""
    shared = Shared(served.base_url, served.target, cases, Tally(secrets=set(served.target.secrets())))
    await warm_up(shared, args.seed)
    clients = [Client(shared, i, args.seed) for i in range(args.clients)]
    pid = served.process.pid
    phases: dict[str, Any] = {}
    try:
        if args.seconds > 0:
            cpu = cpu_now(pid)
            phases["load"] = await load_phase(shared, clients, args.seconds)
            phases["load"]["cpu"] = cpu_used(cpu, pid, phases["load"]["seconds"])
        if args.outage:
            shared.tally = Tally(secrets=shared.tally.secrets)
            for client in clients:
                client.tally = shared.tally
            cpu = cpu_now(pid)
            phases["outage"] = await outage_phase(shared, clients, redis_server, args.outage_seconds, args.outage_down)
            phases["outage"]["cpu"] = cpu_used(cpu, pid, phases["outage"]["seconds"])
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    return phases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--clients", type=int, default=200, help="concurrent clients (default 200)")
    parser.add_argument("--seconds", type=float, default=60.0, help="the load phase (0: none; default 60)")
    parser.add_argument("--outage-seconds", type=float, default=30.0, help="the outage phase (default 30)")
    parser.add_argument("--outage-down", type=float, default=5.0, help="how long Redis stays down (default 5)")
    parser.add_argument("--no-outage", dest="outage", action="store_false", help="skip the outage phase")
    parser.add_argument("--workers", type=int, default=2, help="serve's worker processes (default 2)")
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--json", type=Path, default=ROOT / "reports" / "load.json", help="where to write figures")
    args = parser.parse_args(argv)

    # SIGTERM unwinds like an exception, so that serve and Redis are stopped on the way out.
    signal.signal(signal.SIGTERM, _terminated)
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    loadavg_start = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="spreadapi-load-") as tmp:
        try:
            result = asyncio.run(run(args, Path(tmp)))
        except Exception as exc:  # the set-up broke (no redis-server, serve did not start): not a figure
            print(f"load: could not run: {exc}", file=sys.stderr)
            with contextlib.suppress(OSError):
                print((Path(tmp) / "serve.log").read_text(errors="replace")[-3000:], file=sys.stderr)
            return 2
    report = {
        "meta": {
            "started": started,
            "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "clients": args.clients,
            "workers": args.workers,
            "seconds": args.seconds,
            "outage_seconds": args.outage_seconds if args.outage else None,
            "outage_down": args.outage_down if args.outage else None,
            "seed": args.seed,
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "loadavg_start": loadavg_start,
            "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        },
        "phases": result["phases"],
    }
    report["assertions"] = assertions(report)
    report["assertions"].append(
        {"phase": "all", "assertion": "serve still running", "ok": result["serve_survived"], "figure": None}
    )
    if not all(row["ok"] for row in report["assertions"]):
        report["serve_log_tail"] = result["serve_log"]  # the server's side of what failed
    print_report(report)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {args.json}")
    failed = [row for row in report["assertions"] if not row["ok"]]
    return 1 if failed else 0


def _terminated(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    raise SystemExit(main())
