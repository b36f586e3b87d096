"""The token store behaves the same on both backends, with Redis semantics."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from spreadapi_conformance.reference.store import (
    ManualClock,
    MemoryStore,
    RedisStore,
    TokenStore,
    WrongTypeError,
    open_store,
)

from .conftest import REDIS_URL, purge


async def elapse(store: TokenStore, seconds: float) -> None:
    """Let `seconds` pass for the store: advance the manual clock, or really wait for Redis."""
    if isinstance(store, MemoryStore):
        assert isinstance(store.clock, ManualClock)
        store.clock.advance(seconds)
    else:
        await asyncio.sleep(seconds)


# -- strings ---------------------------------------------------------------------------------


async def test_get_set_overwrite(store: TokenStore) -> None:
    assert await store.get("k") is None
    await store.set("k", "v1")
    assert await store.get("k") == "v1"
    await store.set("k", "v2")
    assert await store.get("k") == "v2"


async def test_set_if_absent(store: TokenStore) -> None:
    assert await store.set_if_absent("k", "first") is True
    assert await store.set_if_absent("k", "second") is False
    assert await store.get("k") == "first"


async def test_set_if_absent_after_expiry(store: TokenStore) -> None:
    assert await store.set_if_absent("k", "first", ttl=0.3) is True
    await elapse(store, 0.5)
    assert await store.set_if_absent("k", "second") is True
    assert await store.get("k") == "second"


async def test_getdel(store: TokenStore) -> None:
    await store.set("k", "v")
    assert await store.getdel("k") == "v"
    assert await store.getdel("k") is None
    assert await store.exists("k") is False


async def test_non_positive_ttl_rejected(store: TokenStore) -> None:
    for ttl in (0, -1.5):
        with pytest.raises(ValueError):
            await store.set("k", "v", ttl=ttl)
    assert await store.exists("k") is False


# -- hashes ----------------------------------------------------------------------------------


async def test_hash_roundtrip(store: TokenStore) -> None:
    assert await store.hgetall("h") == {}
    assert await store.hget("h", "a") is None
    await store.hset("h", {"a": "1", "b": "two"})
    await store.hset("h", {"b": "2", "c": "3"})
    assert await store.hgetall("h") == {"a": "1", "b": "2", "c": "3"}
    assert await store.hget("h", "b") == "2"
    assert await store.hget("h", "missing") is None


async def test_hgetall_returns_a_copy(store: TokenStore) -> None:
    await store.hset("h", {"a": "1"})
    (await store.hgetall("h"))["a"] = "changed"
    assert await store.hget("h", "a") == "1"


async def test_hincrby(store: TokenStore) -> None:
    assert await store.hincrby("h", "n") == 1
    assert await store.hincrby("h", "n", 5) == 6
    assert await store.hincrby("h", "n", -2) == 4
    assert await store.hget("h", "n") == "4"
    await store.hset("h", {"word": "abc"})
    with pytest.raises(ValueError):
        await store.hincrby("h", "word")
    assert await store.hget("h", "word") == "abc"


async def test_hset_empty_mapping_rejected(store: TokenStore) -> None:
    with pytest.raises(ValueError):
        await store.hset("h", {})


async def test_htake_reads_and_deletes(store: TokenStore) -> None:
    await store.hset("oauth:code:ac_x", {"clientId": "dcr_1", "scope": "s"}, ttl=600)
    assert await store.htake("oauth:code:ac_x") == {"clientId": "dcr_1", "scope": "s"}
    assert await store.exists("oauth:code:ac_x") is False
    assert await store.htake("oauth:code:ac_x") == {}


# -- sets ------------------------------------------------------------------------------------


async def test_sets(store: TokenStore) -> None:
    assert await store.smembers("s") == set()
    assert await store.sadd("s", "a", "b") == 2
    assert await store.sadd("s", "b", "c") == 1
    assert await store.smembers("s") == {"a", "b", "c"}
    assert await store.srem("s", "a", "zzz") == 1
    assert await store.smembers("s") == {"b", "c"}
    assert await store.srem("s", "b", "c") == 2
    assert await store.exists("s") is False  # an emptied set is gone, as in Redis
    assert await store.srem("s", "b") == 0


# -- keys ------------------------------------------------------------------------------------


async def test_delete_and_exists(store: TokenStore) -> None:
    await store.set("a", "1")
    await store.hset("b", {"f": "v"})
    await store.sadd("c", "m")
    assert all([await store.exists(k) for k in ("a", "b", "c")])
    assert await store.delete("a", "b", "nope") == 2
    assert await store.exists("a") is False
    assert await store.exists("b") is False
    assert await store.exists("c") is True
    assert await store.delete() == 0
    assert await store.delete("a") == 0


async def test_wrong_type_raises(store: TokenStore) -> None:
    await store.hset("h", {"f": "v"})
    await store.set("s", "string")
    with pytest.raises(WrongTypeError):
        await store.get("h")
    with pytest.raises(WrongTypeError):
        await store.hgetall("s")
    with pytest.raises(WrongTypeError):
        await store.sadd("h", "m")
    with pytest.raises(WrongTypeError):
        await store.incr("h")
    assert await store.get("s") == "string"
    assert await store.hgetall("h") == {"f": "v"}


async def test_wrong_type_side_effects_match_redis_transactions(store: TokenStore) -> None:
    # MULTI/EXEC does not roll back: the command after the failing one still runs.
    await store.set("s", "string")
    with pytest.raises(WrongTypeError):
        await store.hset("s", {"f": "v"}, ttl=100)
    remaining = await store.ttl("s")
    assert remaining is not None and 99 < remaining <= 100
    assert await store.get("s") == "string"
    with pytest.raises(WrongTypeError):
        await store.htake("s")
    assert await store.exists("s") is False


async def test_scan(store: TokenStore) -> None:
    await store.set("token:hash:abc", "id1")
    await store.hset("token:id1", {"serviceId": "svc"})
    await store.sadd("service:svc:tokens", "id1")
    assert await store.scan("token:*") == ["token:hash:abc", "token:id1"]
    assert await store.scan() == ["service:svc:tokens", "token:hash:abc", "token:id1"]
    assert await store.scan("nothing:*") == []


# -- expiry ----------------------------------------------------------------------------------


async def test_string_expires(store: TokenStore) -> None:
    await store.set("k", "v", ttl=0.3)
    await store.set("stays", "v")
    assert await store.get("k") == "v"
    await elapse(store, 0.5)
    assert await store.get("k") is None
    assert await store.exists("k") is False
    assert await store.get("stays") == "v"
    assert "k" not in await store.scan()


async def test_hash_expires(store: TokenStore) -> None:
    await store.hset("h", {"a": "1"}, ttl=0.3)
    await elapse(store, 0.5)
    assert await store.hgetall("h") == {}
    assert await store.htake("h") == {}
    # an expired hash is a fresh key again: no stale fields leak into it
    await store.hset("h", {"b": "2"})
    assert await store.hgetall("h") == {"b": "2"}


async def test_expire_existing_key(store: TokenStore) -> None:
    assert await store.expire("missing", 10) is False
    await store.sadd("s", "m")
    assert await store.expire("s", 0.3) is True
    await elapse(store, 0.5)
    assert await store.smembers("s") == set()


async def test_expire_non_positive_deletes(store: TokenStore) -> None:
    await store.set("k", "v")
    assert await store.expire("k", 0) is True
    assert await store.exists("k") is False


async def test_ttl_values(store: TokenStore) -> None:
    assert await store.ttl("missing") is None
    await store.set("plain", "v")
    assert await store.ttl("plain") is None
    await store.set("k", "v", ttl=10)
    remaining = await store.ttl("k")
    assert remaining is not None and 9 < remaining <= 10
    await store.set("frac", "v", ttl=1.5)
    remaining = await store.ttl("frac")
    assert remaining is not None and 1.3 < remaining <= 1.5
    await store.set("k", "v")  # a plain SET clears the expiry
    assert await store.ttl("k") is None


async def test_hset_ttl_handling(store: TokenStore) -> None:
    await store.hset("h", {"a": "1"}, ttl=10)
    await store.hset("h", {"b": "2"})  # without ttl the expiry is kept
    remaining = await store.ttl("h")
    assert remaining is not None and 9 < remaining <= 10
    await store.hset("h", {"c": "3"}, ttl=100)  # with ttl it is reset
    remaining = await store.ttl("h")
    assert remaining is not None and 99 < remaining <= 100
    await store.hincrby("h", "n")
    remaining = await store.ttl("h")
    assert remaining is not None and 99 < remaining <= 100


async def test_memory_expiry_is_exact_with_manual_clock() -> None:
    clock = ManualClock(start=0.0)
    store = MemoryStore(clock=clock)
    await store.set("code", "v", ttl=600)
    clock.advance(599.999)
    assert await store.get("code") == "v"
    assert await store.ttl("code") == pytest.approx(0.001)
    clock.advance(0.001)
    assert await store.get("code") is None
    assert await store.ttl("code") is None


async def test_memory_sweeps_expired_keys_nobody_reads() -> None:
    clock = ManualClock(start=0.0)
    store = MemoryStore(clock=clock)
    for i in range(50):
        await store.set(f"old:{i}", "v", ttl=1)
    clock.advance(2)
    for i in range(MemoryStore._SWEEP_EVERY):
        await store.set(f"new:{i}", "v")
    assert not [k for k in store._data if k.startswith("old:")]
    assert not [k for k in store._expiry if k.startswith("old:")]


def test_manual_clock() -> None:
    clock = ManualClock(start=5.0)
    assert clock() == 5.0
    clock.advance(2.5)
    assert clock() == 7.5
    with pytest.raises(ValueError):
        clock.advance(-1)


# -- incr (fixed-window rate limiting) -------------------------------------------------------


async def test_incr_without_ttl(store: TokenStore) -> None:
    assert await store.incr("n") == 1
    assert await store.incr("n") == 2
    assert await store.get("n") == "2"
    assert await store.ttl("n") is None


async def test_incr_window(store: TokenStore) -> None:
    assert await store.incr("rl", ttl=0.3) == 1
    first = await store.ttl("rl")
    assert first is not None and 0 < first <= 0.3
    # later hits in the same window count up but do not extend it
    assert await store.incr("rl", ttl=100) == 2
    assert await store.incr("rl", ttl=100) == 3
    remaining = await store.ttl("rl")
    assert remaining is not None and remaining <= 0.3
    await elapse(store, 0.5)
    assert await store.get("rl") is None
    assert await store.incr("rl", ttl=100) == 1  # a new window starts with a fresh expiry
    remaining = await store.ttl("rl")
    assert remaining is not None and 99 < remaining <= 100


async def test_incr_on_existing_key_without_expiry_keeps_none(store: TokenStore) -> None:
    await store.set("n", "41")
    assert await store.incr("n", ttl=10) == 42
    assert await store.ttl("n") is None


async def test_incr_rejects_non_integer(store: TokenStore) -> None:
    await store.set("n", "abc")
    with pytest.raises(ValueError):
        await store.incr("n")
    with pytest.raises(ValueError):
        await store.incr("n", ttl=5)
    assert await store.get("n") == "abc"


async def test_concurrent_incr_counts_every_hit(store: TokenStore) -> None:
    results = await asyncio.gather(*(store.incr("rl", ttl=60) for _ in range(100)))
    assert sorted(results) == list(range(1, 101))


# -- htake atomicity -------------------------------------------------------------------------


async def _takers(store: TokenStore, prefix: str, count: int) -> list[TokenStore]:
    """Stores to race with: for Redis, separate clients (separate pools) on the same keyspace."""
    if isinstance(store, MemoryStore):
        return [store] * count
    extra = [RedisStore(REDIS_URL, prefix=prefix) for _ in range(count - 1)]
    for other in extra:
        await _reachable(other)
    return [store, *extra]


async def test_htake_is_single_use_under_concurrency(store: TokenStore, prefix: str) -> None:
    takers = await _takers(store, prefix, 8)
    try:
        for round_ in range(3):
            key = f"oauth:code:ac_{round_}"
            fields = {"clientId": "dcr_x", "round": str(round_)}
            await store.hset(key, fields, ttl=600)
            results = await asyncio.gather(*(takers[i % len(takers)].htake(key) for i in range(200)))
            winners = [r for r in results if r]
            assert len(winners) == 1, f"{len(winners)} of 200 concurrent htake calls got the fields"
            assert winners[0] == fields
            assert results.count({}) == 199
            assert await store.exists(key) is False
    finally:
        for other in takers[1:]:
            if other is not store:
                await other.aclose()


# -- Redis specifics -------------------------------------------------------------------------


@pytest.mark.redis
async def test_redis_keys_are_prefixed_and_plain(prefix: str) -> None:
    store = RedisStore(REDIS_URL, prefix=prefix)
    await _reachable(store)
    raw = aioredis.from_url(REDIS_URL, decode_responses=True)
    try:
        await store.set("token:hash:abc", "id1")
        await store.hset("token:id1", {"serviceId": "svc"}, ttl=600)
        assert await raw.get(prefix + "token:hash:abc") == "id1"
        assert await raw.hgetall(prefix + "token:id1") == {"serviceId": "svc"}
        assert 599_000 < await raw.pttl(prefix + "token:id1") <= 600_000
        assert await raw.exists("token:hash:abc") == 0
    finally:
        await raw.aclose()
        await purge(prefix)
        await store.aclose()


@pytest.mark.redis
async def test_redis_scan_escapes_glob_characters_in_prefix(prefix: str) -> None:
    odd = RedisStore(REDIS_URL, prefix=prefix + "[x]*")
    sibling = RedisStore(REDIS_URL, prefix=prefix + "x-")
    await _reachable(odd)
    try:
        await odd.set("k", "1")
        await sibling.set("k", "2")
        assert await odd.scan() == ["k"]
    finally:
        await purge(prefix)
        await odd.aclose()
        await sibling.aclose()


async def test_redis_ping_false_when_unreachable() -> None:
    unreachable = RedisStore("redis://127.0.0.1:1/0")
    try:
        assert await unreachable.ping() is False
    finally:
        await unreachable.aclose()


# -- open_store ------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [None, "", "memory://"])
async def test_open_store_memory(url: str | None) -> None:
    store = open_store(url)
    assert isinstance(store, MemoryStore)
    assert isinstance(store, TokenStore)
    assert await store.ping() is True


@pytest.mark.redis
async def test_open_store_redis(prefix: str) -> None:
    store = open_store(REDIS_URL, prefix=prefix)
    assert isinstance(store, RedisStore)
    await _reachable(store)
    try:
        assert isinstance(store, TokenStore)
        assert store.prefix == prefix
        assert await store.ping() is True
        await store.set("k", "v")
        assert await store.get("k") == "v"
    finally:
        await purge(prefix)
        await store.aclose()


async def test_open_store_rediss_gives_redis_store() -> None:
    store = open_store("rediss://cache.example:6380/0")
    try:
        assert isinstance(store, RedisStore)
        assert store.prefix == ""
    finally:
        await store.aclose()


@pytest.mark.parametrize("url", ["http://localhost:6379", "postgres://user:hunter2@db/x", "localhost:6379", "memory"])
def test_open_store_rejects_other_urls(url: str) -> None:
    with pytest.raises(ValueError, match="unsupported token store URL") as excinfo:
        open_store(url)
    assert "memory://" in str(excinfo.value) and "redis://" in str(excinfo.value)
    assert "hunter2" not in str(excinfo.value)


async def _reachable(store: RedisStore) -> None:
    if not await store.ping():
        pytest.fail(f"Redis is not reachable at {REDIS_URL} (set REDIS_URL)", pytrace=False)
