"""What ``notebooks/options_compared.ipynb`` measures: one calculation by each way a client reaches a
published service, with the same golden inputs, on one target.

For each option (``catalog.OPTIONS``): the time to the first result from a cold client (its setup
included: importing a document, an OAuth flow, launching a bridge), then, after a warm-up, the
wall-clock latency of each of ``repetitions`` calculations from the client's side, and the HTTP
exchanges and bytes of the setup and of each calculation. Exchanges and bytes come from the evidence
hooks certify records with (``report/evidence.py``); there is no second HTTP layer. Every result is
compared with the oracle: a path that computes something else fails the notebook.

The two stdio bridges (Claude Desktop's and the legacy one) are timed through the real bridge process,
as Claude Desktop launches it; their HTTP side is the MCP SDK's session on the same URL with the same
token (the bridge holds one such session for its lifetime), so their exchanges and bytes are counted on
that session, opened from here where the hooks see it.

A step a target breaks raises :class:`StepFailed` (an AssertionError) whose message names the option
and the step, so the notebook runner's one line says where it stopped.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from .bridge import client_env
from .catalog import OPTIONS
from .oracle import differences, expected_outputs
from .report import evidence
from .target import DEFAULT_PATHS
from .walkthrough import Deployment

ACCEPT = {"accept": "application/json, text/event-stream"}
KEEP = 100  # exchanges a step may make and still be counted whole (an OAuth flow makes about ten)
MULTI_SERVICE_TOKEN = "all"  # the target file's [mcp_tokens] entry Options 3 and the legacy bridge use


class StepFailed(AssertionError):
    """The target broke a step of one option's path: the message names both."""


@dataclass(frozen=True)
class Handling:
    """What a user of an option must handle, as the platform documents it."""

    credential: str
    lifetime: str
    setup: str
    works_in: str


HANDLING: dict[str, Handling] = {
    "rest-actions": Handling(
        "the service token (svc_tk_…), entered as the Action's API key (Bearer)",
        "until the owner revokes or regenerates it",
        "import the service's OpenAPI URL into a GPT's Actions; enter the token",
        "ChatGPT (custom GPTs); any HTTP client or script",
    ),
    "chatgpt-single-oauth": Handling(
        "the service token, pasted once on the consent page; ChatGPT keeps the OAuth access token",
        "access token: {expires}; then the user signs in again",
        "add a connector with the service's MCP URL; approve the consent page once",
        "ChatGPT connectors; MCP clients that do OAuth",
    ),
    "chatgpt-multi-oauth": Handling(
        "an MCP token (spapi_live_…), pasted once on the consent page; ChatGPT keeps the OAuth access token",
        "access token: {expires}; then the user signs in again",
        "add a connector with /api/mcp; approve the consent page once; one connector for every allowed service",
        "ChatGPT connectors; MCP clients that do OAuth",
    ),
    "claude-desktop": Handling(
        "the service token, in claude_desktop_config.json's env for the bridge",
        "until the owner revokes or regenerates it",
        "install the bridge (npx spreadapi-mcp, or this kit's), add it to claude_desktop_config.json, restart",
        "Claude Desktop; any stdio MCP client",
    ),
    "legacy-bridge": Handling(
        "an MCP token (spapi_live_…), in the bridge's env",
        "until the owner revokes it",
        "the same bridge configuration without a service id",
        "Claude Desktop and stdio MCP clients; every service the token allows through one server",
    ),
}


@dataclass
class Measured:
    """One option's figures on one target; ``skipped`` says why there are none."""

    option: str
    latencies: list[float] = field(default_factory=list)  # s, one per calculation after the warm-up
    call_exchanges: list[int] = field(default_factory=list)
    call_bytes: list[int] = field(default_factory=list)  # sent + received, per calculation
    setup_exchanges: int = 0
    setup_bytes: int = 0
    first_result: float | None = None  # s from a cold client to its first result, setup included
    lifetime: str = ""
    counted_on: str = "the client's own exchanges"
    skipped: str | None = None

    @property
    def title(self) -> str:
        return OPTIONS[self.option]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.latencies) * 1000

    @property
    def p95_ms(self) -> float:
        return _percentile(self.latencies, 95) * 1000

    @property
    def per_call_exchanges(self) -> float:
        return statistics.median(self.call_exchanges) if self.call_exchanges else 0

    @property
    def per_call_bytes(self) -> float:
        return statistics.median(self.call_bytes) if self.call_bytes else 0


