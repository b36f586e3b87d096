"""The clause coverage matrix (docs/coverage/*.toml): check it against the catalogue and render docs/coverage.md.

``python scripts/coverage_doc.py`` writes the page; ``--check`` (in ``nox -s lint``) fails, naming each problem,
when the page is stale, a row names an unknown check, a row has neither a check nor a reason, or a catalogue
entry cites a clause that no row of the matrix holds.
"""

from __future__ import annotations

import re
import sys
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spreadapi_conformance.catalog import Requirement, load_catalog

ROOT = Path(__file__).resolve().parents[1]
MATRIX = ROOT / "docs" / "coverage"
PAGE = ROOT / "docs" / "coverage.md"
FILES = ("mcp", "oauth", "platform")
REASONS = ("gap", "not_checkable", "out_of_scope")
BINDING = ("MUST", "MUST NOT", "REQUIRED", "SHALL", "SHALL NOT")

# What a catalogue entry may cite besides the matrix's documents, and why no row holds it.
OUTSIDE_THE_MATRIX = {
    "kit policy": "the kit's own requirement; the entry's policy says why",
    "robustness": "the kit's own requirement (a deployment survives hostile input)",
    "deviation": "the reference's documented deviation (docs/deviations.md), not a source clause",
    "the fixture workbooks": "the oracle: the fixture workbooks' own formulas",
    "function-name rule": "the operationId pattern ChatGPT enforces, quoted in the entry",
    "ChatGPT Apps SDK auth": "the connector's own behaviour (a client), cited for what it sends",
    "OWASP ASVS": "a verification standard, not one of the sources the matrix covers",
    "RFC 9110": "HTTP semantics, cited for definitions (the cited sections carry few keywords)",
    "RFC 9111": "HTTP caching, cited for the no-store directive",
}

MCP_PAGES = {
    "basic": "MCP basic",
    "basic/lifecycle": "MCP lifecycle",
    "basic/transports": "MCP transports",
    "basic/authorization": "MCP authorization",
    "basic/utilities": "MCP utilities",
    "server/tools": "MCP tools",
    "server/resources": "MCP resources",
    "server/prompts": "MCP prompts",
    "server/discover": "MCP lifecycle",
    "basic/versioning": "MCP lifecycle",
    "server/utilities/caching": "MCP utilities",
    "server/utilities/logging": "MCP utilities",
    "basic/patterns/cancellation": "MCP utilities",
}


@dataclass(frozen=True)
class Citation:
    requirement: str
    text: str
    document: str | None  # None: outside the matrix (OUTSIDE_THE_MATRIX)
    sections: tuple[str, ...] = ()  # empty: any section of the document
    revision: str | None = None


def load_rows() -> list[dict[str, Any]]:
    rows = []
    for name in FILES:
        for row in tomllib.loads((MATRIX / f"{name}.toml").read_text(encoding="utf-8"))["clause"]:
            rows.append({**row, "file": name})
    return rows


def _without_parentheses(text: str) -> str:
    while True:
        shorter = re.sub(r"\([^()]*\)", "", text)
        if shorter == text:
            return re.sub(r"\([^()]*$", "", shorter)  # an unclosed one runs to the end
        text = shorter


def citations(requirement: Requirement) -> list[Citation]:
    found = []
    for part in _without_parentheses(requirement.source).split(";"):
        text = " ".join(part.split())
        if not text:
            continue
        found.extend(_citations(requirement.id, text))
    return found


def _citations(rid: str, text: str) -> list[Citation]:
    """One citation, or one per page when an MCP citation names several (``server/prompts, server/resources``)."""
    m = re.match(r"MCP (\d{4}-\d\d-\d\d) (.*)", text)
    if not m:
        return [_citation(rid, text)]
    found, page, headings = [], None, []
    for item in (i.strip() for i in m.group(2).split(",")):
        if re.fullmatch(r"(basic|server)(/[a-z]+)*", item):
            if page:
                found.append(Citation(rid, text, MCP_PAGES.get(page, f"MCP {page}"), tuple(headings[-1:]), m.group(1)))
            page, headings = item, []
        else:
            headings.append(item)
    found.append(Citation(rid, text, MCP_PAGES.get(page or "", f"MCP {page}"), tuple(headings[-1:]), m.group(1)))
    return found


