"""certify against the in-process reference: the three report files, their schema, the verdicts."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import jsonschema

from spreadapi_conformance.catalog import OPTIONS, load_catalog
from spreadapi_conformance.report.masking import Masker

SUMMARY = ("passed", "failed", "warnings", "errors", "not_applicable", "skipped")
EXCHANGE = {
    "type": "object",
    "required": ["request", "response"],
    "properties": {
        "test": {"type": "string"},
        "request": {
            "type": "object",
            "required": ["method", "url", "headers", "body"],
            "properties": {"headers": {"type": "object", "additionalProperties": {"type": "string"}}},
        },
        "response": {
            "anyOf": [
                {"type": "null"},
                {"type": "object", "required": ["status", "headers", "body"]},
            ]
        },
    },
}
REPORT_SCHEMA = {
    "type": "object",
    "required": ["target", "summary", "options", "checks"],
    "properties": {
        "target": {"type": "object", "required": ["source", "base_url", "claims"]},
        "summary": {
            "type": "object",
            "required": list(SUMMARY),
            "properties": {k: {"type": "integer", "minimum": 0} for k in SUMMARY},
            "additionalProperties": False,
        },
        "options": {
            "type": "object",
            "propertyNames": {"enum": list(OPTIONS)},
            "additionalProperties": {"enum": ["pass", "fail", "incomplete", "not-claimed"]},
        },
        "checks": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "title", "level", "policy", "options", "outcome", "reason", "evidence"],
                "properties": {
                    "id": {"type": "string", "pattern": r"^[A-Z]+-[A-Z]+-\d{3}$"},
                    "title": {"type": "string", "minLength": 1},
                    "level": {"enum": ["MUST", "MUST NOT", "SHOULD", "SHOULD NOT"]},
                    "policy": {"type": ["string", "null"]},
                    "options": {"type": "array", "minItems": 1, "items": {"enum": list(OPTIONS)}},
                    "outcome": {"enum": ["passed", "failed", "warning", "error", "not-applicable", "skipped"]},
                    "reason": {"type": ["string", "null"]},
                    "evidence": {"type": "array", "items": EXCHANGE},
                    "measured": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
                },
            },
        },
    },
}


def validate(report: dict) -> None:
    jsonschema.validate(report, REPORT_SCHEMA)
    summary = report["summary"]
    assert sum(summary.values()) == len(report["checks"])
    outcomes = [c["outcome"] for c in report["checks"]]
    assert summary["warnings"] == outcomes.count("warning") and summary["failed"] == outcomes.count("failed")


def test_in_process_certify_passes_and_writes_three_files(certify_in_process):
    run = certify_in_process
    assert run.returncode == 0, f"{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    for name in ("report.json", "junit.xml", "report.html"):
        assert run.file(name).stat().st_size > 1000, name
    assert "Certified" in run.stdout and "Traceback" not in run.stderr


def test_report_json_has_the_schema_and_every_catalogue_entry(certify_in_process):
    report = certify_in_process.json()
    validate(report)
    catalog = load_catalog()
    assert [c["id"] for c in report["checks"]] == list(catalog), "one entry per requirement, in catalogue order"
    for check in report["checks"]:
        requirement = catalog[check["id"]]
        assert (check["title"], check["level"], tuple(check["options"])) == (
            requirement.title,
            requirement.level,
            requirement.options,
        )
    assert report["target"]["source"] == "in-process" and report["target"]["claims"] == list(OPTIONS)


def test_in_process_verdicts_are_all_pass(certify_in_process):
    report = certify_in_process.json()
    assert report["options"] == dict.fromkeys(OPTIONS, "pass")
    assert report["summary"]["failed"] == 0 and report["summary"]["warnings"] == 0
    skipped = [c for c in report["checks"] if c["outcome"] == "skipped"]
    assert all(c["reason"] for c in skipped), "every skipped check says why"
    for option in OPTIONS:  # the verdict table is printed
        assert option in certify_in_process.stdout


def test_junit_is_pytests_without_hypothesis_blobs(certify_in_process):
    root = ET.parse(certify_in_process.file("junit.xml")).getroot()
    cases = root.findall(".//testcase")
    assert len(cases) > 400
    assert not [p for p in root.iter("property") if p.get("name", "").startswith("hypothesis-statistics")]


def test_no_token_in_any_in_process_report(certify_in_process):
    for name in ("report.json", "junit.xml", "report.html"):
        text = certify_in_process.file(name).read_text(encoding="utf-8")
        assert not Masker().leaks(text), name


def test_html_carries_the_verdicts_and_every_check(certify_in_process):
    html = certify_in_process.file("report.html").read_text(encoding="utf-8")
    for option in OPTIONS:
        assert f'data-option="{option}" data-verdict="pass"' in html
    assert html.count('<details class="check"') == len(load_catalog())
    assert "<script src" not in html and "<link" not in html, "one self-contained page"


def test_a_negative_checks_control_is_a_valid_request_whatever_runs_first(tmp_path):
    """OAUTH-AUTHZ-004 (an unknown client) run alone: its control is a valid request of a registered client,
    so the check runs and passes rather than being skipped for its own fault."""
    from .conftest import certify

    run = certify(tmp_path / "reports", "--in-process", "-k", "test_unknown_client_is_never_redirected")
    check = next(c for c in run.json()["checks"] if c["id"] == "OAUTH-AUTHZ-004")
    assert check["outcome"] == "passed", check
