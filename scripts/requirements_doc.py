"""Write the pages generated from the package's data (docs/requirements.md from the catalogue, docs/faults.md
from the fault catalogue), or (--check) fail when a committed page is stale."""

from __future__ import annotations

import sys
from pathlib import Path

from spreadapi_conformance.catalog import requirements_markdown
from spreadapi_conformance.selftest import faults_markdown

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = {DOCS / "requirements.md": requirements_markdown, DOCS / "faults.md": faults_markdown}


def main(argv: list[str]) -> int:
    stale = 0
    for page, render in PAGES.items():
        text = render()
        if "--check" not in argv:
            page.write_text(text, encoding="utf-8")
        elif not page.exists() or page.read_text(encoding="utf-8") != text:
            print(f"{page} is stale: run python scripts/requirements_doc.py", file=sys.stderr)
            stale = 1
    return stale


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
