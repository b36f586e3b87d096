"""OAUTH-CONSENT: the consent refuses pasted credentials that grant nothing.

Where the user pastes a credential (``[oauth] consent = "form"`` or ``"json"``, SpreadAPI's consent), the
deployment judges it before it issues a code: a private service's token for Option 2 (behaviour 4.5 step 6,
validated as 1.7 says), MCP tokens for Option 3 (4.9). A code issued for a credential that grants nothing
is an access token for anyone who can type one.

Each check has a control: the same authorization request with the credential the target file gives (or
that the check was just issued) gets a code, so a refusal is due to the credential alone. The credentials a
check needs of its own (revoked, expired, another service's) come from the admin surface (``[admin]``);
without it those checks do not apply. Nothing the target file holds is revoked.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

import pytest

from spreadapi_conformance.consent import REDIRECTS, approve, consent_form, same_origin_headers

from .._admin import Admin
from ..premise import control_failed, not_applicable
from ._support import (
    MULTI,
    Discovered,
    Resource,
    access_token,
    authorization_params,
    control_grant,
    discovered,
    excerpt,
    first_resource,
    grant_for,
    mcp_token,
    oauth_spec,
    obtain_code,
    paste_at_consent,
    pkce,
    redirect_parameters,
    register,
    requested_scope,
    service_token,
    single_service_resource,
)

pytestmark = pytest.mark.conformance
PRIVATE = "quote"  # the fixture service that is private in every target file


def never_issued(prefix: str) -> str:
    """A credential of the right shape that no deployment issued (64 hexadecimal digits after the prefix)."""
    return prefix + secrets.token_hex(32)


async def with_control(client, target, resource: Resource, pasted: dict[str, str] | None = None) -> Discovered:
    """Discovery for ``resource``, and the control: pasting ``pasted`` (default: what the file gives) in the
    same kind of request gets a code."""
    if pasted is None:
        return await control_grant(client, target, resource)
    found = await discovered(client, target, resource)
    try:
        await obtain_code(client, target, found, pasted, **resource.params)
    except AssertionError as exc:
        control_failed(f"pasting a valid credential gets no code either: {exc}")
    return found


async def assert_refused_at_consent(client, target, found, pasted: dict[str, str], what: str, **params) -> None:
    code, answer = await paste_at_consent(client, target, found, pasted, **params)
    assert code is None, f"{what} was pasted and a code was issued: {excerpt(answer)}"


async def test_option3_never_issued_mcp_token_refused(target, client):
    """OAUTH-CONSENT-001 MUST: Option 3: an MCP token of the right shape that was never issued, pasted at the
    consent, gets no code."""
    resource = first_resource(target, MULTI)
    found = await with_control(client, target, resource)
    pasted = {"mcp_tokens": never_issued("spapi_live_")}
    await assert_refused_at_consent(client, target, found, pasted, "an MCP token never issued")


async def test_option3_revoked_mcp_token_refused(target, client):
    """OAUTH-CONSENT-002 MUST: Option 3: an MCP token revoked after it was issued, pasted at the consent,
    gets no code."""
    admin = Admin.of(client, target)
    resource = first_resource(target, MULTI)
    issued = await admin.issue_mcp_token(target.published(PRIVATE).id)
    found = await with_control(client, target, resource, {"mcp_tokens": issued})
    await admin.revoke_mcp_token(issued)
    await assert_refused_at_consent(client, target, found, {"mcp_tokens": issued}, "a revoked MCP token")


async def test_option2_private_service_without_token_refused(target, client):
    """OAUTH-CONSENT-003 MUST: Option 2: authorizing a private service with no service token pasted gets no
    code."""
    resource = single_service_resource(target, PRIVATE)
    found = await with_control(client, target, resource)
    await assert_refused_at_consent(client, target, found, {}, "nothing", **resource.params)


async def test_option2_never_issued_service_token_refused(target, client):
    """OAUTH-CONSENT-004 MUST: Option 2: a service token of the right shape that was never issued gets no
    code for the private service."""
    resource = single_service_resource(target, PRIVATE)
    found = await with_control(client, target, resource)
    pasted = {"service_token": never_issued("svc_tk_")}
    await assert_refused_at_consent(client, target, found, pasted, "a service token never issued", **resource.params)


async def test_option2_other_services_token_refused(target, client):
    """OAUTH-CONSENT-005 MUST: Option 2: a valid token of another service gets no code for the private
    service."""
    admin = Admin.of(client, target)
    resource = single_service_resource(target, PRIVATE)
    other = next((s for s in target.spec.services.values() if s.fixture != PRIVATE), None)
    if other is None:
        control_failed("the target file publishes no service besides the private one")
    found = await with_control(client, target, resource)
    pasted = {"service_token": await admin.issue_service_token(other.id)}
    what = f"a token of {other.id!r}"
    await assert_refused_at_consent(client, target, found, pasted, what, **resource.params)


async def test_option2_expired_service_token_refused(target, client):
    """OAUTH-CONSENT-006 MUST: Option 2: the private service's own token, expired, gets no code."""
    admin = Admin.of(client, target)
    resource = single_service_resource(target, PRIVATE)
    service_id = target.published(PRIVATE).id
    found = await with_control(client, target, resource)
    expired = await admin.issue_service_token(service_id, expires_at=time.time() - 60)
    try:
        pasted = {"service_token": expired}
        await assert_refused_at_consent(client, target, found, pasted, "an expired token", **resource.params)
    finally:
        await admin.revoke_service_token(expired, live=False)


