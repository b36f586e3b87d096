"""Async key-value store for the reference server's credentials.

Two backends share one interface: an in-process `MemoryStore` (the default, handy for tests and for
a throwaway server) and a `RedisStore` that uses SpreadAPI's own key layout (`token:{id}`,
`token:hash:{sha256}`, `service:{id}:tokens`, `oauth:code:{ac_…}`, …) so an operator can inspect it
with redis-cli. Values are strings; hashes map str -> str. Every method mirrors the Redis command
of the same meaning, including its edge cases, so code written against one backend behaves the same
on the other.
"""

from __future__ import annotations

import fnmatch
import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar, runtime_checkable
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = [
    "ManualClock",
    "MemoryStore",
    "RedisStore",
    "StoreUnavailable",
    "TokenStore",
    "WrongTypeError",
    "open_store",
]


class WrongTypeError(TypeError):
    """A command was used on a key holding another kind of value (Redis' WRONGTYPE)."""


class StoreUnavailable(RuntimeError):
    """The store did not answer (Redis stopped, unreachable, or still loading its data after a restart).

    Nothing is known about the request's outcome beyond that, so callers answer 503 and the client
    retries; the next command opens a fresh connection, so service resumes once Redis is back.
    """


def _wrong_type() -> WrongTypeError:
    return WrongTypeError("WRONGTYPE Operation against a key holding the wrong kind of value")


@runtime_checkable
class TokenStore(Protocol):
    """The operations the reference server needs; TTLs are seconds and may be fractional."""

    async def get(self, key: str) -> str | None: ...
    async def set(self, key: str, value: str, ttl: float | None = None) -> None: ...
    async def set_if_absent(self, key: str, value: str, ttl: float | None = None) -> bool: ...
    async def getdel(self, key: str) -> str | None: ...
    async def hset(self, key: str, mapping: dict[str, str], ttl: float | None = None) -> None: ...
    async def hgetall(self, key: str) -> dict[str, str]: ...
    async def hget(self, key: str, field: str) -> str | None: ...
    async def hincrby(self, key: str, field: str, amount: int = 1) -> int: ...
    async def htake(self, key: str) -> dict[str, str]: ...
    async def sadd(self, key: str, *members: str) -> int: ...
    async def srem(self, key: str, *members: str) -> int: ...
    async def smembers(self, key: str) -> set[str]: ...
    async def delete(self, *keys: str) -> int: ...
    async def exists(self, key: str) -> bool: ...
    async def expire(self, key: str, ttl: float) -> bool: ...
    async def ttl(self, key: str) -> float | None: ...
    async def incr(self, key: str, ttl: float | None = None) -> int: ...
    async def scan(self, pattern: str = "*") -> list[str]: ...
    async def ping(self) -> bool: ...
    async def aclose(self) -> None: ...


def _check_ttl(ttl: float | None) -> None:
    # Redis rejects SET … PX 0; refusing it up front keeps both backends identical.
    if ttl is not None and not ttl > 0:
        raise ValueError(f"ttl must be a positive number of seconds, got {ttl!r}")


def _ms(ttl: float) -> int:
    # Never round a positive TTL down to 0 ms: PEXPIRE 0 would delete the key instead.
    return max(1, round(ttl * 1000))


