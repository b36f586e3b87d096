"""certify against live targets: a failing one, `serve` (masking), and targets it cannot certify at all."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from spreadapi_conformance.catalog import OPTIONS
from spreadapi_conformance.report.masking import Masker
from spreadapi_conformance.target import load_target

from ..serve.conftest import Served, free_port, start_serve
from .conftest import SECRET_ADMIN_TOKEN, SECRET_MCP_TOKEN, SECRET_QUOTE_TOKEN, Certified, FakeTarget, certify
from .test_certify import validate

REPORT_FILES = ("report.json", "junit.xml", "report.html")
FAKE_SECRETS = (SECRET_QUOTE_TOKEN, SECRET_MCP_TOKEN, SECRET_ADMIN_TOKEN)


def assert_no_secret(run: Certified, secrets: tuple[str, ...] | list[str]) -> None:
    """Search every report file (and what certify printed) for every secret, and for any raw token."""
    for name in REPORT_FILES:
        text = run.file(name).read_text(encoding="utf-8")
        for secret in secrets:
            assert secret not in text, f"{name} holds a secret of the target file"
        assert not Masker().leaks(text), f"{name} holds an unmasked token"
    for secret in secrets:
        assert secret not in run.stdout and secret not in run.stderr


def assert_certified(run: Certified, target_file: Path) -> None:
    """certify exited 0, every option passed, no check failed, and no secret of the target file leaked."""
    assert run.returncode == 0, f"{run.stdout[-3000:]}\n{run.stderr[-2000:]}"
    report = run.json()
    assert report["options"] == dict.fromkeys(OPTIONS, "pass"), report["options"]
    failed = [c["id"] for c in report["checks"] if c["outcome"] == "failed"]
    assert not failed, failed
    assert_no_secret(run, load_target(target_file).secrets())


# -- a target that fails ------------------------------------------------------------------------------


def test_failing_target_fails_with_masked_evidence(broken_run):
    run = broken_run
    assert run.returncode == 1, f"{run.stdout[-2000:]}\n{run.stderr[-2000:]}"
    report = run.json()
    validate(report)
    assert report["options"] == {
        "rest-actions": "fail",
        "chatgpt-single-oauth": "not-claimed",
        "chatgpt-multi-oauth": "not-claimed",
        "claude-desktop": "not-claimed",
        "legacy-bridge": "fail",
    }
    failed = {c["id"]: c for c in report["checks"] if c["outcome"] == "failed"}
    assert "REST-AUTH-010" in failed and "MCP-AUTH-035" in failed, sorted(failed)
    # A valid token is sent and the server answers 500: the evidence shows both, the token masked.
    accepted = failed["REST-AUTH-010"]
    assert "500" in accepted["reason"]
    exchange = accepted["evidence"][-1]
    assert exchange["response"]["status"] == 500
    assert exchange["request"]["headers"]["authorization"] == "Bearer svc_tk_…(masked)"
    assert "svc_tk_…(masked)" in exchange["response"]["body"], "the echoed token is masked in the body too"
    # Checks of unclaimed options are not run, and say so.
    not_run = next(c for c in report["checks"] if c["id"] == "MCP-AUTH-034")  # claude-desktop only
    assert not_run["outcome"] == "skipped" and "claude-desktop (not claimed by the target)" in not_run["reason"]
    assert "Not certified" in run.stdout and "fail" in run.stdout
    assert_no_secret(run, FAKE_SECRETS)


def test_failed_check_in_html_opens_to_evidence_and_source(broken_run):
    html = broken_run.file("report.html").read_text(encoding="utf-8")
    block = html[html.index('id="REST-AUTH-010"') :]
    block = block[: block.index("</details>")]
    assert (
        'data-outcome="failed"' in html[html.index('id="REST-AUTH-010"') - 80 : html.index('id="REST-AUTH-010"') + 80]
    )
    assert "Source" in block and "SpreadAPI behaviour" in block
    assert "HTTP 500" in block and "authorization: Bearer svc_tk_…(masked)" in block


# -- serve over loopback: masking -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    server = start_serve(tmp_path_factory.mktemp("meta-serve"), "--admin-token", "meta-admin-token-0123456789")
    yield server
    server.stop()


def test_serve_writes_every_option_as_claimed(served):
    assert load_target(served.target_file).claims == tuple(OPTIONS)


def rewrite(served: Served, path: Path, transform) -> Path:
    path.write_text(transform(served.target_file.read_text(encoding="utf-8")), encoding="utf-8")
    return path


def test_no_token_from_the_target_file_in_any_report(served, tmp_path):
    """serve's own file, but the private service `quote` declared as published from the loan workbook:
    the loan checks call quote with its token and fail, so the evidence holds authorised requests."""
    secrets = load_target(served.target_file).secrets()
    assert len(secrets) >= 3  # the quote token, MCP tokens, the admin token

    def swap(text: str) -> str:
        text = re.sub(r'\[services\.loan-calculator\]\nfixture = "loan-calculator"\npublic = true\n', "", text)
        return text.replace('[services.quote]\nfixture = "quote"', '[services.quote]\nfixture = "loan-calculator"')

    target = rewrite(served, tmp_path / "swapped.toml", swap)
    assert load_target(target).services["loan-calculator"].id == "quote"
    run = certify(
        tmp_path / "reports", "--target", str(target), "--option", "rest-actions", "-k", "test_golden_post_outputs"
    )
    assert run.returncode == 1, f"{run.stdout[-2000:]}\n{run.stderr[-2000:]}"
    report = run.json()
    golden = next(c for c in report["checks"] if c["id"] == "REST-EXEC-001")
    assert golden["outcome"] == "failed" and golden["evidence"]
    assert golden["evidence"][-1]["request"]["headers"]["authorization"] == "Bearer svc_tk_…(masked)"
    assert_no_secret(run, secrets)


def test_rate_limited_run_against_serve_passes(served, tmp_path):
    """--max-rps reaches the clients of a live target (the pacing itself: test_evidence.py)."""
    run = certify(
        tmp_path / "reports",
        "--target",
        str(served.target_file),
        "--option",
        "rest-actions",
        "-k",
        "test_list and not details",
        "--max-rps",
        "20",
    )
    assert run.returncode == 3, f"{run.stdout[-2000:]}\n{run.stderr[-2000:]}"  # a narrowed run: incomplete
    report = run.json()
    assert report["run"]["max_rps"] == 20 and report["options"]["rest-actions"] == "incomplete"
    listing = {c["id"]: c["outcome"] for c in report["checks"] if c["id"].startswith("REST-LIST-00")}
    assert set(listing.values()) == {"passed"} and len(listing) == 8, listing


# -- targets that cannot be certified ------------------------------------------------------------------


def bad_target_cases(tmp: Path, served: Served, fake: FakeTarget) -> dict[str, tuple[Path, str]]:
    """name -> (target file, a phrase its one-line error must hold)."""

    def write(name: str, text: str) -> Path:
        path = tmp / f"{name}.toml"
        path.write_text(text, encoding="utf-8")
        return path

    text = served.target_file.read_text(encoding="utf-8")
    quote = re.search(r"svc_tk_[0-9a-f]{64}", text).group(0)
    live = re.findall(r"spapi_live_[0-9a-f]{64}", text)
    return {
        "unreachable": (write("unreachable", f'base_url = "http://127.0.0.1:{free_port()}"\n'), "connection refused"),
        "wrong-base-url": (fake.target_file(tmp, prefix="/not-spreadapi"), "404"),
        "expired-service-token": (
            write("expired", text.replace(quote, "svc_tk_" + "0" * 64)),
            "token for service 'quote' is refused",
        ),
        "revoked-mcp-token": (
            write("revoked", text.replace(live[0], "spapi_live_" + "0" * 64)),
            "MCP token",
        ),
        "not-toml": (write("not-toml", 'base_url = "http://x\n[services'), "not valid TOML"),
        "no-base-url": (write("no-base-url", "[services.quote]\npublic = false\n"), "base_url"),
        "unknown-claim": (write("claims", 'base_url = "http://127.0.0.1:9"\nclaims = ["gopher"]\n'), "gopher"),
        "services-not-a-table": (write("services", 'base_url = "http://127.0.0.1:9"\nservices = 5\n'), "services"),
        "unknown-fixture": (
            write("fixture", 'base_url = "http://127.0.0.1:9"\n[services.x]\nfixture = "nope"\n'),
            "fixture",
        ),
        "missing-env-secret": (
            write("env", 'base_url = "http://127.0.0.1:9"\n[services.q]\nfixture = "quote"\ntoken = "env:NOPE_X"\n'),
            "NOPE_X",
        ),
        "no-such-file": (tmp / "does-not-exist.toml", "does not exist"),
    }


CASES = [
    "unreachable",
    "wrong-base-url",
    "expired-service-token",
    "revoked-mcp-token",
    "not-toml",
    "no-base-url",
    "unknown-claim",
    "services-not-a-table",
    "unknown-fixture",
    "missing-env-secret",
    "no-such-file",
]


@pytest.mark.parametrize("case", CASES)
def test_bad_target_is_one_line_and_exit_2(case, served, fake_target, tmp_path):
    path, phrase = bad_target_cases(tmp_path, served, fake_target)[case]
    run = certify(tmp_path / "reports", "--target", str(path), timeout=120)
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert run.returncode == 2, (run.returncode, run.stdout[-1000:], run.stderr[-2000:])
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("error: ") and phrase in lines[0], lines[0]
    assert "Traceback" not in run.stderr + run.stdout
    assert not Masker().leaks(run.stderr) and SECRET_QUOTE_TOKEN not in run.stderr
    assert not (tmp_path / "reports" / "report.json").exists(), "nothing is certified, so no report"


def test_unknown_option_and_both_modes_are_refused(tmp_path):
    for args, phrase in (
        (["--option", "gopher"], "unknown option gopher"),
        (["--in-process", "--target", "x.toml"], "either --target or --in-process"),
        (["--in-process", "--workers", "99"], "--workers must be between 0"),
    ):
        run = certify(tmp_path / "reports", *args, timeout=120)
        assert run.returncode == 2 and phrase in run.stderr and len(run.stderr.strip().splitlines()) == 1, run.stderr


def test_json_consent_mode_certifies_the_oauth_options(served, tmp_path):
    """consent = "json" (a single-page consent that posts JSON, as the public SpreadAPI code's does): the kit
    posts the request and the pasted credential to consent_endpoint and reads the code; the OAuth options pass,
    and the checks of the redirect's state and iss, which the page's script builds, are not applicable."""

    def json_consent(text: str) -> str:
        return text.replace("[oauth]\n", '[oauth]\nconsent = "json"\nconsent_endpoint = "/api/oauth/authorize"\n', 1)

    target = rewrite(served, tmp_path / "json-consent.toml", json_consent)
    assert load_target(target).oauth.consent == "json"
    run = certify(
        tmp_path / "reports",
        "--target",
        str(target),
        "--option",
        "chatgpt-multi-oauth",
        "--option",
        "chatgpt-single-oauth",
    )
    assert run.returncode == 0, f"{run.stdout[-3000:]}\n{run.stderr[-2000:]}"
    checks = {c["id"]: c for c in run.json()["checks"]}
    for rid in ("OAUTH-FLOW-004", "OAUTH-FLOW-005"):
        assert checks[rid]["outcome"] == "not-applicable" and "consent = json" in checks[rid]["reason"], checks[rid]
    for rid in ("OAUTH-FLOW-001", "OAUTH-FLOW-002", "OAUTH-TOKEN-001", "REPLAY-CHATGPT-003"):
        assert checks[rid]["outcome"] == "passed", checks[rid]