async def test_option2_revoked_service_token_refused(target, client):
    """OAUTH-CONSENT-007 MUST: Option 2: the private service's own token, revoked after it was issued, gets
    no code."""
    admin = Admin.of(client, target)
    resource = single_service_resource(target, PRIVATE)
    issued = await admin.issue_service_token(target.published(PRIVATE).id)
    found = await with_control(client, target, resource, {"service_token": issued})
    await admin.revoke_service_token(issued)
    pasted = {"service_token": issued}
    await assert_refused_at_consent(client, target, found, pasted, "a revoked service token", **resource.params)


async def test_option2_mcp_token_in_place_of_service_token_refused(target, client):
    """OAUTH-CONSENT-008 MUST: Option 2: an MCP token (even one granting the service) pasted as the private
    service's token gets no code."""
    resource = single_service_resource(target, PRIVATE)
    found = await with_control(client, target, resource)
    pasted = {"service_token": mcp_token(target)}
    await assert_refused_at_consent(client, target, found, pasted, "an MCP token", **resource.params)


async def test_option3_service_token_in_place_of_mcp_token_refused(target, client):
    """OAUTH-CONSENT-009 MUST: Option 3: a service token pasted in place of an MCP token gets no code."""
    resource = first_resource(target, MULTI)
    pasted = {"mcp_tokens": service_token(target, PRIVATE) or ""}
    found = await with_control(client, target, resource)
    await assert_refused_at_consent(client, target, found, pasted, "a service token", **resource.params)


async def consent_form_request(client, target) -> tuple[str, dict[str, str], Resource]:
    """(authorization endpoint, a valid authorization request, its resource) for the checks of the consent
    page itself. Premise: the consent is a form page (``consent = "form"``) the kit opens and posts."""
    spec = oauth_spec(target)
    if spec.consent != "form":
        not_applicable(f"the target's consent is {spec.consent!r}: the kit opens no consent page of its own")
    resource = first_resource(target)
    found = await discovered(client, target, resource)
    client_id = await register(client, target, found)
    scope = requested_scope(found)
    params = authorization_params(
        client_id, spec.redirect_uri, pkce()[1], resource=found.endpoint, scope=scope, **resource.params
    )
    return found.endpoint_of("authorization_endpoint"), params, resource


async def consent_page(client, target) -> tuple[Any, dict[str, str], Resource]:
    """(the consent page of a valid authorization request, that request, its resource); not run when a valid
    request shows no consent page."""
    authorize_url, params, resource = await consent_form_request(client, target)
    page = await client.get(authorize_url, params=params)
    if page.status_code != 200:
        control_failed(f"a valid authorization request shows no consent page: {excerpt(page)}")
    return page, params, resource


async def test_consent_page_cannot_be_framed(target, client):
    """OAUTH-CONSENT-010 MUST: the consent page forbids framing by other sites (X-Frame-Options DENY or
    SAMEORIGIN, or Content-Security-Policy frame-ancestors 'none' or 'self'), against clickjacking."""
    page, _params, _resource = await consent_page(client, target)
    frame_options = page.headers.get("x-frame-options", "").strip().upper()
    policy = page.headers.get("content-security-policy", "")
    ancestors = re.search(r"frame-ancestors\s+([^;]*)", policy)
    allowed = ancestors.group(1).split() if ancestors else None
    assert frame_options in ("DENY", "SAMEORIGIN") or (allowed is not None and set(allowed) <= {"'none'", "'self'"}), (
        f"the consent page may be framed: X-Frame-Options {frame_options or 'absent'}, "
        f"Content-Security-Policy {policy or 'absent'!s}"
    )


