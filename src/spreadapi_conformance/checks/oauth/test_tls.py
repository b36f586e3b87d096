"""OAUTH-TLS: the authorization server's endpoints are served over TLS.

RFC 6749 requires TLS for the authorization, token and end-user endpoints (§3.1, §3.2, §10.9, §10.11), RFC 7591
for registration (§3) and the MCP authorization specification for every authorization-server endpoint. From
outside that shows in the URLs the deployment publishes: its metadata, which is what a connector follows. A
deployment on a loopback address (a developer's machine, the in-process reference) is exempt: TLS is for the
network between the connector and the server.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import pytest

from ..premise import not_applicable
from ._support import endpoints, oauth_spec

pytestmark = pytest.mark.conformance

ENDPOINTS = ("issuer", "authorization_endpoint", "token_endpoint", "registration_endpoint")


def on_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host in ("localhost", "testserver") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def test_authorization_server_endpoints_are_https(client, target):
    """OAUTH-TLS-001 MUST: a deployment not on a loopback address publishes https URLs for its issuer and its
    authorization, token and registration endpoints, and for the protected resource it names."""
    oauth_spec(target)
    if on_loopback(target.base_url):
        not_applicable(f"the target {target.base_url} is on a loopback address: TLS protects the network beyond it")
    found = await endpoints(client, target)
    published = {name: found.metadata.get(name) for name in ENDPOINTS if found.metadata.get(name)}
    published["resource"] = found.resource.get("resource")
    plain = {name: url for name, url in published.items() if isinstance(url, str) and not url.startswith("https://")}
    assert not plain, "served without TLS: " + ", ".join(f"{name} {url}" for name, url in plain.items())
