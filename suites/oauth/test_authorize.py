"""The authorization endpoint's negative cases (requirements 4.3, NA-*), each its own test.

Requests a server cannot trust (unknown client, unregistered or altered redirect URI) must never be
redirected; this server also shows an error page, not a redirect, for the other request errors.
"""

from __future__ import annotations

import pytest

from ._support import CHATGPT, CLAUDE, ISSUER, assert_error_page, assert_oauth_error, query


async def _page_and_posts(oauth, http, pending, status: int, error: str) -> None:
    """GET page, form post and JSON post all refuse the request the same way."""
    assert_error_page(await http.get("/oauth/authorize", params=pending.params), status, error)
    assert_error_page(await oauth.approve_form(pending), status, error)
    fields = {**pending.params, "mcp_tokens": oauth.reference.mcp_tokens["all"]}
    assert_oauth_error(await http.post("/api/oauth/authorize", json=fields), status, error)


async def test_missing_code_challenge(oauth, http):
    pending = await oauth.start()
    del pending.params["code_challenge"]
    await _page_and_posts(oauth, http, pending, 400, "invalid_request")


async def test_plain_challenge_method(oauth, http):
    pending = await oauth.start(code_challenge_method="plain")
    await _page_and_posts(oauth, http, pending, 400, "invalid_request")


async def test_missing_challenge_method_means_plain(oauth, http):
    pending = await oauth.start()
    del pending.params["code_challenge_method"]
    await _page_and_posts(oauth, http, pending, 400, "invalid_request")


