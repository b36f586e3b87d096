"""The user's part of an OAuth authorization: open the consent page and submit its form, as a browser does.

A connector (ChatGPT) sends the user's browser to the authorization endpoint; the user pastes a
credential (an MCP token for ``/api/mcp``, a service token for a private service) and approves. The
suites and the notebooks play that user over HTTP: they read the page's POST form (its action and
hidden fields, whatever they are called on the deployment), add the pasted credential and
``action=approve``, and send it with the headers a browser sends on a same-origin form post. The
answer is the redirect back to the client, carrying the code (or an error).
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx


class ConsentError(Exception):
    """The consent page could not be used as a browser would use it; the message says why."""


def _excerpt(response: httpx.Response, size: int = 300) -> str:
    return f"HTTP {response.status_code} {response.headers.get('content-type', '')!r} body={response.text[:size]!r}"


class _Forms(HTMLParser):
    """The forms of a page: action, method and their hidden fields (name -> value)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"action": values.get("action", ""), "method": values.get("method", "get"), "fields": {}})
        elif tag == "input" and self.forms and values.get("type", "text") == "hidden" and values.get("name"):
            self.forms[-1]["fields"][values["name"]] = values.get("value", "")


def consent_form(page: httpx.Response) -> tuple[str, dict[str, str]]:
    """(absolute action URL, hidden fields) of the consent page's POST form."""
    parser = _Forms()
    parser.feed(page.text)
    posts = [f for f in parser.forms if f["method"].lower() == "post"]
    if not posts:
        raise ConsentError(f"the consent page has no POST form: {_excerpt(page)}")
    form = next((f for f in posts if "client_id" in f["fields"]), posts[0])
    return urljoin(str(page.url), form["action"] or str(page.url)), form["fields"]


async def approve(
    client: httpx.AsyncClient, authorize_url: str, params: dict[str, str] | None, credentials: dict[str, str]
) -> httpx.Response:
    """Open the consent page (``authorize_url`` with ``params``, or a complete authorization URL) and post
    its form with the pasted ``credentials`` and ``action=approve``; the answer (a redirect, normally)."""
    page = await client.get(authorize_url, params=params)
    if page.status_code != 200:
        raise ConsentError(f"the consent page: {_excerpt(page)}")
    action, fields = consent_form(page)
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(action))
    data = {**fields, **credentials, "action": "approve"}
    return await client.post(action, data=data, headers={"Origin": origin, "Sec-Fetch-Site": "same-origin"})
