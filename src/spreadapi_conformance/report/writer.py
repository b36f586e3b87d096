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

OUTCOMES = ("passed", "failed", "warning", "skipped")
TALLY_KEYS = {"passed": "passed", "failed": "failed", "warning": "warnings", "skipped": "skipped"}  # as in summary


def option_verdicts(
    results: list[CheckResult], requested: Iterable[str], claimed: Iterable[str]
) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """``{option: pass | fail | not-claimed}`` for the requested options, and per-option tallies.

    An option passes when none of its MUST checks failed: skipped checks do not fail it (the report
    lists them), failed SHOULD checks are warnings."""
    claimed = set(claimed)
    verdicts: dict[str, str] = {}
    details: dict[str, dict[str, Any]] = {}
    for option in requested:
        mine = [r for r in results if option in r.requirement.options]
        tally = {key: sum(r.outcome == outcome for r in mine) for outcome, key in TALLY_KEYS.items()}
        details[option] = {"description": OPTIONS[option], "checks": len(mine), **tally}
        if option not in claimed:
            verdicts[option] = "not-claimed"
        elif any(r.outcome == "failed" for r in mine):  # "failed" is only ever a MUST
            verdicts[option] = "fail"
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
    summary = {
        "passed": sum(r.outcome == "passed" for r in results),
        "failed": sum(r.outcome == "failed" for r in results),
        "warnings": sum(r.outcome == "warning" for r in results),
        "skipped": sum(r.outcome == "skipped" for r in results),
    }
    checks = [
        {
            "id": r.requirement.id,
            "title": r.requirement.title,
            "level": r.requirement.level,
            "options": list(r.requirement.options),
            "area": r.requirement.area,
            "source": r.requirement.source,
            "outcome": r.outcome,
            "reason": r.reason,
            "evidence": r.evidence,
            "tests": r.tests,
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
