"""The user's part of an OAuth authorization, played over HTTP as the target file says it works.

A connector (ChatGPT) sends the user's browser to the authorization endpoint; what happens there differs
between deployments, and the target file's ``[oauth] consent`` names it (:func:`authorize` dispatches):

- ``form`` (SpreadAPI's consent page, the reference's): the page's POST form, its hidden fields, the
  credential the user pastes (an MCP token for ``/api/mcp``, a service token for a private service) and
  ``action=approve``, sent with the headers a browser sends on a same-origin form post (:func:`approve`);
- ``auto``: the authorization endpoint redirects straight back with a code (no user interface at all);
- ``login``: a login page (and maybe a consent page after it): each POST form met on the way is submitted
  with its hidden fields and the ``[oauth.login]`` fields it has, redirects within the trusted origins are
  followed with the client's cookies, until the redirect back to the client;
- ``json``: a single-page consent that posts the authorization request and the pasted credential as JSON to
  ``consent_endpoint``, which answers the code (SpreadAPI's public code does this); the page's script, not
  the server, then navigates, so the redirect's ``state`` and ``iss`` are not the server's to judge.

The answer is an :class:`Authorized`: the redirect back to the client, carrying the code (or an error). A
consent UI that does not behave as the file says raises :class:`ConsentError`, an AssertionError: the
deployment (or its target file) is at fault, not the kit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx

REDIRECTS = (301, 302, 303, 307, 308)
STEPS = 8  # pages a login flow may pass through before the redirect back to the client


class ConsentError(AssertionError):
    """The consent UI could not be used as the target file says; the message says why."""


@dataclass
class Authorized:
    location: str  # the redirect back to the client (absolute), with the code or an error in its query
    response: httpx.Response  # the answer that carried it
    by_server: bool = True  # False: the consent page's script built it (json), not the authorization server


def _excerpt(response: httpx.Response, size: int = 300) -> str:
    return f"HTTP {response.status_code} {response.headers.get('content-type', '')!r} body={response.text[:size]!r}"


class _Forms(HTMLParser):
    """The forms of a page: action, method, hidden fields (name -> value), every field name, and the first
    named submit button."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            form = {"action": values.get("action", ""), "method": values.get("method", "get"), "fields": {}}
            self.forms.append({**form, "names": set(), "submit": None})
            return
        if not self.forms or tag not in ("input", "button", "select", "textarea"):
            return
        form, name, kind = self.forms[-1], values.get("name"), values.get("type", "text" if tag == "input" else "")
        if not name:
            return
        form["names"].add(name)
        if tag == "input" and kind == "hidden":
            form["fields"][name] = values.get("value", "")
        elif kind == "submit" and form["submit"] is None:
            form["submit"] = (name, values.get("value", ""))


def _post_forms(page: httpx.Response) -> list[dict[str, Any]]:
    parser = _Forms()
    parser.feed(page.text)
    return [f for f in parser.forms if f["method"].lower() == "post"]


def consent_form(page: httpx.Response) -> tuple[str, dict[str, str]]:
    """(absolute action URL, hidden fields) of the consent page's POST form."""
    posts = _post_forms(page)
    if not posts:
        raise ConsentError(f"the consent page has no POST form: {_excerpt(page)}")
    form = next((f for f in posts if "client_id" in f["fields"]), posts[0])
    return urljoin(str(page.url), form["action"] or str(page.url)), form["fields"]


def same_origin_headers(url: str) -> dict[str, str]:
    """The headers a browser sends with a form post to a page's own origin."""
    return {"Origin": "{0.scheme}://{0.netloc}".format(urlsplit(url)), "Sec-Fetch-Site": "same-origin"}


async def approve(
    client: httpx.AsyncClient, authorize_url: str, params: dict[str, str] | None, credentials: dict[str, str]
) -> httpx.Response:
    """Open the consent page (``authorize_url`` with ``params``, or a complete authorization URL) and post
    its form with the pasted ``credentials`` and ``action=approve``; the answer (a redirect, normally)."""
    page = await client.get(authorize_url, params=params)
    if page.status_code != 200:
        raise ConsentError(f"the consent page: {_excerpt(page)}")
    action, fields = consent_form(page)
    data = {**fields, **credentials, "action": "approve"}
    return await client.post(action, data=data, headers=same_origin_headers(action))


def _returns_to(location: str, redirect_uri: str) -> bool:
    a, b = urlsplit(location), urlsplit(redirect_uri)
    return (a.scheme, a.netloc, a.path) == (b.scheme, b.netloc, b.path)


def _redirect(response: httpx.Response, what: str) -> str:
    if response.status_code not in REDIRECTS or not response.headers.get("location"):
        raise ConsentError(f"{what}: expected a redirect back to the client, got {_excerpt(response)}")
    return urljoin(str(response.url), response.headers["location"])


