"""The walkthrough notebooks (notebooks/*.ipynb) run end to end with ``spreadapi-conformance notebooks``:
against the reference started in the kernel, and against `serve` on Redis through its target file,
each with its HTML rendering, with no secret of the target file in the executed copies or the HTML; a
failing cell fails the run in one line naming the step."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest
import tomli_w

from spreadapi_conformance.notebooks import available, failing_step, notebooks_dir, with_parameters
from spreadapi_conformance.target import load_target

from ..serve.conftest import REDIS_URL, fresh_redis_prefix, start_serve

NAMES = list(available())


def run_notebooks(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "spreadapi_conformance", "notebooks", *args]
    environment = {**os.environ, **(env or {})}
    return subprocess.run(command, capture_output=True, text=True, timeout=600, env=environment)


def executed(path: Path) -> nbformat.NotebookNode:
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code), f"{path.name}: cells left unexecuted"
    errors = [o for cell in code for o in cell.outputs if o.output_type == "error"]
    assert not errors, f"{path.name}: {errors[0].ename}: {errors[0].evalue}"
    return notebook


def test_the_four_notebooks_are_there():
    assert sorted(NAMES) == ["multi_service_mcp", "oauth_connector_flow", "options_compared", "single_service_options"]


@pytest.mark.parametrize("name", NAMES)
def test_stored_notebooks_have_no_outputs_and_one_parameters_cell(name):
    """Stored clean (outputs come from a run, not from the repository) and parametrizable."""
    notebook = nbformat.read(notebooks_dir() / f"{name}.ipynb", as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert not any(cell.outputs or cell.execution_count for cell in code), f"{name} is stored with outputs"
    tagged = [cell for cell in code if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1 and "TARGET_FILE = None" in tagged[0].source
    injected = with_parameters(notebook, "staging.toml")
    index = injected.cells.index(tagged[0])
    assert injected.cells[index + 1].source == "TARGET_FILE = 'staging.toml'"


def test_every_notebook_runs_against_the_reference(tmp_path):
    """--report-dir DIR puts the executed copies and their HTML in DIR/notebooks, as certify's reports."""
    run = run_notebooks("--report-dir", str(tmp_path))
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr[-3000:]}"
    out = tmp_path / "notebooks"
    for name in NAMES:
        assert f"{name}: ok" in run.stdout, run.stdout
        notebook = executed(out / f"{name}.ipynb")
        text = json.dumps([cell.outputs for cell in notebook.cells if cell.cell_type == "code"])
        assert "equal to the oracle" in text, f"{name} compared nothing with the oracle"
        html = (out / f"{name}.html").read_text(encoding="utf-8")
        assert "equal to the oracle" in html and "<html" in html, f"{name}.html does not show the run"


@pytest.mark.redis
def test_every_notebook_runs_against_serve_on_redis(tmp_path):
    """`notebooks --target FILE --report-dir DIR` against serve: four executed notebooks and four HTML files
    in DIR/notebooks, that talked to the served deployment and show none of its secrets."""
    with fresh_redis_prefix() as prefix:
        served = start_serve(tmp_path, "--redis-url", REDIS_URL, "--store-prefix", prefix)
        try:
            run = run_notebooks("--target", str(served.target_file), "--report-dir", str(tmp_path / "reports"))
        finally:
            served.stop()
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr[-3000:]}"
    out = tmp_path / "reports" / "notebooks"
    assert sorted(path.name for path in out.iterdir()) == sorted(
        f"{name}{suffix}" for name in NAMES for suffix in (".html", ".ipynb")
    )
    for name in NAMES:
        text = (out / f"{name}.ipynb").read_text(encoding="utf-8")
        assert served.base_url in text, f"{name} did not talk to the served deployment"
        executed(out / f"{name}.ipynb")
    secrets = load_target(served.target_file).secrets()
    assert secrets, "the target file holds no secret to look for"
    for path in out.iterdir():
        text = path.read_text(encoding="utf-8")
        leaked = [s[:10] + "…" for s in secrets if s in text]
        assert not leaked, f"{path.name} shows secrets of the target file: {leaked}"


