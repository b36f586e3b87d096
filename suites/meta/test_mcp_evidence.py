"""Evidence of the MCP checks that drive the SDK client (httpx2), and ``--mcp-revision``, through certify.

The fake target (``conftest.py``) gives two deployments that fail the MCP handshake: ``/broken``
answers every MCP request with HTTP 500 and a JSON body, ``/wrong-mcp`` answers in SSE, as the
reference does, with a revision nobody offered. Both echo the caller's credential, so the report
must mask it in the body as well as in the request header.
"""

from __future__ import annotations

import json

import pytest

from .conftest import SECRET_ADMIN_TOKEN, SECRET_MCP_TOKEN, SECRET_QUOTE_TOKEN, Certified, FakeTarget, certify
from .test_certify import validate
from .test_certify_targets import assert_no_secret

FAKE_SECRETS = (SECRET_QUOTE_TOKEN, SECRET_MCP_TOKEN, SECRET_ADMIN_TOKEN)
HANDSHAKE = "test_handshake_at_each_revision"


def run_handshake(fake: FakeTarget, tmp_path, prefix: str, *revisions: str, workers: int | None = None) -> Certified:
    target = fake.target_file(tmp_path, prefix=prefix, claims='["claude-desktop"]')
    chosen = [arg for revision in revisions for arg in ("--mcp-revision", revision)]
    options = ["--option", "claude-desktop", *chosen, "-k", HANDSHAKE]
    if workers is not None:
        options += ["--workers", str(workers)]
    return certify(tmp_path / "reports", "--target", str(target), *options)


@pytest.fixture(scope="module")
def wrong_mcp_run(fake_target, tmp_path_factory) -> Certified:
    """The SSE deployment at two revisions, its checks in pytest-xdist workers (certify's default for a
    live target): the evidence is recorded in the workers and travels with their reports."""
    return run_handshake(fake_target, tmp_path_factory.mktemp("wrong-mcp"), "/wrong-mcp", "2025-06-18", "2026-07-28")


def handshake_check(run: Certified) -> dict:
    """MCP-HTTP-001, a policy (every revision the SDK offers): its failure is a warning, and the narrowed
    run is incomplete (exit 3)."""
    assert run.returncode == 3, f"{run.stdout[-2000:]}\n{run.stderr[-2000:]}"
    report = run.json()
    validate(report)
    assert report["options"]["claude-desktop"] == "incomplete"
    check = next(c for c in report["checks"] if c["id"] == "MCP-HTTP-001")
    assert check["policy"] and check["outcome"] == "warning", check
    return check


def jsonrpc(body: str) -> dict:
    """The JSON-RPC message of a request body, or of the first SSE event of a response body."""
    if body.startswith(("event:", "data:")):
        body = next(line[5:] for line in body.splitlines() if line.startswith("data:"))
    return json.loads(body)


def test_sdk_check_failing_on_http_500_shows_its_json_rpc_request(fake_target, tmp_path):
    """One check at a time (--workers 0): the plugin reads the evidence from its own recorder."""
    run = run_handshake(fake_target, tmp_path, "/broken", "2025-06-18", workers=0)
    assert run.json()["run"]["workers"] == 0
    check = handshake_check(run)
    assert check["evidence"], check
    quote = [e for e in check["evidence"] if "[quote-2025-06-18]" in e["test"]]
    assert quote, [e["test"] for e in check["evidence"]]
    exchange = quote[0]
    request = exchange["request"]
    assert request["method"] == "POST" and request["url"].endswith("/broken/api/mcp/services/quote")
    assert request["headers"]["authorization"] == "Bearer svc_tk_…(masked)"
    message = jsonrpc(request["body"])
    assert message["method"] == "initialize" and message["params"]["protocolVersion"] == "2025-06-18"
    assert exchange["response"]["status"] == 500
    assert "svc_tk_…(masked)" in exchange["response"]["body"], "the echoed token is masked in the body"
    assert_no_secret(run, FAKE_SECRETS)


def test_sdk_check_failing_on_an_sse_answer_shows_the_events_it_read(wrong_mcp_run):
    """The SDK reads SSE answers event by event and keeps no body: the evidence shows what it read."""
    run = wrong_mcp_run
    assert run.json()["run"]["workers"] == 4
    check = handshake_check(run)
    assert "offered 2025-06-18, the server answered 1999-01-01" in check["reason"], check["reason"]
    # Per test: the POST that failed the handshake, then the SDK's DELETE of the session it was given.
    posts = {e["test"].rsplit("::", 1)[-1]: e for e in check["evidence"] if e["request"]["method"] == "POST"}
    exchange = posts.get(f"{HANDSHAKE}[quote-2025-06-18]")
    assert exchange is not None, sorted(posts)
    assert exchange["request"]["headers"]["authorization"] == "Bearer svc_tk_…(masked)"
    assert jsonrpc(exchange["request"]["body"])["method"] == "initialize"
    response = exchange["response"]
    assert response["status"] == 200 and response["headers"]["content-type"].startswith("text/event-stream")
    answer = jsonrpc(response["body"])
    assert answer["result"]["protocolVersion"] == "1999-01-01"
    assert answer["result"]["instructions"] == "you sent Bearer svc_tk_…(masked)"
    # 2026-07-28 opens with server/discover, answered -32601: that exchange is there too.
    modern = [e for e in posts.values() if e["test"].endswith("-2026-07-28]")]
    assert modern and jsonrpc(modern[-1]["request"]["body"])["method"] == "server/discover", modern
    assert jsonrpc(modern[-1]["response"]["body"])["error"]["code"] == -32601
    assert_no_secret(run, FAKE_SECRETS)


def test_mcp_revision_selects_the_revisions_checked(wrong_mcp_run):
    report = wrong_mcp_run.json()
    assert report["run"]["mcp_revisions"] == ["2025-06-18", "2026-07-28"]
    check = next(c for c in report["checks"] if c["id"] == "MCP-HTTP-001")
    # Two services at the two selected revisions fail; the three other revisions are not run.
    assert check["reason"].endswith("(4 of 10 tests failed)"), check["reason"]
    tests = {e["test"] for e in check["evidence"]}
    assert all(t.endswith(("-2025-06-18]", "-2026-07-28]")) for t in tests), tests


def test_unknown_revision_is_one_line_and_exit_2(tmp_path):
    run = certify(tmp_path / "reports", "--in-process", "--mcp-revision", "2025-11-25", "--mcp-revision", "gopher")
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert run.returncode == 2 and len(lines) == 1, run.stderr
    assert lines[0].startswith("error: unknown MCP revision gopher (known: 2024-11-05, "), lines[0]
    assert not (tmp_path / "reports" / "report.json").exists()
