"""The deployment under test as a check sees it: URLs, published services, credentials, HTTP clients.

Every check takes the session fixture ``target`` (:class:`Target`); its clients carry the target's hooks:
the credential guard (:mod:`..offtarget`), the ``--spreadapi-max-rps`` pace and certify's evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from ..fixtures import ServiceDef, load_services
from ..offtarget import CredentialGuard, on_origin
from ..report import evidence
from ..report.evidence import RateLimiter
from ..target import IN_PROCESS_BASE_URL, PublishedService, TargetSpec
from .premise import not_applicable


@dataclass
class Target:
    spec: TargetSpec
    app: Any = None  # the ASGI app when in process, else None
    limiter: RateLimiter | None = None  # --spreadapi-max-rps, for a live target
    guard: CredentialGuard = field(init=False)

    def __post_init__(self) -> None:
        self.guard = self.spec.guard()

    @property
    def base_url(self) -> str:
        return self.spec.base_url or IN_PROCESS_BASE_URL

    def hooks(self, extra: dict[str, list] | None = None) -> dict[str, list]:
        """A check client's event hooks: no credential off the target, the pace, certify's evidence."""
        return evidence.event_hooks(self.limiter, extra, guard=self.guard)

    def on_target(self, url: str, what: str) -> str:
        """``url``, after failing the check when it is not on the target's origin (nothing is sent there)."""
        return on_origin(url, self.guard, what)

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        """An HTTP client on the target. In process, an unhandled server error becomes the 500 answer a
        real server would send (httpx's ASGI transport would raise it into the check instead)."""
        if self.app is not None:
            kwargs.setdefault("transport", httpx.ASGITransport(app=self.app, raise_app_exceptions=False))
        kwargs.setdefault("timeout", 30)
        kwargs["event_hooks"] = self.hooks(kwargs.get("event_hooks"))
        return httpx.AsyncClient(base_url=self.base_url, **kwargs)

    def published(self, fixture_id: str) -> PublishedService:
        try:
            return self.spec.services[fixture_id]
        except KeyError:
            not_applicable(f"the target file publishes no service from fixture {fixture_id!r}")

    def fixture(self, fixture_id: str) -> ServiceDef:
        return load_services()[fixture_id]

    def auth(self, fixture_id: str) -> dict[str, str]:
        """Headers that authorise calls to this service (none for a public one)."""
        service = self.published(fixture_id)
        if service.public:
            return {}
        if not service.token:
            not_applicable(f"the target file gives no token for the private service {service.id!r}")
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

    def url(self, name: str, *, id: str | None = None, fixture: str | None = None) -> str:
        """The absolute URL of :meth:`path` (the MCP URL a client is configured with, an RFC 8707 resource)."""
        return self.base_url.rstrip("/") + self.path(name, id=id, fixture=fixture)

    def execute_path(self, fixture_id: str) -> str:
        return self.path("execute", fixture=fixture_id)
