"""OAuth records in the token store: registered clients, authorization codes, access tokens.

Key layout (behaviour reference 4.8, with the deviations noted):

    oauth:client:{dcr_…}     hash  30 d     client_id, client_name, redirect_uris (JSON), grant_types (JSON),
                                            response_types (JSON), token_endpoint_auth_method, scope, registered_at
    oauth:code:{ac_…}        hash  600 s¹   client_id, redirect_uri, code_challenge, code_challenge_method, plus
                                            the authorization (below); taken with HGETALL+DEL in one step
    oauth:token:{sha256}     hash  43200 s  the authorization: client_id, scope, resource, service_ids (JSON),
                                            mcp_token_hashes (JSON), service_id, service_token_id, authorized_at

¹ ``ReferenceConfig.oauth_code_lifetime`` (``serve --code-lifetime``); the embedded reference's is shorter.

Deviations from SpreadAPI, on purpose: the access token's record is keyed by the token's SHA-256, not
the plain ``oat_…``; no record holds a plain credential (the MCP tokens a grant wraps are kept as their
SHA-256, a service token as its token id), so a store dump yields nothing usable. The separate
``oauth:tokens:{code}`` / ``oauth:mcp_tokens:{code}`` strings are folded into the code's hash, so a
code is redeemed by one atomic ``htake``. Codes keep SpreadAPI's plain key: a code is useless without
its PKCE verifier, and lives ten minutes at most.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from .credentials import AUTH_CODE_PREFIX, CLIENT_ID_PREFIX, OAUTH_TOKEN_PREFIX, looks_like, new_token, token_hash
from .mcp_tokens import McpTokens
from .oauth import ACCESS_TOKEN_TTL, CLIENT_TTL
from .store import TokenStore

__all__ = ["Authorization", "Client", "Grant", "OAuthClients", "OAuthCodes", "OAuthTokens", "PendingCode"]


@dataclass(frozen=True)
class Client:
    client_id: str
    redirect_uris: tuple[str, ...]
    client_name: str = ""
    grant_types: tuple[str, ...] = ("authorization_code",)
    response_types: tuple[str, ...] = ("code",)
    token_endpoint_auth_method: str = "none"
    scope: str = ""
    client_id_issued_at: int = 0

    def metadata(self) -> dict[str, object]:
        """The RFC 7591 §3.2.1 registration response."""
        body: dict[str, object] = {
            "client_id": self.client_id,
            "client_id_issued_at": self.client_id_issued_at,
            "redirect_uris": list(self.redirect_uris),
            "grant_types": list(self.grant_types),
            "response_types": list(self.response_types),
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
        }
        if self.client_name:
            body["client_name"] = self.client_name
        if self.scope:
            body["scope"] = self.scope
        return body


def _json_list(text: str | None) -> tuple[str, ...]:
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return ()
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


class OAuthClients:
    def __init__(self, store: TokenStore, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    async def register(self, client: Client) -> Client:
        """Store ``client`` under a fresh ``dcr_`` + 32 hex id (SpreadAPI's format) for 30 days."""
        issued = replace(
            client, client_id=CLIENT_ID_PREFIX + secrets.token_hex(16), client_id_issued_at=int(self.clock())
        )
        record = {
            "client_id": issued.client_id,
            "client_name": issued.client_name,
            "redirect_uris": json.dumps(list(issued.redirect_uris)),
            "grant_types": json.dumps(list(issued.grant_types)),
            "response_types": json.dumps(list(issued.response_types)),
            "token_endpoint_auth_method": issued.token_endpoint_auth_method,
            "scope": issued.scope,
            "registered_at": str(issued.client_id_issued_at * 1000),  # ms, as SpreadAPI
        }
        await self.store.hset(f"oauth:client:{issued.client_id}", record, ttl=CLIENT_TTL)
        return issued

    async def get(self, client_id: str | None) -> Client | None:
        if not client_id or not client_id.startswith(CLIENT_ID_PREFIX) or len(client_id) > 100:
            return None
        record = await self.store.hgetall(f"oauth:client:{client_id}")
        if not record:
            return None
        try:
            issued_at = int(record.get("registered_at", "0")) // 1000
        except ValueError:
            issued_at = 0
        return Client(
            client_id=client_id,
            redirect_uris=_json_list(record.get("redirect_uris")),
            client_name=record.get("client_name", ""),
            grant_types=_json_list(record.get("grant_types")),
            response_types=_json_list(record.get("response_types")),
            token_endpoint_auth_method=record.get("token_endpoint_auth_method", "none"),
            scope=record.get("scope", ""),
            client_id_issued_at=issued_at,
        )


@dataclass(frozen=True)
class Authorization:
    """What the user approved for a client; carried by a code, then by the access token.

    Multi-service (Option 3): ``mcp_token_hashes`` are the SHA-256 of the MCP tokens pasted, and
    ``service_ids`` the services they granted then. Single-service (Option 2): ``service_id``, with
    ``service_token_id`` when the service is private (the id of the service token that was shown).
    """

    client_id: str
    scope: str
    resource: str
    service_ids: tuple[str, ...]
    mcp_token_hashes: tuple[str, ...] = ()
    service_id: str | None = None
    service_token_id: str | None = None

    @property
    def single_service(self) -> bool:
        return self.service_id is not None

    def record(self) -> dict[str, str]:
        return {
            "client_id": self.client_id,
            "scope": self.scope,
            "resource": self.resource,
            "service_ids": json.dumps(list(self.service_ids)),
            "mcp_token_hashes": json.dumps(list(self.mcp_token_hashes)),
            "service_id": self.service_id or "",
            "service_token_id": self.service_token_id or "",
        }

    @classmethod
    def from_record(cls, record: dict[str, str]) -> Authorization:
        return cls(
            client_id=record.get("client_id", ""),
            scope=record.get("scope", ""),
            resource=record.get("resource", ""),
            service_ids=_json_list(record.get("service_ids")),
            mcp_token_hashes=_json_list(record.get("mcp_token_hashes")),
            service_id=record.get("service_id") or None,
            service_token_id=record.get("service_token_id") or None,
        )


@dataclass(frozen=True)
class PendingCode:
    authorization: Authorization
    redirect_uri: str
    code_challenge: str
    code_challenge_method: str = "S256"


def _now_ms(clock: Callable[[], float]) -> str:
    return str(int(clock() * 1000))


class OAuthCodes:
    def __init__(self, store: TokenStore, lifetime: float = 600.0, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.lifetime = lifetime  # s: how long a code stays redeemable
        self.clock = clock

    async def issue(self, pending: PendingCode, *, never_expires: bool = False, carry_challenge: bool = False) -> str:
        """A fresh code for ``pending``, stored for ``lifetime`` seconds.

        ``never_expires``: the fault ``oauth-code-never-expires`` (the record is written without its expiry).
        ``carry_challenge``: the fault ``oauth-code-carries-challenge`` (a "self-contained" code: the store
        key, then the PKCE challenge base64url-encoded in clear, so that it can be read without a lookup)."""
        code = new_token(AUTH_CODE_PREFIX)
        record = {
            **pending.authorization.record(),
            "redirect_uri": pending.redirect_uri,
            "code_challenge": pending.code_challenge,
            "code_challenge_method": pending.code_challenge_method,
            "created_at": _now_ms(self.clock),
        }
        await self.store.hset(f"oauth:code:{code}", record, ttl=None if never_expires else self.lifetime)
        if carry_challenge:
            claims = {"cc": pending.code_challenge, "ccm": pending.code_challenge_method}
            payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode("ascii")
            return f"{code}.{payload}"
        return code

    async def take(self, code: str | None, keep: bool = False, carries_challenge: bool = False) -> PendingCode | None:
        """Redeem a code: of any number of concurrent takers exactly one gets it, and only once
        (``keep``: read without deleting, the fault ``oauth-code-reusable``; ``carries_challenge``: the code
        is the fault ``oauth-code-carries-challenge``'s, whose store key ends at the first dot)."""
        if carries_challenge and isinstance(code, str):
            code = code.split(".")[0]
        if not looks_like(code, AUTH_CODE_PREFIX):
            return None
        key = f"oauth:code:{code}"
        record = await (self.store.hgetall(key) if keep else self.store.htake(key))
        if not record:
            return None
        return PendingCode(
            authorization=Authorization.from_record(record),
            redirect_uri=record.get("redirect_uri", ""),
            code_challenge=record.get("code_challenge", ""),
            code_challenge_method=record.get("code_challenge_method", ""),
        )


@dataclass(frozen=True)
class Grant:
    """A live access token as ``OAuthTokens.resolve`` sees it."""

    client_id: str
    scope: str
    resource: str
    # The services the token reaches now: those granted, less any a wrapped MCP token no longer has.
    service_ids: tuple[str, ...]
    mcp_token_hashes: tuple[str, ...]  # SHA-256 of the wrapped MCP tokens (multi-service)
    service_id: str | None  # the one service of a single-service grant
    service_token_id: str | None

    @property
    def scopes(self) -> tuple[str, ...]:
        return tuple(self.scope.split())


class OAuthTokens:
    def __init__(self, store: TokenStore, mcp_tokens: McpTokens, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.mcp_tokens = mcp_tokens
        self.clock = clock

    @staticmethod
    def _key(token: str) -> str:
        return f"oauth:token:{token_hash(token)}"

    async def issue(self, authorization: Authorization) -> str:
        token = new_token(OAUTH_TOKEN_PREFIX)
        record = {**authorization.record(), "authorized_at": _now_ms(self.clock)}
        await self.store.hset(self._key(token), record, ttl=ACCESS_TOKEN_TTL)
        return token

    async def still_valid(self, authorization: Authorization) -> tuple[str, ...] | None:
        """The services the authorization reaches now, or None once anything it wraps was revoked."""
        if authorization.single_service:
            if authorization.service_token_id and not await self._service_token_alive(authorization):
                return None
            return authorization.service_ids
        if not authorization.mcp_token_hashes:
            return None
        reachable: set[str] = set()
        for digest in authorization.mcp_token_hashes:
            ids = await self.mcp_tokens.validate_hash(digest)
            if ids is None:
                return None
            reachable.update(ids)
        # Consent was for the services granted then: later additions to an MCP token are not included.
        return tuple(s for s in authorization.service_ids if s in reachable)

    async def _service_token_alive(self, authorization: Authorization) -> bool:
        record = await self.store.hgetall(f"token:{authorization.service_token_id}")
        if record.get("serviceId") != authorization.service_id:
            return False
        if record.get("expiresAt"):
            try:
                expires = datetime.fromisoformat(record["expiresAt"].replace("Z", "+00:00"))
            except ValueError:
                return False
            if expires.tzinfo is None:
                expires = expires.replace(tzinfo=UTC)
            return expires.timestamp() >= time.time()
        return True

    async def resolve(self, token: object, check_revocation: bool = True) -> Grant | None:
        """The grant behind an ``oat_`` token, or None: unknown, expired, or wrapping a revoked credential.

        A token whose wrapped credential was revoked is deleted on sight (as SpreadAPI does), so it
        cannot come back if the credential were ever restored.
        """
        if not looks_like(token, OAUTH_TOKEN_PREFIX):
            return None
        assert isinstance(token, str)
        record = await self.store.hgetall(self._key(token))
        if not record:
            return None
        authorization = Authorization.from_record(record)
        reachable = await self.still_valid(authorization) if check_revocation else authorization.service_ids
        if reachable is None:
            await self.store.delete(self._key(token))
            return None
        return Grant(
            client_id=authorization.client_id,
            scope=authorization.scope,
            resource=authorization.resource,
            service_ids=reachable,
            mcp_token_hashes=authorization.mcp_token_hashes,
            service_id=authorization.service_id,
            service_token_id=authorization.service_token_id,
        )

    async def revoke(self, token: str) -> bool:
        if not looks_like(token, OAUTH_TOKEN_PREFIX):
            return False
        return await self.store.delete(self._key(token)) > 0
