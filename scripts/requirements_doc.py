"""Write docs/requirements.md from the catalogue, or (--check) fail when the committed page is stale."""

from __future__ import annotations

import sys
from pathlib import Path

from spreadapi_conformance.catalog import requirements_markdown

PAGE = Path(__file__).resolve().parents[1] / "docs" / "requirements.md"


def main(argv: list[str]) -> int:
    text = requirements_markdown()
    if "--check" in argv:
        if not PAGE.exists() or PAGE.read_text(encoding="utf-8") != text:
            print(f"{PAGE} is stale: run python scripts/requirements_doc.py", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
