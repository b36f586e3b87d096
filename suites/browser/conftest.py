"""Headless Chromium (Debian's, driven by Playwright's Python package) against a live reference on loopback.

Playwright never downloads a browser here: it launches ``/usr/bin/chromium`` (``SPREADAPI_CHROMIUM``)
through ``executable_path``. ``scripts/install-tools.sh`` installs it; without it these tests fail and
say so. The browser is module-scoped: Playwright's sync API runs its own event loop on this thread, so
it is shut down before another module's asyncio tests run.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from ._live import REPORTS, Live, headless_chromium, live_reference

SCREENSHOTS = REPORTS / "screenshots"


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with live_reference(tmp_path_factory.mktemp("browser-live")) as served:
        yield served


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with headless_chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 900, "height": 900}, locale="en-US")
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# -- the client side: a redirect URI that records what arrives ----------------------------------------


class _Handler(BaseHTTPRequestHandler):
    server: _CallbackServer

    def do_GET(self) -> None:
        if not self.path.startswith("/callback"):  # the browser's own /favicon.ico
            self.send_error(404)
            return
        self.server.hits.append(self.path)
        body = b"<!doctype html><title>Client callback</title><h1 id='callback'>Back at the client</h1>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _CallbackServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hits: list[str] = []


@dataclass
class Callback:
    """A loopback redirect URI (RFC 8252 §7.3) with a server behind it that records every request to it."""

    server: _CallbackServer = field(repr=False)

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/callback"

    @property
    def hits(self) -> list[str]:
        return self.server.hits


@pytest.fixture
def callback() -> Iterator[Callback]:
    server = _CallbackServer()
    thread = threading.Thread(target=server.serve_forever, name="oauth-callback", daemon=True)
    thread.start()
    try:
        yield Callback(server)
    finally:
        server.shutdown()
        server.server_close()


# -- the OAuth client ------------------------------------------------------------------------------


@dataclass
class Request:
    """One authorization request: where to open it, and what the client keeps to finish it."""

    url: str
    client_id: str
    redirect_uri: str
    state: str
    verifier: str = field(repr=False)


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def register(live: Live, redirect_uri: str, name: str = "Browser test client") -> str:
    response = httpx.post(
        f"{live.base_url}/oauth/register", json={"redirect_uris": [redirect_uri], "client_name": name}, timeout=10
    )
    assert response.status_code == 201, response.text
    return response.json()["client_id"]


@pytest.fixture
def authorization(live: Live, callback: Callback) -> Request:
    """A registered loopback client and a valid authorization request for it (state with characters
    that need encoding, so that "the same state" means byte for byte)."""
    client_id = register(live, callback.uri)
    verifier, challenge = pkce()
    state = f"st {secrets.token_hex(8)}/ä+="
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": callback.uri,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "scope": "mcp:read mcp:write",
    }
    return Request(f"{live.base_url}/oauth/authorize?{urlencode(query)}", client_id, callback.uri, state, verifier)