def _to_int(value: str, what: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{what} is not an integer or out of range") from None


class ManualClock:
    """A clock that only moves when told to; inject it into MemoryStore to fast-forward expiry."""

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else float(start)

    def __call__(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        self._now += seconds


class MemoryStore:
    """In-process backend. Expired keys are dropped lazily when touched.

    No method awaits anything, so under one event loop each call is atomic with respect to every
    other call; that is what makes `htake`, `set_if_absent` and `incr` safe here. Keep it that way.
    """

    _SWEEP_EVERY = 1024  # writes between sweeps of expired keys nobody reads again

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._data: dict[str, str | dict[str, str] | set[str]] = {}
        self._expiry: dict[str, float] = {}
        self._writes = 0

    # -- internals ---------------------------------------------------------------------------

    def _expired(self, key: str, now: float) -> bool:
        deadline = self._expiry.get(key)
        return deadline is not None and now >= deadline

    def _drop(self, key: str) -> None:
        self._data.pop(key, None)
        self._expiry.pop(key, None)

    def _live(self, key: str) -> str | dict[str, str] | set[str] | None:
        if self._expired(key, self.clock()):
            self._drop(key)
        return self._data.get(key)

    def _typed(self, key: str, kind: type) -> Any:
        value = self._live(key)
        if value is not None and not isinstance(value, kind):
            raise _wrong_type()
        return value

    def _wrote(self) -> None:
        self._writes += 1
        if self._writes % self._SWEEP_EVERY == 0:
            now = self.clock()
            for key in [k for k in self._expiry if self._expired(k, now)]:
                self._drop(key)

    def _set_ttl(self, key: str, ttl: float | None) -> None:
        if ttl is None:
            self._expiry.pop(key, None)
        else:
            self._expiry[key] = self.clock() + ttl

    # -- strings -----------------------------------------------------------------------------

    async def get(self, key: str) -> str | None:
        return self._typed(key, str)

    async def set(self, key: str, value: str, ttl: float | None = None) -> None:
        _check_ttl(ttl)
        self._live(key)
        self._data[key] = str(value)
        self._set_ttl(key, ttl)  # like SET, a plain set clears an earlier expiry
        self._wrote()

    async def set_if_absent(self, key: str, value: str, ttl: float | None = None) -> bool:
        _check_ttl(ttl)
        if self._live(key) is not None:
            return False
        self._data[key] = str(value)
        self._set_ttl(key, ttl)
        self._wrote()
        return True

    async def getdel(self, key: str) -> str | None:
        value = self._typed(key, str)
        if value is not None:
            self._drop(key)
        return value

    async def incr(self, key: str, ttl: float | None = None) -> int:
        _check_ttl(ttl)
        current = self._typed(key, str)
        value = 1 if current is None else _to_int(current, "value") + 1
        self._data[key] = str(value)
        if current is None and ttl is not None:
            self._set_ttl(key, ttl)
        self._wrote()
        return value

    # -- hashes ------------------------------------------------------------------------------

    async def hset(self, key: str, mapping: dict[str, str], ttl: float | None = None) -> None:
        if not mapping:
            raise ValueError("hset needs at least one field")
        _check_ttl(ttl)
        current = self._live(key)
        if current is not None and not isinstance(current, dict):
            if ttl is not None:
                self._set_ttl(key, ttl)  # Redis' MULTI/EXEC still runs the PEXPIRE after HSET fails
            raise _wrong_type()
        if current is None:
            current = self._data[key] = {}
        current.update({str(f): str(v) for f, v in mapping.items()})
        if ttl is not None:
            self._set_ttl(key, ttl)
        self._wrote()

    async def hgetall(self, key: str) -> dict[str, str]:
        return dict(self._typed(key, dict) or {})

    async def hget(self, key: str, field: str) -> str | None:
        return (self._typed(key, dict) or {}).get(field)

    async def hincrby(self, key: str, field: str, amount: int = 1) -> int:
        current = self._typed(key, dict)
        old = None if current is None else current.get(field)
        value = (0 if old is None else _to_int(old, "hash value")) + amount
        if current is None:
            current = self._data[key] = {}
        current[field] = str(value)
        self._wrote()
        return value

    async def htake(self, key: str) -> dict[str, str]:
        value = self._live(key)
        if value is None:
            return {}
        self._drop(key)  # even on a type error: Redis' MULTI/EXEC runs the DEL regardless
        if not isinstance(value, dict):
            raise _wrong_type()
        return dict(value)

    # -- sets --------------------------------------------------------------------------------

    async def sadd(self, key: str, *members: str) -> int:
        current = self._typed(key, set)
        if not members:
            return 0
        if current is None:
            current = self._data[key] = set()
        before = len(current)
        current.update(str(m) for m in members)
        self._wrote()
        return len(current) - before

    async def srem(self, key: str, *members: str) -> int:
        current = self._typed(key, set)
        if not current:
            return 0
        before = len(current)
        current.difference_update(members)
        if not current:
            self._drop(key)  # Redis removes a set once its last member goes
        return before - len(current)

    async def smembers(self, key: str) -> set[str]:
        return set(self._typed(key, set) or ())

    # -- keys --------------------------------------------------------------------------------

    async def delete(self, *keys: str) -> int:
        removed = 0
        for key in keys:
            if self._live(key) is not None:
                self._drop(key)
                removed += 1
        return removed

    async def exists(self, key: str) -> bool:
        return self._live(key) is not None

    async def expire(self, key: str, ttl: float) -> bool:
        if self._live(key) is None:
            return False
        if ttl <= 0:
            self._drop(key)  # PEXPIRE with a non-positive time deletes the key
        else:
            self._set_ttl(key, ttl)
        return True

    async def ttl(self, key: str) -> float | None:
        if self._live(key) is None or key not in self._expiry:
            return None
        return self._expiry[key] - self.clock()

    async def scan(self, pattern: str = "*") -> list[str]:
        now = self.clock()
        return sorted(k for k in self._data if not self._expired(k, now) and fnmatch.fnmatchcase(k, pattern))

    async def ping(self) -> bool:
        return True

    async def aclose(self) -> None:
        return None


T = TypeVar("T")


def _redis_errors(method: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """Turn Redis' type and integer errors into the exceptions MemoryStore raises, and a Redis that does
    not answer into StoreUnavailable (redis-py's own message names the host and port: not for clients)."""

    @functools.wraps(method)
    async def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return await method(*args, **kwargs)
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise StoreUnavailable("the token store did not answer") from exc
        except ResponseError as exc:
            message = str(exc)
            if "WRONGTYPE" in message:
                raise WrongTypeError(message) from exc
            if "not an integer" in message:
                raise ValueError(message) from exc
            raise

    return wrapper


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


POOL_CONNECTIONS = 100  # Redis connections per process at most
POOL_WAIT_S = 20.0  # how long a command waits for a free one before the store counts as unavailable


class RedisStore:
    """Redis backend; `prefix` is prepended to every key (empty by default, so keys match SpreadAPI's)."""

    def __init__(self, url: str, prefix: str = "") -> None:
        self.prefix = prefix
        # redis-py's default pool refuses its 101st connection at once ("Too many connections"), which 200
        # concurrent clients on two workers reached with Redis up: a blocking pool makes a command beyond
        # it wait for a free connection instead. Every wait is bounded, so a Redis that hangs (rather than
        # refusing connections) costs a request seconds and a 503, never a request held open for good;
        # the bounds are generous because an event loop busy with evaluations resumes a waiter late.
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            decode_responses=True,
            max_connections=POOL_CONNECTIONS,
            timeout=POOL_WAIT_S,
            socket_connect_timeout=10,
            socket_timeout=20,
        )
        self.client: aioredis.Redis = aioredis.Redis.from_pool(pool)

    def _k(self, key: str) -> str:
        return self.prefix + key

    @_redis_errors
    async def get(self, key: str) -> str | None:
        return await self.client.get(self._k(key))

    @_redis_errors
    async def set(self, key: str, value: str, ttl: float | None = None) -> None:
        _check_ttl(ttl)
        await self.client.set(self._k(key), value, px=None if ttl is None else _ms(ttl))

    @_redis_errors
    async def set_if_absent(self, key: str, value: str, ttl: float | None = None) -> bool:
        _check_ttl(ttl)
        return bool(await self.client.set(self._k(key), value, nx=True, px=None if ttl is None else _ms(ttl)))

    @_redis_errors
    async def getdel(self, key: str) -> str | None:
        return await self.client.getdel(self._k(key))

    @_redis_errors
    async def incr(self, key: str, ttl: float | None = None) -> int:
        _check_ttl(ttl)
        if ttl is None:
            return await self.client.incr(self._k(key))
        # SET NX PX creates the window with its expiry only if the key is new; INCR keeps that
        # expiry. One MULTI/EXEC, so no caller can see the key between the two steps.
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.set(self._k(key), 0, nx=True, px=_ms(ttl))
            pipe.incr(self._k(key))
            _, value = await pipe.execute()
        return value

    @_redis_errors
    async def hset(self, key: str, mapping: dict[str, str], ttl: float | None = None) -> None:
        if not mapping:
            raise ValueError("hset needs at least one field")
        _check_ttl(ttl)
        if ttl is None:
            await self.client.hset(self._k(key), mapping=mapping)
            return
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.hset(self._k(key), mapping=mapping)
            pipe.pexpire(self._k(key), _ms(ttl))
            await pipe.execute()

    @_redis_errors
    async def hgetall(self, key: str) -> dict[str, str]:
        return await self.client.hgetall(self._k(key))

    @_redis_errors
    async def hget(self, key: str, field: str) -> str | None:
        return await self.client.hget(self._k(key), field)

    @_redis_errors
    async def hincrby(self, key: str, field: str, amount: int = 1) -> int:
        return await self.client.hincrby(self._k(key), field, amount)

    @_redis_errors
    async def htake(self, key: str) -> dict[str, str]:
        # HGETALL and DEL in one MULTI/EXEC: of N concurrent takers exactly one sees the fields.
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.hgetall(self._k(key))
            pipe.delete(self._k(key))
            fields, _ = await pipe.execute()
        return fields

    @_redis_errors
    async def sadd(self, key: str, *members: str) -> int:
        if not members:
            await self.smembers(key)  # still raise WRONGTYPE, as MemoryStore does
            return 0
        return await self.client.sadd(self._k(key), *members)

    @_redis_errors
    async def srem(self, key: str, *members: str) -> int:
        if not members:
            await self.smembers(key)
            return 0
        return await self.client.srem(self._k(key), *members)

    @_redis_errors
    async def smembers(self, key: str) -> set[str]:
        return set(await self.client.smembers(self._k(key)))

    @_redis_errors
    async def delete(self, *keys: str) -> int:
        if not keys:
            return 0
        return await self.client.delete(*(self._k(k) for k in keys))

    @_redis_errors
    async def exists(self, key: str) -> bool:
        return bool(await self.client.exists(self._k(key)))

    @_redis_errors
    async def expire(self, key: str, ttl: float) -> bool:
        ms = _ms(ttl) if ttl > 0 else 0
        return bool(await self.client.pexpire(self._k(key), ms))

    @_redis_errors
    async def ttl(self, key: str) -> float | None:
        ms = await self.client.pttl(self._k(key))
        return None if ms < 0 else ms / 1000  # -1: no expiry, -2: no such key

    @_redis_errors
    async def scan(self, pattern: str = "*") -> list[str]:
        start = len(self.prefix)
        match = _glob_escape(self.prefix) + pattern
        return sorted({k[start:] async for k in self.client.scan_iter(match=match, count=500)})

    async def ping(self) -> bool:
        try:
            return bool(await self.client.ping())
        except (RedisConnectionError, RedisTimeoutError, OSError):
            return False

    async def aclose(self) -> None:
        await self.client.aclose()


def open_store(url: str | None, prefix: str = "") -> TokenStore:
    """`None`, `""` or `memory://` give a MemoryStore; `redis://…` or `rediss://…` a RedisStore."""
    if not url or url == "memory://":
        return MemoryStore()
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("redis", "rediss"):
        return RedisStore(url, prefix=prefix)
    # Only the scheme goes into the message: the URL may carry a password.
    raise ValueError(
        f"unsupported token store URL scheme {scheme or '(none)'!r}: "
        "use 'memory://', 'redis://host:port/db' or 'rediss://host:port/db'"
    )