@dataclass(frozen=True)
class Plan:
    """What every option is measured with: the target, the service (by fixture), the golden case, how often."""

    deployment: Deployment
    fixture_id: str
    case: dict[str, Any]
    repetitions: int
    warmup: int

    def check(self, outputs: Any) -> dict[str, Any]:
        return check_outputs(self.fixture_id, self.case, outputs)


def _percentile(samples: list[float], pct: int) -> float:
    if len(samples) < 2:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[pct - 1]


@contextlib.contextmanager
def failing_as(option: str, step: str) -> Iterator[None]:
    """Any failure inside is :class:`StepFailed` naming ``option`` and ``step``."""
    try:
        yield
    except StepFailed:
        raise
    except Exception as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StepFailed(f"{OPTIONS[option]}: {step}: {detail}") from exc


@contextlib.contextmanager
def counted(name: str) -> Iterator[evidence.Recorder]:
    """Record the exchanges made inside the block (not printed: the figures are what matters here)."""
    recorder = evidence.Recorder(name, keep=KEEP)
    with evidence.recording(recorder):
        yield recorder


def wire(recorder: evidence.Recorder) -> int:
    sent, received = recorder.wire_bytes()
    return sent + received


def check_outputs(fixture_id: str, case: dict[str, Any], outputs: Any) -> dict[str, Any]:
    """The outputs by name, when they equal the oracle's for ``case``; else AssertionError saying what differs."""
    if not isinstance(outputs, list):
        raise AssertionError(f"no list of outputs in the answer: {str(outputs)[:200]}")
    found = {o.get("name"): o.get("value") for o in outputs if isinstance(o, dict)}
    diff = differences(found, expected_outputs(fixture_id, case["cells"]))
    if diff:
        raise AssertionError(f"{fixture_id}: {case['title']}: {{name: (server, oracle)}}: {diff}")
    return found


async def repeat(plan: Plan, measured: Measured, calculate: Callable[[], Awaitable[Any]], *, count: bool) -> None:
    """The plan's warm-up calculations, then its timed ones (with their exchanges when ``count``)."""
    for _ in range(plan.warmup):
        await calculate()
    for _ in range(plan.repetitions):
        with counted("one calculation") as one:
            started = time.perf_counter()
            await calculate()
            measured.latencies.append(time.perf_counter() - started)
        if count:
            measured.call_exchanges.append(one.total)
            measured.call_bytes.append(wire(one))


# -- Option 1: REST + OpenAPI ---------------------------------------------------------------------------


async def rest_actions(plan: Plan) -> Measured:
    option, deployment, case = "rest-actions", plan.deployment, plan.case
    measured = Measured(option, lifetime=HANDLING[option].lifetime)
    service = deployment.service(plan.fixture_id)
    headers = {"Authorization": f"Bearer {service.token}"} if service.token else {}

    async def calculate() -> None:
        with failing_as(option, f"POST {deployment.spec.template('execute')}"):
            response = await http.post(
                deployment.url("execute", service.id), json={"inputs": case["inputs"]}, headers=headers
            )
            assert response.status_code == 200, f"HTTP {response.status_code}: {response.text[:300]}"
            plan.check(response.json().get("outputs"))

    started = time.perf_counter()
    async with deployment.client() as http:
        with counted("setup") as setup, failing_as(option, "importing the service's OpenAPI document"):
            document = await http.get(deployment.url("openapi", service.id))
            assert document.status_code == 200, f"HTTP {document.status_code}: {document.text[:300]}"
            document.json()
        await calculate()
        measured.first_result = time.perf_counter() - started
        measured.setup_exchanges, measured.setup_bytes = setup.total, wire(setup)
        await repeat(plan, measured, calculate, count=True)
    return measured


