"""The checks' pytest plugin: options, the ``target`` fixture and what every check relies on.

Installed with the package under the ``pytest11`` entry point ``spreadapi_conformance``, so ``pytest``
in any folder of an environment that has the package knows the options below; the checks themselves
are collected from the package (``pytest --pyargs spreadapi_conformance.checks``) and a team's own
checks, in its own repository, use the same fixtures. ``certify`` runs the same plugin.

Options (each a plain pytest option; certify passes its own flags on as these):

- ``--spreadapi-target FILE``: the target file of the deployment to check (default: the reference,
  embedded in this process);
- ``--spreadapi-max-rps N``: at most N requests per second to a live target;
- ``--spreadapi-bridge-command CMD``: the stdio bridge the Claude Desktop replay launches;
- ``--spreadapi-mcp-revision R`` (repeatable): check only these MCP revisions.

- ``--spreadapi-fuzz-examples N``: the fuzzers' generated requests per REST operation and mode, MCP
  messages per kind.

Fixtures: ``target`` (:class:`.target.Target`, one per session), ``client`` (an HTTP client on it),
``mcp_target`` (the target with its MCP endpoints running: in process, the app's lifespan entered for
the check), ``mcp_revisions``, ``fuzz_budget``, ``reachable_url`` (a base URL another process can reach) and
``bridge_command``. Coroutine checks marked ``conformance`` run under pytest-asyncio whatever the
project's ``asyncio_mode``, and property checks get the kit's hypothesis settings, not the project's.
"""

from __future__ import annotations

import inspect
import shlex
import signal
import sys
import threading
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio

if TYPE_CHECKING:
    from .target import Target


CONFORMANCE = "conformance"
EXAMPLES = 25  # generated examples per property check and parameter
# The fuzzers (REST-FUZZ, MCP-FUZZ): generated requests per REST operation and generation mode (valid,
# invalid), and MCP messages per kind. In process they are cheap, so many; on a live target each one is a
# paced request, so fewer (--spreadapi-fuzz-examples sets either).
FUZZ_EXAMPLES = 75
FUZZ_EXAMPLES_LIVE = 20
CHECK_TIMEOUT = 120.0  # s: a check's time limit; the slowest sound checks take a few seconds
PACED_REQUESTS = 40  # requests a check may make under --spreadapi-max-rps before its limit counts


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("spreadapi", "spreadapi-conformance checks")
    group.addoption(
        "--spreadapi-target",
        metavar="FILE",
        help="target file of the deployment to check (default: the reference, embedded in this process)",
    )
    group.addoption(
        "--spreadapi-max-rps",
        metavar="N",
        type=float,
        help="at most this many requests per second to a live target, across all checks (default: unbounded)",
    )
    group.addoption(
        "--spreadapi-bridge-command",
        metavar="CMD",
        help="the stdio bridge the Claude Desktop replay launches, as one shell-quoted command line "
        '(e.g. "npx spreadapi-mcp"; default: this package\'s own "spreadapi-conformance bridge")',
    )
    group.addoption(
        "--spreadapi-check-timeout",
        metavar="SECONDS",
        type=float,
        default=CHECK_TIMEOUT,
        help=f"the time limit of one check (default {CHECK_TIMEOUT:g} s, stretched under --spreadapi-max-rps; "
        "0: none); a check that runs out fails, saying which request it waited for",
    )
    group.addoption(
        "--spreadapi-reference-fault",
        metavar="NAME",
        action="append",
        default=[],
        help="start the embedded reference with this deployment bug (repeatable; spreadapi-conformance selftest)",
    )
    group.addoption(
        "--spreadapi-fuzz-examples",
        metavar="N",
        type=int,
        help=f"the fuzzers' examples: generated requests per REST operation and mode, MCP messages per kind "
        f"(default {FUZZ_EXAMPLES} in process, {FUZZ_EXAMPLES_LIVE} against a live target)",
    )
    group.addoption(
        "--spreadapi-mcp-revision",
        metavar="R",
        action="append",
        default=[],
        help="an MCP revision to check (repeatable; default: every revision the MCP SDK offers)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{CONFORMANCE}: a check of the requirement catalogue, run against any target")
    config.addinivalue_line(
        "markers",
        "fuzz(n, fixed): a fuzzer that sends up to n requests per fuzz example and fixed more (its time limit)",
    )


