"""The requirement catalogue and the checks agree: every conformance check names one catalogue entry,
every entry is checked, and the entries themselves are well-formed."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import spreadapi_conformance.checks
from spreadapi_conformance.catalog import (
    AREAS,
    ID_PATTERN,
    LEVELS,
    OPTIONS,
    CatalogError,
    catalog_text,
    docstring_requirement,
    load_catalog,
    parse_catalog,
)

HERE = Path(__file__).resolve().parent
CHECKS = Path(spreadapi_conformance.checks.__file__).resolve().parent


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """Every test of suites/ and every check, collected in a process of its own (as certify collects them)."""
    out = tmp_path_factory.mktemp("collect") / "items.json"
    run = subprocess.run(
        [sys.executable, str(HERE / "_collect.py"), str(out)], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, f"collection failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    return json.loads(out.read_text())["items"]


@pytest.fixture(scope="module")
def conformance(collected: list[dict[str, Any]]) -> list[dict[str, Any]]:
    items = [item for item in collected if item["conformance"]]
    assert len(items) > 100, "suspiciously few conformance tests collected"
    return items


def test_every_conformance_test_names_a_catalogue_entry(conformance):
    catalog = load_catalog()
    unnamed = [i["nodeid"] for i in conformance if i["id"] is None]
    assert not unnamed, f'conformance tests whose docstring starts with no "ID LEVEL:": {unnamed}'
    unknown = sorted({f"{i['id']} ({i['nodeid']})" for i in conformance if i["id"] not in catalog})
    assert not unknown, f"docstring IDs missing from catalog.toml: {unknown}"


def test_docstring_levels_match_the_catalogue(conformance):
    catalog = load_catalog()
    wrong = sorted(
        {
            f"{i['id']}: docstring says {i['level']}, catalogue {catalog[i['id']].level}"
            for i in conformance
            if i["id"] in catalog and i["level"] != catalog[i["id"]].level
        }
    )
    assert not wrong, wrong


def test_every_catalogue_entry_is_checked(conformance):
    used = {i["id"] for i in conformance}
    unused = [rid for rid in load_catalog() if rid not in used]
    assert not unused, f"catalogue entries no conformance test names: {unused}"


def test_one_requirement_per_test_function(conformance):
    """Parametrized variants share their function's ID; two functions never share one."""
    functions: dict[str, set[str]] = {}
    for item in conformance:
        functions.setdefault(item["id"], set()).add(item["nodeid"].split("[")[0])
    shared = {rid: sorted(fns) for rid, fns in functions.items() if len(fns) > 1}
    assert not shared, f"IDs named by more than one test function: {shared}"


def test_catalogue_shaped_ids_only_on_catalogue_checks(collected):
    """A test that is not a conformance check names no ID (a reader would take it for a requirement), and a
    conformance check names one of the catalogue."""
    shaped = sorted({f"{i['id']} ({i['nodeid']})" for i in collected if i["id"] and not i["conformance"]})
    assert not shaped, f"tests of this project's parts whose docstring starts with an ID: {shaped}"


def test_each_check_lives_where_its_id_says(conformance):
    """AREA-GROUP-NNN lives in checks/<area>/test_<group>.py; only checks live under checks/."""

    def home(rid: str) -> Path:
        area, group, _ = [*rid.lower().split("-"), "", "", ""][:3]
        return CHECKS / area / f"test_{group}.py"

    misplaced = sorted(
        {f"{i['id']} in {i['path']}" for i in conformance if i["id"] and Path(i["path"]) != home(i["id"])}
    )
    assert not misplaced, misplaced


def test_checks_folder_holds_only_checks(collected):
    strays = [i["nodeid"] for i in collected if Path(i["path"]).is_relative_to(CHECKS) and not i["conformance"]]
    assert not strays, f"tests under checks/ that are not conformance checks: {strays}"


def test_no_check_imports_the_reference():
    """The checks talk to a target over HTTP and stdio; the reference is reached only through the plugin's
    embedded default (spreadapi_conformance.embedded), never imported by a check or its helpers."""
    offenders = []
    for path in CHECKS.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if re.search(r"^\s*(from|import)\s+(spreadapi_conformance\.reference|\.+reference)\b", text, flags=re.M):
            offenders.append(str(path.relative_to(CHECKS)))
    assert not offenders, offenders


