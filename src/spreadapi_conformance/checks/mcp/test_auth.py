"""MCP-AUTH: authentication at the MCP endpoints, with nothing but the target file: challenges
(RFC 6750 §3, RFC 9728 §5.1), header-only tokens, a private single-service endpoint, the legacy bridge.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import urljoin

import httpx
import pytest

from ..answers import json_object
from ..premise import not_applicable
from ._support import (
    JSON_RPC_HEADERS,
    MODERN,
    challenge,
    endpoint_credential,
    initialize_message,
    prm_url,
    rest_execute,
    rest_result,
    said,
    service_session,
)

if TYPE_CHECKING:
    from ..target import Target


pytestmark = pytest.mark.conformance


def protected_endpoint(target: Target) -> tuple[str, str | None, str]:
    """``(path, credential, what)`` of a single-service endpoint that needs a credential: the one endpoint
    of a target whose ``[paths]`` gives ``single_service_mcp`` as a fixed path (with ``[credentials]``), else
    the private fixture service's endpoint (with its service token)."""
    fixed = target.spec.paths.get("single_service_mcp") or ""
    if fixed and "{id}" not in fixed:
        return fixed, target.spec.credentials.get("single_service_mcp"), f"the MCP endpoint {fixed}"
    if "quote" not in target.spec.services:
        not_applicable("the target file publishes no private service and names no fixed MCP endpoint")
    service = target.published("quote")
    return target.path("single_service_mcp", id=service.id), service.token, f"the private service {service.id!r}"


async def protected_path(client: httpx.AsyncClient, target: Target) -> str:
    """The protected endpoint's path, after its premise: a fixed endpoint that answers without a credential
    is not protected, and its challenge checks do not apply (a private service must be protected)."""
    path, _credential, what = protected_endpoint(target)
    fixed = "{id}" not in (target.spec.paths.get("single_service_mcp") or "{id}")
    if fixed and (await initialize(client, path)).status_code == 200:
        not_applicable(f"{what} answers without a credential: it is not protected")
    return path


async def credential(client: httpx.AsyncClient, target: Target) -> str:
    """A credential the protected endpoint accepts: the target file's, else an access token obtained through
    its OAuth (premise of the checks that present one)."""
    path, token, what = protected_endpoint(target)
    return await endpoint_credential(client, target, path, token, what)


async def initialize(client: httpx.AsyncClient, path: str, **headers: str) -> httpx.Response:
    return await client.post(path, json=initialize_message(), headers={**JSON_RPC_HEADERS, **headers})


async def check_challenge(client: httpx.AsyncClient, target: Target, response: httpx.Response, path: str) -> None:
    """A 401 with a Bearer challenge that leads to an RFC 9728 document whose resource is exactly this
    endpoint's URL: through its resource_metadata, or (MCP 2025-11-25 on: either way is allowed) through the
    well-known URL, unless the target claims MCP 2025-06-18, where the challenge must name it."""
    assert response.status_code == 401, said(response)
    scheme, params = challenge(response)
    assert scheme.lower() == "bearer", f"the challenge is not Bearer: {response.headers.get('www-authenticate')!r}"
    endpoint = target.base_url.rstrip("/") + path
    location = params.get("resource_metadata")
    if location is None:
        assert "2025-06-18" not in target.spec.mcp_revisions, (
            "the challenge names no resource_metadata, which MCP 2025-06-18 (claimed by the target) requires: "
            f"{response.headers.get('www-authenticate')!r}"
        )
        location = prm_url(target.base_url, path)
    url = urljoin(endpoint, location)
    document = await client.get(url)
    assert document.status_code == 200, f"GET {url}: {said(document)}"
    body = json_object(document)
    assert body.get("resource") == endpoint, f"its resource is {body.get('resource')!r}, the endpoint is {endpoint!r}"


async def test_private_service_with_its_token(mcp_target, client):
    """MCP-AUTH-001 MUST: the private service's endpoint serves the holder of its service token."""
    mcp_target.auth("quote")  # skips when the target file has no token for it
    inputs = {"product": "gizmo", "quantity": 5, "express": "ja"}
    expected = rest_result(await rest_execute(client, mcp_target, "quote", inputs))
    async with service_session(mcp_target, "quote", MODERN) as s:
        result = await s.call_tool("spreadapi_calc", {"inputs": inputs})
    assert rest_result(result.structured_content) == expected


async def test_private_endpoint_challenges_with_its_metadata(mcp_target, client):
    """MCP-AUTH-030 MUST: a protected single-service endpoint without a credential is 401 with a Bearer challenge
    leading to its RFC 9728 document, whose resource is the endpoint's URL: resource_metadata="…" (required at
    MCP 2025-06-18), or from 2025-11-25 on the well-known URL."""
    path = await protected_path(client, mcp_target)
    await check_challenge(client, mcp_target, await initialize(client, path), path)


async def test_oauth_endpoint_challenges_with_its_metadata(mcp_target, client):
    """MCP-AUTH-031 MUST: /api/mcp without a credential is 401 pointing at its protected-resource metadata."""
    path = mcp_target.path("mcp")
    await check_challenge(client, mcp_target, await initialize(client, path), path)


