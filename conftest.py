"""Pytest wiring shared by every suite: the target under test, hypothesis profiles, markers.

``pytest suites/`` checks the in-process reference (no network, no setup). ``--target FILE`` (or
``SPREADAPI_TARGET``) checks a deployment described by a target file instead; only tests marked
``conformance`` talk to the target, the rest test this project's own parts (engine, store, serve).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shlex
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, settings

from spreadapi_conformance.fixtures import ServiceDef, load_services
from spreadapi_conformance.offtarget import on_origin
from spreadapi_conformance.report import evidence
from spreadapi_conformance.report.evidence import RateLimiter
from spreadapi_conformance.report.masking import register_secrets
from spreadapi_conformance.target import (
    IN_PROCESS_BASE_URL,
    PublishedService,
    TargetError,
    TargetSpec,
    load_target,
    reference_spec,
)

settings.register_profile(
    "ci",
    parent=settings.get_profile("ci"),
    max_examples=60,
    stateful_step_count=15,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "dev",
    max_examples=25,
    stateful_step_count=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--target",
        default=os.environ.get("SPREADAPI_TARGET"),
        help="target file of the deployment to check (default: the in-process reference)",
    )
    parser.addoption(
        "--max-rps",
        type=float,
        default=float(os.environ.get("SPREADAPI_MAX_RPS") or 0) or None,
        help="at most this many requests per second to a live target, across all checks (default: unbounded)",
    )
    parser.addoption(
        "--bridge-command",
        default=os.environ.get("SPREADAPI_BRIDGE_COMMAND") or None,
        help="the stdio bridge the Claude Desktop replay launches, as one shell-quoted command line "
        '(e.g. "npx spreadapi-mcp"; default: this package\'s own "spreadapi-conformance bridge")',
    )
    parser.addoption(
        "--mcp-revision",
        action="append",
        default=[r for r in os.environ.get("SPREADAPI_MCP_REVISIONS", "").split(",") if r],
        help="an MCP revision to check (repeatable; default SPREADAPI_MCP_REVISIONS, comma-separated): the MCP "
        "checks parametrized over revisions run only at these (default: every revision the SDK offers)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "conformance: a check that runs against any target")


@dataclass
class Target:
    """The deployment under test, as the checks see it: URLs, published services, credentials."""

    spec: TargetSpec
    app: Any = None  # the ASGI app when in process
    limiter: RateLimiter | None = None  # --max-rps, for a live target

    def __post_init__(self) -> None:
        self.guard = self.spec.guard()

    @property
    def base_url(self) -> str:
        return self.spec.base_url or IN_PROCESS_BASE_URL

    def hooks(self, extra: dict[str, list] | None = None) -> dict[str, list]:
        """A check client's event hooks: no credential off the target, --max-rps, certify's evidence."""
        return evidence.event_hooks(self.limiter, extra, guard=self.guard)

    def on_target(self, url: str, what: str) -> str:
        """``url``, after failing the check when it is not on the target's origin (nothing is sent there)."""
        return on_origin(url, self.guard, what)

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        """An HTTP client on the target; its exchanges are certify's evidence, paced by --max-rps."""
        if self.app is not None:
            kwargs.setdefault("transport", httpx.ASGITransport(app=self.app))
        kwargs.setdefault("timeout", 30)
        kwargs["event_hooks"] = self.hooks(kwargs.get("event_hooks"))
        return httpx.AsyncClient(base_url=self.base_url, **kwargs)

    def published(self, fixture_id: str) -> PublishedService:
        try:
            return self.spec.services[fixture_id]
        except KeyError:
            pytest.skip(f"the target file publishes no service from fixture {fixture_id!r}")

    def fixture(self, fixture_id: str) -> ServiceDef:
        return load_services()[fixture_id]

    def auth(self, fixture_id: str) -> dict[str, str]:
        """Headers that authorise calls to this service (none for a public one)."""
        service = self.published(fixture_id)
        if service.public:
            return {}
        if not service.token:
            pytest.skip(f"the target file gives no token for the private service {service.id!r}")
        return {"Authorization": f"Bearer {service.token}"}

    def template(self, name: str) -> str:
        """The path of endpoint ``name`` as the target file gives it, ``{id}`` unfilled."""
        return self.spec.template(name)

    def path(self, name: str, *, id: str | None = None, fixture: str | None = None) -> str:
        """Where the target serves endpoint ``name`` (``target.DEFAULT_PATHS``, or the file's ``[paths]``).

        ``id`` is a service id as published; ``fixture`` names the service by its fixture instead."""
        if fixture is not None:
            id = self.published(fixture).id
        return self.spec.path(name, id)

    def url(self, name: str, **params: str) -> str:
        """The absolute URL of :meth:`path` (the MCP URL a client is configured with, an RFC 8707 resource)."""
        return self.base_url.rstrip("/") + self.path(name, **params)

    def execute_path(self, fixture_id: str) -> str:
        return self.path("execute", fixture=fixture_id)


def _in_process_target() -> Target:
    from spreadapi_conformance.reference.app import Reference
    from spreadapi_conformance.reference.config import ReferenceConfig

    # No background warm-up: tests compile what they use, and no thread outlives the session. The admin
    # surface is on, so the checks that issue and revoke their own credentials run in process too.
    admin_token = "admin-" + secrets.token_hex(16)
    reference = Reference(ReferenceConfig(warm_up=False, admin_token=admin_token))
    asyncio.run(reference.seed())  # the memory store is not bound to an event loop
    spec = reference_spec(reference, None, admin_token=admin_token)
    return Target(spec=spec, app=reference.app)


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config) -> Target:
    path = pytestconfig.getoption("--target")
    if not path:
        target = _in_process_target()
    else:
        try:
            spec = load_target(path)
        except TargetError as exc:
            raise pytest.UsageError(str(exc)) from None
        rate = pytestconfig.getoption("--max-rps")
        target = Target(spec=spec, limiter=RateLimiter(rate) if rate else None)
    register_secrets(target.spec.secrets())  # masked in every report
    return target


@pytest.fixture
async def client(target: Target) -> AsyncIterator[httpx.AsyncClient]:
    async with target.client() as http:
        yield http


@pytest.fixture(scope="session")
def services() -> dict[str, ServiceDef]:
    return load_services()


@pytest.fixture(scope="session")
def bridge_command(pytestconfig: pytest.Config) -> list[str]:
    """The stdio bridge to launch as Claude Desktop would: --bridge-command, else this package's own."""
    given = pytestconfig.getoption("--bridge-command")
    if not given:
        return [sys.executable, "-m", "spreadapi_conformance", "bridge"]
    try:
        command = shlex.split(given)
    except ValueError as exc:
        raise pytest.UsageError(f"--bridge-command is not a valid command line: {exc}") from None
    if not command:
        raise pytest.UsageError("--bridge-command is empty")
    return command
