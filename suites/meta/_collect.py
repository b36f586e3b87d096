"""Collect this project's tests and the checks; write every test's file, conformance marker and
docstring requirement as JSON.

Run as a script (``python suites/meta/_collect.py OUT.json``) by ``test_catalog.py``: a collection in
a process of its own, so the meta tests see exactly what ``certify`` collects.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import spreadapi_conformance.checks
from spreadapi_conformance.catalog import docstring_requirement

SUITES = Path(__file__).resolve().parents[1]
CHECKS = Path(spreadapi_conformance.checks.__file__).resolve().parent


class Collector:
    def __init__(self) -> None:
        self.items: list[dict[str, object]] = []

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            found = docstring_requirement(getattr(getattr(item, "function", None), "__doc__", None))
            self.items.append(
                {
                    "nodeid": item.nodeid,
                    "path": str(item.path),
                    "conformance": item.get_closest_marker("conformance") is not None,
                    "id": found[0] if found else None,
                    "level": found[1] if found else None,
                }
            )


if __name__ == "__main__":
    collector = Collector()
    code = pytest.main(
        [str(SUITES), str(CHECKS), "--collect-only", "-q", "-p", "no:cacheprovider", "-o", "addopts="],
        plugins=[collector],
    )
    Path(sys.argv[1]).write_text(json.dumps({"exit": int(code), "items": collector.items}))
    sys.exit(0 if code == 0 else 1)
