"""Two `serve` processes sharing one Redis behave as one authorization server.

A code issued by one is redeemed at the other, and of 200 concurrent exchanges of one code spread
over both, exactly one succeeds: the redemption is one atomic HGETALL+DEL in Redis (a GET-then-DEL
would let several requests read the code before any deletes it).

The race is real: with ``RedisStore.htake`` turned into HGETALL, then DEL, 31 to 200 of the 200
exchanges succeeded in three runs. Sent through an ``httpx.AsyncClient`` (even with 200 warm
connections) the same mutant passed, because the client sends more slowly than the servers answer.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
from collections import Counter
from urllib.parse import urlencode

import httpx
import pytest

from .conftest import REDIS_URL, Served

pytestmark = pytest.mark.redis

EXCHANGES = 200


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@pytest.fixture
def pair(serve, redis_prefix) -> tuple[Served, Served]:
    args = ("--redis-url", REDIS_URL, "--store-prefix", redis_prefix)
    return serve(*args), serve(*args)


async def _code_from(served: Served, http: httpx.AsyncClient) -> tuple[dict[str, str], str]:
    """Register a client at ``served`` and authorize it there (a JSON post, as a non-browser client):
    the token request's fields without the code, and the code."""
    target = served.target
    redirect_uri = target.oauth.redirect_uri
    registered = await http.post(f"{served.base_url}/oauth/register", json={"redirect_uris": [redirect_uri]})
    assert registered.status_code == 201, registered.text
    client_id = registered.json()["client_id"]
    verifier, challenge = _pkce()
    authorized = await http.post(
        f"{served.base_url}/api/oauth/authorize",
        json={
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": "shared",
            "mcp_tokens": target.mcp_tokens["all"],
        },
    )
    assert authorized.status_code == 200, authorized.text
    request = {
        "grant_type": "authorization_code",
        "redirect_uri": redirect_uri,
        "client_id": client_id,
        "code_verifier": verifier,
    }
    return request, authorized.json()["code"]


async def test_a_code_from_one_server_is_redeemed_at_the_other_once(pair):
    a, b = pair
    async with httpx.AsyncClient(timeout=30) as http:
        request, code = await _code_from(a, http)
        redeemed = await http.post(f"{b.base_url}/api/oauth/token", data={**request, "code": code})
        assert redeemed.status_code == 200, redeemed.text
        for served in (a, b):
            again = await http.post(f"{served.base_url}/api/oauth/token", data={**request, "code": code})
            assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


async def _race(requests: list[tuple[Served, dict[str, str]]]) -> list[tuple[int, dict]]:
    """POST each form to its server's token endpoint so that all of them arrive at the same moment.

    A client that sends 200 requests one after another is slower than a server answering them, so
    they would be served one by one and never race. Instead every request is written on its own
    connection except its last byte; once all are in flight, the last bytes go out together
    ("last-byte synchronisation"), and the servers see 200 complete requests at once.
    """
    connections = []
    for served, form in requests:
        url = httpx.URL(served.base_url)
        body = urlencode(form).encode()
        head = (
            f"POST /api/oauth/token HTTP/1.1\r\nHost: {url.host}:{url.port}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        ).encode()
        reader, writer = await asyncio.open_connection(url.host, url.port)
        writer.write(head + body[:-1])
        await writer.drain()
        connections.append((reader, writer, body[-1:]))
    await asyncio.sleep(0.2)  # every server has the headers and is waiting for the last byte
    for _, writer, last in connections:
        writer.write(last)
    await asyncio.gather(*(writer.drain() for _, writer, _ in connections))

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> tuple[int, dict]:
        raw = await asyncio.wait_for(reader.read(), 60)  # Connection: close, so read to the end
        writer.close()
        head, _, body = raw.partition(b"\r\n\r\n")
        return int(head.split(b" ", 2)[1]), json.loads(body)

    return list(await asyncio.gather(*(answer(reader, writer) for reader, writer, _ in connections)))


async def test_concurrent_exchanges_over_two_servers_succeed_exactly_once(pair):
    a, b = pair
    async with httpx.AsyncClient(timeout=30) as http:
        request, code = await _code_from(a, http)
    servers = [a, b] * (EXCHANGES // 2)
    # Warm the servers' Redis pools first: otherwise the one exchange that finds the open Redis
    # connection runs ahead while the others connect, and a non-atomic redemption passes unnoticed.
    # Racing exchanges of an unknown code open about as many Redis connections as requests.
    unknown = {**request, "code": "ac_" + secrets.token_hex(32)}
    warm = await _race([(s, unknown) for s in servers])
    assert {status for status, _ in warm} == {400}

    responses = await _race([(s, {**request, "code": code}) for s in servers])
    statuses = Counter(status for status, _ in responses)
    assert statuses == {200: 1, 400: EXCHANGES - 1}, statuses
    errors = Counter(body["error"] for status, body in responses if status == 400)
    assert errors == {"invalid_grant": EXCHANGES - 1}
    assert next(body for status, body in responses if status == 200)["access_token"].startswith("oat_")
