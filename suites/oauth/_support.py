"""A small OAuth client for the tests: PKCE, registration, authorization, exchange, and assertions."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from spreadapi_conformance.reference.app import Reference

CLAUDE = "https://claude.ai/api/mcp/auth_callback"
CHATGPT = "https://chatgpt.com/connector/oauth/c_0123abcd"
LOOPBACK = "http://127.0.0.1:33418/callback"
ISSUER = "http://testserver"


def pkce() -> tuple[str, str]:
    """(verifier, S256 challenge), computed as RFC 7636 §4.1-4.2 say."""
    verifier = secrets.token_urlsafe(48)  # 64 characters of [A-Za-z0-9_-]
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def query(location: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(location).query, keep_blank_values=True)


def assert_oauth_error(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
    """RFC 6749 §5.2: the status, a JSON body with that error, never cached, no redirect."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    assert "location" not in response.headers
    body = response.json()
    assert body["error"] == error, body
    assert isinstance(body["error_description"], str) and body["error_description"]
    assert not any(c in body["error_description"] for c in "\r\n\t")
    return body


def assert_error_page(response: httpx.Response, status: int = 400, error: str | None = None) -> str:
    """An HTML error page, never a redirect."""
    assert response.status_code == status, response.text
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    if error is not None:
        assert f'<code id="error-code">{error}</code>' in response.text
    return response.text


@dataclass
class Pending:
    """An authorization request in flight: its parameters and the PKCE verifier behind them."""

    client_id: str
    redirect_uri: str
    verifier: str
    params: dict[str, str] = field(default_factory=dict)


@dataclass
class OAuthDriver:
    http: httpx.AsyncClient
    reference: Reference

    async def register(self, *redirect_uris: str, **metadata: Any) -> str:
        body = {"redirect_uris": list(redirect_uris or [CLAUDE]), "client_name": "Test client", **metadata}
        response = await self.http.post("/oauth/register", json=body)
        assert response.status_code == 201, response.text
        return response.json()["client_id"]

    async def start(self, client_id: str | None = None, redirect_uri: str = CLAUDE, **params: str) -> Pending:
        if client_id is None:
            client_id = await self.register(redirect_uri)
        verifier, challenge = pkce()
        base = {
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": secrets.token_urlsafe(12),
        }
        return Pending(client_id, redirect_uri, verifier, {**base, **params})

    async def approve_form(self, pending: Pending, **fields: str) -> httpx.Response:
        """What the consent page's form posts when the user approves."""
        single = "service_id" in pending.params or "/api/mcp/services/" in pending.params.get("resource", "")
        if "mcp_tokens" not in fields and not single:
            fields["mcp_tokens"] = self.reference.mcp_tokens["all"]
        return await self.http.post("/api/oauth/authorize", data={**pending.params, "action": "approve", **fields})

    async def code(self, pending: Pending, **fields: str) -> str:
        response = await self.approve_form(pending, **fields)
        assert response.status_code == 303, response.text
        found = query(response.headers["location"])
        assert found["state"] == [pending.params["state"]]
        return found["code"][0]

    async def exchange(self, pending: Pending, code: str, /, **overrides: str | None) -> httpx.Response:
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": pending.redirect_uri,
            "client_id": pending.client_id,
            "code_verifier": pending.verifier,
            **overrides,
        }
        return await self.http.post("/api/oauth/token", data={k: v for k, v in data.items() if v is not None})

    async def access_token(self, pending: Pending | None = None, **fields: str) -> str:
        pending = pending or await self.start()
        response = await self.exchange(pending, await self.code(pending, **fields))
        assert response.status_code == 200, response.text
        return response.json()["access_token"]
