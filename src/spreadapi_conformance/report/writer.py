"""report.json, junit.xml (pytest's, masked) and report.html (one self-contained page) from a run.

Every file is masked twice: the data as it is built (evidence and reasons are masked by the plugin, the
rest here), then the written text is searched for any secret or token that slipped through and masked
again, so a report file never holds a credential whatever a check printed.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..catalog import AREAS, OPTIONS, area_order, load_catalog
from .masking import Masker
from .plugin import CheckResult

OUTCOMES = ("passed", "failed", "warning", "error", "not-applicable", "skipped")
# summary keys, as report.json names them
SUMMARY_KEYS = {
    "passed": "passed",
    "failed": "failed",
    "warning": "warnings",
    "error": "errors",
    "not-applicable": "not_applicable",
    "skipped": "skipped",
}
VERDICTS = ("pass", "fail", "incomplete", "not-claimed")


def option_verdicts(
    results: list[CheckResult], requested: Iterable[str], claimed: Iterable[str]
) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """``{option: pass | fail | incomplete | not-claimed}`` for the requested options, and per-option tallies.

    The verdict rests on the entries that decide one (a MUST or MUST NOT of their source, no policy):
    ``fail`` when one of them failed; ``incomplete`` when one of them was not established (not run for a
    reason other than its premise, or its check raised in the kit's own code); ``pass`` otherwise. SHOULD
    failures and policy failures are listed apart and never decide it; a premise that does not hold
    (``not-applicable``) is no failure and no gap."""
    claimed = set(claimed)
    verdicts: dict[str, str] = {}
    details: dict[str, dict[str, Any]] = {}
    for option in requested:
        mine = [r for r in results if option in r.requirement.options]
        deciding = [r for r in mine if r.requirement.decides_verdict]
        tally = {key: sum(r.outcome == outcome for r in mine) for outcome, key in SUMMARY_KEYS.items()}
        details[option] = {
            "description": OPTIONS[option],
            "checks": len(mine),
            **tally,
            "deciding": len(deciding),  # entries whose failure fails the option
            "deciding_run": sum(r.outcome in ("passed", "failed") for r in deciding),
            "deciding_not_applicable": sum(r.outcome == "not-applicable" for r in deciding),
            "must_failures": [r.requirement.id for r in deciding if r.outcome == "failed"],
            "should_failures": [
                r.requirement.id for r in mine if r.outcome == "warning" and r.requirement.policy is None
            ],
            "policy_failures": [r.requirement.id for r in mine if r.outcome == "warning" and r.requirement.policy],
            "not_established": [r.requirement.id for r in deciding if r.outcome in ("skipped", "error")],
        }
        if option not in claimed:
            verdicts[option] = "not-claimed"
        elif details[option]["must_failures"]:
            verdicts[option] = "fail"
        elif details[option]["not_established"]:
            verdicts[option] = "incomplete"
        else:
            verdicts[option] = "pass"
    return verdicts, details


def build_report(
    results: list[CheckResult],
    *,
    target: dict[str, Any],
    requested: list[str],
    claimed: list[str],
    run: dict[str, Any],
    unmapped: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    verdicts, details = option_verdicts(results, requested, claimed)
    summary = {key: sum(r.outcome == outcome for r in results) for outcome, key in SUMMARY_KEYS.items()}
    checks = [
        {
            "id": r.requirement.id,
            "title": r.requirement.title,
            "level": r.requirement.level,
            "policy": r.requirement.policy,
            "decides_verdict": r.requirement.decides_verdict,
            "options": list(r.requirement.options),
            "area": r.requirement.area,
            "source": r.requirement.source,
            "outcome": r.outcome,
            "reason": r.reason,
            "evidence": r.evidence,
            "tests": r.tests,
            **({"measured": r.measured} if r.measured else {}),
            **({"traceback": r.traceback} if r.traceback else {}),
        }
        for r in results
    ]
    report: dict[str, Any] = {
        "target": target,
        "summary": summary,
        "options": verdicts,
        "option_details": details,
        "checks": checks,
        "run": run,
    }
    if unmapped:
        report["unmapped_tests"] = unmapped
    return report


def _write_masked(path: Path, text: str, masker: Masker) -> None:
    path.write_text(masker.text(text), encoding="utf-8")


def write_json(report: dict[str, Any], path: Path, masker: Masker) -> None:
    _write_masked(path, json.dumps(masker.obj(report), indent=2, ensure_ascii=False) + "\n", masker)


def mask_junit(path: Path, masker: Masker) -> None:
    """Mask pytest's junit.xml in place; drop the base64 hypothesis statistics, which no text search sees into."""
    if not path.exists():
        return
    try:
        tree = ET.parse(path)
    except ET.ParseError:  # not XML (pytest stopped half-way): mask the text as it is
        _write_masked(path, path.read_text(encoding="utf-8", errors="replace"), masker)
        return
    for element in tree.iter():
        for properties in element.findall("properties"):
            for prop in list(properties):
                if prop.get("name", "").startswith("hypothesis-statistics"):
                    properties.remove(prop)
            if len(properties) == 0:
                element.remove(properties)
        for key, value in element.attrib.items():
            element.set(key, masker.text(value))
        if element.text:
            element.text = masker.text(element.text)
        if element.tail:
            element.tail = masker.text(element.tail)
    tree.write(path, encoding="utf-8", xml_declaration=True)
    _write_masked(path, path.read_text(encoding="utf-8"), masker)


def render_html(report: dict[str, Any]) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("spreadapi_conformance.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["tojson_pretty"] = lambda value: json.dumps(value, indent=2, ensure_ascii=False)
    catalog = load_catalog()
    by_area: dict[str, list[dict[str, Any]]] = {}
    for check in sorted(report["checks"], key=lambda c: area_order(catalog[c["id"]]) if c["id"] in catalog else (99,)):
        by_area.setdefault(check["area"], []).append(check)
    names = [a for a in AREAS if a in by_area] + [a for a in by_area if a not in AREAS]
    areas = [(name, AREAS.get(name, name), by_area[name]) for name in names]
    return env.get_template("report.html.j2").render(
        report=report, areas=areas, option_descriptions=OPTIONS, outcomes=OUTCOMES
    )


def write_reports(report: dict[str, Any], report_dir: Path, masker: Masker) -> dict[str, Path]:
    """Write report.json and report.html, mask junit.xml (already written by pytest there)."""
    report_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": report_dir / "report.json",
        "junit": report_dir / "junit.xml",
        "html": report_dir / "report.html",
    }
    masked = masker.obj(report)
    write_json(masked, paths["json"], masker)
    mask_junit(paths["junit"], masker)
    _write_masked(paths["html"], render_html(masked), masker)
    return paths
