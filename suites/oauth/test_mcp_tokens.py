"""MCP tokens: format, binding to services, storage by hash, revocation."""

from __future__ import annotations

import json

import pytest

from spreadapi_conformance.reference.credentials import looks_like, token_hash
from spreadapi_conformance.reference.mcp_tokens import McpTokens
from spreadapi_conformance.reference.store import MemoryStore


@pytest.fixture
def tokens() -> McpTokens:
    return McpTokens(MemoryStore())


async def test_issue_and_validate(tokens):
    token = await tokens.issue(["quote", "loan-calculator", "quote"], name="mine")
    assert looks_like(token, "spapi_live_") and len(token) == len("spapi_live_") + 64
    assert await tokens.validate(token) == ["quote", "loan-calculator"]


async def test_only_the_hash_is_stored(tokens):
    token = await tokens.issue(["quote"])
    record = await tokens.store.hgetall(f"mcp:token:{token_hash(token)}")
    assert record["isActive"] == "true" and json.loads(record["serviceIds"]) == ["quote"]
    assert await tokens.store.smembers("mcp:user:reference:tokens") == {token_hash(token)}
    assert not any(token in key for key in await tokens.store.scan("*"))


@pytest.mark.parametrize("presented", [None, "", "spapi_live_", "spapi_live_" + "0" * 64, "svc_tk_" + "0" * 64, 5])
async def test_unknown_or_malformed(tokens, presented):
    assert await tokens.validate(presented) is None


async def test_revoke(tokens):
    token = await tokens.issue(["quote"])
    other = await tokens.issue(["quote"])
    assert await tokens.revoke(token)
    assert await tokens.validate(token) is None
    assert await tokens.validate(other) == ["quote"]
    assert not await tokens.revoke(token), "revoking twice reports nothing to do"
    record = await tokens.store.hgetall(f"mcp:token:{token_hash(token)}")
    assert record["isActive"] == "false" and record["revokedAt"], "the record stays, for the operator"


async def test_a_token_may_grant_no_service(tokens):
    assert await tokens.validate(await tokens.issue([])) == []


async def test_service_ids_must_be_strings(tokens):
    with pytest.raises(ValueError):
        await tokens.issue(["quote", ""])
