"""A stateful property test of the multi-service OAuth flow (Option 3), in memory and on Redis.

Hypothesis drives random sequences of: issue an MCP token, register a client, authorize (paste MCP
tokens), exchange a code (with the right or a wrong PKCE verifier), reuse a spent code, revoke an
MCP token (over the admin endpoint), and call (resolve the ``oat_`` token, as the MCP endpoint of a
later issue will). A small model predicts each answer; the server and the model agree at every step,
and the invariants compare the store with the model after every step.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import secrets
from dataclasses import dataclass
from uuid import uuid4

import httpx
import pytest
import redis
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from spreadapi_conformance.fixtures import load_services
from spreadapi_conformance.reference.app import create_reference
from spreadapi_conformance.reference.config import ReferenceConfig

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
ADMIN = "stateful-" + "a" * 24
SERVICE_IDS = sorted(load_services())
# Explicit budgets, not the profile's: an example takes milliseconds, and sequences long enough to
# authorize, exchange, call, revoke and call again need more steps than the profiles' defaults.
# Measured on 2 cores: about 9 s for both backends in the dev budget, about 12 s in the CI one.
# Hypothesis enables a random subset of the rules per example, hence the many examples.
CI = bool(os.environ.get("CI"))
MEMORY_SETTINGS = settings(max_examples=200 if CI else 100, stateful_step_count=30, deadline=None)
REDIS_SETTINGS = settings(max_examples=100 if CI else 50, stateful_step_count=30, deadline=None)


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class Client:
    client_id: str
    redirect_uri: str


@dataclass(frozen=True)
class Code:
    code: str
    client: Client
    verifier: str
    mcp_tokens: frozenset[str]  # what the user pasted
    services: frozenset[str]  # what those tokens granted at the time


@dataclass(frozen=True)
class Access:
    token: str
    client_id: str
    mcp_tokens: frozenset[str]
    services: frozenset[str]


class OAuthMachine(RuleBasedStateMachine):
    store_url: str | None = None  # None: the memory store

    clients = Bundle("clients")
    mcp = Bundle("mcp_tokens")
    codes = Bundle("codes")
    access = Bundle("access_tokens")

    def __init__(self) -> None:
        super().__init__()
        # Hypothesis calls rules synchronously: one event loop per example runs the async reference
        # (a Redis client is bound to the loop that first uses it, so the loop lives as long as it).
        self.loop = asyncio.new_event_loop()
        self.prefix = f"test:{uuid4().hex}:" if self.store_url else ""
        config = ReferenceConfig(warm_up=False, store_url=self.store_url, store_prefix=self.prefix, admin_token=ADMIN)
        self.reference = self.run(create_reference(config))
        transport = httpx.ASGITransport(app=self.reference.app)
        self.http = httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=30)
        # The model.
        self.active: dict[str, bool] = {}  # MCP token -> not revoked
        self.granted: dict[str, frozenset[str]] = {}  # MCP token -> the services it grants
        self.outstanding: set[str] = set()  # codes issued and not yet presented
        self.spent: list[Code] = []  # codes presented once (whatever the outcome)
        # MCP tokens some code or OAuth token wraps, in the order first wrapped: draws from it must
        # not depend on the tokens' random values, or hypothesis cannot replay an example.
        self.wrapped: dict[str, None] = {}
        self.issued: list[Access] = []  # OAuth tokens handed out

    def run(self, coroutine):
        return self.loop.run_until_complete(coroutine)

    def teardown(self) -> None:
        try:
            self.run(self.http.aclose())
            self.run(self.reference.aclose())
        finally:
            self.loop.close()
            if self.store_url:
                client = redis.Redis.from_url(self.store_url)
                keys = list(client.scan_iter(match=self.prefix + "*", count=500))
                if keys:
                    client.delete(*keys)
                client.close()

    # -- rules ------------------------------------------------------------------------------------

    @initialize(target=mcp)
    def seeded_tokens(self):
        for name, token in self.reference.mcp_tokens.items():
            self.active[token] = True
            self.granted[token] = frozenset(SERVICE_IDS if name == "all" else [name])
        return multiple(*self.reference.mcp_tokens.values())

    @rule(target=mcp, services=st.frozensets(st.sampled_from(SERVICE_IDS)))
    def issue_mcp_token(self, services):
        token = self.run(self.reference.mcp_registry.issue(sorted(services), name="stateful"))
        self.active[token], self.granted[token] = True, services
        return token

    @initialize(target=clients)
    def first_client(self):
        return self.register(33418)

    @rule(target=clients, port=st.integers(1024, 65535))
    def register(self, port):
        redirect_uri = f"http://127.0.0.1:{port}/callback"
        response = self.run(self.http.post("/oauth/register", json={"redirect_uris": [redirect_uri]}))
        assert response.status_code == 201, response.text
        return Client(response.json()["client_id"], redirect_uri)

    @rule(target=codes, client=clients, pasted=st.lists(mcp, min_size=1, max_size=3))
    def authorize(self, client, pasted):
        verifier, challenge = _pkce()
        body = {
            "client_id": client.client_id,
            "redirect_uri": client.redirect_uri,
            "response_type": "code",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": "st",
            "mcp_tokens": pasted,
        }
        response = self.run(self.http.post("/api/oauth/authorize", json=body))
        tokens = frozenset(pasted)
        services = frozenset().union(*(self.granted[t] for t in tokens))
        event(f"authorize: {response.status_code}")
        if not all(self.active[t] for t in tokens) or not services:
            assert response.status_code == 400, response.text
            assert response.json()["error"] == "invalid_request"
            return multiple()
        assert response.status_code == 200, response.text
        code = response.json()["code"]
        self.outstanding.add(code)
        self.wrapped.update(dict.fromkeys(pasted))
        return Code(code, client, verifier, tokens, services)

    def _exchange(self, code: Code, verifier: str) -> httpx.Response:
        data = {
            "grant_type": "authorization_code",
            "code": code.code,
            "redirect_uri": code.client.redirect_uri,
            "client_id": code.client.client_id,
            "code_verifier": verifier,
        }
        return self.run(self.http.post("/api/oauth/token", data=data))

    @rule(target=access, code=consumes(codes), right_verifier=st.booleans())
    def exchange(self, code, right_verifier):
        response = self._exchange(code, code.verifier if right_verifier else _pkce()[0])
        event(f"exchange: {response.status_code}")
        # Presented once, the code is spent: redeemed, or burnt by the failed check.
        self.outstanding.discard(code.code)
        self.spent.append(code)
        if not right_verifier or not all(self.active[t] for t in code.mcp_tokens):
            assert response.status_code == 400, response.text
            assert response.json()["error"] == "invalid_grant"
            return multiple()
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["expires_in"] == 43200 and body["token_type"] == "Bearer"
        issued = Access(body["access_token"], code.client.client_id, code.mcp_tokens, code.services)
        self.issued.append(issued)
        return issued

    @precondition(lambda self: self.spent)
    @rule(data=st.data())
    def reuse_code(self, data):
        code = data.draw(st.sampled_from(self.spent), label="spent code")
        response = self._exchange(code, code.verifier)
        event(f"reuse: {response.status_code}")
        assert response.status_code == 400, response.text
        assert response.json()["error"] == "invalid_grant"

    # Revoke a token that something wraps (revoking one nothing depends on shows little); revoked
    # ones stay candidates, so revoking twice is exercised too.
    @precondition(lambda self: self.wrapped)
    @rule(data=st.data())
    def revoke(self, data):
        token = data.draw(st.sampled_from(list(self.wrapped)), label="wrapped MCP token")
        response = self.run(
            self.http.post(
                "/admin/mcp-tokens/revoke", json={"token": token}, headers={"Authorization": f"Bearer {ADMIN}"}
            )
        )
        assert response.status_code == 200, response.text
        event(f"revoke: {response.json()}")
        assert response.json() == {"revoked": self.active[token]}
        self.active[token] = False

    @rule(token=access)
    def call(self, token):
        self._check_call(token, "call")

    def _check_call(self, token: Access, what: str) -> None:
        grant = self.run(self.reference.oauth_tokens.resolve(token.token))
        event(f"{what}: " + ("refused" if grant is None else "allowed"))
        if not all(self.active[t] for t in token.mcp_tokens):
            assert grant is None, "an OAuth token outlived the MCP token it wraps"
            return
        assert grant is not None
        assert grant.client_id == token.client_id
        assert frozenset(grant.service_ids) == token.services
        assert set(grant.mcp_token_hashes) == {hashlib.sha256(t.encode()).hexdigest() for t in token.mcp_tokens}

    # -- invariants -------------------------------------------------------------------------------

    @invariant()
    def mcp_tokens_agree(self):
        for token, active in self.active.items():
            granted = self.run(self.reference.mcp_registry.validate(token))
            assert (granted is not None) == active
            if active:
                assert frozenset(granted) == self.granted[token]

    @invariant()
    def oauth_tokens_agree(self):
        # Every OAuth token handed out, after every step: revocation must reach it at once, whichever
        # rules hypothesis happens to enable for this example (it varies them per example).
        for token in self.issued:
            self._check_call(token, "invariant call")

    @invariant()
    def codes_agree(self):
        store = self.reference.store
        for code in self.outstanding:
            assert self.run(store.exists(f"oauth:code:{code}")), "an unspent code vanished"
        for code in self.spent[-5:]:
            assert not self.run(store.exists(f"oauth:code:{code.code}")), "a spent code is still in the store"


class RedisOAuthMachine(OAuthMachine):
    store_url = REDIS_URL


OAuthMachine.TestCase.settings = MEMORY_SETTINGS
RedisOAuthMachine.TestCase.settings = REDIS_SETTINGS

TestOAuthInMemory = OAuthMachine.TestCase
TestOAuthOnRedis = pytest.mark.redis(RedisOAuthMachine.TestCase)
