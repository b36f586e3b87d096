"""Pre-flight for a live target: is it there, is it SpreadAPI, are the target file's credentials good?

``certify --target`` runs this before any check, so a wrong URL or a stale token is one line on stderr
instead of hundreds of failed checks. Every request is harmless: the service listing, one execute per
private service with its first golden case, and (for MCP tokens) one ``initialize`` on the bridge. A
target file that publishes no services gets only a GET of the base URL (is anything there?).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from .fixtures import load_services
from .report.masking import Masker
from .target import TargetSpec

TIMEOUT = 10.0
MCP_PROBE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "spreadapi-conformance-preflight", "version": "1"},
    },
}


class PreflightError(Exception):
    """The target cannot be certified; the message is one line for the operator, secrets masked."""


def _refusal(response: httpx.Response) -> str:
    """'HTTP 401: Invalid token' from a JSON error body, or just the status."""
    detail = ""
    try:
        body = response.json()
        if isinstance(body, dict):
            detail = str(body.get("error") or body.get("message") or "")
    except ValueError:
        pass
    return f"HTTP {response.status_code}{': ' + detail[:80] if detail else ''}"


def _transport_problem(exc: httpx.TransportError, base: str, timeout: float) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"{base} did not answer within {timeout:g} s"
    cause: Any = exc.__cause__ or exc.__context__
    while cause is not None and cause.__cause__ is not None:
        cause = cause.__cause__
    text = str(cause or exc) or type(exc).__name__
    if isinstance(cause, ConnectionRefusedError) or "refused" in text.lower():
        text = "connection refused"
    return f"cannot reach {base}: {text.splitlines()[0]}"


def preflight(spec: TargetSpec, timeout: float = TIMEOUT, claims: tuple[str, ...] | None = None) -> None:
    """Raise :class:`PreflightError` if ``spec`` cannot be certified; return quietly otherwise."""
    if spec.base_url is None:
        return
    masker = Masker(spec.secrets())
    try:
        with httpx.Client(base_url=spec.base_url, timeout=timeout, follow_redirects=False) as http:
            _check(http, spec, claims)
    except httpx.TransportError as exc:
        raise PreflightError(masker.text(_transport_problem(exc, spec.base_url, timeout))) from None
    except PreflightError as exc:
        raise PreflightError(masker.text(str(exc))) from None


def _check(http: httpx.Client, spec: TargetSpec, claims: tuple[str, ...] | None) -> None:
    base = spec.base_url
    if not spec.services:
        # No SpreadAPI services in the file (an MCP server that is not SpreadAPI, say): nothing to list or
        # execute, only whether anything answers at base_url; the checks that need services skip.
        http.get("/")
        return
    paths = spec.paths
    listing = http.get(paths["services"])
    if listing.status_code == 404:
        raise PreflightError(
            f"{base}{paths['services']} is 404: base_url does not point at a SpreadAPI deployment (check its path)"
        )
    if listing.status_code != 200:
        raise PreflightError(f"{base}{paths['services']} answered {_refusal(listing)}, not the service listing")
    try:
        body = listing.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("services"), list):
        raise PreflightError(f"{base}{paths['services']} is not a SpreadAPI service listing (no JSON services list)")

    fixtures = load_services()
    for service in spec.services.values():
        if service.public or not service.token:
            continue
        golden = fixtures[service.fixture].golden
        inputs = golden[0]["inputs"] if golden else {}
        response = http.post(
            paths["execute"].replace("{id}", quote(service.id, safe="")),
            json={"inputs": inputs},
            headers={"Authorization": f"Bearer {service.token}"},
        )
        if response.status_code in (401, 403):
            raise PreflightError(
                f"the target file's token for service {service.id!r} is refused ({_refusal(response)}): "
                "expired, revoked or from another deployment"
            )
        if response.status_code == 404:
            raise PreflightError(f"service {service.id!r} of the target file is not published at {base} (HTTP 404)")

    wants_mcp_tokens = claims is None or bool({"chatgpt-multi-oauth", "legacy-bridge"} & set(claims))
    for name, token in spec.mcp_tokens.items() if wants_mcp_tokens else ():
        response = http.post(
            paths["bridge_mcp"],
            json=MCP_PROBE,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/json, text/event-stream",
                "Content-Type": "application/json",
            },
        )
        if response.status_code == 401:
            raise PreflightError(
                f"the target file's MCP token {name!r} is refused by {base}{paths['bridge_mcp']} (HTTP 401): "
                "expired, revoked or from another deployment"
            )
        # Anything else (200, or 404/405 where the bridge is not offered) is for the checks to judge.
