"""The target file's OAuth parts: ``[mcp_tokens]``, ``[oauth]``, ``[admin]`` (read, written, masked)."""

from __future__ import annotations

import pytest

from spreadapi_conformance.target import (
    LOOPBACK_REDIRECT_URI,
    OAuthSpec,
    PublishedService,
    TargetError,
    load_target,
    write_target,
)

MCP = "spapi_live_" + "ab" * 32
ADMIN = "admin-token-0123456789"


def test_written_and_read_back(tmp_path):
    path = tmp_path / "t.toml"
    services = [PublishedService(id="quote", fixture="quote", public=False, token="svc_tk_" + "0" * 64)]
    write_target(path, "http://127.0.0.1:1", services, mcp_tokens={"all": MCP}, oauth=OAuthSpec(), admin_token=ADMIN)
    spec = load_target(path)
    assert spec.mcp_tokens == {"all": MCP}
    assert spec.oauth == OAuthSpec(registration=True, redirect_uri=LOOPBACK_REDIRECT_URI)
    assert spec.admin_token == ADMIN
    assert set(spec.secrets()) == {"svc_tk_" + "0" * 64, MCP, ADMIN}
    assert MCP not in repr(spec) and ADMIN not in repr(spec)


def test_a_deployment_may_leave_the_oauth_parts_out(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text('base_url = "https://staging.example.test"\n')
    spec = load_target(path)
    assert spec.mcp_tokens == {} and spec.oauth is None and spec.admin_token is None


def test_secrets_may_come_from_the_environment(tmp_path, monkeypatch):
    path = tmp_path / "t.toml"
    path.write_text(
        'base_url = "https://staging.example.test"\n'
        '[mcp_tokens]\nall = "env:T_MCP"\n'
        '[oauth]\nregistration = false\nredirect_uri = "https://app.example.test/cb"\n'
        '[admin]\ntoken = "env:T_ADMIN"\n'
    )
    monkeypatch.setenv("T_MCP", MCP)
    monkeypatch.setenv("T_ADMIN", ADMIN)
    spec = load_target(path)
    assert spec.mcp_tokens == {"all": MCP} and spec.admin_token == ADMIN
    assert spec.oauth == OAuthSpec(registration=False, redirect_uri="https://app.example.test/cb")
    monkeypatch.delenv("T_ADMIN")
    with pytest.raises(TargetError, match=r"admin\.token refers to the environment variable T_ADMIN"):
        load_target(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("mcp_tokens = 5", r"\[mcp_tokens\] must be a table"),
        ("[mcp_tokens]\nall = 5", "mcp_tokens.all must be a string"),
        ('[oauth]\nregistration = "yes"', "oauth.registration must be true or false"),
        ('[oauth]\nredirect_uri = "ftp://x"', "oauth.redirect_uri must be an http"),
        ("admin = 1", r"\[admin\] must be a table"),
    ],
)
def test_malformed_oauth_parts_are_one_clear_error(tmp_path, text, message):
    path = tmp_path / "t.toml"
    path.write_text('base_url = "https://staging.example.test"\n' + text + "\n")
    with pytest.raises(TargetError, match=message):
        load_target(path)