# -- MCP over Streamable HTTP (Options 2 and 3, and what the bridges send) ------------------------------


@contextlib.asynccontextmanager
async def mcp_session(deployment: Deployment, url: str, token: str | None) -> AsyncIterator[Any]:
    """An MCP SDK session on ``url`` with ``token``, initialized and with its tools listed."""
    from mcp.client.session import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async with (
        deployment.mcp_http(token) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        await session.list_tools()
        yield session


def tool_caller(plan: Plan, option: str, session: Any, arguments: dict[str, Any]) -> Callable[[], Awaitable[None]]:
    async def calculate() -> None:
        with failing_as(option, "tools/call spreadapi_calc"):
            result = await session.call_tool("spreadapi_calc", arguments)
            assert not result.is_error, f"a tool error: {str(result.content)[:300]}"
            plan.check((result.structured_content or {}).get("outputs"))

    return calculate


async def oauth_access_token(deployment: Deployment, option: str, resource: str, pasted: dict[str, str]) -> dict:
    """The connector's OAuth flow for ``resource``, from its 401 to the access token, as ChatGPT runs it:
    RFC 9728 and RFC 8414 metadata, RFC 7591 registration (or the target file's client), PKCE S256 with
    ``resource``, the consent page with ``pasted``, the token exchange."""
    from authlib.integrations.httpx_client import AsyncOAuth2Client

    from .consent import authorize

    oauth = deployment.spec.oauth
    mode = oauth.consent if oauth else "form"
    redirect_uri = deployment.redirect_uri
    async with deployment.client() as http:
        with failing_as(option, "the 401 and its resource metadata"):
            initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": _initialize_params()}
            denied = await http.post(resource, json=initialize, headers=ACCEPT)
            assert denied.status_code == 401, f"expected 401 without a token, got HTTP {denied.status_code}"
            metadata_url = _resource_metadata_url(denied.headers.get("www-authenticate", ""), resource)
            protected = (await http.get(metadata_url)).json()
            issuer = protected["authorization_servers"][0]
        with failing_as(option, "the authorization server's metadata"):
            parts = urlsplit(issuer)
            well_known = f"{parts.scheme}://{parts.netloc}/.well-known/oauth-authorization-server"
            server = (await http.get(well_known + parts.path.rstrip("/"))).json()
        with failing_as(option, "client registration"):
            client_id = oauth.client_id if oauth and oauth.client_id else None
            if client_id is None:
                registration = {"redirect_uris": [redirect_uri], "token_endpoint_auth_method": "none"}
                answer = await http.post(
                    server["registration_endpoint"], json={**registration, "client_name": "compare"}
                )
                assert answer.status_code in (200, 201), f"HTTP {answer.status_code}: {answer.text[:300]}"
                client_id = answer.json()["client_id"]
        async with AsyncOAuth2Client(
            client_id=client_id,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="none",
            timeout=30,
            event_hooks=deployment.hooks(),
        ) as client:
            verifier = secrets.token_urlsafe(48)
            url, state = client.create_authorization_url(
                server["authorization_endpoint"], code_verifier=verifier, resource=resource
            )
            with failing_as(option, f"the consent page ({mode})"):
                authorized = await authorize(
                    http,
                    url,
                    None,
                    pasted,
                    mode=mode,
                    redirect_uri=redirect_uri,
                    login=oauth.login if oauth else None,
                    consent_endpoint=oauth.consent_endpoint if oauth else None,
                )
            with failing_as(option, "the token exchange"):
                return dict(
                    await client.fetch_token(
                        server["token_endpoint"],
                        authorization_response=authorized.location,
                        state=state,
                        code_verifier=verifier,
                        resource=resource,
                    )
                )


def _initialize_params() -> dict[str, Any]:
    return {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "compare", "version": "1"}}