async def test_consent_post_is_not_answered_307(target, client):
    """OAUTH-CONSENT-011 MUST NOT: the redirect that answers the consent POST (which carries the pasted
    credentials) is not a 307, which would make the browser repost them to the client."""
    authorize_url, params, resource = await consent_form_request(client, target)
    answer = await approve(client, authorize_url, params, resource.pasted)
    assert answer.status_code != 307, f"the consent POST was answered 307: {excerpt(answer)}"


async def test_cross_site_consent_post_issues_no_code(target, client):
    """OAUTH-CONSENT-012 MUST: the consent form posted from another site (the headers a browser sends on a
    cross-site form post: a foreign Origin, Sec-Fetch-Site cross-site) issues no code; the same post from the
    page's own origin does."""
    page, _params, resource = await consent_page(client, target)
    action, fields = consent_form(page)
    data = {**fields, **resource.pasted, "action": "approve"}
    foreign = {"origin": "https://attacker.example", "sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate"}
    answer = await client.post(action, data=data, headers=foreign)
    assert not _code_in(answer), f"a cross-site post of the consent form was answered with a code: {excerpt(answer)}"
    control = await client.post(action, data=data, headers=same_origin_headers(action))
    if not _code_in(control):
        control_failed(f"the same post from the page's own origin gets no code either: {excerpt(control)}")


def _code_in(answer) -> bool:
    location = answer.headers.get("location", "") if answer.status_code in REDIRECTS else ""
    return "code" in redirect_parameters(location)


async def test_deny_redirects_access_denied_with_state(target, client):
    """OAUTH-CONSENT-013 MUST: denying at the consent page redirects to the client with error=access_denied and
    the state the request sent, and no code."""
    page, params, resource = await consent_page(client, target)
    action, fields = consent_form(page)
    denial = _deny_value(page.text)
    # Denied with the credential pasted, as a user who changed their mind would: denying must still issue nothing.
    data = {**fields, **resource.pasted, "action": denial}
    answer = await client.post(action, data=data, headers=same_origin_headers(action))
    location = answer.headers.get("location", "") if answer.status_code in REDIRECTS else ""
    assert location.startswith(params["redirect_uri"]), f"denying did not redirect to the client: {excerpt(answer)}"
    sent = redirect_parameters(location)
    assert "code" not in sent, f"denying issued a code: {location!r}"
    assert sent.get("error") == "access_denied", f"error={sent.get('error')!r}, not access_denied: {location!r}"
    assert sent.get("state") == params["state"], f"state={sent.get('state')!r}, the request sent {params['state']!r}"


def _deny_value(page: str) -> str:
    """The value of the form's deny button (``name="action"``): SpreadAPI's is cancel."""
    for match in re.finditer(r"<button[^>]*>", page, re.IGNORECASE):
        tag = match.group(0)
        name, value = re.search(r'name="([^"]*)"', tag), re.search(r'value="([^"]*)"', tag)
        if name and value and name.group(1) == "action" and value.group(1) not in ("approve", "allow"):
            return value.group(1)
    not_applicable("the consent page has no deny button named action (a value other than approve)")


async def test_option2_access_token_in_place_of_service_token_refused(target, client):
    """OAUTH-CONSENT-014 MUST: Option 2: one of the server's own OAuth access tokens (for this very service)
    pasted as the private service's token gets no code."""
    resource = single_service_resource(target, PRIVATE)
    found = await with_control(client, target, resource)
    issued = await access_token(client, await grant_for(client, target, resource))
    pasted = {"service_token": issued}
    await assert_refused_at_consent(client, target, found, pasted, "an OAuth access token", **resource.params)


async def test_option3_access_token_in_place_of_mcp_token_refused(target, client):
    """OAUTH-CONSENT-015 MUST: Option 3: one of the server's own OAuth access tokens (for /api/mcp) pasted in
    place of an MCP token gets no code."""
    resource = first_resource(target, MULTI)
    found = await with_control(client, target, resource)
    issued = await access_token(client, await grant_for(client, target, resource))
    await assert_refused_at_consent(client, target, found, {"mcp_tokens": issued}, "an OAuth access token")