def is_check(node: Any) -> bool:
    return node.get_closest_marker(CONFORMANCE) is not None


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: Any) -> None:
    # Checks are coroutines; pytest-asyncio runs one only when it is marked or the project's mode is "auto".
    if inspect.iscoroutinefunction(obj) and collector.istestfunction(obj, name):
        names = {m.name for m in (*_marks(getattr(collector, "obj", None)), *_marks(obj))}
        if CONFORMANCE in names and "asyncio" not in names:
            pytest.mark.asyncio(obj)


def _marks(obj: Any) -> list[Any]:
    found = getattr(obj, "pytestmark", [])
    return list(found) if isinstance(found, list | tuple) else [found]


def chosen_revisions(config: pytest.Config) -> tuple[str, ...]:
    """The MCP revisions to check: those of --spreadapi-mcp-revision (validated), else every one."""
    from .mcp._support import REVISIONS

    chosen = tuple(dict.fromkeys(config.getoption("--spreadapi-mcp-revision") or ()))
    if unknown := [r for r in chosen if r not in REVISIONS]:
        raise pytest.UsageError(f"unknown MCP revision {', '.join(unknown)} (the SDK offers: {', '.join(REVISIONS)})")
    return chosen or REVISIONS


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    checks = [item for item in items if is_check(item)]
    if not checks:
        return
    chosen = chosen_revisions(config)
    for item in checks:
        callspec = getattr(item, "callspec", None)
        revision = callspec.params.get("revision") if callspec is not None else None
        if revision is not None and revision not in chosen:
            reason = f"not run: MCP revision {revision} is not selected (--spreadapi-mcp-revision {', '.join(chosen)})"
            item.add_marker(pytest.mark.skip(reason=reason))
    live = bool(config.getoption("--spreadapi-target"))
    for function in {id(item.function): item.function for item in checks}.values():
        if getattr(function, "is_hypothesis_test", False):
            property_settings(live)(function)
    limit = check_timeout(config)
    for item in checks:
        item.stash[TIME_LIMIT] = limit + fuzz_pacing(config, item)


def check_timeout(config: pytest.Config) -> float:
    """A check's time limit: --spreadapi-check-timeout, plus the pacing of PACED_REQUESTS at --spreadapi-max-rps."""
    limit = config.getoption("--spreadapi-check-timeout") or 0.0
    rate = config.getoption("--spreadapi-max-rps")
    return limit + PACED_REQUESTS / rate if limit and rate else limit


def fuzz_examples(config: pytest.Config) -> int:
    given = config.getoption("--spreadapi-fuzz-examples")
    if given is not None:
        if given < 1:
            raise pytest.UsageError("--spreadapi-fuzz-examples must be at least 1")
        return given
    return FUZZ_EXAMPLES_LIVE if config.getoption("--spreadapi-target") else FUZZ_EXAMPLES


def fuzz_pacing(config: pytest.Config, item: pytest.Item) -> float:
    """The time a fuzzer's requests take at --spreadapi-max-rps (its marker ``fuzz(n, fixed)``: n requests per
    example and ``fixed`` more), added to its limit: a fuzzer sends far more than PACED_REQUESTS."""
    marker = item.get_closest_marker("fuzz")
    rate = config.getoption("--spreadapi-max-rps")
    if marker is None or not rate or not config.getoption("--spreadapi-check-timeout"):
        return 0.0
    per_example, fixed = (*marker.args, 0)[:2]
    return (per_example * fuzz_examples(config) + fixed) / rate


