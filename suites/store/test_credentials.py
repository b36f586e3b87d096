"""Service tokens are stored and validated the way SpreadAPI does it, on both store backends."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from datetime import UTC, datetime

import pytest

from spreadapi_conformance.reference.credentials import (
    AUTH_CODE_PREFIX,
    CLIENT_ID_PREFIX,
    MCP_TOKEN_PREFIX,
    OAUTH_TOKEN_PREFIX,
    SERVICE_TOKEN_PREFIX,
    IssuedToken,
    ServiceTokens,
    TokenCheck,
    looks_like,
    new_token,
    token_hash,
)
from spreadapi_conformance.reference.store import (
    ManualClock,
    TokenStore,
    WrongTypeError,
)

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
NOW = 1_750_000_000.0  # 2025-06-15T15:06:40Z
HEX64 = "0123456789abcdef" * 4


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=NOW)


@pytest.fixture
def tokens(store: TokenStore, clock: ManualClock) -> ServiceTokens:
    return ServiceTokens(store, clock=clock)


async def dump(store: TokenStore) -> dict[str, object]:
    """Every key and its raw value, whatever its type."""
    out: dict[str, object] = {}
    for key in await store.scan():
        try:
            out[key] = await store.get(key)
        except WrongTypeError:
            try:
                out[key] = await store.hgetall(key)
            except WrongTypeError:
                out[key] = await store.smembers(key)
    return out


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- token formats ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        (SERVICE_TOKEN_PREFIX, "svc_tk_"),
        (MCP_TOKEN_PREFIX, "spapi_live_"),
        (OAUTH_TOKEN_PREFIX, "oat_"),
        (AUTH_CODE_PREFIX, "ac_"),
        (CLIENT_ID_PREFIX, "dcr_"),
    ],
)
def test_new_token_format(prefix: str, expected: str) -> None:
    assert prefix == expected
    generated = {new_token(prefix) for _ in range(50)}
    assert len(generated) == 50
    for token in generated:
        assert re.fullmatch(re.escape(expected) + r"[0-9a-f]{64}", token)
        assert looks_like(token, prefix)


@pytest.mark.parametrize(
    "candidate",
    [
        "",
        "svc_tk_",
        "svc_tk_" + HEX64[:-1],
        "svc_tk_" + HEX64 + "0",
        "svc_tk_" + HEX64.upper(),
        "svc_tk_" + HEX64[:-1] + "g",
        "svc_tk_" + HEX64 + "\n",
        " svc_tk_" + HEX64,
        "spapi_live_" + HEX64,
        "SVC_TK_" + HEX64,
        HEX64,
        None,
        42,
    ],
    ids=[
        "empty",
        "prefix-only",
        "63-hex",
        "65-hex",
        "uppercase",
        "non-hex",
        "trailing-newline",
        "leading-space",
        "other-prefix",
        "uppercase-prefix",
        "no-prefix",
        "none",
        "int",
    ],
)
def test_looks_like_rejects(candidate: object) -> None:
    assert looks_like(candidate, SERVICE_TOKEN_PREFIX) is False


def test_looks_like_accepts() -> None:
    assert looks_like("svc_tk_" + HEX64, SERVICE_TOKEN_PREFIX) is True
    assert looks_like("ac_" + HEX64, AUTH_CODE_PREFIX) is True


def test_token_hash_is_sha256_hex() -> None:
    assert token_hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    token = new_token(SERVICE_TOKEN_PREFIX)
    assert token_hash(token) == hashlib.sha256(token.encode()).hexdigest()


def test_issued_token_repr_hides_secret() -> None:
    issued = IssuedToken(token_id="a" * 32, token="svc_tk_" + HEX64)
    assert HEX64 not in repr(issued)
    assert "a" * 32 in repr(issued)


# -- issuing ---------------------------------------------------------------------------------


async def test_issue_layout(store: TokenStore, tokens: ServiceTokens) -> None:
    issued = await tokens.issue("svc-1", name="ci", expires_at=NOW + 3600)
    assert re.fullmatch(r"[0-9a-f]{32}", issued.token_id)
    assert looks_like(issued.token, SERVICE_TOKEN_PREFIX)
    digest = token_hash(issued.token)
    assert await dump(store) == {
        f"token:{issued.token_id}": {
            "serviceId": "svc-1",
            "name": "ci",
            "tokenHash": digest,
            "createdAt": iso(NOW),
            "usageCount": "0",
            "expiresAt": iso(NOW + 3600),
        },
        f"token:hash:{digest}": issued.token_id,
        "service:svc-1:tokens": {issued.token_id},
    }
    assert iso(NOW) == "2025-06-15T15:06:40.000Z"


async def test_issue_without_expiry_has_no_expires_at(store: TokenStore, tokens: ServiceTokens) -> None:
    issued = await tokens.issue("svc-1")
    data = await store.hgetall(f"token:{issued.token_id}")
    assert "expiresAt" not in data
    assert data["name"] == "default"


async def test_plain_token_never_stored(store: TokenStore, tokens: ServiceTokens) -> None:
    issued = [await tokens.issue("svc-1"), await tokens.issue("svc-2", expires_at=NOW + 60)]
    await tokens.validate(issued[0].token, "svc-1")
    raw = repr(await dump(store))
    for item in issued:
        assert item.token not in raw
        assert item.token[len(SERVICE_TOKEN_PREFIX) :] not in raw
        assert token_hash(item.token) in raw


async def test_token_ids_and_tokens_are_unique(tokens: ServiceTokens) -> None:
    issued = [await tokens.issue("svc-1") for _ in range(20)]
    assert len({i.token_id for i in issued}) == 20
    assert len({i.token for i in issued}) == 20


async def test_issue_requires_service_id(tokens: ServiceTokens) -> None:
    with pytest.raises(ValueError):
        await tokens.issue("")


# -- operator-supplied tokens ----------------------------------------------------------------


async def test_operator_token_accepted(store: TokenStore, tokens: ServiceTokens) -> None:
    supplied = "svc_tk_" + HEX64
    issued = await tokens.issue("svc-1", token=supplied)
    assert issued.token == supplied
    assert await store.get(f"token:hash:{token_hash(supplied)}") == issued.token_id
    check = await tokens.validate(supplied, "svc-1")
    assert check == TokenCheck(valid=True, status=200, error=None, token_id=issued.token_id)


@pytest.mark.parametrize(
    "supplied",
    ["svc_tk_" + HEX64.upper(), "svc_tk_" + HEX64[:-1], "spapi_live_" + HEX64, "svc_tk_" + HEX64 + "ff", ""],
    ids=["uppercase", "63-hex", "mcp-prefix", "66-hex", "empty"],
)
async def test_operator_token_rejected(store: TokenStore, tokens: ServiceTokens, supplied: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        await tokens.issue("svc-1", token=supplied)
    assert "64 lowercase hex" in str(excinfo.value)
    if supplied:
        assert supplied not in str(excinfo.value)  # a secret, even when malformed
    assert await store.scan() == []


async def test_operator_token_cannot_be_issued_twice(store: TokenStore, tokens: ServiceTokens) -> None:
    supplied = "svc_tk_" + HEX64
    first = await tokens.issue("svc-1", token=supplied)
    with pytest.raises(ValueError, match="already"):
        await tokens.issue("svc-2", token=supplied)
    assert (await tokens.validate(supplied, "svc-1")).token_id == first.token_id
    assert await store.scan("token:*") == sorted([f"token:{first.token_id}", f"token:hash:{token_hash(supplied)}"])
    assert await store.smembers("service:svc-2:tokens") == set()


# -- validation: every branch, in SpreadAPI's order ------------------------------------------


@pytest.mark.parametrize("presented", [None, ""])
async def test_validate_no_token(tokens: ServiceTokens, presented: str | None) -> None:
    await tokens.issue("svc-1")
    assert await tokens.validate(presented, "svc-1") == TokenCheck(False, 401, "No token provided", None)


async def test_validate_unknown_token(tokens: ServiceTokens) -> None:
    await tokens.issue("svc-1")
    check = await tokens.validate(new_token(SERVICE_TOKEN_PREFIX), "svc-1")
    assert check == TokenCheck(False, 401, "Invalid token", None)
    assert (await tokens.validate("garbage", "svc-1")).error == "Invalid token"


async def test_validate_record_missing(store: TokenStore, tokens: ServiceTokens) -> None:
    issued = await tokens.issue("svc-1")
    await store.delete(f"token:{issued.token_id}")
    assert await tokens.validate(issued.token, "svc-1") == TokenCheck(False, 401, "Token not found", None)


async def test_validate_other_service(store: TokenStore, tokens: ServiceTokens) -> None:
    issued = await tokens.issue("svc-1")
    check = await tokens.validate(issued.token, "svc-2")
    assert check == TokenCheck(False, 403, "Token does not belong to this service", None)
    assert await store.hget(f"token:{issued.token_id}", "usageCount") == "0"


async def test_wrong_service_is_reported_before_expiry(tokens: ServiceTokens) -> None:
    issued = await tokens.issue("svc-1", expires_at=NOW - 1)
    assert (await tokens.validate(issued.token, "svc-2")).status == 403
    assert (await tokens.validate(issued.token, "svc-1")).error == "Token expired"


async def test_validate_expiry_follows_clock(store: TokenStore, clock: ManualClock, tokens: ServiceTokens) -> None:
    issued = await tokens.issue("svc-1", expires_at=NOW + 60)
    assert (await tokens.validate(issued.token, "svc-1")).valid is True
    clock.advance(60)
    assert (await tokens.validate(issued.token, "svc-1")).valid is True  # expires strictly after
    clock.advance(0.001)
    check = await tokens.validate(issued.token, "svc-1")
    assert check == TokenCheck(False, 401, "Token expired", None)
    assert await store.hget(f"token:{issued.token_id}", "usageCount") == "2"


async def test_validate_unreadable_expiry_fails_closed(store: TokenStore, tokens: ServiceTokens) -> None:
    issued = await tokens.issue("svc-1")
    await store.hset(f"token:{issued.token_id}", {"expiresAt": "not a date"})
    assert (await tokens.validate(issued.token, "svc-1")).error == "Token expired"


async def test_validate_reads_spreadapi_written_records(store: TokenStore, tokens: ServiceTokens) -> None:
    # A record as SpreadAPI's Node code writes it, e.g. imported with redis-cli.
    token = "svc_tk_" + HEX64
    await store.hset(
        "token:feedfacefeedfacefeedfacefeedface",
        {
            "serviceId": "svc-1",
            "name": "legacy",
            "tokenHash": token_hash(token),
            "createdAt": "2025-01-01T00:00:00.000Z",
            "usageCount": "7",
            "expiresAt": "2025-06-15T15:06:41.000Z",
        },
    )
    await store.set(f"token:hash:{token_hash(token)}", "feedfacefeedfacefeedfacefeedface")
    check = await tokens.validate(token, "svc-1")
    assert check.valid and check.token_id == "feedfacefeedfacefeedfacefeedface"
    assert await store.hget("token:feedfacefeedfacefeedfacefeedface", "usageCount") == "8"


async def test_validate_success_updates_usage(store: TokenStore, clock: ManualClock, tokens: ServiceTokens) -> None:
    issued = await tokens.issue("svc-1")
    key = f"token:{issued.token_id}"
    assert await store.hget(key, "lastUsedAt") is None
    for expected in (1, 2, 3):
        clock.advance(10)
        check = await tokens.validate(issued.token, "svc-1")
        assert check == TokenCheck(True, 200, None, issued.token_id)
        assert await store.hget(key, "usageCount") == str(expected)
        assert await store.hget(key, "lastUsedAt") == iso(clock())
    await tokens.validate(issued.token, "svc-2")
    await tokens.validate(new_token(SERVICE_TOKEN_PREFIX), "svc-1")
    assert await store.hget(key, "usageCount") == "3"


async def test_concurrent_validations_all_counted(store: TokenStore, tokens: ServiceTokens) -> None:
    issued = await tokens.issue("svc-1")
    checks = await asyncio.gather(*(tokens.validate(issued.token, "svc-1") for _ in range(50)))
    assert all(c.valid for c in checks)
    assert await store.hget(f"token:{issued.token_id}", "usageCount") == "50"


# -- revoke and list -------------------------------------------------------------------------


async def test_revoke(store: TokenStore, tokens: ServiceTokens) -> None:
    keep = await tokens.issue("svc-1", name="keep")
    gone = await tokens.issue("svc-1", name="gone")
    assert await tokens.revoke(gone.token_id) is True
    assert await tokens.validate(gone.token, "svc-1") == TokenCheck(False, 401, "Invalid token", None)
    assert await store.exists(f"token:{gone.token_id}") is False
    assert await store.exists(f"token:hash:{token_hash(gone.token)}") is False
    assert await store.smembers("service:svc-1:tokens") == {keep.token_id}
    assert await tokens.revoke(gone.token_id) is False
    assert (await tokens.validate(keep.token, "svc-1")).valid is True


async def test_revoke_unknown(tokens: ServiceTokens) -> None:
    assert await tokens.revoke("0" * 32) is False


async def test_concurrent_revocations_succeed_once(tokens: ServiceTokens) -> None:
    issued = await tokens.issue("svc-1")
    results = await asyncio.gather(*(tokens.revoke(issued.token_id) for _ in range(20)))
    assert results.count(True) == 1


async def test_list(store: TokenStore, clock: ManualClock, tokens: ServiceTokens) -> None:
    a = await tokens.issue("svc-1", name="a")
    clock.advance(1)
    b = await tokens.issue("svc-1", name="b", expires_at=NOW + 100)
    await tokens.issue("svc-2", name="other")
    await tokens.validate(a.token, "svc-1")
    listed = await tokens.list("svc-1")
    assert [t["tokenId"] for t in listed] == [a.token_id, b.token_id]
    assert listed[0] == {
        "tokenId": a.token_id,
        "serviceId": "svc-1",
        "name": "a",
        "createdAt": iso(NOW),
        "usageCount": "1",
        "lastUsedAt": iso(NOW + 1),
    }
    assert listed[1]["expiresAt"] == iso(NOW + 100)
    assert all("tokenHash" not in t for t in listed)
    await tokens.revoke(a.token_id)
    assert [t["tokenId"] for t in await tokens.list("svc-1")] == [b.token_id]
    assert await tokens.list("svc-none") == []