def run_on_wrong_target(tmp_path: Path, notebook: str, fixture: str, published_as: str) -> tuple[str, Path]:
    """Run ``notebook`` against serve through a target file saying service ``published_as`` is published from
    ``fixture``; the one FAILED line it must print, and where the executed copies went."""
    served = start_serve(tmp_path)
    try:
        raw = tomllib.loads(served.target_file.read_text(encoding="utf-8"))
        raw["services"][published_as]["fixture"] = fixture
        del raw["services"][fixture]
        wrong = tmp_path / "wrong.toml"
        wrong.write_text(tomli_w.dumps(raw), encoding="utf-8")
        run = run_notebooks(notebook, "--target", str(wrong), "--out", str(tmp_path / "out"))
    finally:
        served.stop()
    assert run.returncode == 1, f"{run.stdout}\n{run.stderr[-2000:]}"
    lines = [line for line in run.stdout.splitlines() if "FAILED" in line]
    assert len(lines) == 1 and "Traceback" not in run.stdout, run.stdout
    return lines[0], tmp_path / "out"


def test_options_compared_names_the_step_a_target_breaks(tmp_path):
    """The target file says the quote service is published as the loan calculator: the first option's
    calculation computes something else than the oracle's quote, and the one line names the option and
    the step; the partly executed copy still has its HTML."""
    line, out = run_on_wrong_target(tmp_path, "options_compared", "quote", "loan-calculator")
    assert "StepFailed" in line and "under 'Measure every option'" in line, line
    assert "Option 1" in line and "execute" in line, line
    assert (out / "options_compared.html").is_file()


def test_a_failing_cell_fails_the_run_in_one_line(tmp_path):
    """The target file says the loan calculator is published as `edge-cases`: the calculation on it is a
    tool error, the notebook stops there, the run says which step failed and exits 1."""
    line, out = run_on_wrong_target(tmp_path, "oauth_connector_flow", "loan-calculator", "edge-cases")
    assert "AssertionError" in line and "step '7. initialize, tools/list, tools/call'" in line, line
    notebook = nbformat.read(out / "oauth_connector_flow.ipynb", as_version=4)
    assert any(o.output_type == "error" for cell in notebook.cells for o in cell.get("outputs", []))


@pytest.mark.parametrize(
    ("args", "mention"),
    [
        (["no-such-notebook"], "no notebook named no-such-notebook"),
        (["--target", "/nonexistent/target.toml"], "target"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(args, mention, tmp_path):
    run = run_notebooks(*args, "--out", str(tmp_path))
    assert run.returncode == 2, run.stdout + run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and mention in lines[0] and "Traceback" not in run.stderr, run.stderr


def test_an_unreachable_target_is_one_line_and_exit_2(tmp_path):
    target = tmp_path / "down.toml"
    target.write_text(tomli_w.dumps({"base_url": "http://127.0.0.1:9", "services": {}}), encoding="utf-8")
    run = run_notebooks("--target", str(target), "--out", str(tmp_path / "out"))
    assert run.returncode == 2, run.stdout + run.stderr
    assert "Traceback" not in run.stderr and "127.0.0.1:9" in run.stderr, run.stderr


def test_another_jupyters_python3_kernel_is_not_used(tmp_path):
    """A user-level `python3` kernel spec (another Jupyter's, here one that cannot start) is found before this
    interpreter's outside a virtual environment (JUPYTER_PREFER_ENV_PATH=0 makes it so here): the runner
    uses a kernel spec of its own, so the notebook still runs in this interpreter."""
    broken = tmp_path / "jupyter-data" / "kernels" / "python3"
    broken.mkdir(parents=True)
    spec = {"argv": ["/bin/false", "{connection_file}"], "display_name": "other", "language": "python"}
    (broken / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    env = {"JUPYTER_DATA_DIR": str(tmp_path / "jupyter-data"), "JUPYTER_PREFER_ENV_PATH": "0"}
    run = run_notebooks("oauth_connector_flow", "--out", str(tmp_path / "out"), env=env)
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr[-2000:]}"


def test_the_failing_step_is_named_by_its_step_title_else_the_heading_above():
    def failed(source: str) -> nbformat.NotebookNode:
        cell = nbformat.v4.new_code_cell(source)
        cell.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue="", traceback=[])]
        heading = nbformat.v4.new_markdown_cell("## 2. Discovery\nwhat it does")
        return nbformat.v4.new_notebook(cells=[heading, nbformat.v4.new_code_cell("x = 1"), cell])

    assert failing_step(failed('with step("3. register"):\n    pass')) == "step '3. register'"
    assert failing_step(failed("assert x == 2")) == "under '2. Discovery'"
