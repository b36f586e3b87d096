"""The target file's OAuth parts: ``[mcp_tokens]``, ``[oauth]``, ``[admin]`` (read, written, masked)."""

from __future__ import annotations

import pytest

from spreadapi_conformance.target import (
    DEFAULT_PATHS,
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
        ("[oauth]\ncode_lifetime_seconds = 0", "oauth.code_lifetime_seconds must be a positive number"),
        ('[oauth]\ncode_lifetime_seconds = "600"', "oauth.code_lifetime_seconds must be a positive number"),
        ("[oauth]\ncode_lifetime_seconds = true", "oauth.code_lifetime_seconds must be a positive number"),
        ("admin = 1", r"\[admin\] must be a table"),
    ],
)
def test_malformed_oauth_parts_are_one_clear_error(tmp_path, text, message):
    path = tmp_path / "t.toml"
    path.write_text('base_url = "https://staging.example.test"\n' + text + "\n")
    with pytest.raises(TargetError, match=message):
        load_target(path)


def test_oauth_client_id_and_consent_are_read_and_written(tmp_path):
    path = tmp_path / "t.toml"
    oauth = OAuthSpec(registration=False, redirect_uri=LOOPBACK_REDIRECT_URI, client_id="pre-1", consent="manual")
    write_target(path, "http://127.0.0.1:1", [], oauth=oauth)
    assert load_target(path).oauth == oauth
    write_target(path, "http://127.0.0.1:1", [], oauth=OAuthSpec())
    assert "consent" not in path.read_text() and load_target(path).oauth.consent == "form"


def test_code_lifetime_is_read_and_written(tmp_path):
    path = tmp_path / "t.toml"
    write_target(path, "http://127.0.0.1:1", [], oauth=OAuthSpec(code_lifetime=10.0))
    assert "code_lifetime_seconds = 10.0" in path.read_text() and load_target(path).oauth.code_lifetime == 10.0
    write_target(path, "http://127.0.0.1:1", [], oauth=OAuthSpec())
    assert "code_lifetime" not in path.read_text() and load_target(path).oauth.code_lifetime is None


def test_the_embedded_reference_states_its_short_code_lifetime():
    from spreadapi_conformance.embedded import EMBEDDED_CODE_LIFETIME, in_process_reference

    spec, app = in_process_reference()
    assert spec.oauth.code_lifetime == EMBEDDED_CODE_LIFETIME == app.state.oauth_codes.lifetime


def test_paths_default_to_the_seeds_and_can_be_overridden(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text('base_url = "https://staging.example.test"\n')
    assert load_target(path).paths == DEFAULT_PATHS
    path.write_text(
        'base_url = "https://staging.example.test"\n'
        '[paths]\nsingle_service_mcp = "/api/mcp/service/{id}"\nmcp = "/mcp/"\n'
    )
    paths = load_target(path).paths
    assert paths["single_service_mcp"] == "/api/mcp/service/{id}" and paths["mcp"] == "/mcp"
    assert paths["execute"] == DEFAULT_PATHS["execute"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[oauth]\nconsent = "browser"', "oauth.consent must be one of form, auto, login, json, manual"),
        ('[oauth]\nconsent = "json"', "needs oauth.consent_endpoint"),
        ('[oauth]\nconsent = "login"', r"needs an \[oauth.login\] table"),
        ('[oauth]\nconsent_endpoint = "api/x"', "consent_endpoint must be a path or an http"),
        ('[credentials]\ngopher = "x"', "unknown endpoints gopher"),
        ('[credentials]\nsingle_service_mcp = "tok-123456"', "needs a fixed"),
        ('mcp_revisions = "2025-11-25"', "mcp_revisions must be a list"),
        ("[oauth]\nclient_id = 5", "oauth.client_id must be a non-empty string"),
        ("paths = 1", r"\[paths\] must be a table"),
        ('[paths]\nexecutes = "/x/{id}"', "unknown endpoints executes"),
        ('[paths]\nexecute = "api/{id}"', "paths.execute must be a path starting with /"),
        ('[paths]\nexecute = "/api/run"', r"paths.execute must contain \{id\}"),
        ('[paths]\nmcp = "/api/{id}/mcp"', r"paths.mcp takes no \{id\}"),
        ('[paths]\nopenapi = "/api/{id}/{name}.json"', "may hold no placeholder but"),
        ('[paths]\nmcp = "/api/mcp?x=1"', "no query"),
    ],
)
def test_malformed_paths_and_consent_are_one_clear_error(tmp_path, text, message):
    path = tmp_path / "t.toml"
    path.write_text('base_url = "https://staging.example.test"\n' + text + "\n")
    with pytest.raises(TargetError, match=message):
        load_target(path)
