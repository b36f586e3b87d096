"""The consent page in a real browser: approve, cancel, a rejected paste, and requests that must not redirect."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from ._live import Live
from .conftest import Callback, Request, register, screenshot

pytestmark = pytest.mark.live

CODE = re.compile(r"ac_[0-9a-f]{64}")


def submit(page, button: str) -> None:
    """Click a form button and wait for the page it leads to.

    A real browser posts the consent form with Origin and Sec-Fetch-Site headers; these tests once
    caught the CSRF check refusing the page's own post (Origin: null under Referrer-Policy: no-referrer).
    """
    with page.expect_navigation():
        page.locator(button).click()


def params(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def open_consent(page, request: Request) -> None:
    response = page.goto(request.url)
    assert response is not None and response.status == 200, response and response.text()
    assert page.locator("#heading").inner_text().startswith("Authorize")
    assert page.locator("#client-name").inner_text() == "Browser test client"
    assert page.locator("#client-id").inner_text() == request.client_id
    assert page.locator("#redirect-host").inner_text() == urlsplit(request.redirect_uri).netloc


def test_approve_lands_on_the_redirect_uri_with_a_code_and_the_same_state(
    page, live: Live, authorization: Request, callback: Callback
) -> None:
    open_consent(page, authorization)
    page.locator("#mcp_tokens").fill(live.mcp_token)
    screenshot(page, "authorize")
    submit(page, "#approve")
    assert page.url.startswith(callback.uri + "?"), page.url
    screenshot(page, "authorize-approved-callback")

    assert page.locator("#callback").inner_text() == "Back at the client"
    assert len(callback.hits) == 1, callback.hits
    got = params(page.url)
    assert set(got) == {"code", "state", "iss"}, got
    assert CODE.fullmatch(got["code"][0]), "the code is not ac_ + 64 hex"
    assert got["state"] == [authorization.state]
    assert got["iss"] == [live.base_url]
    assert callback.hits[0] == urlsplit(page.url).path + "?" + urlsplit(page.url).query

    # The code the browser carried is a real one: it buys an access token once.
    exchange = {
        "grant_type": "authorization_code",
        "code": got["code"][0],
        "redirect_uri": authorization.redirect_uri,
        "client_id": authorization.client_id,
        "code_verifier": authorization.verifier,
    }
    token = httpx.post(f"{live.base_url}/api/oauth/token", data=exchange, timeout=10)
    assert token.status_code == 200, token.text
    assert re.fullmatch(r"oat_[0-9a-f]{64}", token.json()["access_token"])
    again = httpx.post(f"{live.base_url}/api/oauth/token", data=exchange, timeout=10)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_cancel_redirects_with_access_denied_and_the_state(page, authorization: Request, callback: Callback) -> None:
    open_consent(page, authorization)
    # Cancel needs no token: the button skips the form's validation.
    submit(page, "#cancel")
    assert page.url.startswith(callback.uri + "?"), page.url
    got = params(page.url)
    assert got["error"] == ["access_denied"]
    assert got["state"] == [authorization.state]
    assert "code" not in got
    assert len(callback.hits) == 1


def test_a_rejected_token_keeps_the_user_on_the_consent_page(page, authorization: Request, callback: Callback) -> None:
    open_consent(page, authorization)
    page.locator("#mcp_tokens").fill("spapi_live_" + "0" * 64)  # well formed, never issued
    submit(page, "#approve")
    assert page.locator("#error").inner_text() == "Token 1 is invalid or has been revoked."
    assert urlsplit(page.url).path == "/api/oauth/authorize"
    assert page.locator("#approve").is_visible()
    assert callback.hits == []


def _request(authorization: Request, **changes: str | None) -> str:
    query = {k: v[0] for k, v in params(authorization.url).items()}
    query.update({k: v for k, v in changes.items() if v is not None})
    for name in [k for k, v in changes.items() if v is None]:
        query.pop(name)
    return authorization.url.split("?")[0] + "?" + urlencode(query)


def test_an_unregistered_redirect_uri_shows_an_error_page_and_goes_nowhere(
    page, live: Live, authorization: Request, callback: Callback
) -> None:
    # Same loopback host and port, another path: registered URIs match exactly (no open redirect).
    url = _request(authorization, redirect_uri=callback.uri + "/elsewhere")
    response = page.goto(url)
    assert response is not None and response.status == 400
    assert page.locator("#error-code").inner_text() == "invalid_request"
    assert "redirect_uri" in page.locator("#error-description").inner_text()
    assert page.locator("#back").count() == 0, "an untrusted redirect URI must not even be linked"
    assert page.locator("form").count() == 0
    screenshot(page, "authorize-error-redirect-uri")
    page.wait_for_timeout(300)  # a meta refresh or script would have fired by now
    assert page.url == url
    assert callback.hits == []


@pytest.mark.parametrize(
    ("case", "changes", "error", "linked"),
    [
        ("unknown client", {"client_id": "c_not_registered"}, "invalid_request", False),
        ("another host", {"redirect_uri": "https://attacker.example/callback"}, "invalid_request", False),
        ("localhost for 127.0.0.1", {"redirect_uri": "http://localhost:9/callback"}, "invalid_request", False),
        ("no PKCE", {"code_challenge": None, "code_challenge_method": None}, "invalid_request", True),
        ("implicit grant", {"response_type": "token"}, "unsupported_response_type", True),
    ],
)
def test_invalid_requests_show_an_error_page_and_do_not_redirect(
    page, live: Live, authorization: Request, callback: Callback, case, changes, error, linked
) -> None:
    url = _request(authorization, **changes)
    response = page.goto(url)
    assert response is not None and response.status == 400, case
    assert page.locator("#error-code").inner_text() == error
    # Once client and redirect URI are trusted, the page may offer a link back carrying the error; it never follows it.
    assert page.locator("#back").count() == (1 if linked else 0)
    if linked:
        back = params(page.locator("#back").get_attribute("href"))
        assert back["error"] == [error] and back["state"] == [authorization.state]
    page.wait_for_timeout(300)
    assert page.url == url
    assert callback.hits == []


def test_a_second_client_cannot_borrow_the_first_clients_redirect_uri(
    page, live: Live, authorization: Request, callback: Callback
) -> None:
    # Loopback URIs match on any port (RFC 8252 §7.3), never on another path.
    other = register(live, "http://127.0.0.1:9/other-client", name="Other client")
    response = page.goto(_request(authorization, client_id=other))
    assert response is not None and response.status == 400
    assert page.locator("#error-code").inner_text() == "invalid_request"
    assert page.locator("#back").count() == 0
    assert callback.hits == []


def test_a_loopback_redirect_uri_may_change_its_port(page, live: Live, authorization: Request) -> None:
    """RFC 8252 §7.3 (and the MCP authorization spec): native clients pick a free port at each start."""
    moved = authorization.redirect_uri.replace(urlsplit(authorization.redirect_uri).netloc, "127.0.0.1:9")
    response = page.goto(_request(authorization, redirect_uri=moved))
    assert response is not None and response.status == 200
    assert page.locator("#redirect-host").inner_text() == "127.0.0.1:9"
