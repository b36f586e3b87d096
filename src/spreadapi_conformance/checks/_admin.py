"""The reference's admin surface (``serve --admin-token``, ``[admin]`` in a target file), as the checks use it.

A check that needs a credential of its own (to revoke it, to hold another service's token, to hold an
expired one) issues it here and revokes it when done, so the target file's credentials are never
touched. Without ``[admin]`` such a check skips with :data:`NO_ADMIN`. In process the reference runs
with an admin token, so these checks run in CI and in ``certify --in-process``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import httpx

from .answers import json_object
from .premise import not_applicable

if TYPE_CHECKING:
    from .target import Target


NO_ADMIN = (
    "the target file has no [admin] token: a credential of the check's own needs the admin surface, "
    "and the checks never revoke or reuse the target file's credentials for this"
)


def excerpt(response: httpx.Response, size: int = 300) -> str:
    return f"HTTP {response.status_code} body={response.text[:size]!r}"


@dataclass
class Admin:
    """Issue and revoke credentials on the target through ``/admin/…``."""

    client: httpx.AsyncClient
    token: str = field(repr=False)

    @classmethod
    def of(cls, client: httpx.AsyncClient, target: Target) -> Admin:
        if not target.spec.admin_token:
            not_applicable(NO_ADMIN)
        return cls(client, target.spec.admin_token)

    async def _post(self, path: str, body: dict[str, Any], status: int) -> dict[str, Any]:
        response = await self.client.post(path, json=body, headers={"Authorization": f"Bearer {self.token}"})
        assert response.status_code == status, f"POST {path}: {excerpt(response)}"
        return json_object(response)

    async def issue_mcp_token(self, *service_ids: str) -> str:
        return (await self._post("/admin/mcp-tokens/issue", {"services": list(service_ids)}, 201))["token"]

    async def issue_mcp_token_granting_nothing(self) -> str | None:
        """An MCP token with an empty service list (SpreadAPI lets a user create one), or None when the admin
        surface refuses to issue it (400)."""
        headers = {"Authorization": f"Bearer {self.token}"}
        response = await self.client.post("/admin/mcp-tokens/issue", json={"services": []}, headers=headers)
        if response.status_code == 400:
            return None
        assert response.status_code == 201, f"POST /admin/mcp-tokens/issue: {excerpt(response)}"
        return json_object(response)["token"]

    async def issue_service_token(self, service_id: str, *, expires_at: float | None = None) -> str:
        """A fresh service token; ``expires_at`` (epoch seconds, may be past) makes it expire then."""
        body: dict[str, Any] = {"service": service_id}
        if expires_at is not None:
            body["expires_at"] = expires_at
        return (await self._post("/admin/service-tokens/issue", body, 201))["token"]

    async def revoke_mcp_token(self, token: str) -> None:
        assert (await self._post("/admin/mcp-tokens/revoke", {"token": token}, 200)).get("revoked") is True

    async def revoke_service_token(self, token: str, *, live: bool = True) -> None:
        """Revoke; ``live=False`` for a token that may no longer be live (expired), where false is fine."""
        revoked = (await self._post("/admin/service-tokens/revoke", {"token": token}, 200)).get("revoked")
        assert revoked is True or not live, f"the admin surface did not revoke a live token: {revoked!r}"


def server_clock_offset(response: httpx.Response) -> float:
    """How far the server's clock is ahead of ours (seconds), from its Date header; 0 without one (in process).
    The header has a one-second resolution: a check that times an expiry allows a second more."""
    try:
        return parsedate_to_datetime(response.headers["date"]).timestamp() - time.time()
    except (KeyError, TypeError, ValueError):
        return 0.0
