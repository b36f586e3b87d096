"""``spreadapi-conformance notebooks``: execute the walkthrough notebooks against a target with nbclient.

Each notebook (``notebooks/*.ipynb``, stored without outputs) has a cell tagged ``parameters`` that
sets ``TARGET_FILE = None``. The runner inserts a cell after it, tagged ``injected-parameters`` as
papermill does, that sets the target file to use (or leaves None: the reference, started inside the
kernel), runs every cell in a fresh ipykernel of this very interpreter (a kernel spec of its own, so a
``python3`` kernel of another Jupyter installation is never picked), and writes the executed copy,
outputs included, to the output folder, with its HTML rendering (nbconvert) beside it, so a reader
needs no Jupyter. A cell that fails (an ``assert`` on a status, a result the oracle disagrees with)
fails the notebook: the runner reports the cell's error in one line and keeps the partly executed copy
(and its HTML), where the failing cell shows its traceback.

``--max-rps`` reaches the kernel as ``SPREADAPI_MAX_RPS``: ``walkthrough.open_deployment`` paces every
client it hands out by it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbformat.v4 import new_code_cell

from .bundled import bundled_dir
from .walkthrough import MAX_RPS_VARIABLE

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
    html: Path | None = None  # its HTML rendering (None: the rendering failed)

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


def execute(
    path: Path, out_dir: Path, target_file: str | None, timeout: float = CELL_TIMEOUT, max_rps: float | None = None
) -> Executed:
    """Run one notebook in a fresh kernel of this interpreter; write the executed copy and its HTML to ``out_dir``."""
    notebook = with_parameters(nbformat.read(path, as_version=4), target_file)
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / path.name
    started = time.monotonic()
    error = None
    client = NotebookClient(
        notebook, timeout=timeout, kernel_name=KERNEL_NAME, resources={"metadata": {"path": str(out_dir)}}
    )
    pacing = {MAX_RPS_VARIABLE: str(max_rps) if max_rps else None}
    try:
        with (
            tempfile.TemporaryDirectory(prefix="spreadapi-kernel-") as root,
            _environment({"JUPYTER_PATH": _first_on_path(kernel_dirs(root)), **pacing}),
        ):
            client.execute()
    except CellExecutionError as exc:
        error = f"{failing_step(notebook)}: {_one_line(exc)}"
    except Exception as exc:  # the kernel died, did not start, or a cell timed out: say so in one line
        lines = _ANSI.sub("", str(exc)).strip().splitlines()
        error = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    finally:
        nbformat.write(notebook, output)
    return Executed(path.stem, output, time.monotonic() - started, error, render_html(notebook, output))


_STEP = re.compile(r"""step\(\s*(['"])(.+?)\1""")


def failing_step(notebook: nbformat.NotebookNode) -> str:
    """The step whose cell failed: the title of its first ``step("…")``, else the heading above the cell,
    else the cell's number."""
    heading = None
    for number, cell in enumerate(notebook.cells, start=1):
        if cell.cell_type == "markdown":
            titles = [line.lstrip("#").strip() for line in cell.source.splitlines() if line.startswith("#")]
            heading = titles[-1] if titles else heading
            continue
        if not any(output.output_type == "error" for output in cell.get("outputs", [])):
            continue
        if found := _STEP.search(cell.source):
            return f"step {found.group(2)!r}"
        return f"under {heading!r}" if heading else f"cell {number}"
    return "a cell"


def render_html(notebook: nbformat.NotebookNode, executed: Path) -> Path | None:
    """``executed`` rendered to HTML beside it (nbconvert's lab template; charts embedded as images).

    None when nbconvert cannot render it: the executed copy is still there, and the run says so."""
    from nbconvert import HTMLExporter

    html = executed.with_suffix(".html")
    try:
        body, _ = HTMLExporter().from_notebook_node(notebook)
    except Exception:
        return None
    html.write_text(body, encoding="utf-8")
    return html


def _first_on_path(directory: Path) -> str:
    """``directory`` first on JUPYTER_PATH (searched before the user's folder)."""
    return os.pathsep.join(filter(None, [str(directory), os.environ.get("JUPYTER_PATH")]))


@contextlib.contextmanager
def _environment(values: dict[str, str | None]) -> Iterator[None]:
    """The environment variables set (None: unset) while the block runs; the kernel inherits them."""
    before = {name: os.environ.get(name) for name in values}
    _apply(values)
    try:
        yield
    finally:
        _apply(before)


def _apply(values: dict[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def _one_line(exc: CellExecutionError) -> str:
    """The failing cell's exception, ``Name: message``, without the traceback around it."""
    name = getattr(exc, "ename", "") or "Error"
    value = _ANSI.sub("", getattr(exc, "evalue", "") or "").strip()
    if value:
        return f"{name}: {value.splitlines()[0]}"
    # A bare ``assert``: the traceback's arrow line says which statement failed.
    arrows = [line.strip() for line in _ANSI.sub("", str(exc)).splitlines() if line.lstrip().startswith("--->")]
    return f"{name} at {arrows[-1].removeprefix('--->').strip()}" if arrows else name


def run_notebooks(
    names: list[str],
    target: Path | None,
    out_dir: Path,
    *,
    max_rps: float | None = None,
    echo: Callable[..., None] | None = None,
) -> list[Executed]:
    """Run ``names`` one after the other against ``target`` (None: the reference in each kernel); ``echo``
    gets a line as each starts (``err=True``) and one with its outcome."""
    found = available()
    ran = []
    for name in names:
        if echo:
            echo(f"{name}: running against {target or 'the reference, started in the kernel'}", err=True)
        result = execute(found[name], out_dir, str(target) if target is not None else None, max_rps=max_rps)
        if echo:
            verdict = "ok" if result.ok else f"FAILED: {result.error}"
            html = f", {result.html}" if result.html else ", no HTML rendering"
            echo(f"{name}: {verdict} ({result.seconds:.1f} s) -> {result.output}{html}")
        ran.append(result)
    return ran
