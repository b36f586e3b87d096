"""OAuth against `spreadapi-conformance serve` over loopback: the target file, the whole flow as a
client drives it (discovery, registration, consent form, token), the admin surface, the allowlist."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import stat
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import redis

from spreadapi_conformance.reference.credentials import looks_like

from .conftest import REDIS_URL, Served

ADMIN = "adm_" + secrets.token_hex(16)
QUOTE = {"inputs": {"product": "gadget", "quantity": 2}}


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _register(served: Served, *redirect_uris: str) -> httpx.Response:
    return httpx.post(
        f"{served.base_url}/oauth/register",
        json={"client_name": "Loopback test", "redirect_uris": list(redirect_uris)},
        timeout=10,
    )


def _authorize_json(served: Served, client_id: str, redirect_uri: str, challenge: str, **fields) -> httpx.Response:
    params = {
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": "s1",
    }
    return httpx.post(f"{served.base_url}/api/oauth/authorize", json={**params, **fields}, timeout=10)


def _exchange(served: Served, client_id: str, redirect_uri: str, code: str, verifier: str) -> httpx.Response:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": client_id,
        "code_verifier": verifier,
    }
    return httpx.post(f"{served.base_url}/api/oauth/token", data=data, timeout=10)


def test_target_file_describes_the_oauth_side(serve):
    served = serve()
    target = served.target
    assert set(target.mcp_tokens) == {"all", "loan-calculator"}
    assert all(looks_like(t, "spapi_live_") for t in target.mcp_tokens.values())
    assert target.oauth is not None and target.oauth.registration
    assert target.oauth.redirect_uri.startswith("http://127.0.0.1:")
    assert target.admin_token is None, "no admin surface unless asked for"
    assert set(target.mcp_tokens.values()) <= set(target.secrets())
    assert stat.S_IMODE(served.target_file.stat().st_mode) == 0o600
    # ... and the admin paths do not exist.
    response = httpx.post(f"{served.base_url}/admin/mcp-tokens/revoke", json={"token": target.mcp_tokens["all"]})
    assert response.status_code == 404


@pytest.mark.redis
def test_whole_flow_over_loopback_as_a_browser_drives_it(serve, redis_prefix):
    served = serve("--redis-url", REDIS_URL, "--store-prefix", redis_prefix)
    target, base = served.target, served.base_url
    with httpx.Client(base_url=base, timeout=10) as http:
        # Discovery, as ChatGPT and Claude do it: protected resource -> authorization server metadata.
        resource = http.get("/.well-known/oauth-protected-resource/api/mcp").json()
        assert resource["resource"] == f"{base}/api/mcp"
        metadata = http.get("/.well-known/oauth-authorization-server").json()
        assert metadata["issuer"] == resource["authorization_servers"][0] == base
        registered = http.post(
            metadata["registration_endpoint"],
            json={"client_name": "Loopback", "redirect_uris": [target.oauth.redirect_uri]},
        )
        assert registered.status_code == 201
        client_id = registered.json()["client_id"]

        # The consent page, then its form posted back the way a browser posts it (same origin).
        verifier, challenge = _pkce()
        params = {
            "client_id": client_id,
            "redirect_uri": target.oauth.redirect_uri,
            "response_type": "code",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": "by-hand",
            "resource": resource["resource"],
        }
        page = http.get(metadata["authorization_endpoint"], params=params)
        assert page.status_code == 200 and 'name="mcp_tokens"' in page.text
        hidden = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">', page.text))
        form = {**hidden, "mcp_tokens": target.mcp_tokens["all"], "action": "approve"}
        browser = {"Origin": base, "Sec-Fetch-Site": "same-origin"}
        cross_site = http.post("/api/oauth/authorize", data=form, headers={"Origin": "https://evil.example"})
        assert cross_site.status_code == 403 and "location" not in cross_site.headers
        approved = http.post("/api/oauth/authorize", data=form, headers=browser)
        assert approved.status_code == 303
        location = approved.headers["location"]
        assert location.startswith(target.oauth.redirect_uri + "?")
        found = parse_qs(urlsplit(location).query)
        assert found["state"] == ["by-hand"] and found["iss"] == [base]

        exchanged = http.post(
            metadata["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": found["code"][0],
                "redirect_uri": target.oauth.redirect_uri,
                "client_id": client_id,
                "code_verifier": verifier,
                "resource": resource["resource"],
            },
        )
        assert exchanged.status_code == 200, exchanged.text
        access = exchanged.json()["access_token"]
        assert looks_like(access, "oat_") and exchanged.json()["expires_in"] == 43200

    # The token's mapping as an operator finds it with redis-cli: hashes only, bound to /api/mcp.
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    record = client.hgetall(f"{redis_prefix}oauth:token:{hashlib.sha256(access.encode()).hexdigest()}")
    client.close()
    assert record["client_id"] == client_id and record["resource"] == f"{base}/api/mcp"
    assert set(json.loads(record["service_ids"])) == {"loan-calculator", "quote", "edge-cases"}
    digest = hashlib.sha256(target.mcp_tokens["all"].encode()).hexdigest()
    assert json.loads(record["mcp_token_hashes"]) == [digest]


def test_single_service_flow_over_loopback(serve):
    served = serve()
    target = served.target
    redirect = target.oauth.redirect_uri
    client_id = _register(served, redirect).json()["client_id"]
    verifier, challenge = _pkce()
    token = target.services["quote"].token
    response = _authorize_json(served, client_id, redirect, challenge, service_id="quote", service_token=token)
    assert response.status_code == 200, response.text
    exchanged = _exchange(served, client_id, redirect, response.json()["code"], verifier)
    assert exchanged.status_code == 200
    assert exchanged.json()["scope"] == "mcp:read mcp:write spapi:service:quote:execute"


def test_admin_surface_revokes_from_outside(serve):
    served = serve(env={"SPREADAPI_ADMIN_TOKEN": ADMIN})
    target, base = served.target, served.base_url
    assert target.admin_token == ADMIN and ADMIN in target.secrets()
    redirect = target.oauth.redirect_uri
    client_id = _register(served, redirect).json()["client_id"]
    verifier, challenge = _pkce()
    mcp = target.mcp_tokens["loan-calculator"]
    code = _authorize_json(served, client_id, redirect, challenge, mcp_tokens=mcp).json()["code"]

    wrong = httpx.post(f"{base}/admin/mcp-tokens/revoke", json={"token": mcp}, headers={"Authorization": "Bearer x"})
    assert wrong.status_code == 401
    admin = {"Authorization": f"Bearer {ADMIN}"}
    revoked = httpx.post(f"{base}/admin/mcp-tokens/revoke", json={"token": mcp}, headers=admin)
    assert revoked.status_code == 200 and revoked.json() == {"revoked": True}
    # A code issued before the revocation no longer yields a token; the token cannot be pasted again.
    failed = _exchange(served, client_id, redirect, code, verifier)
    assert failed.status_code == 400 and failed.json()["error"] == "invalid_grant"
    assert _authorize_json(served, client_id, redirect, challenge, mcp_tokens=mcp).status_code == 400

    token = target.services["quote"].token
    execute = f"{base}/api/v1/services/quote/execute"
    assert httpx.post(execute, json=QUOTE, headers={"Authorization": f"Bearer {token}"}, timeout=30).status_code == 200
    revoked = httpx.post(f"{base}/admin/service-tokens/revoke", json={"token": token}, headers=admin)
    assert revoked.json() == {"revoked": True}
    assert httpx.post(execute, json=QUOTE, headers={"Authorization": f"Bearer {token}"}, timeout=30).status_code == 401


def test_redirect_allowlist(serve):
    allowed = serve(
        "--redirect-allowlist",
        "https://app.example.test/oauth/*",
        "--redirect-allowlist",
        "https://exact.example.test/cb",
    )
    assert _register(allowed, "https://app.example.test/oauth/callback").status_code == 201
    assert _register(allowed, "https://exact.example.test/cb").status_code == 201
    for refused in ("https://exact.example.test/cb/more", "https://app.example.test/other", "https://x.example/cb"):
        response = _register(allowed, refused)
        assert response.status_code == 400 and response.json()["error"] == "invalid_redirect_uri", refused
    # ChatGPT's, Claude's and loopback stay allowed with an allowlist.
    assert _register(allowed, "https://claude.ai/api/mcp/auth_callback", "http://localhost/cb").status_code == 201


@pytest.mark.redis
async def test_connector_flow_over_loopback_from_401_to_a_tool_call(serve, redis_prefix):
    """The ChatGPT connector flow against a served reference on Redis: discovery from /api/mcp's 401,
    registration, consent, exchange, then initialize, tools/list and tools/call with the token."""
    from suites.mcp._connector import chatgpt_connector_flow

    served = serve("--redis-url", REDIS_URL, "--store-prefix", redis_prefix)
    target = served.target
    async with httpx.AsyncClient(base_url=served.base_url, timeout=30) as http:
        run = await chatgpt_connector_flow(
            http, None, served.base_url, target.mcp_tokens["all"], target.oauth.redirect_uri
        )
    assert "spreadapi_calc" in run.tools and not run.calc.is_error, run.calc
