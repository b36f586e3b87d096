"""The token endpoint's negative cases (requirements 4.3, NT-*), each its own test."""

from __future__ import annotations

import asyncio

import pytest

from ._support import assert_oauth_error


async def test_code_reuse(oauth):
    pending = await oauth.start()
    code = await oauth.code(pending)
    assert (await oauth.exchange(pending, code)).status_code == 200
    assert_oauth_error(await oauth.exchange(pending, code), 400, "invalid_grant")


async def test_expired_code(oauth, clock):
    pending = await oauth.start()
    code = await oauth.code(pending)
    clock.advance(600)
    assert_oauth_error(await oauth.exchange(pending, code), 400, "invalid_grant")


async def test_code_just_before_expiry_still_works(oauth, clock):
    pending = await oauth.start()
    code = await oauth.code(pending)
    clock.advance(599)
    assert (await oauth.exchange(pending, code)).status_code == 200


async def test_wrong_verifier_burns_the_code(oauth):
    pending = await oauth.start()
    code = await oauth.code(pending)
    wrong = "x" * 43
    body = assert_oauth_error(await oauth.exchange(pending, code, code_verifier=wrong), 400, "invalid_grant")
    assert "PKCE" in body["error_description"]
    assert_oauth_error(await oauth.exchange(pending, code), 400, "invalid_grant")


async def test_missing_verifier_burns_the_code(oauth):
    pending = await oauth.start()
    code = await oauth.code(pending)
    assert_oauth_error(await oauth.exchange(pending, code, code_verifier=None), 400, "invalid_grant")
    assert_oauth_error(await oauth.exchange(pending, code), 400, "invalid_grant")


@pytest.mark.parametrize("verifier", ["a" * 42, "a" * 129, "a" * 42 + "!"])
async def test_malformed_verifier(oauth, verifier):
    pending = await oauth.start()
    code = await oauth.code(pending)
    assert_oauth_error(await oauth.exchange(pending, code, code_verifier=verifier), 400, "invalid_grant")


async def test_the_challenge_itself_is_not_a_verifier(oauth):
    pending = await oauth.start()
    code = await oauth.code(pending)
    challenge = pending.params["code_challenge"]
    assert_oauth_error(await oauth.exchange(pending, code, code_verifier=challenge), 400, "invalid_grant")


async def test_another_clients_code(oauth):
    victim = await oauth.start()
    code = await oauth.code(victim)
    attacker = await oauth.start()
    response = await oauth.exchange(victim, code, client_id=attacker.client_id)
    assert_oauth_error(response, 400, "invalid_grant")
    # The attempt burned it: not even its own client can redeem it now.
    assert_oauth_error(await oauth.exchange(victim, code), 400, "invalid_grant")


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://claude.ai/api/mcp/auth_callback/",
        "https://claude.com/api/mcp/auth_callback",
        "https://claude.ai/api/mcp/auth_callback?x=1",
        "https://CLAUDE.ai/api/mcp/auth_callback",
    ],
)
async def test_redirect_uri_mismatch_at_the_token_endpoint(oauth, redirect_uri):
    client_id = await oauth.register(
        "https://claude.ai/api/mcp/auth_callback", "https://claude.com/api/mcp/auth_callback"
    )
    pending = await oauth.start(client_id)
    code = await oauth.code(pending)
    assert_oauth_error(await oauth.exchange(pending, code, redirect_uri=redirect_uri), 400, "invalid_grant")


async def test_loopback_redirect_must_match_the_port_it_used(oauth):
    client_id = await oauth.register("http://127.0.0.1/callback")
    pending = await oauth.start(client_id, redirect_uri="http://127.0.0.1:40000/callback")
    code = await oauth.code(pending)
    response = await oauth.exchange(pending, code, redirect_uri="http://127.0.0.1:40001/callback")
    assert_oauth_error(response, 400, "invalid_grant")


async def test_unknown_client(oauth):
    pending = await oauth.start()
    code = await oauth.code(pending)
    response = await oauth.exchange(pending, code, client_id="dcr_" + "f" * 32)
    assert_oauth_error(response, 401, "invalid_client")
    assert (await oauth.exchange(pending, code)).status_code == 200, "an unknown client cannot burn a code"


