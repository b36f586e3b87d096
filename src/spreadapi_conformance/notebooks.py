"""``spreadapi-conformance notebooks``: execute the walkthrough notebooks against a target with nbclient.

Each notebook (``notebooks/*.ipynb``, stored without outputs) has a cell tagged ``parameters`` that
sets ``TARGET_FILE = None``. The runner inserts a cell after it, tagged ``injected-parameters`` as
papermill does, that sets the target file to use (or leaves None: the reference, started inside the
kernel), runs every cell in a fresh ``python3`` kernel (the one ipykernel installs next to this
interpreter), and writes the executed copy, outputs included, to the output folder. A cell that fails
(an ``assert`` on a status, a result the oracle disagrees with) fails the notebook: the runner reports
the cell's error in one line and keeps the partly executed copy, where the failing cell shows its
traceback.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbformat.v4 import new_code_cell

from .bundled import bundled_dir

CELL_TIMEOUT = 180  # s: a cell that starts the reference compiles its workbooks first
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def notebooks_dir() -> Path:
    """``$SPREADAPI_NOTEBOOKS``, else the copy inside an installed wheel, else the repository's folder."""
    return bundled_dir("notebooks", "SPREADAPI_NOTEBOOKS")


def available() -> dict[str, Path]:
    """The notebooks by name (the file name without ``.ipynb``), in order."""
    return {path.stem: path for path in sorted(notebooks_dir().glob("*.ipynb"))}


@dataclass
class Executed:
    name: str
    output: Path  # the executed copy
    seconds: float
    error: str | None = None  # one line: the failing cell's exception

    @property
    def ok(self) -> bool:
        return self.error is None


def with_parameters(notebook: nbformat.NotebookNode, target_file: str | None) -> nbformat.NotebookNode:
    """The notebook with an ``injected-parameters`` cell after its ``parameters`` cell (papermill's rule:
    after, so the defaults do not overwrite it)."""
    tagged = [i for i, cell in enumerate(notebook.cells) if "parameters" in cell.metadata.get("tags", [])]
    if not tagged:
        raise ValueError("the notebook has no cell tagged 'parameters'")
    cell = new_code_cell(f"TARGET_FILE = {target_file!r}", metadata={"tags": ["injected-parameters"]})
    notebook.cells.insert(tagged[0] + 1, cell)
    return notebook


def execute(path: Path, out_dir: Path, target_file: str | None, timeout: float = CELL_TIMEOUT) -> Executed:
    """Run one notebook in a fresh kernel; write the executed copy to ``out_dir``."""
    notebook = with_parameters(nbformat.read(path, as_version=4), target_file)
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / path.name
    started = time.monotonic()
    error = None
    client = NotebookClient(
        notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(out_dir)}}
    )
    try:
        client.execute()
    except CellExecutionError as exc:
        error = _one_line(exc)
    except Exception as exc:  # the kernel died, did not start, or a cell timed out: say so in one line
        lines = _ANSI.sub("", str(exc)).strip().splitlines()
        error = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    finally:
        nbformat.write(notebook, output)
    return Executed(path.stem, output, time.monotonic() - started, error)


def _one_line(exc: CellExecutionError) -> str:
    """The failing cell's exception, ``Name: message``, without the traceback around it."""
    name = getattr(exc, "ename", "") or "Error"
    value = _ANSI.sub("", getattr(exc, "evalue", "") or "").strip()
    if value:
        return f"{name}: {value.splitlines()[0]}"
    # A bare ``assert``: the traceback's arrow line says which statement failed.
    arrows = [line.strip() for line in _ANSI.sub("", str(exc)).splitlines() if line.lstrip().startswith("--->")]
    return f"{name} at {arrows[-1].removeprefix('--->').strip()}" if arrows else name