def test_ids_are_unique_and_well_formed():
    headers = re.findall(r"^\[([^\]]+)\]\s*$", catalog_text(), flags=re.M)
    duplicates = [rid for rid, n in Counter(headers).items() if n > 1]
    assert not duplicates, duplicates
    malformed = [rid for rid in headers if not ID_PATTERN.match(rid)]
    assert not malformed, malformed
    assert len(headers) == len(load_catalog())


def test_every_entry_is_complete():
    for requirement in load_catalog().values():
        assert requirement.source.strip(), f"{requirement.id} has no source"
        assert requirement.title.strip() and "\n" not in requirement.title, requirement.id
        assert requirement.options and set(requirement.options) <= set(OPTIONS), requirement.id
        assert requirement.level in LEVELS, requirement.id
        assert requirement.area in AREAS and requirement.id.startswith(requirement.area + "-"), requirement.id


def test_every_option_has_checks():
    covered = Counter(option for r in load_catalog().values() for option in r.options)
    assert set(covered) == set(OPTIONS), f"options without any check: {set(OPTIONS) - set(covered)}"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"REST-X-1": {}}, "AREA-GROUP-NNN"),
        ({"FOO-BAR-001": {}}, "unknown area"),
        ({"REST-X-001": {"title": "t", "source": "", "level": "MUST", "options": ["rest-actions"]}}, "source"),
        ({"REST-X-001": {"title": "t", "source": "s", "level": "MAY", "options": ["rest-actions"]}}, "level"),
        ({"REST-X-001": {"title": "t", "source": "s", "level": "MUST", "options": []}}, "options"),
        ({"REST-X-001": {"title": "t", "source": "s", "level": "MUST", "options": ["gopher"]}}, "unknown options"),
        ({"REST-X-001": {"title": "t", "source": "s", "level": "MUST", "options": ["rest-actions"], "x": 1}}, "keys"),
    ],
)
def test_malformed_entries_are_refused(entry, message):
    with pytest.raises(CatalogError, match=message):
        parse_catalog(entry)


def test_catalogue_file_is_the_packaged_one():
    """What load_catalog reads is src/spreadapi_conformance/catalog.toml, valid TOML."""
    path = Path(__file__).resolve().parents[2] / "src" / "spreadapi_conformance" / "catalog.toml"
    assert tomllib.loads(path.read_text(encoding="utf-8")).keys() == load_catalog().keys()


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ("REST-EXEC-001 MUST: golden cases", ("REST-EXEC-001", "MUST")),
        ("\n    MCP-HTTP-013 SHOULD: sessions", ("MCP-HTTP-013", "SHOULD")),
        ("MCP-HTTP-040: an ID without a level", ("MCP-HTTP-040", None)),
        ("Checks REST-EXEC-001 somewhere", None),
        (None, None),
    ],
)
def test_docstring_requirement(doc, expected):
    assert docstring_requirement(doc) == expected


def test_checks_command_lists_the_catalogue():
    run = subprocess.run(
        [sys.executable, "-m", "spreadapi_conformance", "checks", "--json", "--option", "legacy-bridge"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    listed = json.loads(run.stdout)
    expected = [r.id for r in load_catalog().values() if "legacy-bridge" in r.options]
    assert [r["id"] for r in listed] == expected and listed[0]["source"]
    table = subprocess.run(
        [sys.executable, "-m", "spreadapi_conformance", "checks"], capture_output=True, text=True, timeout=60
    )
    assert table.returncode == 0 and f"{len(load_catalog())} requirements" in table.stdout


def test_checks_command_refuses_an_unknown_area_and_pipes_one_line_per_entry():
    unknown = subprocess.run(
        [sys.executable, "-m", "spreadapi_conformance", "checks", "--area", "GOPHER"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unknown.returncode == 2 and unknown.stderr.startswith("error: unknown area GOPHER (known: REST"), unknown
    piped = subprocess.run(
        [sys.executable, "-m", "spreadapi_conformance", "checks", "--area", "oauth"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = piped.stdout.strip().splitlines()
    expected = [r for r in load_catalog().values() if r.area == "OAUTH"]
    assert len(lines) == len(expected) + 1, lines[:5]
    assert [line.split("\t")[0] for line in lines[:-1]] == [r.id for r in expected]
