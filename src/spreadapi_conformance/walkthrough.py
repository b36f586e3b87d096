"""What the notebooks (``notebooks/*.ipynb``) share: a deployment to talk to, and a readable record of
every HTTP exchange a step makes.

``open_deployment(None)`` starts the reference on a loopback port in a thread of the kernel (the
embedded default; the stdio bridge and the MCP SDK need a real URL); ``open_deployment("staging.toml")``
reads a target file (the format ``serve --write-target`` writes) and talks to that deployment.

``with step("The 401 challenge"):`` records the exchanges made inside it and prints them when it ends:
method, URL, status, the headers that matter to the flow, and the body, with every credential
masked as certify's reports mask them (``svc_tk_…(masked)``), so an executed notebook can be shared.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from .report import evidence
from .report.masking import Masker, register_secrets
from .target import (
    LOOPBACK_REDIRECT_URI,
    PublishedService,
    TargetError,
    TargetSpec,
    load_target,
    reference_spec,
)
from .threaded import ServerThread, free_port

MAX_RPS_VARIABLE = "SPREADAPI_MAX_RPS"  # set by the notebook runner from --max-rps
# Response headers a reader of the flows needs to see; the rest are noise here (certify's evidence keeps all).
SHOWN_HEADERS = ("location", "www-authenticate", "content-type", "mcp-session-id", "cache-control")
BODY_SHOWN = 1200  # characters of each body printed


@dataclass
class Deployment:
    """The deployment the notebook talks to: its target spec and base URL."""

    spec: TargetSpec
    base_url: str
    where: str  # one line for the reader: what this is
    _server: ServerThread | None = field(default=None, repr=False)  # the reference this started, if any

    @property
    def in_kernel(self) -> bool:
        """The reference this process started (client and server share the process)."""
        return self._server is not None

    def url(self, name: str, id: str | None = None) -> str:
        """The absolute URL of endpoint ``name`` (``target.DEFAULT_PATHS``, or the target file's ``[paths]``)."""
        return self.base_url + self.spec.path(name, id)

    @property
    def redirect_uri(self) -> str:
        """The redirect URI the notebooks register: the target file's ``[oauth]``, else a loopback one."""
        return self.spec.oauth.redirect_uri if self.spec.oauth else LOOPBACK_REDIRECT_URI

    def service(self, fixture_id: str) -> PublishedService:
        """The service published from fixture ``fixture_id`` (its id on the deployment, public, token)."""
        try:
            return self.spec.services[fixture_id]
        except KeyError:
            raise LookupError(f"the target file publishes no service from fixture {fixture_id!r}") from None

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        """An HTTP client on the deployment whose exchanges :func:`step` records."""
        kwargs.setdefault("timeout", 30)
        return httpx.AsyncClient(base_url=self.base_url, event_hooks=self.hooks(), **kwargs)

    def hooks(self) -> dict[str, list]:
        """Event hooks that keep the target file's secrets on its origin, pace requests by ``--max-rps``
        (the runner's ``SPREADAPI_MAX_RPS``) and record for :func:`step`."""
        return evidence.event_hooks(self.limiter, guard=self.spec.guard())

    @functools.cached_property
    def limiter(self) -> evidence.RateLimiter | None:
        """One limiter for every client of this deployment, or None without a limit."""
        rate = os.environ.get(MAX_RPS_VARIABLE)
        return evidence.RateLimiter(float(rate)) if rate else None

    def mcp_http(self, token: str | None = None) -> Any:
        """An ``httpx2`` client (the MCP SDK's) with the bearer ``token``, recorded by :func:`step` too."""
        import httpx2

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=120), event_hooks=self.hooks())

    def close(self) -> None:
        if self._server is not None:
            self._server.stop()


def open_deployment(target_file: str | None = None, *, timeout: float = 60) -> Deployment:
    """The deployment of ``target_file``, or (None) the reference started on a loopback port."""
    if target_file:
        spec = load_target(target_file)
        if spec.base_url is None:
            raise TargetError(f"target file {target_file}: no base_url")
        register_secrets(spec.secrets())
        return Deployment(spec, spec.base_url.rstrip("/"), f"the deployment of {target_file} at {spec.base_url}")
    return _start_reference(timeout)


def _start_reference(timeout: float) -> Deployment:
    from .reference.app import Reference
    from .reference.config import ReferenceConfig

    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    reference = Reference(ReferenceConfig(base_url=base_url))
    server = ServerThread(reference.app, port, name="reference", timeout=timeout)  # seeded in its lifespan
    spec = reference_spec(reference, base_url)
    register_secrets(spec.secrets())
    where = f"the reference, started in this kernel at {base_url} (memory store)"
    return Deployment(spec, base_url, where, server)


@contextlib.contextmanager
def step(title: str, *, show: bool = True) -> Iterator[evidence.Recorder]:
    """Record the HTTP exchanges made inside the block; print them (masked) when it ends."""
    recorder = evidence.Recorder(title, keep=50)
    try:
        with evidence.recording(recorder):
            yield recorder
    finally:
        if show:
            print(f"── {title} ──")
            for exchange in recorder.evidence():
                print(describe(exchange))


def describe(exchange: dict[str, Any]) -> str:
    """One masked exchange (from :meth:`evidence.Recorder.evidence`) as a few readable lines."""
    request, response = exchange["request"], exchange["response"]
    lines = [f"→ {request['method']} {request['url']}"]
    if auth := request["headers"].get("authorization"):
        lines.append(f"    authorization: {auth}")
    if request.get("body"):
        lines.append("    " + _body(request["body"]).replace("\n", "\n    "))
    if response is None:
        lines.append(f"← (no response: {exchange.get('error', 'unknown')})")
        return "\n".join(lines)
    lines.append(f"← {response['status']}")
    for name in SHOWN_HEADERS:
        if name in response["headers"]:
            lines.append(f"    {name}: {response['headers'][name]}")
    if response.get("body"):
        lines.append("    " + _body(response["body"]).replace("\n", "\n    "))
    return "\n".join(lines)


def _body(text: str) -> str:
    try:
        shown = json.dumps(json.loads(text), indent=1, ensure_ascii=False)
    except ValueError:
        shown = text
    return shown if len(shown) <= BODY_SHOWN else shown[:BODY_SHOWN] + f"… ({len(shown)} characters)"


def masked(value: Any) -> Any:
    """``value`` with every secret masked (for printing what a step obtained, a token response say)."""
    return Masker().obj(value)