TIME_LIMIT = pytest.StashKey[float]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """Run a check under its time limit: when it runs out, the check fails with CheckTimeout (a SIGALRM timer:
    checks run in the main thread, one at a time per process, certify's workers included)."""
    limit = item.stash.get(TIME_LIMIT, 0.0)
    if not limit or not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        return (yield)
    from ..report.outcomes import CheckTimeout

    def expire(signum: int, frame: Any) -> None:
        raise CheckTimeout(f"the check's time limit ({limit:g} s) ran out")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        return (yield)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def property_settings(live: bool) -> Any:
    """The kit's settings for a property check. No deadline (a round trip is not a bug), no example
    database written into the user's folder; against a live target no shrinking: each shrink step is
    another round of requests, and the first failing example is evidence enough."""
    from hypothesis import HealthCheck, Phase, settings

    phases = [Phase.explicit, Phase.reuse, Phase.generate] if live else list(Phase)
    return settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=phases,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


# -- fixtures ------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config) -> Any:
    from ..report.evidence import RateLimiter
    from ..report.masking import register_secrets
    from ..target import TargetError, load_target
    from .target import Target

    path = pytestconfig.getoption("--spreadapi-target")
    faults = pytestconfig.getoption("--spreadapi-reference-fault")
    if faults and path:
        raise pytest.UsageError("--spreadapi-reference-fault starts the embedded reference: give no --spreadapi-target")
    if not path:
        from ..embedded import in_process_reference

        try:
            spec, app = in_process_reference(faults)
        except ValueError as exc:
            raise pytest.UsageError(str(exc)) from None
        target = Target(spec=spec, app=app)
    else:
        try:
            spec = load_target(path)
        except TargetError as exc:
            raise pytest.UsageError(str(exc)) from None
        rate = pytestconfig.getoption("--spreadapi-max-rps")
        target = Target(spec=spec, limiter=RateLimiter(rate) if rate else None)
    register_secrets(target.spec.secrets())  # masked in every report
    return target


@pytest_asyncio.fixture
async def client(target: Target) -> AsyncIterator[Any]:
    async with target.client() as http:
        yield http


@pytest_asyncio.fixture
async def mcp_target(target: Target) -> AsyncIterator[Any]:
    from .mcp._support import running

    async with running(target.app):
        yield target


@pytest.fixture(scope="session")
def fuzz_budget(pytestconfig: pytest.Config) -> int:
    """The fuzzers' examples (--spreadapi-fuzz-examples, else the default for an in-process or live target)."""
    return fuzz_examples(pytestconfig)


@pytest.fixture(scope="session")
def mcp_revisions(pytestconfig: pytest.Config) -> tuple[str, ...]:
    return chosen_revisions(pytestconfig)


@pytest_asyncio.fixture
async def reachable_url(mcp_target: Target) -> AsyncIterator[str]:
    """A base URL another process (the stdio bridge) can reach: the target's own, or in process the app
    served on a loopback port in the check's event loop (``mcp_target`` runs the app's lifespan)."""
    if mcp_target.app is None:
        yield mcp_target.base_url
        return
    from .replay._support import loopback_server

    async with loopback_server(mcp_target.app) as url:
        yield url


@pytest.fixture(scope="session")
def bridge_command(pytestconfig: pytest.Config) -> list[str]:
    """The stdio bridge to launch as Claude Desktop would: --spreadapi-bridge-command, else this package's own."""
    given = pytestconfig.getoption("--spreadapi-bridge-command")
    if not given:
        return [sys.executable, "-m", "spreadapi_conformance", "bridge"]
    try:
        command = shlex.split(given)
    except ValueError as exc:
        raise pytest.UsageError(f"--spreadapi-bridge-command is not a valid command line: {exc}") from None
    if not command:
        raise pytest.UsageError("--spreadapi-bridge-command is empty")
    return command
