"""The OAuth checks' readers of what a server answers: repeated JSON members, a PKCE challenge hidden in a
code, the error an authorization refusal tells the client (checks/oauth/_support.py)."""

from __future__ import annotations

import base64
import hashlib
import json

import httpx
import pytest

from spreadapi_conformance.checks.oauth._support import challenge_exposure, pkce, refusal_error, repeated_members

REDIRECT = "http://127.0.0.1:33418/callback"
OPAQUE = "ac_" + "3f" * 32


def test_repeated_members_are_found_at_any_depth():
    assert repeated_members('{"access_token": "a", "token_type": "Bearer"}') == []
    assert repeated_members('{"a": 1, "b": {"c": 1, "c": 2}, "a": 3}') == ["c", "a"]
    with pytest.raises(AssertionError, match="not JSON"):
        repeated_members("{")


def test_an_opaque_code_exposes_nothing():
    _, challenge = pkce()
    assert challenge_exposure(f"{REDIRECT}?code={OPAQUE}&state=s", OPAQUE, challenge) is None


def _digest(challenge: str) -> bytes:
    return base64.urlsafe_b64decode(challenge + "=")


@pytest.mark.parametrize(
    ("code_of", "found"),
    [
        (lambda c: f"ac_{c}", "the code carries the code_challenge"),
        (lambda c: "ac_" + _digest(c).hex(), "the code carries the challenge's bytes in hex"),
        (
            lambda c: OPAQUE + "." + base64.urlsafe_b64encode(json.dumps({"cc": c}).encode()).decode().rstrip("="),
            "the code, base64-decoded, carries the code_challenge",
        ),
        (  # the bytes at an offset that is no multiple of three: found from another alignment
            lambda c: "ac_" + base64.urlsafe_b64encode(b"xy" + _digest(c)).decode(),
            "the code, base64-decoded, carries the challenge's bytes",
        ),
    ],
    ids=["verbatim", "hex", "json-payload", "shifted-bytes"],
)
def test_a_challenge_in_the_code_is_found(code_of, found):
    verifier, challenge = pkce()
    assert hashlib.sha256(verifier.encode()).digest() == _digest(challenge)
    code = code_of(challenge)
    assert challenge_exposure(f"{REDIRECT}?code={code}", code, challenge) == found


def test_a_challenge_elsewhere_in_the_redirect_is_found():
    _, challenge = pkce()
    location = f"{REDIRECT}?code={OPAQUE}&cc={challenge}"
    assert challenge_exposure(location, OPAQUE, challenge) == "the redirect carries the code_challenge"


def _answer(status: int, *, location: str | None = None, page: str = "") -> httpx.Response:
    headers = {"location": location} if location else {}
    return httpx.Response(status, headers=headers, text=page)


def test_the_error_of_a_refusal_is_read_from_the_redirect_or_the_page_link():
    assert refusal_error(_answer(302, location=f"{REDIRECT}?error=invalid_scope&state=s"), REDIRECT) == "invalid_scope"
    page = f'<p>Failed.</p><a href="{REDIRECT}?error=invalid_request&amp;state=s" id="back">Return</a>'
    assert refusal_error(_answer(400, page=page), REDIRECT) == "invalid_request"
    elsewhere = '<a href="https://help.example/?error=invalid_scope">help</a>'
    assert refusal_error(_answer(400, page=elsewhere), REDIRECT) is None
    assert refusal_error(_answer(400, page="<p>no link</p>"), REDIRECT) is None