@pytest.mark.parametrize("which", ["single_service_mcp", "mcp"])
async def test_no_credential_no_error_code(mcp_target, client, which):
    """MCP-AUTH-036 SHOULD NOT: a request without any credential gets a challenge without an error code
    (RFC 6750 §3.1: the client may not have known that authentication is needed)."""
    if which == "mcp":
        if "chatgpt-multi-oauth" not in (mcp_target.spec.claims or ("chatgpt-multi-oauth",)):
            not_applicable("the target does not claim Option 3 (/api/mcp)")
        path = mcp_target.path("mcp")
    else:
        path = await protected_path(client, mcp_target)
    response = await initialize(client, path)
    assert response.status_code == 401, said(response)
    params = challenge(response)[1]
    assert "error" not in params, f"no credential was sent, yet the challenge says error={params['error']!r}"


@pytest.mark.parametrize("name", ["access_token", "token"])
async def test_query_string_token_is_not_read(mcp_target, client, name):
    """MCP-AUTH-032 MUST: a valid credential in the query string is ignored: 401 as without one."""
    path = await protected_path(client, mcp_target)
    response = await client.post(
        path, json=initialize_message(), headers=JSON_RPC_HEADERS, params={name: await credential(client, mcp_target)}
    )
    await check_challenge(client, mcp_target, response, path)


async def test_garbage_token_is_401(mcp_target, client):
    """MCP-AUTH-033 MUST: an unknown token on a protected endpoint is 401 with a Bearer challenge."""
    path = await protected_path(client, mcp_target)
    response = await initialize(client, path, authorization="Bearer not-a-real-token")
    assert response.status_code == 401, said(response)
    assert challenge(response)[0].lower() == "bearer", f"no Bearer challenge: {said(response)}"


async def test_garbage_token_is_invalid_token(mcp_target, client):
    """MCP-AUTH-037 SHOULD: the 401 to an unknown token says error="invalid_token" in its challenge."""
    path = await protected_path(client, mcp_target)
    response = await initialize(client, path, authorization="Bearer not-a-real-token")
    assert response.status_code == 401, said(response)
    error = challenge(response)[1].get("error")
    assert error == "invalid_token", f'the challenge says error={error!r}, not "invalid_token"'


@pytest.mark.parametrize("scheme", ["bearer", "BEARER"])
async def test_scheme_is_case_insensitive(mcp_target, client, scheme):
    """MCP-AUTH-034 MUST: "bearer <token>" in any case opens the protected endpoint."""
    path = await protected_path(client, mcp_target)
    response = await initialize(client, path, authorization=f"{scheme} {await credential(client, mcp_target)}")
    assert response.status_code == 200, said(response)


async def test_bridge_without_a_token_is_401(mcp_target, client):
    """MCP-AUTH-035 MUST: the bridge without a credential is 401 with a Bearer challenge."""
    response = await initialize(client, mcp_target.path("bridge_mcp"))
    assert response.status_code == 401, said(response)
    assert challenge(response)[0].lower() == "bearer"


# RFC 6750 §3: the characters each attribute may hold, after its quoted-string is unescaped.
_ERROR_TEXT = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*")
_SCOPE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*")
_URI_REFERENCE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]*")
_ONCE = ("realm", "scope", "error", "error_description", "error_uri")
_AUTH_PARAM = re.compile(r'([A-Za-z_][\w.-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]+))')  # quoted or a token


def challenge_problems(header: str) -> list[str]:
    """What RFC 6750 §3 forbids in one Bearer challenge: an attribute twice, characters outside its set."""
    pairs = [
        (m.group(1).lower(), re.sub(r"\\(.)", r"\1", m.group(2)) if m.group(2) is not None else m.group(3))
        for m in _AUTH_PARAM.finditer(header)
    ]
    problems = [f"{name} appears {n} times" for name in _ONCE if (n := sum(k == name for k, _ in pairs)) > 1]
    for name, value in pairs:
        allowed = {"scope": _SCOPE, "error_uri": _URI_REFERENCE}.get(name, _ERROR_TEXT)
        if name in ("scope", "error", "error_description", "error_uri") and not allowed.fullmatch(value):
            problems.append(f"{name}={value!r} has characters RFC 6750 §3 excludes")
    return problems


async def test_challenges_follow_rfc6750_grammar(mcp_target, client):
    """MCP-AUTH-038 MUST NOT: no Bearer challenge the MCP endpoints send (without a credential, and with an
    unknown one) repeats realm, scope, error, error_description or error_uri, or puts characters RFC 6750 §3
    excludes in them (error_description: printable ASCII without " and \\)."""
    paths = [await protected_path(client, mcp_target)]
    claimed = mcp_target.spec.claims
    if claimed is None or "chatgpt-multi-oauth" in claimed:
        paths.append(mcp_target.path("mcp"))
    if claimed is None or "legacy-bridge" in claimed:
        paths.append(mcp_target.path("bridge_mcp"))
    seen = []
    for path in paths:
        for headers in ({}, {"authorization": "Bearer not-a-real-token"}):
            response = await initialize(client, path, **headers)
            header = response.headers.get("www-authenticate")
            if response.status_code == 401 and header and header.lower().startswith("bearer"):
                seen.append((path, header))
    if not seen:
        not_applicable("no endpoint answered a Bearer challenge to check")
    found = [f"{path}: {problem} ({header})" for path, header in seen for problem in challenge_problems(header)]
    assert not found, "; ".join(found)