def _resource_metadata_url(challenge: str, resource: str) -> str:
    """The challenge's ``resource_metadata``, else RFC 9728's well-known URL for ``resource``."""
    if found := re.search(r'resource_metadata="([^"]+)"', challenge):
        return found.group(1)
    parts = urlsplit(resource)
    return f"{parts.scheme}://{parts.netloc}/.well-known/oauth-protected-resource{parts.path.rstrip('/')}"


def _lifetime(token: dict[str, Any], template: str) -> str:
    seconds = token.get("expires_in")
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return template.format(expires="no lifetime announced")
    hours = seconds / 3600
    return template.format(expires=f"{hours:g} h (expires_in {int(seconds)})")


async def oauth_mcp(
    plan: Plan, option: str, resource: str, pasted: dict[str, str], arguments: dict[str, Any]
) -> Measured:
    """Option 2 or 3: the OAuth flow for ``resource``, an MCP session with the access token, the calculations."""
    measured = Measured(option)
    started = time.perf_counter()
    async with contextlib.AsyncExitStack() as stack:
        with counted("setup") as setup:
            token = await oauth_access_token(plan.deployment, option, resource, pasted)
            with failing_as(option, "initialize and tools/list with the access token"):
                opened = mcp_session(plan.deployment, resource, token["access_token"])
                session = await stack.enter_async_context(opened)
        measured.setup_exchanges, measured.setup_bytes = setup.total, wire(setup)
        calculate = tool_caller(plan, option, session, arguments)
        await calculate()
        measured.first_result = time.perf_counter() - started
        await repeat(plan, measured, calculate, count=True)
    measured.lifetime = _lifetime(token, HANDLING[option].lifetime)
    return measured


# -- the stdio bridges (Claude Desktop, legacy) --------------------------------------------------------


def bridge_env(deployment: Deployment, token: str | None, service_id: str | None) -> dict[str, str]:
    """The bridge's environment as Claude Desktop's config gives it (the service page shows it)."""
    endpoint = "single_service_mcp" if service_id else "bridge_mcp"
    moved = deployment.spec.template(endpoint) != DEFAULT_PATHS[endpoint]  # a deployment with other paths
    mcp_url = deployment.url(endpoint, service_id) if moved else None
    return client_env(deployment.base_url, service_id=service_id, token=token, mcp_url=mcp_url)


async def stdio_bridge(
    plan: Plan, option: str, url: str, token: str | None, service_id: str | None, arguments: dict[str, Any]
) -> Measured:
    """Time the bridge as Claude Desktop runs it (a process on stdio); count its HTTP side on the same
    session opened from here (``url`` with ``token``)."""
    from mcp.client.session import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    deployment = plan.deployment
    measured = Measured(option, lifetime=HANDLING[option].lifetime)
    measured.counted_on = "the bridge's HTTP session, opened from the notebook with the same URL and token"
    command = StdioServerParameters(
        command=sys.executable,
        args=["-m", "spreadapi_conformance", "bridge"],
        env=bridge_env(deployment, token, service_id),
    )
    started = time.perf_counter()
    # The bridge's stderr goes to a file (a kernel's own stderr may have no file descriptor to hand on).
    with tempfile.TemporaryFile("w+", encoding="utf-8") as bridge_stderr:
        try:
            async with (
                stdio_client(command, errlog=bridge_stderr) as (read, write),
                ClientSession(read, write) as session,
            ):
                with failing_as(option, "the bridge's initialize and tools/list"):
                    await session.initialize()
                    await session.list_tools()
                call_tool = tool_caller(plan, option, session, arguments)

                async def calculate() -> None:
                    if deployment.limiter is not None:  # each call is one upstream request of the bridge
                        await deployment.limiter.acquire()
                    await call_tool()

                await calculate()
                measured.first_result = time.perf_counter() - started
                await repeat(plan, measured, calculate, count=False)
        except StepFailed as failed:
            bridge_stderr.seek(0)
            said = bridge_stderr.read().strip().splitlines()
            raise StepFailed(f"{failed} (the bridge said: {said[-1] if said else 'nothing'})") from failed
    async with contextlib.AsyncExitStack() as stack:
        with counted("setup") as setup:
            session = await stack.enter_async_context(mcp_session(deployment, url, token))
        measured.setup_exchanges, measured.setup_bytes = setup.total, wire(setup)
        with counted("one calculation") as one:
            await tool_caller(plan, option, session, arguments)()
        measured.call_exchanges, measured.call_bytes = [one.total], [wire(one)]
    return measured


