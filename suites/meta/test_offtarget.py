"""No credential leaves the target (spreadapi_conformance.offtarget).

A deployment whose OpenAPI ``servers`` URL and listing endpoints name another host (here another loopback
port, where a recorder listens) is certified: the checks that would follow those URLs fail and say why,
and the recorder receives no request carrying a credential. The guard under the checks is tested on its
own: what it refuses (a target secret in a header, the URL, a JSON or form body; any Authorization or Cookie
header) and what it lets through (the target's origin, the issuer the file names, requests without secrets).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from spreadapi_conformance.offtarget import CredentialGuard, OffTargetRequest, origin
from spreadapi_conformance.target import load_target

from ..serve.conftest import start_serve, uvicorn_thread
from .conftest import certify
from .test_certify_targets import assert_no_secret

SECRET = "svc_tk_" + "ab12" * 16


def test_origin_normalises_scheme_host_and_default_port():
    assert origin("HTTPS://Example.COM/api/v1") == "https://example.com:443"
    assert origin("http://127.0.0.1:8787/x?y=1") == "http://127.0.0.1:8787"
    assert origin("http://[::1]/") == "http://[::1]:80"
    assert origin("/relative/path") == origin("not a url") == origin("http://host:99999/") == ""


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"headers": {"Authorization": f"Bearer {SECRET}"}},
        {"headers": {"authorization": "Bearer oat_issued_mid_run"}},  # any credential header, not only the file's
        {"headers": {"Cookie": "session=1"}},
        {"headers": {"X-Api-Key": SECRET}},
        {"params": {"token": SECRET}},
        {"json": {"inputs": {}, "token": SECRET}},
        {"data": {"mcp_tokens": SECRET, "action": "approve"}},
    ],
    ids=["bearer", "any-authorization", "cookie", "custom-header", "query", "json-body", "form-body"],
)
def test_guard_refuses_a_credential_to_another_origin(request_kwargs):
    guard = CredentialGuard.of(["http://127.0.0.1:8787"], [SECRET])
    request = httpx.Request("POST", "https://production.example.com/api/v1/services/quote/execute", **request_kwargs)
    with pytest.raises(OffTargetRequest, match=r"production\.example\.com:443") as refused:
        guard.check(request)
    assert SECRET not in str(refused.value)


def test_guard_lets_through_the_target_the_issuer_and_requests_without_secrets():
    guard = CredentialGuard.of(["http://127.0.0.1:8787", "https://auth.example.com"], [SECRET])
    bearer = {"Authorization": f"Bearer {SECRET}"}
    guard.check(httpx.Request("POST", "http://127.0.0.1:8787/api/mcp", headers=bearer))
    guard.check(httpx.Request("POST", "https://auth.example.com:443/authorize", data={"mcp_tokens": SECRET}))
    guard.check(httpx.Request("GET", "https://elsewhere.example.com/.well-known/oauth-authorization-server"))
    with pytest.raises(OffTargetRequest):  # same host, another port: another origin
        guard.check(httpx.Request("GET", "http://127.0.0.1:8788/", headers=bearer))


def test_target_spec_trusts_its_base_url_and_named_issuer(tmp_path: Path):
    path = tmp_path / "t.toml"
    path.write_text(
        'base_url = "https://staging.example.com"\n[services.quote]\nfixture = "quote"\npublic = false\n'
        f'token = "{SECRET}"\n[oauth]\nissuer = "https://login.example.com/tenant"\n',
        encoding="utf-8",
    )
    guard = load_target(path).guard()
    assert guard.origins == {"https://staging.example.com:443", "https://login.example.com:443"}
    assert guard.secrets == (SECRET,)


async def test_consent_is_not_posted_to_an_untrusted_authorization_server(target):
    from spreadapi_conformance.checks.oauth._support import Discovered, obtain_code

    endpoint = target.url("mcp")
    found = Discovered(
        endpoint,
        {"resource": endpoint, "authorization_servers": ["https://auth.elsewhere.example"]},
        "https://auth.elsewhere.example",
        {"authorization_endpoint": "https://auth.elsewhere.example/authorize"},
    )
    async with target.client() as client:
        with pytest.raises(pytest.skip.Exception, match="pastes no credential"):
            await obtain_code(client, target, found, {"mcp_tokens": "spapi_live_x"}, client_id="c")


def recorder_app(seen: list[dict[str, str]]):
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def record(request: Request) -> JSONResponse:
        body = (await request.body()).decode("utf-8", errors="replace")
        headers = " ".join(f"{k}: {v}" for k, v in request.headers.items())
        seen.append({"request": f"{request.method} {request.url}", "text": f"{request.url} {headers} {body}"})
        return JSONResponse({"error": "this is not the target"}, status_code=404)

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]
    return Starlette(routes=[Route("/{rest:path}", record, methods=methods)])


def test_documents_pointing_elsewhere_fail_and_nothing_reaches_the_other_host(tmp_path: Path):
    seen: list[dict[str, str]] = []
    with uvicorn_thread(recorder_app(seen), name="recorder") as elsewhere:
        # serve advertises the recorder's origin in its documents and listing, but answers on its own port.
        served = start_serve(tmp_path, "--base-url", elsewhere)
        try:
            spec = served.target
            text = served.target_file.read_text(encoding="utf-8")
            target_file = tmp_path / "served.toml"
            target_file.write_text(text.replace(f'"{elsewhere}"', f'"{served.base_url}"'), encoding="utf-8")
            run = certify(
                tmp_path / "reports",
                "--target",
                str(target_file),
                "--option",
                "rest-actions",
                "-k",
                "openapi or test_actions or test_list or REST-FUZZ",
            )
        finally:
            served.stop()
    report = run.json()
    reasons = {c["id"]: c["reason"] or "" for c in report["checks"]}
    outcomes = {c["id"]: c["outcome"] for c in report["checks"]}
    followed = ["OPENAPI-DOC-005", "OPENAPI-DOC-014", "OPENAPI-DOC-015", "REPLAY-ACTIONS-002", "REST-LIST-002"]
    followed += ["REST-FUZZ-001", "REST-FUZZ-002"]  # the fuzzer sends its cases to the documents' server URL
    for rid in followed:  # failed, or a warning where the entry is a policy: never passed, never an error
        assert outcomes[rid] in ("failed", "warning"), (rid, outcomes[rid], reasons[rid])
        assert "is not on the target's origin" in reasons[rid], (rid, reasons[rid])
    assert not [r for r in reasons.values() if "refused to send" in r], "a check followed a URL it did not judge"
    secrets = spec.secrets()
    carrying = [
        s["request"] for s in seen if "authorization" in s["text"].lower() or any(x in s["text"] for x in secrets)
    ]
    assert not carrying, carrying
    assert_no_secret(run, secrets)
