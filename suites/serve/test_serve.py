"""`spreadapi-conformance serve`: a real uvicorn process on loopback, with the memory and Redis stores."""

from __future__ import annotations

import hashlib
import secrets
import stat
import subprocess
import sys

import httpx
import pytest
import redis

from .conftest import REDIS_URL

QUOTE = {"inputs": {"product": "gadget", "quantity": 2}}


def _execute(base_url: str, service_id: str, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(f"{base_url}/api/v1/services/{service_id}/execute", json=QUOTE, headers=headers, timeout=30)


def test_target_file_describes_the_server(serve):
    served = serve()
    target = served.target
    assert target.base_url == served.base_url
    assert {s.fixture for s in target.services.values()} == {"loan-calculator", "quote", "edge-cases"}
    assert not target.services["quote"].public and target.services["quote"].token.startswith("svc_tk_")
    assert all(s.token is None for s in target.services.values() if s.public), "public services need no token"
    assert target.oauth.code_lifetime == 600, "the file states the code lifetime, SpreadAPI's by default"
    # It holds a secret: owner-only from the moment it exists.
    assert stat.S_IMODE(served.target_file.stat().st_mode) == 0o600


def test_code_lifetime_is_served_and_stated(serve):
    served = serve("--code-lifetime", "7")
    assert served.target.oauth.code_lifetime == 7


def test_seeded_token_opens_the_private_service_and_nothing_else_does(serve):
    served = serve()
    token = served.target.services["quote"].token
    assert _execute(served.base_url, "quote", token).status_code == 200
    assert _execute(served.base_url, "quote", None).status_code == 401
    assert _execute(served.base_url, "quote", "svc_tk_" + secrets.token_hex(32)).status_code == 401


def test_base_url_is_what_the_documents_advertise(serve):
    served = serve("--base-url", "https://calc.example.test/")
    document = httpx.get(f"{served.base_url}/api/v1/services/quote/openapi.json").json()
    assert document["servers"] == [{"url": "https://calc.example.test"}]
    listing = httpx.get(f"{served.base_url}/api/v1/services").json()["services"]
    assert all(s["endpoint"].startswith("https://calc.example.test/api/v1/services/") for s in listing)


@pytest.mark.redis
def test_redis_store_keeps_only_the_token_hash(serve, redis_prefix):
    served = serve("--redis-url", REDIS_URL, "--store-prefix", redis_prefix)
    token = served.target.services["quote"].token
    assert _execute(served.base_url, "quote", token).status_code == 200
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    digest = hashlib.sha256(token.encode()).hexdigest()
    token_id = client.get(f"{redis_prefix}token:hash:{digest}")
    assert token_id, "the token's hash is the lookup key SpreadAPI uses (token:hash:{sha256})"
    record = client.hgetall(f"{redis_prefix}token:{token_id}")
    assert record["serviceId"] == "quote" and int(record["usageCount"]) >= 1
    for key in client.scan_iter(match=redis_prefix + "*"):
        kind = client.type(key)
        values = (
            [client.get(key)]
            if kind == "string"
            else (list(client.hgetall(key).values()) if kind == "hash" else list(client.smembers(key)))
        )
        assert token not in values, f"the plain token is stored under {key}"
    client.close()


@pytest.mark.redis
def test_two_servers_sharing_redis_accept_one_pinned_token(serve, redis_prefix):
    token = "svc_tk_" + secrets.token_hex(32)
    args = ("--redis-url", REDIS_URL, "--store-prefix", redis_prefix, "--service-token", f"quote={token}")
    first, second = serve(*args), serve(*args)
    assert first.target.services["quote"].token == second.target.services["quote"].token == token
    for served in (first, second):
        assert _execute(served.base_url, "quote", token).status_code == 200


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "spreadapi_conformance", *args], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("serve", "--engine", "nope"), "choose one of formulas, formualizer"),
        (("serve", "--service-token", "quote=svc_tk_short"), "must be svc_tk_ followed by 64"),
        (("serve", "--service-token", "nosuch=svc_tk_" + "ab" * 32), "no fixture service named nosuch"),
        (("serve", "--redis-url", "redis://:hunter2@127.0.0.1:1/0"), "cannot reach Redis at redis://:***@"),
        (("serve", "--redis-url", "ftp://127.0.0.1"), "unsupported token store URL scheme"),
        (("serve", "--admin-token", "hunter2"), "the admin token must be at least 16 characters"),
        (("serve", "--redirect-allowlist", "http://app.example/cb"), "--redirect-allowlist: must be https"),
        (("serve", "--redirect-allowlist", "https://hunter2@app.example/*"), "--redirect-allowlist: must be https"),
        (("serve", "--workers", "2"), "more than one worker needs --redis-url"),
    ],
)
def test_bad_configuration_is_one_clear_error(args, message):
    result = _cli(*args)
    assert result.returncode == 2, result.stderr
    assert message in " ".join(result.stderr.split()), result.stderr
    assert "Traceback" not in result.stderr and "hunter2" not in result.stderr


def test_serve_says_where_it_listens_on_stdout_at_once(tmp_path):
    """The first lines on stdout, unbuffered: the address, then the target file (a script waits on them)."""
    import subprocess

    from .conftest import free_port, serve_command, stop_process

    port = free_port()
    target = tmp_path / "t.toml"
    command = serve_command(port, target)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        first, second = process.stdout.readline(), process.stdout.readline()
    finally:
        stop_process(process)
    assert first.startswith("serving 3 services at http://127.0.0.1:") and f"127.0.0.1:{port}" in first, first
    assert second.strip() == f"target file written to {target}", second