def _citation(rid: str, text: str) -> Citation:
    numbers: tuple[str, ...] = ()
    for first, last in re.findall(r"§\s*([\d.]*\d)(?:-(\d+))?", text):
        numbers += tuple(str(n) for n in range(int(first), int(last) + 1)) if last else (first,)
    if m := re.match(r"(RFC \d+)", text):
        document = m.group(1)
        return Citation(rid, text, None if document in OUTSIDE_THE_MATRIX else document, numbers)
    if text.startswith("OAuth 2.1"):
        return Citation(rid, text, "OAuth 2.1", numbers)
    if text.startswith("JSON-RPC 2.0"):
        return Citation(rid, text, "JSON-RPC 2.0", numbers)
    if text.startswith("OpenAPI 3.1"):
        return Citation(rid, text, "OpenAPI 3.1.0")
    if text.startswith("GPT Actions"):
        return Citation(rid, text, "GPT Actions")
    if text.startswith("seed"):
        return Citation(rid, text, "Seed flows")
    if m := re.match(r"SpreadAPI behaviour (.*)", text):
        sections = tuple(re.findall(r"(?<![\w.])(\d+(?:\.\d+)*)", re.sub(r"step \d+", "", m.group(1))))
        return Citation(rid, text, "SpreadAPI behaviour", sections)
    for name in OUTSIDE_THE_MATRIX:
        if text.startswith(name) or name in text:
            return Citation(rid, text, None)
    return Citation(rid, text, "unknown")


def holds(row: dict[str, Any], citation: Citation) -> bool:
    if row["source"] != citation.document:
        return False
    if citation.revision and citation.revision not in row.get("revisions", [citation.revision]):
        return False
    if not citation.sections:
        return True
    section = str(row["section"])
    for cited in citation.sections:
        if citation.document.startswith("MCP"):
            if cited.lower() in section.lower():
                return True
        elif section == cited or section.startswith(cited + ".") or cited.startswith(section + "."):
            return True
    return False


def problems(rows: list[dict[str, Any]], catalogue: dict[str, Requirement]) -> list[str]:
    found = []
    for n, row in enumerate(rows):
        where = f"docs/coverage/{row['file']}.toml row {n + 1} ({row['source']} {row['section']})"
        if unknown := [rid for rid in row.get("checked_by", []) if rid not in catalogue]:
            found.append(f"{where} names checks the catalogue does not have: {', '.join(unknown)}")
        reasons = [k for k in REASONS if row.get(k)]
        if not row.get("checked_by") and len(reasons) != 1:
            found.append(f"{where} has no check and {'no' if not reasons else 'more than one'} reason")
        for key in ("source", "section", "level", "says"):
            if not row.get(key):
                found.append(f"{where} has no {key}")
    for requirement in catalogue.values():
        for citation in citations(requirement):
            if citation.document is None:
                continue
            if citation.document == "unknown":
                found.append(f"{requirement.id} cites {citation.text!r}, which names no document the matrix knows")
            elif not any(holds(row, citation) for row in rows):
                found.append(f"{requirement.id} cites {citation.text!r}: no row of the matrix holds that clause")
    return found


# -- the page ----------------------------------------------------------------------------------------------


