"""The requirement catalogue: what each conformance check enforces, at which level, for which options.

The data is ``catalog.toml`` next to this module; ``certify``'s reports, ``spreadapi-conformance
checks`` and ``suites/meta/test_catalog.py`` read it from here. A check names its requirement in the
first words of its docstring (``"REST-EXEC-001 MUST: golden cases via POST ..."``);
:func:`docstring_requirement` reads that back.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

# The integration options a deployment can claim, in the order reports show them.
OPTIONS: dict[str, str] = {
    "rest-actions": "Option 1: ChatGPT via REST + per-service OpenAPI (Actions)",
    "chatgpt-single-oauth": "Option 2: ChatGPT via single-service OAuth + MCP",
    "chatgpt-multi-oauth": "Option 3: ChatGPT via multi-service OAuth + /api/mcp",
    "claude-desktop": "Claude Desktop: single-service MCP (+ the stdio bridge) with service tokens",
    "legacy-bridge": "Legacy multi-service bridge with MCP tokens",
}

# Areas by ID prefix, in report order; an unknown prefix is an error in the catalogue.
AREAS: dict[str, str] = {
    "REST": "REST API",
    "OPENAPI": "OpenAPI documents (ChatGPT Actions)",
    "OAUTH": "OAuth authorization server",
    "MCP": "MCP endpoints",
    "REPLAY": "Client replays (ChatGPT connector, ChatGPT Actions, Claude Desktop)",
}

# The keyword of the clause an entry cites (RFC 2119: REQUIRED is a MUST, RECOMMENDED a SHOULD). MUST and
# MUST NOT decide a verdict; SHOULD and SHOULD NOT failures are warnings.
LEVELS = ("MUST", "MUST NOT", "SHOULD", "SHOULD NOT")
DECIDING_LEVELS = ("MUST", "MUST NOT")
ID_PATTERN = re.compile(r"^(?P<area>[A-Z]+)-[A-Z]+-\d{3}$")
# "REST-EXEC-001 MUST: ..." at the start of a docstring; the level is optional in the pattern so that a
# docstring with an ID but no level is found (and reported), not silently taken for an unmapped test.
_DOCSTRING = re.compile(r"^\s*(?P<id>[A-Z]+-[A-Z]+-\d{3})(?:\s+(?P<level>MUST NOT|MUST|SHOULD NOT|SHOULD))?\s*:")


class CatalogError(ValueError):
    """The catalogue file is malformed; the message names the entry."""


@dataclass(frozen=True)
class Requirement:
    id: str
    title: str
    source: str
    level: str  # LEVELS: the keyword of the clause the source names
    options: tuple[str, ...]
    area: str  # the ID's prefix: REST, OPENAPI, OAUTH, MCP, REPLAY
    policy: str | None = None  # what the kit requires beyond its source, and why; None: exactly the source

    @property
    def decides_verdict(self) -> bool:
        """A failure fails certification: a MUST or MUST NOT of its source, not a policy of the kit."""
        return self.level in DECIDING_LEVELS and self.policy is None

    @property
    def group(self) -> str:
        """The first two parts of the ID (REST-EXEC), for finer grouping."""
        return self.id.rsplit("-", 1)[0]


def docstring_requirement(doc: str | None) -> tuple[str, str | None] | None:
    """``(id, level)`` named at the start of a check's docstring, or None when it names none."""
    match = _DOCSTRING.match(doc or "")
    return (match["id"], match["level"]) if match else None