async def authorize(
    client: httpx.AsyncClient,
    authorize_url: str,
    params: dict[str, str] | None,
    credentials: dict[str, str],
    *,
    mode: str,
    redirect_uri: str,
    login: dict[str, str] | None = None,
    consent_endpoint: str | None = None,
    trusted: Callable[[str], bool] = lambda url: True,
) -> Authorized:
    """Play the user's part of one authorization request in ``mode`` (the target file's ``[oauth] consent``);
    ``params`` None: ``authorize_url`` is the whole authorization URL (as an OAuth client library builds it)."""
    if mode == "form":
        response = await approve(client, authorize_url, params, credentials)
        return Authorized(_redirect(response, "approving the consent"), response)
    if mode == "auto":
        response = await client.get(authorize_url, params=params)
        return Authorized(_redirect(response, "the authorization endpoint (consent = auto)"), response)
    if mode == "json":
        request = (
            params if params is not None else {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
        )
        return await _json_consent(client, consent_endpoint or "", request, credentials, redirect_uri)
    if mode == "login":
        return await _login(client, authorize_url, params, credentials, login or {}, redirect_uri, trusted)
    raise ValueError(f"no automated consent in mode {mode!r}")


PASTING = ("form", "json")  # the consent modes in which the user pastes credentials the deployment judges


async def code_for_paste(
    client: httpx.AsyncClient,
    authorize_url: str,
    params: dict[str, str],
    credentials: dict[str, str],
    *,
    mode: str,
    redirect_uri: str,
    consent_endpoint: str | None = None,
) -> tuple[str | None, httpx.Response]:
    """Paste ``credentials`` and approve, as a user would (``mode`` one of :data:`PASTING`): the code the
    deployment issued for them, or None when it issued none (it refused them), and the answer that said so.
    Unlike :func:`authorize`, a refusal is an outcome here, not a :class:`ConsentError`."""
    if mode == "form":
        response = await approve(client, authorize_url, params, credentials)
        location = response.headers.get("location", "") if response.status_code in REDIRECTS else ""
        location = urljoin(str(response.url), location) if location else ""
        if not _returns_to(location, redirect_uri):
            return None, response
        return parse_qs(urlsplit(location).query).get("code", [None])[0], response
    if mode == "json":
        response = await client.post(consent_endpoint or "", json={**params, **credentials})
        try:
            body = response.json() if response.status_code == 200 else None
        except ValueError:
            body = None
        code = body.get("code") if isinstance(body, dict) and isinstance(body.get("code"), str) else None
        return code, response
    raise ValueError(f"the user pastes nothing in consent mode {mode!r}")


async def _json_consent(
    client: httpx.AsyncClient, endpoint: str, params: dict[str, str], credentials: dict[str, str], redirect_uri: str
) -> Authorized:
    response = await client.post(endpoint, json={**params, **credentials})
    if response.status_code != 200:
        raise ConsentError(f"the consent endpoint {endpoint}: {_excerpt(response)}")
    try:
        body = response.json()
    except ValueError:
        raise ConsentError(f"the consent endpoint answered no JSON: {_excerpt(response)}") from None
    if not isinstance(body, dict) or not isinstance(body.get("code"), str):
        raise ConsentError(f"the consent endpoint answered no code: {_excerpt(response)}")
    target = body.get("redirect_to") if isinstance(body.get("redirect_to"), str) else None
    if target is None:
        query = {"code": body["code"], **({"state": params["state"]} if params.get("state") else {})}
        target = f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{urlencode(query)}"
    return Authorized(target, response, by_server=False)


async def _login(
    client: httpx.AsyncClient,
    authorize_url: str,
    params: dict[str, str] | None,
    credentials: dict[str, str],
    login: dict[str, str],
    redirect_uri: str,
    trusted: Callable[[str], bool],
) -> Authorized:
    response = await client.get(authorize_url, params=params)
    for _ in range(STEPS):
        if response.status_code in REDIRECTS:
            location = _redirect(response, "the login flow")
            if _returns_to(location, redirect_uri):
                return Authorized(location, response)
            if not trusted(location):
                raise ConsentError(f"the login flow led to {location!r}, an origin the target file does not trust")
            response = await client.get(location)
            continue
        forms = _post_forms(response) if response.status_code == 200 else []
        if not forms:
            raise ConsentError(f"the login flow stopped at a page with no POST form: {_excerpt(response)}")
        form = forms[0]
        action = urljoin(str(response.url), form["action"] or str(response.url))
        data = dict(form["fields"])
        data.update({name: value for name, value in {**login, **credentials}.items() if name in form["names"]})
        if form["submit"] is not None:
            data.setdefault(*form["submit"])
        response = await client.post(action, data=data, headers=same_origin_headers(action))
    raise ConsentError(f"the login flow did not return to the client within {STEPS} pages: {_excerpt(response)}")
