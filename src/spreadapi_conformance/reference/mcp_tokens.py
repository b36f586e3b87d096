"""Multi-service MCP tokens (``spapi_live_`` + 64 hex), each bound to a list of service ids.

SpreadAPI's legacy layout (behaviour reference 3.2.2 and 4.8) keys the record by the plain token:
``mcp:token:{spapi_live_…}``. Here the key is the token's SHA-256 instead, as for service tokens, so
a dump of the store never yields a usable credential:

    mcp:token:{sha256}          hash  {name, description, userId, created, isActive, serviceIds (JSON)[, revokedAt]}
    mcp:user:{userId}:tokens    set   sha256 digests of the user's active tokens

A token is valid while its record exists and ``isActive == "true"``. Revoking keeps the record
(``isActive = "false"``, as SpreadAPI does) so an operator can still see what was revoked and when.
An empty ``serviceIds`` list is a valid token that grants no service (SpreadAPI: "not all").
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable

from .credentials import MCP_TOKEN_PREFIX, _iso, looks_like, new_token, token_hash
from .store import TokenStore

__all__ = ["DEFAULT_USER", "McpTokens"]

DEFAULT_USER = "reference"


def _key(digest: str) -> str:
    return f"mcp:token:{digest}"


class McpTokens:
    def __init__(self, store: TokenStore, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    async def issue(
        self,
        service_ids: Iterable[str],
        name: str = "API Token",
        description: str = "",
        user_id: str = DEFAULT_USER,
    ) -> str:
        """A fresh token bound to ``service_ids``; the plain token is returned once and never stored."""
        ids = list(dict.fromkeys(service_ids))
        if not all(isinstance(s, str) and s for s in ids):
            raise ValueError("service ids must be non-empty strings")
        token = new_token(MCP_TOKEN_PREFIX)
        digest = token_hash(token)
        record = {
            "name": name,
            "description": description,
            "userId": user_id,
            "created": _iso(self.clock()),
            "isActive": "true",
            "serviceIds": json.dumps(ids),
        }
        await self.store.hset(_key(digest), record)
        await self.store.sadd(f"mcp:user:{user_id}:tokens", digest)
        return token

    async def validate(self, token: object, active_only: bool = True) -> list[str] | None:
        """The service ids the token grants, or None when it is malformed, unknown or revoked (``active_only``
        False: revoked too, the consent fault ``consent-revoked-mcp-token-accepted``)."""
        if not looks_like(token, MCP_TOKEN_PREFIX):
            return None
        assert isinstance(token, str)
        return await self.validate_hash(token_hash(token), active_only)

    async def validate_hash(self, digest: str, active_only: bool = True) -> list[str] | None:
        """As ``validate``, from the token's SHA-256 (what OAuth grants keep instead of the token)."""
        record = await self.store.hgetall(_key(digest))
        if not record or (active_only and record.get("isActive") != "true"):
            return None
        try:
            ids = json.loads(record.get("serviceIds", "[]"))
        except ValueError:
            return None  # a record edited by hand into nonsense fails closed
        if not isinstance(ids, list) or not all(isinstance(s, str) for s in ids):
            return None
        return ids

    async def revoke(self, token: str) -> bool:
        """Deactivate the token; True if it was active. Every OAuth token wrapping it stops at once."""
        if not looks_like(token, MCP_TOKEN_PREFIX):
            return False
        digest = token_hash(token)
        record = await self.store.hgetall(_key(digest))
        if record.get("isActive") != "true":
            return False
        await self.store.hset(_key(digest), {"isActive": "false", "revokedAt": _iso(self.clock())})
        await self.store.srem(f"mcp:user:{record.get('userId', DEFAULT_USER)}:tokens", digest)
        return True