# -- every option --------------------------------------------------------------------------------------


def _claimed(deployment: Deployment, option: str) -> bool:
    claims = deployment.spec.claims
    return claims is None or option in claims


async def measure_all(plan: Plan) -> list[Measured]:
    """Every option the target claims, on the service published from the plan's fixture with its case.

    An option is skipped (with the reason) when the target does not claim it or its file lacks what the
    option needs (an MCP token for the multi-service paths); a claimed option that breaks fails."""
    deployment = plan.deployment
    service = deployment.service(plan.fixture_id)
    multi_token = deployment.spec.mcp_tokens.get(MULTI_SERVICE_TOKEN)
    single = {"inputs": plan.case["inputs"]}
    multi = {"serviceId": service.id, "inputs": plan.case["inputs"]}
    service_mcp = deployment.url("single_service_mcp", service.id)
    pasted_service = {"service_token": service.token} if service.token else {}
    runs: dict[str, Callable[[Plan], Awaitable[Measured]]] = {
        "rest-actions": rest_actions,
        "chatgpt-single-oauth": lambda p: oauth_mcp(p, "chatgpt-single-oauth", service_mcp, pasted_service, single),
        "chatgpt-multi-oauth": lambda p: oauth_mcp(
            p, "chatgpt-multi-oauth", deployment.url("mcp"), {"mcp_tokens": multi_token or ""}, multi
        ),
        "claude-desktop": lambda p: stdio_bridge(p, "claude-desktop", service_mcp, service.token, service.id, single),
        "legacy-bridge": lambda p: stdio_bridge(
            p, "legacy-bridge", deployment.url("bridge_mcp"), multi_token, None, multi
        ),
    }
    skipped = {}
    for option in runs:
        if not _claimed(deployment, option):
            skipped[option] = "the target file does not claim it"
        elif option in ("chatgpt-multi-oauth", "legacy-bridge") and not multi_token:
            skipped[option] = f"the target file has no [mcp_tokens] {MULTI_SERVICE_TOKEN}"
    # A first pass whose figures are dropped: the target's own first-use costs (compiling a workbook,
    # loading code) would otherwise land on whichever option happens to run first.
    for option, run in runs.items():
        if option not in skipped:
            await run(replace(plan, repetitions=1, warmup=0))
    return [
        Measured(option, skipped=skipped[option]) if option in skipped else await run(plan)
        for option, run in runs.items()
    ]


# -- what the figures say ------------------------------------------------------------------------------


def table(results: list[Measured]) -> str:
    """The figures as a Markdown table, one row per option."""
    head = (
        "| option | median per calculation | p95 | exchanges per calculation | bytes per calculation "
        "| setup exchanges | setup bytes | first result (cold) |\n|---|---|---|---|---|---|---|---|\n"
    )
    rows = []
    for m in results:
        if m.skipped:
            rows.append(f"| {m.title} | not measured: {m.skipped} | | | | | | |")
            continue
        rows.append(
            f"| {m.title} | {m.median_ms:.1f} ms | {m.p95_ms:.1f} ms | {m.per_call_exchanges:g} "
            f"| {_kb(m.per_call_bytes)} | {m.setup_exchanges} | {_kb(m.setup_bytes)} | {m.first_result:.2f} s |"
        )
    return head + "\n".join(rows)


def handling_table(results: list[Measured]) -> str:
    """What a user handles for each option, with the credential lifetime measured where the target says it."""
    head = "| option | credential | lifetime | setup | works in |\n|---|---|---|---|---|\n"
    rows = []
    for m in results:
        handling = HANDLING[m.option]
        lifetime = m.lifetime or handling.lifetime.format(expires="not measured")
        rows.append(f"| {m.title} | {handling.credential} | {lifetime} | {handling.setup} | {handling.works_in} |")
    return head + "\n".join(rows)