@pytest.mark.parametrize("challenge", ["short", "a" * 129, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM="])
async def test_malformed_code_challenge(oauth, http, challenge):
    pending = await oauth.start(code_challenge=challenge)
    await _page_and_posts(oauth, http, pending, 400, "invalid_request")


async def test_unknown_client(oauth, http):
    pending = await oauth.start(client_id="dcr_" + "0" * 32)
    await _page_and_posts(oauth, http, pending, 400, "invalid_request")
    # Nor a link back: an unknown client's redirect URI is untrusted.
    page = await http.get("/oauth/authorize", params=pending.params)
    assert 'id="back"' not in page.text and CLAUDE not in page.text


async def test_missing_client_id(oauth, http):
    pending = await oauth.start()
    del pending.params["client_id"]
    await _page_and_posts(oauth, http, pending, 400, "invalid_request")


async def test_missing_redirect_uri(oauth, http):
    pending = await oauth.start()
    del pending.params["redirect_uri"]
    await _page_and_posts(oauth, http, pending, 400, "invalid_request")


REDIRECT_VARIANTS = {
    "trailing slash": CHATGPT + "/",
    "different port": "https://chatgpt.com:8443/connector/oauth/c_0123abcd",
    "added query": CHATGPT + "?next=https://evil.example",
    "upper-case host": "https://ChatGPT.com/connector/oauth/c_0123abcd",
    "upper-case path": "https://chatgpt.com/Connector/oauth/c_0123abcd",
    "appended path": CHATGPT + "/evil",
    "other callback id": "https://chatgpt.com/connector/oauth/c_0123abce",
    "http instead of https": "http://chatgpt.com/connector/oauth/c_0123abcd",
    "userinfo trick": "https://chatgpt.com@evil.example/connector/oauth/c_0123abcd",
    "suffix host": "https://chatgpt.com.evil.example/connector/oauth/c_0123abcd",
    "encoded traversal": "https://chatgpt.com/connector/oauth/..%2f..%2fevil",
    "fragment": CHATGPT + "#frag",
    "javascript": "javascript:alert(1)",
    "another registered client's URI": CLAUDE,
}


@pytest.mark.parametrize("presented", REDIRECT_VARIANTS.values(), ids=REDIRECT_VARIANTS.keys())
async def test_altered_redirect_uri_is_never_redirected_to(oauth, http, presented):
    await oauth.register(CLAUDE)  # a registered URI of another client is no help either
    client_id = await oauth.register(CHATGPT)
    pending = await oauth.start(client_id, redirect_uri=presented)
    await _page_and_posts(oauth, http, pending, 400, "invalid_request")
    # Not even the cancel button redirects, and the page offers no link back.
    cancel = await http.post("/api/oauth/authorize", data={**pending.params, "action": "cancel"})
    assert 'id="back"' not in assert_error_page(cancel, 400)


async def test_loopback_port_is_free_but_the_host_is_not(oauth, http):
    client_id = await oauth.register("http://127.0.0.1:8080/callback")
    good = await oauth.start(client_id, redirect_uri="http://127.0.0.1:49152/callback")
    assert (await http.get("/oauth/authorize", params=good.params)).status_code == 200
    for presented in ("http://localhost:8080/callback", "http://127.0.0.1:8080/other", "http://[::1]:8080/callback"):
        bad = await oauth.start(client_id, redirect_uri=presented)
        assert_error_page(await http.get("/oauth/authorize", params=bad.params), 400, "invalid_request")


async def test_response_type_token(oauth, http):
    pending = await oauth.start(response_type="token")
    await _page_and_posts(oauth, http, pending, 400, "unsupported_response_type")
    # The client and redirect URI are trusted by now: the page links back with the error (and state, iss).
    page = await http.get("/oauth/authorize", params=pending.params)
    assert 'id="back"' in page.text and "error=unsupported_response_type" in page.text


async def test_missing_response_type(oauth, http):
    pending = await oauth.start()
    del pending.params["response_type"]
    await _page_and_posts(oauth, http, pending, 400, "unsupported_response_type")


async def test_unsupported_scope(oauth, http):
    pending = await oauth.start(scope="mcp:read admin")
    await _page_and_posts(oauth, http, pending, 400, "invalid_scope")


async def test_service_scope_outside_its_service(oauth, http):
    pending = await oauth.start(service_id="quote", scope="spapi:service:loan-calculator:execute")
    await _page_and_posts(oauth, http, pending, 400, "invalid_scope")


async def test_no_scope_gets_the_default(oauth, http):
    pending = await oauth.start()
    assert "scope" not in pending.params
    response = await oauth.exchange(pending, await oauth.code(pending))
    assert response.json()["scope"] == "mcp:read mcp:write"


@pytest.mark.parametrize(
    "resource",
    ["https://evil.example/api/mcp", f"{ISSUER}/api/mcp/", f"{ISSUER}/api/mcp/services/nope", "/api/mcp"],
)
async def test_foreign_resource(oauth, http, resource):
    pending = await oauth.start(resource=resource)
    await _page_and_posts(oauth, http, pending, 400, "invalid_target")


async def test_resource_naming_another_service_than_service_id(oauth, http):
    pending = await oauth.start(service_id="quote", resource=f"{ISSUER}/api/mcp/services/loan-calculator")
    await _page_and_posts(oauth, http, pending, 400, "invalid_target")


async def test_unknown_service(oauth, http):
    pending = await oauth.start(service_id="no-such-service")
    await _page_and_posts(oauth, http, pending, 400, "invalid_request")


@pytest.mark.parametrize("name", ["state", "redirect_uri", "code_challenge"])
async def test_repeated_parameter(oauth, http, name):
    pending = await oauth.start()
    pairs = [*pending.params.items(), (name, pending.params[name])]
    assert_error_page(await http.get("/oauth/authorize", params=pairs), 400, "invalid_request")
    form = [*pairs, ("mcp_tokens", oauth.reference.mcp_tokens["all"])]
    response = await http.post(
        "/api/oauth/authorize",
        content="&".join(f"{k}={v}" for k, v in form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_error_page(response, 400, "invalid_request")


async def test_unknown_parameters_are_ignored(oauth, http):
    pending = await oauth.start(prompt="consent", nonce="n-1", foo="bar")
    assert (await http.get("/oauth/authorize", params=[*pending.params.items(), ("foo", "again")])).status_code == 200
    code = await oauth.code(pending, extra="1")
    assert (await oauth.exchange(pending, code, unknown="x", audience="y")).status_code == 200


async def test_state_is_echoed_exactly(oauth):
    state = "ä/&=?+ %20#" * 60  # long, reserved characters, non-ASCII
    pending = await oauth.start(state=state)
    response = await oauth.approve_form(pending)
    assert response.status_code == 303
    found = query(response.headers["location"])
    assert found["state"] == [state] and found["iss"] == [ISSUER] and len(found["code"]) == 1


async def test_without_state_no_state_comes_back(oauth):
    pending = await oauth.start()
    del pending.params["state"]
    response = await oauth.approve_form(pending)
    assert response.status_code == 303 and "state" not in query(response.headers["location"])


async def test_cancel_redirects_with_access_denied(oauth, http):
    pending = await oauth.start(state="keep me")
    response = await http.post("/api/oauth/authorize", data={**pending.params, "action": "cancel"})
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith(CLAUDE + "?")
    found = query(location)
    assert found["error"] == ["access_denied"] and found["state"] == ["keep me"] and found["iss"] == [ISSUER]
    assert "code" not in found
    assert not await oauth.reference.store.scan("oauth:code:*"), "no code issued"


async def test_registered_query_is_kept_in_the_redirect(oauth):
    uri = "http://127.0.0.1:9000/cb?tenant=a"
    pending = await oauth.start(await oauth.register(uri), redirect_uri=uri)
    response = await oauth.approve_form(pending)
    found = query(response.headers["location"])
    assert response.headers["location"].startswith(uri + "&") and found["tenant"] == ["a"]


@pytest.mark.parametrize("pasted", ["", "not-a-token", "spapi_live_" + "0" * 64, "spapi_live_" + "g" * 64], ids=repr)
async def test_bad_mcp_tokens_are_refused_without_echo(oauth, http, pasted):
    pending = await oauth.start()
    body = assert_oauth_error(
        await http.post("/api/oauth/authorize", json={**pending.params, "mcp_tokens": pasted}), 400, "invalid_request"
    )
    page = await oauth.approve_form(pending, mcp_tokens=pasted)
    assert page.status_code == 400 and "location" not in page.headers and 'id="error"' in page.text
    if pasted:
        assert pasted not in body["error_description"] and pasted not in page.text


async def test_revoked_mcp_token_is_refused(oauth, http, reference):
    await reference.mcp_registry.revoke(reference.mcp_tokens["all"])
    pending = await oauth.start()
    response = await http.post(
        "/api/oauth/authorize", json={**pending.params, "mcp_tokens": [reference.mcp_tokens["all"]]}
    )
    assert "revoked" in assert_oauth_error(response, 400, "invalid_request")["error_description"]


async def test_mcp_token_granting_no_service_is_refused(oauth, http, reference):
    empty = await reference.mcp_registry.issue([])
    pending = await oauth.start()
    response = await http.post("/api/oauth/authorize", json={**pending.params, "mcp_tokens": empty})
    assert_oauth_error(response, 400, "invalid_request")


async def test_mcp_tokens_and_service_id_together(oauth, http, reference):
    pending = await oauth.start(service_id="loan-calculator")
    response = await http.post(
        "/api/oauth/authorize", json={**pending.params, "mcp_tokens": reference.mcp_tokens["all"]}
    )
    assert_oauth_error(response, 400, "invalid_request")


async def test_cross_site_form_post_is_refused(oauth, reference):
    pending = await oauth.start()
    fields = {**pending.params, "mcp_tokens": reference.mcp_tokens["all"], "action": "approve"}
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        response = await oauth.http.post("/api/oauth/authorize", data=fields, headers=headers)
        assert_error_page(response, 403, "invalid_request")
    same = await oauth.http.post("/api/oauth/authorize", data=fields, headers={"Origin": ISSUER})
    assert same.status_code == 303


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b'{"client_id": 5}', "application/json"),
        (b"client_id", "application/x-www-form-urlencoded"),
        (b"client_id=%ff", "application/x-www-form-urlencoded"),
        (b"client_id=x", "text/plain"),
        (b"\xff\xfe", "application/json"),
    ],
)
async def test_malformed_bodies(http, content, content_type):
    response = await http.post("/api/oauth/authorize", content=content, headers={"Content-Type": content_type})
    if content_type.endswith("urlencoded"):
        assert_error_page(response, 400, "invalid_request")
    else:
        assert_oauth_error(response, 400, "invalid_request")


async def test_oversized_body(oauth, http):
    pending = await oauth.start()
    response = await http.post("/api/oauth/authorize", json={**pending.params, "mcp_tokens": "x" * 70_000})
    assert_oauth_error(response, 413, "invalid_request")


async def test_consent_page_headers_and_escaping(oauth, http):
    client_id = await oauth.register(CLAUDE, client_name='<script>alert("x")</script>')
    pending = await oauth.start(client_id, state='"><img src=x onerror=alert(1)>')
    page = await http.get("/oauth/authorize", params=pending.params)
    assert page.status_code == 200
    assert "<script>alert" not in page.text and "&lt;script&gt;" in page.text
    assert "<img src=x" not in page.text
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    # same-origin, not no-referrer: under no-referrer Chromium posts the form with "Origin: null",
    # which the CSRF check refuses (pages.py); other sites still never see the authorize URL.
    assert page.headers["referrer-policy"] == "same-origin"
    assert "<script" not in page.text.replace("&lt;script", ""), "the page runs no script"


async def test_cors_is_not_offered_on_the_authorization_endpoint(http):
    response = await http.options(
        "/api/oauth/authorize", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert response.status_code == 405 and "access-control-allow-origin" not in response.headers
