"""The service page (``GET /services/{id}``, the seed's "Update UI"): what a user copies into ChatGPT and Claude.

Contract with the page: the OpenAPI document's URL in ``#openapi-url`` (as text, or as a link's
``href``), and the Claude Desktop configuration in ``<pre id="claude-config">``, ready to paste:
JSON with a non-empty ``mcpServers`` whose entries start the stdio bridge (``command``) for this
deployment and service; the single-service MCP URL is on the page as well.
"""

from __future__ import annotations

import json

import httpx
import pytest

from ._live import Live
from .conftest import screenshot

pytestmark = pytest.mark.live

SERVICE = "loan-calculator"  # public: the page needs no credentials


def test_the_service_page_shows_the_openapi_url_and_a_claude_desktop_config_that_parses(page, live: Live) -> None:
    response = page.goto(f"{live.base_url}/services/{SERVICE}")
    assert response is not None and response.status == 200, f"GET /services/{SERVICE}: {response and response.status}"
    assert "text/html" in response.headers["content-type"]
    screenshot(page, "service-page")

    openapi_url = f"{live.base_url}/api/v1/services/{SERVICE}/openapi.json"
    shown = page.locator("#openapi-url")
    assert shown.count() == 1, "the page has no #openapi-url"
    assert openapi_url in (shown.inner_text().strip(), shown.get_attribute("href"), shown.get_attribute("value")), (
        shown.inner_text()
    )
    document = httpx.get(openapi_url, timeout=10)
    assert document.status_code == 200 and document.json()["openapi"].startswith("3.")

    config_text = page.locator("pre#claude-config").inner_text()
    config = json.loads(config_text)  # what the user pastes into claude_desktop_config.json
    servers = config["mcpServers"]
    assert isinstance(servers, dict) and servers, config
    for name, server in servers.items():
        assert isinstance(server.get("command"), str) and server["command"], (name, server)
        assert all(isinstance(a, str) for a in server.get("args", [])), (name, server)
    # The bridge is pointed at this deployment and this service (as a URL, or as base URL + service id).
    assert live.base_url in config_text and SERVICE in config_text, config_text
    # The single-service MCP URL is on the page too.
    assert f"{live.base_url}/api/mcp/services/{SERVICE}" in page.locator("body").inner_text()
