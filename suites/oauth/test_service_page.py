"""The service page, ``GET /services/{id}`` (the seed's Option 1 "Update UI"), over HTTP in process."""

from __future__ import annotations

import dataclasses
import html
import json
import re

import httpx
import pytest

from spreadapi_conformance.fixtures import load_services
from spreadapi_conformance.reference.app import create_reference
from spreadapi_conformance.reference.config import ReferenceConfig

from ._support import ISSUER

HOSTILE = '<script>alert("x")</script>&"\''


def _element(page: str, element_id: str) -> str:
    """The text of the element with this id (no nested markup), as a browser would show it."""
    match = re.search(rf'<(\w+)[^>]* id="{element_id}"[^>]*>(.*?)</\1>', page, re.S)
    assert match, f"no element with id={element_id!r}"
    return html.unescape(match.group(2))


def _claude_config(page: str) -> dict:
    return json.loads(_element(page, "claude-config"))


@pytest.mark.parametrize("service_id", ["loan-calculator", "quote", "edge-cases"])
async def test_page_shows_the_service_and_its_urls(http, service_id):
    response = await http.get(f"/services/{service_id}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["x-frame-options"] == "DENY"
    assert "script-src" not in response.headers["content-security-policy"]  # default-src 'none': no scripts
    service = load_services()[service_id]
    page = response.text
    assert html.escape(service.title) in page and html.escape(service.description) in page
    assert all(f"<code>{i.name}</code>" in page for i in service.inputs)
    assert all(f"<code>{o.name}</code>" in page for o in service.outputs)
    assert _element(page, "openapi-url") == f"{ISSUER}/api/v1/services/{service_id}/openapi.json"
    assert _element(page, "mcp-url") == f"{ISSUER}/api/mcp/services/{service_id}"


async def test_the_openapi_url_on_the_page_serves_the_document(http):
    page = (await http.get("/services/quote")).text
    document = await http.get(_element(page, "openapi-url"))
    assert document.status_code == 200 and document.json()["info"]["title"]


async def test_claude_config_of_a_private_service_has_a_token_placeholder(http, reference):
    page = (await http.get("/services/quote")).text
    assert _claude_config(page) == {
        "mcpServers": {
            "quote": {
                "command": "spreadapi-conformance",
                "args": ["bridge"],
                "env": {
                    "SPREADAPI_URL": ISSUER,
                    "SPREADAPI_SERVICE_ID": "quote",
                    "SPREADAPI_TOKEN": "<your service token>",
                },
            }
        }
    }
    # The ChatGPT Action steps: API Key / Bearer with a service token.
    steps = _element(page, "action-steps")
    assert "Import from URL" in steps and "API Key" in steps and "Bearer" in steps


async def test_claude_config_of_a_public_service_has_no_token(http):
    page = (await http.get("/services/loan-calculator")).text
    env = _claude_config(page)["mcpServers"]["loan-calculator"]["env"]
    assert env == {"SPREADAPI_URL": ISSUER, "SPREADAPI_SERVICE_ID": "loan-calculator"}
    assert "Authentication: None" in re.sub(r"<[^>]+>", "", _element(page, "action-steps"))


async def test_no_credential_is_ever_on_the_page(http, reference):
    secrets_ = [*reference.service_tokens.values(), *reference.mcp_tokens.values()]
    for service_id in reference.services:
        page = (await http.get(f"/services/{service_id}")).text
        assert not any(s in page for s in secrets_), service_id
        assert not re.search(r"svc_tk_[0-9a-f]{8}|spapi_live_[0-9a-f]{8}", page), service_id


async def test_the_configured_base_url_is_what_the_page_shows():
    reference = await create_reference(ReferenceConfig(warm_up=False, base_url="https://calc.example.test"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=reference.app), base_url="http://x") as http:
        page = (await http.get("/services/quote")).text
    assert _element(page, "openapi-url") == "https://calc.example.test/api/v1/services/quote/openapi.json"
    assert _claude_config(page)["mcpServers"]["quote"]["env"]["SPREADAPI_URL"] == "https://calc.example.test"
    await reference.aclose()


async def test_unknown_service_is_an_html_404(http):
    response = await http.get("/services/no-such-service")
    assert response.status_code == 404
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert _element(response.text, "service-id") == "no-such-service"


async def test_the_unknown_id_is_escaped_on_the_404_page(http):
    response = await http.get("/services/%3Cb%3Ex")
    assert response.status_code == 404
    assert "<b>x" not in response.text and "&lt;b&gt;x" in response.text


async def test_service_text_is_escaped():
    """A published title, description or field name is text on the page, never markup."""
    loan = load_services()["loan-calculator"]
    hostile = dataclasses.replace(
        loan,
        title=HOSTILE,
        description=HOSTILE,
        inputs=(dataclasses.replace(loan.inputs[0], title=HOSTILE, description=HOSTILE), *loan.inputs[1:]),
        outputs=(dataclasses.replace(loan.outputs[0], title=HOSTILE), *loan.outputs[1:]),
    )
    reference = await create_reference(ReferenceConfig(warm_up=False), services={hostile.id: hostile})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=reference.app), base_url="http://x") as http:
        response = await http.get(f"/services/{hostile.id}")
    await reference.aclose()
    assert response.status_code == 200
    assert "<script>" not in response.text
    # <title>, heading, description, an input's title and description, an output's title.
    assert response.text.count("&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&amp;&#34;&#39;") == 6
    assert _element(response.text, "service-description") == HOSTILE