def status(row: dict[str, Any]) -> str:
    if row.get("checked_by"):
        return "partly" if row.get("gap") else "checked"
    for key, name in (("gap", "gap"), ("not_checkable", "not checkable"), ("out_of_scope", "out of scope")):
        if row.get(key):
            return name
    return "?"


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render(rows: list[dict[str, Any]]) -> str:
    documents = list(dict.fromkeys(row["source"] for row in rows))
    lines = [
        "# Clause coverage",
        "",
        "<!-- Generated by scripts/coverage_doc.py from docs/coverage/*.toml; `nox -s lint` fails when stale. -->",
        "",
        "Every normative statement of the sources the catalogue cites that binds a server or an authorization",
        "server, with the checks that judge it, or why none does. The data is `docs/coverage/mcp.toml` (the MCP",
        "specification), `oauth.toml` (the OAuth and HTTP documents) and `platform.toml` (the platform's behaviour,",
        "the seed's flows with the credentials each place must refuse, the GPT Actions limits, OpenAPI).",
        "",
        "- **checked**: the listed checks judge the statement; **partly**: they judge part of it, and the note says",
        "  what is not judged; **gap**: it can be judged from outside, and the note says how, but no check does yet;",
        "  **not checkable**: it cannot be observed from outside; **out of scope**: it does not bind the deployments",
        "  the kit certifies (a grant type they do not offer, a capability they do not declare).",
        "- A row marked *unverified* was written without the clause's text at hand and is to be read against it.",
        "- `nox -s lint` fails when a row names a check the catalogue does not have, when a row has neither a",
        "  check nor a reason, and when a catalogue entry cites a clause that no row holds.",
        "",
        "## Summary",
        "",
        "| document | statements | MUST-level | checked | partly | gap | not checkable | out of scope "
        "| MUST-level gaps |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    total: Counter[str] = Counter()
    for document in documents:
        mine = [row for row in rows if row["source"] == document]
        counts = Counter(status(row) for row in mine)
        must = [row for row in mine if row["level"] in BINDING]
        must_gaps = sum(status(row) == "gap" for row in must)
        figures = [len(mine), len(must), counts["checked"], counts["partly"], counts["gap"]]
        figures += [counts["not checkable"], counts["out of scope"], must_gaps]
        total.update(dict(zip(("n", "must", "c", "p", "g", "nc", "os", "mg"), figures, strict=True)))
        lines.append(f"| {document} | " + " | ".join(map(str, figures)) + " |")
    keys = ("n", "must", "c", "p", "g", "nc", "os", "mg")
    lines.append("| **all** | " + " | ".join(f"**{total[k]}**" for k in keys) + " |")
    lines += [
        "",
        "## MUST-level statements no check judges yet",
        "",
        "The work list: each can be judged from outside, and the note says how.",
        "",
        "| document | section | level | what is required | how a check would judge it |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        if row["level"] in BINDING and status(row) == "gap":
            cells = (row["source"], _cell(row["section"]), row["level"], _cell(row["says"]), _cell(row["gap"]))
            lines.append("| " + " | ".join(cells) + " |")
    for document in documents:
        lines += ["", f"## {document}", "", "| section | level | what is required | coverage | checks | note |"]
        lines.append("|---|---|---|---|---|---|")
        for row in rows:
            if row["source"] != document:
                continue
            section = _cell(row["section"])
            if row.get("url"):
                section = f"[{section}]({row['url']})"
            if row.get("revisions"):
                section += f" ({', '.join(row['revisions'])})"
            note = row.get("gap") or row.get("not_checkable") or row.get("out_of_scope") or ""
            if row.get("verified") is False:
                note = f"*unverified.* {note}"
            checks = ", ".join(row.get("checked_by", []))
            lines.append(
                f"| {section} | {row['level']} | {_cell(row['says'])} | {status(row)} | {checks} | {_cell(note)} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    rows = load_rows()
    found = problems(rows, load_catalog())
    text = render(rows)
    if "--check" in argv:
        if not PAGE.exists() or PAGE.read_text(encoding="utf-8") != text:
            found.append(f"{PAGE.relative_to(ROOT)} is stale: run python scripts/coverage_doc.py")
        for problem in found:
            print(problem, file=sys.stderr)
        return 1 if found else 0
    PAGE.write_text(text, encoding="utf-8")
    for problem in found:
        print(problem, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
