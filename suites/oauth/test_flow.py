"""The flows that work: multi-service (MCP tokens, Option 3) and single-service (Option 2), end to end."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import pytest

from spreadapi_conformance.reference.credentials import looks_like, token_hash

from ._support import CHATGPT, CLAUDE, ISSUER, assert_oauth_error, pkce, query


async def test_multi_service_flow_end_to_end(http, reference):
    # Discovery: protected-resource metadata names the authorization server; its metadata the endpoints.
    resource = (await http.get("/.well-known/oauth-protected-resource/api/mcp")).json()
    assert resource["resource"] == f"{ISSUER}/api/mcp"
    issuer = resource["authorization_servers"][0]
    metadata = (await http.get("/.well-known/oauth-authorization-server")).json()
    assert metadata["issuer"] == issuer == ISSUER
    path = lambda url: urlsplit(url).path  # noqa: E731

    # Registration, as ChatGPT does it.
    registered = await http.post(
        path(metadata["registration_endpoint"]),
        json={"client_name": "ChatGPT", "redirect_uris": [CHATGPT], "token_endpoint_auth_method": "none"},
    )
    assert registered.status_code == 201
    client_id = registered.json()["client_id"]

    # The consent page shows who asks for what.
    verifier, challenge = pkce()
    params = {
        "client_id": client_id,
        "redirect_uri": CHATGPT,
        "response_type": "code",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": "st-123",
        "scope": "mcp:read mcp:write",
        "resource": resource["resource"],
    }
    page = await http.get(path(metadata["authorization_endpoint"]), params=params)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<span id="client-name">ChatGPT</span>' in page.text and client_id in page.text
    assert "<code>mcp:read</code>" in page.text and "<code>mcp:write</code>" in page.text
    assert 'action="/api/oauth/authorize"' in page.text and 'name="mcp_tokens"' in page.text
    hidden = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">', page.text))
    assert hidden == params

    # The user pastes both seeded MCP tokens and approves: the form posts the hidden fields back.
    tokens = f"{reference.mcp_tokens['all']}\n{reference.mcp_tokens['loan-calculator']}\n"
    approved = await http.post("/api/oauth/authorize", data={**hidden, "mcp_tokens": tokens, "action": "approve"})
    assert approved.status_code == 303
    location = approved.headers["location"]
    assert location.startswith(CHATGPT + "?")
    found = query(location)
    assert found["state"] == ["st-123"] and found["iss"] == [ISSUER]
    code = found["code"][0]
    assert looks_like(code, "ac_")

    exchanged = await http.post(
        path(metadata["token_endpoint"]),
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CHATGPT,
            "client_id": client_id,
            "code_verifier": verifier,
            "resource": resource["resource"],
        },
    )
    assert exchanged.status_code == 200
    assert exchanged.headers["cache-control"] == "no-store" and exchanged.headers["pragma"] == "no-cache"
    body = exchanged.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}, "no refresh token"
    assert looks_like(body["access_token"], "oat_")
    assert body["token_type"] == "Bearer" and body["expires_in"] == 43200 and body["scope"] == "mcp:read mcp:write"

    grant = await reference.oauth_tokens.resolve(body["access_token"])
    assert grant is not None
    assert grant.client_id == client_id and grant.resource == f"{ISSUER}/api/mcp"
    assert set(grant.service_ids) == {"loan-calculator", "quote", "edge-cases"}
    assert set(grant.mcp_token_hashes) == {token_hash(t) for t in reference.mcp_tokens.values()}
    assert grant.service_id is None and grant.scopes == ("mcp:read", "mcp:write")


async def test_the_loan_calculator_token_grants_only_that_service(oauth, reference):
    token = await oauth.access_token(mcp_tokens=reference.mcp_tokens["loan-calculator"])
    grant = await reference.oauth_tokens.resolve(token)
    assert grant.service_ids == ("loan-calculator",)


async def test_tokens_may_be_pasted_comma_separated_and_repeated(oauth, reference):
    pasted = ", ".join([reference.mcp_tokens["loan-calculator"]] * 2 + [reference.mcp_tokens["all"]])
    grant = await reference.oauth_tokens.resolve(await oauth.access_token(mcp_tokens=pasted))
    assert len(grant.mcp_token_hashes) == 2


async def test_json_clients_get_the_code_and_the_redirect(oauth, http, reference):
    pending = await oauth.start()
    response = await http.post(
        "/api/oauth/authorize", json={**pending.params, "mcp_tokens": [reference.mcp_tokens["all"]]}
    )
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"code", "redirect_to"}
    assert query(body["redirect_to"]) == {
        "code": [body["code"]],
        "state": [pending.params["state"]],
        "iss": [ISSUER],
    }
    assert (await oauth.exchange(pending, body["code"])).status_code == 200


async def test_token_endpoint_takes_json_too(oauth, http):
    pending = await oauth.start()
    code = await oauth.code(pending)
    response = await http.post(
        "/api/oauth/token",
        json={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": pending.redirect_uri,
            "client_id": pending.client_id,
            "code_verifier": pending.verifier,
        },
    )
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"


async def test_single_service_public_needs_no_token(oauth, http, reference):
    pending = await oauth.start(service_id="loan-calculator")
    page = await http.get("/oauth/authorize", params=pending.params)
    assert page.status_code == 200
    assert 'id="public-note"' in page.text and 'name="service_token"' not in page.text
    assert 'name="mcp_tokens"' not in page.text and "Loan Calculator" in page.text

    response = await oauth.exchange(pending, await oauth.code(pending))
    assert response.status_code == 200
    assert response.json()["scope"] == "mcp:read mcp:write spapi:service:loan-calculator:execute"
    grant = await reference.oauth_tokens.resolve(response.json()["access_token"])
    assert grant.service_id == "loan-calculator" and grant.service_ids == ("loan-calculator",)
    assert grant.resource == f"{ISSUER}/api/mcp/services/loan-calculator"
    assert grant.mcp_token_hashes == () and grant.service_token_id is None


async def test_single_service_private_with_its_service_token(oauth, http, reference):
    pending = await oauth.start(service_id="quote", scope="mcp:read")
    page = await http.get("/oauth/authorize", params=pending.params)
    assert 'name="service_token"' in page.text and 'type="password"' in page.text

    code = await oauth.code(pending, service_token=reference.service_tokens["quote"])
    response = await oauth.exchange(pending, code)
    assert response.status_code == 200
    assert response.json()["scope"] == "mcp:read spapi:service:quote:execute"
    grant = await reference.oauth_tokens.resolve(response.json()["access_token"])
    assert grant.service_id == "quote" and grant.service_token_id


async def test_single_service_chosen_by_the_resource_parameter(oauth, reference):
    pending = await oauth.start(resource=f"{ISSUER}/api/mcp/services/edge-cases")
    grant = await reference.oauth_tokens.resolve(await oauth.access_token(pending))
    assert grant.service_id == "edge-cases"


@pytest.mark.parametrize("service_token", [None, "svc_tk_" + "0" * 64, "garbage"])
async def test_private_service_refuses_a_missing_or_wrong_service_token(oauth, http, service_token):
    pending = await oauth.start(service_id="quote")
    fields = {} if service_token is None else {"service_token": service_token}
    as_json = await http.post("/api/oauth/authorize", json={**pending.params, **fields})
    body = assert_oauth_error(as_json, 400, "invalid_request")
    expected = "requires a service token" if service_token is None else "Invalid service token"
    assert expected in body["error_description"]
    # The browser form shows the consent page again, with the message and without a redirect.
    as_form = await oauth.approve_form(pending, **fields)
    assert as_form.status_code == 400 and "location" not in as_form.headers
    assert 'id="error"' in as_form.text and expected in as_form.text
    assert 'name="service_token"' in as_form.text


async def test_another_services_token_does_not_open_a_private_service(oauth, http, reference):
    tokens = reference.app.state.service_tokens
    other = await tokens.issue("edge-cases")
    pending = await oauth.start(service_id="quote")
    response = await http.post("/api/oauth/authorize", json={**pending.params, "service_token": other.token})
    assert_oauth_error(response, 400, "invalid_request")


async def test_revoking_the_wrapped_mcp_token_stops_the_oauth_token(oauth, reference):
    token = await oauth.access_token(mcp_tokens=reference.mcp_tokens["loan-calculator"])
    other = await oauth.access_token(mcp_tokens=reference.mcp_tokens["all"])
    assert await reference.oauth_tokens.resolve(token) is not None
    assert await reference.mcp_registry.revoke(reference.mcp_tokens["loan-calculator"])
    assert await reference.oauth_tokens.resolve(token) is None
    assert await reference.oauth_tokens.resolve(other) is not None, "only tokens wrapping the revoked one stop"
    # The dead OAuth token is deleted on sight.
    assert not await reference.store.exists(f"oauth:token:{token_hash(token)}")


async def test_revoking_one_of_several_wrapped_tokens_stops_the_oauth_token(oauth, reference):
    both = "\n".join(reference.mcp_tokens.values())
    token = await oauth.access_token(mcp_tokens=both)
    await reference.mcp_registry.revoke(reference.mcp_tokens["all"])
    assert await reference.oauth_tokens.resolve(token) is None


async def test_revoking_the_service_token_stops_a_single_service_oauth_token(oauth, reference):
    pending = await oauth.start(service_id="quote")
    token = await oauth.access_token(pending, service_token=reference.service_tokens["quote"])
    grant = await reference.oauth_tokens.resolve(token)
    assert await reference.app.state.service_tokens.revoke(grant.service_token_id)
    assert await reference.oauth_tokens.resolve(token) is None


async def test_an_mcp_token_revoked_before_the_exchange_fails_it(oauth, reference):
    pending = await oauth.start()
    code = await oauth.code(pending, mcp_tokens=reference.mcp_tokens["loan-calculator"])
    await reference.mcp_registry.revoke(reference.mcp_tokens["loan-calculator"])
    assert_oauth_error(await oauth.exchange(pending, code), 400, "invalid_grant")


async def test_access_token_expires_after_twelve_hours(oauth, reference, clock):
    token = await oauth.access_token()
    clock.advance(43_199)
    assert await reference.oauth_tokens.resolve(token) is not None
    clock.advance(2)
    assert await reference.oauth_tokens.resolve(token) is None


async def test_store_keys_and_no_plain_secret_in_the_store(oauth, reference):
    pending = await oauth.start()
    code = await oauth.code(pending)
    assert await reference.store.ttl(f"oauth:code:{code}") == 600
    record = await reference.store.hgetall(f"oauth:code:{code}")
    assert record["client_id"] == pending.client_id and record["code_challenge_method"] == "S256"
    assert json.loads(record["mcp_token_hashes"]) == [token_hash(reference.mcp_tokens["all"])]
    assert await reference.store.ttl(f"oauth:client:{pending.client_id}") == 30 * 86400

    access = (await oauth.exchange(pending, code)).json()["access_token"]
    assert not await reference.store.exists(f"oauth:code:{code}")
    assert await reference.store.ttl(f"oauth:token:{token_hash(access)}") == 43200

    secrets_ = [access, code, *reference.mcp_tokens.values(), *reference.service_tokens.values()]
    for key in await reference.store.scan("*"):
        assert not any(s in key for s in secrets_ if s != code), key
        kind = await reference.store.hgetall(key) if key.startswith(("oauth:", "mcp:token:")) else {}
        assert not any(s in value for value in kind.values() for s in secrets_), key


async def test_seeded_mcp_tokens(reference):
    assert set(reference.mcp_tokens) == {"all", "loan-calculator"}
    assert all(looks_like(t, "spapi_live_") for t in reference.mcp_tokens.values())
    assert set(await reference.mcp_registry.validate(reference.mcp_tokens["all"])) == set(reference.services)
    assert await reference.mcp_registry.validate(reference.mcp_tokens["loan-calculator"]) == ["loan-calculator"]


async def test_claude_loopback_redirect_on_any_port(oauth):
    client_id = await oauth.register("http://127.0.0.1/callback", "http://localhost/callback")
    pending = await oauth.start(client_id, redirect_uri="http://127.0.0.1:51234/callback")
    assert (await oauth.exchange(pending, await oauth.code(pending))).status_code == 200


async def test_claude_registration_and_flow(oauth):
    client_id = await oauth.register(CLAUDE, "https://claude.com/api/mcp/auth_callback")
    pending = await oauth.start(client_id, redirect_uri="https://claude.com/api/mcp/auth_callback")
    assert (await oauth.exchange(pending, await oauth.code(pending))).status_code == 200