def parse_catalog(data: dict[str, Any]) -> dict[str, Requirement]:
    """Validate the TOML document and build the requirements, in file order."""
    catalog: dict[str, Requirement] = {}
    for rid, entry in data.items():
        match = ID_PATTERN.match(rid)
        if not match:
            raise CatalogError(f"{rid!r} is not an ID of the form AREA-GROUP-NNN")
        if match["area"] not in AREAS:
            raise CatalogError(f"{rid}: unknown area {match['area']!r} (known: {', '.join(AREAS)})")
        if not isinstance(entry, dict):
            raise CatalogError(f"{rid} must be a table")
        if unknown := set(entry) - {"title", "source", "level", "options", "policy"}:
            raise CatalogError(f"{rid}: unknown keys {sorted(unknown)}")
        for key in ("title", "source"):
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                raise CatalogError(f"{rid}: {key} must be a non-empty string")
        if "\n" in entry["title"]:
            raise CatalogError(f"{rid}: the title must be one line")
        if entry.get("level") not in LEVELS:
            raise CatalogError(f"{rid}: level must be one of {', '.join(LEVELS)}")
        policy = entry.get("policy")
        if policy is not None and (not isinstance(policy, str) or not policy.strip()):
            raise CatalogError(f"{rid}: policy must be a non-empty string (what the kit requires beyond the source)")
        options = entry.get("options")
        if not isinstance(options, list) or not options:
            raise CatalogError(f"{rid}: options must be a non-empty list")
        if unknown := [o for o in options if o not in OPTIONS]:
            raise CatalogError(f"{rid}: unknown options {unknown} (known: {', '.join(OPTIONS)})")
        if len(set(options)) != len(options):
            raise CatalogError(f"{rid}: an option is listed twice")
        catalog[rid] = Requirement(
            id=rid,
            title=entry["title"].strip(),
            source=entry["source"].strip(),
            level=entry["level"],
            options=tuple(options),
            area=match["area"],
            policy=policy.strip() if policy else None,
        )
    return catalog


def catalog_text() -> str:
    return resources.files(__package__).joinpath("catalog.toml").read_text(encoding="utf-8")


@cache
def load_catalog() -> dict[str, Requirement]:
    """Every requirement by ID (TOML tables keep their order; duplicate IDs are a TOML error)."""
    try:
        data = tomllib.loads(catalog_text())
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"catalog.toml is not valid TOML: {exc}") from None
    return parse_catalog(data)


def area_order(requirement: Requirement) -> tuple[int, str, int]:
    """Report order: areas as in AREAS, then group and number."""
    return (list(AREAS).index(requirement.area), requirement.group, int(requirement.id.rsplit("-", 1)[1]))


def requirements_markdown() -> str:
    """docs/requirements.md: every requirement of the catalogue, by area, as a reader looks one up."""
    by_area: dict[str, list[Requirement]] = {}
    for requirement in sorted(load_catalog().values(), key=area_order):
        by_area.setdefault(requirement.area, []).append(requirement)
    lines = [
        "# Requirements",
        "",
        "<!-- Generated from src/spreadapi_conformance/catalog.toml by scripts/requirements_doc.py; "
        "nox -s lint fails when it is stale. -->",
        "",
        f"{len(load_catalog())} requirements. Each is checked by one function of "
        "`src/spreadapi_conformance/checks/<area>/test_<group>.py` whose docstring starts with its ID. The level is",
        "the keyword of the clause the source names (MUST and MUST NOT decide a verdict); a **policy** says what the",
        "kit asks beyond its source, and a failure there is reported apart. Sources: [sources.md](sources.md),",
        "[platform-behaviour.md](platform-behaviour.md). Options:",
        "",
        *(f"- `{name}`: {text}" for name, text in OPTIONS.items()),
    ]
    escape = str.maketrans({"|": "\\|", "\n": " "})
    for area, requirements in by_area.items():
        lines += [
            "",
            f"## {area}: {AREAS[area]}",
            "",
            "| ID | level | options | requirement | source |",
            "|---|---|---|---|---|",
        ]
        for r in requirements:
            title = r.title.translate(escape) + (f" **Policy:** {r.policy.translate(escape)}" if r.policy else "")
            options = ", ".join(r.options)
            lines.append(f"| {r.id} | {r.level} | {options} | {title} | {r.source.translate(escape)} |")
    return "\n".join(lines) + "\n"