async def test_expired_registration(oauth, clock):
    pending = await oauth.start()
    code = await oauth.code(pending)
    clock.advance(30 * 86400)
    assert_oauth_error(await oauth.exchange(pending, code), 401, "invalid_client")


async def test_client_secret_is_refused(oauth):
    pending = await oauth.start()
    code = await oauth.code(pending)
    assert_oauth_error(await oauth.exchange(pending, code, client_secret="s3cret"), 401, "invalid_client")


async def test_basic_client_authentication_is_refused(oauth, http):
    pending = await oauth.start()
    code = await oauth.code(pending)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": pending.redirect_uri}
    data["code_verifier"] = pending.verifier
    response = await http.post("/api/oauth/token", data=data, auth=(pending.client_id, "secret"))
    assert_oauth_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"].startswith("Basic")


@pytest.mark.parametrize("grant_type", ["password", "client_credentials", "refresh_token", "implicit", "token"])
async def test_unsupported_grant_type(oauth, grant_type):
    pending = await oauth.start()
    code = await oauth.code(pending)
    assert_oauth_error(await oauth.exchange(pending, code, grant_type=grant_type), 400, "unsupported_grant_type")
    assert (await oauth.exchange(pending, code)).status_code == 200, "the refused request left the code alone"


@pytest.mark.parametrize("missing", ["grant_type", "code", "redirect_uri", "client_id"])
async def test_missing_parameter(oauth, missing):
    pending = await oauth.start()
    code = await oauth.code(pending)
    assert_oauth_error(await oauth.exchange(pending, code, **{missing: None}), 400, "invalid_request")


@pytest.mark.parametrize("code", ["ac_" + "0" * 64, "ac_short", "oat_" + "0" * 64, "x" * 300])
async def test_unknown_or_malformed_code(oauth, code):
    pending = await oauth.start()
    assert_oauth_error(await oauth.exchange(pending, code), 400, "invalid_grant")


async def test_resource_differing_from_the_authorization(oauth):
    pending = await oauth.start()
    code = await oauth.code(pending)
    response = await oauth.exchange(pending, code, resource="http://testserver/api/mcp/services/quote")
    assert_oauth_error(response, 400, "invalid_target")


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"{not json", "application/json"),
        (b'["grant_type"]', "application/json"),
        (b'{"grant_type": ["authorization_code"]}', "application/json"),
        (b"grant_type", "application/x-www-form-urlencoded"),
        (b"grant_type=authorization_code&&code=x", "application/x-www-form-urlencoded"),
        (b"grant_type=%ff", "application/x-www-form-urlencoded"),
        (b"grant_type=authorization_code", "text/plain"),
        (b"grant_type=authorization_code", ""),
        (
            b"--b\r\nContent-Disposition: form-data; name=grant_type\r\n\r\nx\r\n--b--",
            "multipart/form-data; boundary=b",
        ),
    ],
)
async def test_malformed_bodies(http, content, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    response = await http.post("/api/oauth/token", content=content, headers=headers)
    assert_oauth_error(response, 400, "invalid_request")


async def test_repeated_parameter(oauth, http):
    pending = await oauth.start()
    code = await oauth.code(pending)
    body = (
        f"grant_type=authorization_code&code={code}&code={code}&client_id={pending.client_id}"
        f"&redirect_uri=x&code_verifier={pending.verifier}"
    )
    response = await http.post(
        "/api/oauth/token", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert_oauth_error(response, 400, "invalid_request")


async def test_oversized_body(http):
    response = await http.post("/api/oauth/token", data={"grant_type": "authorization_code", "pad": "x" * 70_000})
    assert_oauth_error(response, 413, "invalid_request")


async def test_get_is_not_allowed(http):
    response = await http.get("/api/oauth/token", params={"grant_type": "authorization_code"})
    assert_oauth_error(response, 405, "invalid_request")
    assert response.headers["allow"] == "POST"


async def test_fifty_concurrent_exchanges_of_one_code_yield_one_token(oauth):
    pending = await oauth.start()
    code = await oauth.code(pending)
    responses = await asyncio.gather(*(oauth.exchange(pending, code) for _ in range(50)))
    assert sorted(r.status_code for r in responses) == [200] + [400] * 49
    for response in responses:
        if response.status_code == 400:
            assert_oauth_error(response, 400, "invalid_grant")
