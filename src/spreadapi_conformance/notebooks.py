"""``spreadapi-conformance notebooks``: execute the walkthrough notebooks against a target with nbclient.

Each notebook (``notebooks/*.ipynb``, stored without outputs) has a cell tagged ``parameters`` that
sets ``TARGET_FILE = None``. The runner inserts a cell after it, tagged ``injected-parameters`` as
papermill does, that sets the target file to use (or leaves None: the reference, started inside the
kernel), runs every cell in a fresh ipykernel of this very interpreter (a kernel spec of its own, so a
``python3`` kernel of another Jupyter installation is never picked), and writes the executed copy,
outputs included, to the output folder. A cell that fails (an ``assert`` on a status, a result the
oracle disagrees with) fails the notebook: the runner reports the cell's error in one line and keeps the
partly executed copy, where the failing cell shows its traceback.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator
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


KERNEL_NAME = "spreadapi-conformance"


def kernel_dirs(root: str | Path) -> Path:
    """A kernel spec under ``root/kernels`` that runs this interpreter, where this package is installed.

    Not the ``python3`` spec: jupyter_client looks in the user's folder first, and a ``python3`` there
    (a Jupyter installed elsewhere) would run the notebooks in a Python without this package."""
    root = Path(root)
    spec = root / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    document = {"argv": argv, "display_name": "spreadapi-conformance", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(document), encoding="utf-8")
    return root


def execute(path: Path, out_dir: Path, target_file: str | None, timeout: float = CELL_TIMEOUT) -> Executed:
    """Run one notebook in a fresh kernel of this interpreter; write the executed copy to ``out_dir``."""
    notebook = with_parameters(nbformat.read(path, as_version=4), target_file)
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / path.name
    started = time.monotonic()
    error = None
    client = NotebookClient(
        notebook, timeout=timeout, kernel_name=KERNEL_NAME, resources={"metadata": {"path": str(out_dir)}}
    )
    try:
        with tempfile.TemporaryDirectory(prefix="spreadapi-kernel-") as root, _jupyter_path(kernel_dirs(root)):
            client.execute()
    except CellExecutionError as exc:
        error = _one_line(exc)
    except Exception as exc:  # the kernel died, did not start, or a cell timed out: say so in one line
        lines = _ANSI.sub("", str(exc)).strip().splitlines()
        error = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    finally:
        nbformat.write(notebook, output)
    return Executed(path.stem, output, time.monotonic() - started, error)


@contextlib.contextmanager
def _jupyter_path(directory: Path) -> Iterator[None]:
    """``directory`` first on JUPYTER_PATH (searched before the user's folder) while the block runs."""
    before = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(directory), before]))
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = before


def _one_line(exc: CellExecutionError) -> str:
    """The failing cell's exception, ``Name: message``, without the traceback around it."""
    name = getattr(exc, "ename", "") or "Error"
    value = _ANSI.sub("", getattr(exc, "evalue", "") or "").strip()
    if value:
        return f"{name}: {value.splitlines()[0]}"
    # A bare ``assert``: the traceback's arrow line says which statement failed.
    arrows = [line.strip() for line in _ANSI.sub("", str(exc)).splitlines() if line.lstrip().startswith("--->")]
    return f"{name} at {arrows[-1].removeprefix('--->').strip()}" if arrows else name
