"""Token formats and SpreadAPI-compatible service-token storage and validation.

Service tokens live in the store exactly as SpreadAPI keeps them in Redis:

    token:{tokenId}        hash   {serviceId, name, tokenHash, createdAt, usageCount, expiresAt?, lastUsedAt?}
    token:hash:{sha256}    string tokenId (O(1) lookup from a presented token)
    service:{id}:tokens    set    tokenIds

Only the SHA-256 of a token is stored, so a dump of the store never yields a usable credential.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .store import TokenStore

__all__ = [
    "AUTH_CODE_PREFIX",
    "CLIENT_ID_PREFIX",
    "MCP_TOKEN_PREFIX",
    "OAUTH_TOKEN_PREFIX",
    "SERVICE_TOKEN_PREFIX",
    "IssuedToken",
    "ServiceTokens",
    "TokenCheck",
    "looks_like",
    "new_token",
    "token_hash",
]

SERVICE_TOKEN_PREFIX = "svc_tk_"
MCP_TOKEN_PREFIX = "spapi_live_"
OAUTH_TOKEN_PREFIX = "oat_"
AUTH_CODE_PREFIX = "ac_"
CLIENT_ID_PREFIX = "dcr_"

_HEX64 = re.compile(r"[0-9a-f]{64}")


def new_token(prefix: str) -> str:
    return prefix + secrets.token_hex(32)


def looks_like(token: object, prefix: str) -> bool:
    return isinstance(token, str) and token.startswith(prefix) and _HEX64.fullmatch(token, len(prefix)) is not None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _iso(ts: float) -> str:
    # The same shape as JavaScript's Date.toISOString(), which SpreadAPI writes.
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_iso(text: str) -> float | None:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


@dataclass(frozen=True)
class IssuedToken:
    token_id: str
    token: str = field(repr=False)  # shown to the operator once; keep it out of logs


@dataclass(frozen=True)
class TokenCheck:
    valid: bool
    status: int
    error: str | None = None
    token_id: str | None = None


def _deny(status: int, error: str) -> TokenCheck:
    return TokenCheck(valid=False, status=status, error=error)


class ServiceTokens:
    def __init__(self, store: TokenStore, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    async def issue(
        self,
        service_id: str,
        name: str = "default",
        expires_at: float | None = None,
        token: str | None = None,
    ) -> IssuedToken:
        if not service_id:
            raise ValueError("service_id must not be empty")
        if token is None:
            token = new_token(SERVICE_TOKEN_PREFIX)
        elif not looks_like(token, SERVICE_TOKEN_PREFIX):
            # The message must not echo the token: it is a secret even when malformed.
            raise ValueError(
                f"a service token must be {SERVICE_TOKEN_PREFIX!r} followed by 64 lowercase hex characters"
            )
        token_id = secrets.token_hex(16)
        digest = token_hash(token)
        data = {
            "serviceId": service_id,
            "name": name,
            "tokenHash": digest,
            "createdAt": _iso(self.clock()),
            "usageCount": "0",
        }
        if expires_at is not None:
            data["expiresAt"] = _iso(expires_at)
        # Write the record before the lookup entry so a lookup never lands on a missing record, and
        # claim the lookup with NX so re-issuing an operator-supplied token cannot orphan the first.
        await self.store.hset(f"token:{token_id}", data)
        if not await self.store.set_if_absent(f"token:hash:{digest}", token_id):
            await self.store.delete(f"token:{token_id}")
            raise ValueError("this token has already been issued")
        await self.store.sadd(f"service:{service_id}:tokens", token_id)
        return IssuedToken(token_id=token_id, token=token)

    async def validate(self, token: str | None, service_id: str) -> TokenCheck:
        # Order and messages follow SpreadAPI's validateServiceToken; clients see them verbatim.
        if not token:
            return _deny(401, "No token provided")
        token_id = await self.store.get(f"token:hash:{token_hash(token)}")
        if not token_id:
            return _deny(401, "Invalid token")
        key = f"token:{token_id}"
        data = await self.store.hgetall(key)
        if not data:
            return _deny(401, "Token not found")
        if data.get("serviceId") != service_id:
            return _deny(403, "Token does not belong to this service")
        now = self.clock()
        if data.get("expiresAt"):
            expires = _parse_iso(data["expiresAt"])
            # An unreadable expiry fails closed; SpreadAPI's `new Date(bad) < now` would let it through.
            if expires is None or expires < now:
                return _deny(401, "Token expired")
        await self.store.hincrby(key, "usageCount", 1)
        await self.store.hset(key, {"lastUsedAt": _iso(now)})
        return TokenCheck(valid=True, status=200, token_id=token_id)

    async def revoke(self, token_id: str) -> bool:
        # htake, so that of two concurrent revocations exactly one reports success.
        data = await self.store.htake(f"token:{token_id}")
        if not data:
            return False
        if data.get("tokenHash"):
            await self.store.delete(f"token:hash:{data['tokenHash']}")
        if data.get("serviceId"):
            await self.store.srem(f"service:{data['serviceId']}:tokens", token_id)
        return True

    async def revoke_token(self, token: str) -> bool:
        """Revoke by the plain token (what an operator holds), through its hash lookup."""
        if not looks_like(token, SERVICE_TOKEN_PREFIX):
            return False
        token_id = await self.store.get(f"token:hash:{token_hash(token)}")
        return bool(token_id) and await self.revoke(token_id)

    async def list(self, service_id: str) -> list[dict[str, str]]:
        tokens = []
        for token_id in await self.store.smembers(f"service:{service_id}:tokens"):
            data = await self.store.hgetall(f"token:{token_id}")
            if not data:
                continue  # set member outlived its record (e.g. removed by hand with redis-cli)
            data.pop("tokenHash", None)
            tokens.append({"tokenId": token_id, **data})
        return sorted(tokens, key=lambda t: (t.get("createdAt", ""), t["tokenId"]))


async def validated_service_token(request: Any, token: str, service_id: str, *, cached: bool) -> TokenCheck:
    """The service token's check. ``cached``: a fault (``rest-service-token-cached``, ``mcp-service-token-cached``)
    under which a token that validated once stays valid for the life of the process, as a deployment that caches
    validations without watching revocation or expiry does."""
    tokens: ServiceTokens = request.app.state.service_tokens
    if not cached:
        return await tokens.validate(token, service_id)
    cache = request.app.state.__dict__.setdefault("fault_cached_validations", {})
    if not getattr(cache.get((token, service_id)), "valid", False):
        cache[(token, service_id)] = await tokens.validate(token, service_id)
    return cache[(token, service_id)]