def _exchanges(count: int) -> str:
    return f"{count} HTTP exchange{'' if count == 1 else 's'}"


def _kb(size: float) -> str:
    return f"{size / 1024:.1f} KB" if size >= 1024 else f"{size:.0f} B"


def conclusion(results: list[Measured], where: str, *, in_kernel: bool = False) -> str:
    """A paragraph computed from the figures: fastest per calculation, cheapest and dearest to set up.

    ``in_kernel``: the target runs in the notebook's own process, which then pays for both sides."""
    ran = [m for m in results if not m.skipped]
    if not ran:
        return f"No option was measured on {where}."
    fastest = min(ran, key=lambda m: m.median_ms)
    slowest = max(ran, key=lambda m: m.median_ms)
    quickest_start = min(ran, key=lambda m: m.first_result or 0)
    lightest_setup = min(ran, key=lambda m: (m.setup_exchanges, m.setup_bytes))
    heaviest_setup = max(ran, key=lambda m: (m.setup_exchanges, m.setup_bytes))
    lines = [
        f"On {where}, {len(ran)} option(s) measured, every result equal to the oracle.",
        f"Fastest per calculation: {fastest.title}, median {fastest.median_ms:.1f} ms "
        f"(p95 {fastest.p95_ms:.1f} ms); slowest: {slowest.title}, median {slowest.median_ms:.1f} ms "
        f"({slowest.median_ms / fastest.median_ms:.1f}× the fastest).",
        f"Cheapest to set up: {lightest_setup.title}, {_exchanges(lightest_setup.setup_exchanges)} and "
        f"{_kb(lightest_setup.setup_bytes)}; dearest: {heaviest_setup.title}, "
        f"{_exchanges(heaviest_setup.setup_exchanges)} and {_kb(heaviest_setup.setup_bytes)}.",
        f"Quickest from a cold client to its first result: {quickest_start.title}, "
        f"{quickest_start.first_result:.2f} s.",
    ]
    if in_kernel:
        lines.append(
            "Here the server runs in the notebook's own process, so a path whose client also runs here pays "
            "for both sides while a bridge process has its own: run it against a served deployment "
            "(TARGET_FILE) for the figures a user would see."
        )
    if skipped := [m for m in results if m.skipped]:
        lines.append("Not measured: " + "; ".join(f"{m.title} ({m.skipped})" for m in skipped) + ".")
    return " ".join(lines)


def chart(results: list[Measured]) -> Any:
    """A figure: the latency of each calculation per option, and each option's setup cost."""
    import matplotlib.pyplot as plt

    ran = [m for m in results if not m.skipped]
    labels = [_short(m.option) for m in ran]
    figure, (latency, setup) = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")
    latency.boxplot([[s * 1000 for s in m.latencies] for m in ran], tick_labels=labels, orientation="horizontal")
    latency.set_xlabel("ms per calculation (after warm-up)")
    latency.set_title("Latency of one calculation")
    bars = setup.barh(labels, [m.first_result or 0 for m in ran], color="tab:orange")
    for bar, m in zip(bars, ran, strict=True):
        setup.annotate(
            f" {_exchanges(m.setup_exchanges)}, {_kb(m.setup_bytes)}",
            (bar.get_width(), bar.get_y() + bar.get_height() / 2),
            va="center",
            fontsize=8,
        )
    setup.set_xlabel("s from a cold client to the first result")
    setup.set_title("Setup cost")
    setup.margins(x=0.6)
    latency.invert_yaxis()
    setup.invert_yaxis()
    return figure


SHORT = {
    "rest-actions": "Option 1: REST",
    "chatgpt-single-oauth": "Option 2: OAuth + service MCP",
    "chatgpt-multi-oauth": "Option 3: OAuth + /api/mcp",
    "claude-desktop": "Claude Desktop (bridge)",
    "legacy-bridge": "Legacy bridge",
}


def _short(option: str) -> str:
    return SHORT[option]
