"""The kit as a release manager installs it: the wheel in a fresh virtual environment outside the checkout
certifies a reference served from there, and its pytest plugin runs the checks from any folder; nox never
skips a session with exit 0 for want of an interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from spreadapi_conformance.catalog import OPTIONS

from ..serve.conftest import free_port

pytestmark = pytest.mark.live
REPO = Path(__file__).resolve().parents[2]


def clean_env() -> dict[str, str]:
    """No trace of this checkout or of the test run: what a new shell has."""
    drop = ("PYTHONPATH", "VIRTUAL_ENV", "PYTEST_", "NOX_")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment with the wheel of this checkout installed; its bin directory."""
    base = tmp_path_factory.mktemp("installed")
    dist = base / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "--wheel-dir", str(dist), str(REPO)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheels = list(dist.glob("spreadapi_conformance-*.whl"))
    assert len(wheels) == 1, wheels
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    install = subprocess.run(
        [str(venv / "bin/python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheels[0])],
        capture_output=True,
        text=True,
        timeout=900,
        env=clean_env(),
    )
    assert install.returncode == 0, install.stderr[-3000:]
    return venv / "bin"


def answers(url: str) -> bool:
    """The server listens and answers 200 (serve writes its target file before it binds its port)."""
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_the_wheel_certifies_a_served_reference_with_no_checkout(installed: Path, tmp_path: Path):
    port = free_port()
    target = tmp_path / "served.toml"
    serve = subprocess.Popen(
        [str(installed / "spreadapi-conformance"), "serve", "--port", str(port), "--write-target", str(target)],
        cwd=tmp_path,
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (target.exists() and answers(f"http://127.0.0.1:{port}/api/v1/services")):
            assert serve.poll() is None, serve.stderr.read() if serve.stderr else ""
            assert time.monotonic() < deadline, "serve did not answer within 60 s"
            time.sleep(0.2)
        run = subprocess.run(
            [str(installed / "spreadapi-conformance"), "certify", "--target", str(target), "--no-progress"],
            cwd=tmp_path,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=900,
        )
    finally:
        serve.terminate()
        serve.wait(15)
    assert run.returncode == 0, f"{run.stdout[-3000:]}\n{run.stderr[-2000:]}"
    import json

    report = json.loads((tmp_path / "reports" / "report.json").read_text(encoding="utf-8"))
    assert report["options"] == dict.fromkeys(OPTIONS, "pass"), report["options"]
    assert str(REPO) not in run.stdout, "the installed kit printed a path of the checkout"


def test_the_installed_plugin_runs_the_checks_from_any_folder(installed: Path, tmp_path: Path):
    """pytest of the installed environment knows the plugin (the pytest11 entry point): the checks run in a folder
    with no configuration of this project, against the embedded reference."""
    run = subprocess.run(
        [
            str(installed / "pytest"),
            "--pyargs",
            "spreadapi_conformance.checks",
            "-k",
            "test_list",
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:]
    assert " passed" in run.stdout and "error" not in run.stdout.lower().split("passed")[-1], run.stdout[-1000:]


def test_nox_fails_loudly_without_the_interpreter_a_session_asks_for(tmp_path: Path):
    run = subprocess.run(
        [sys.executable, "-m", "nox", "--noxfile", str(REPO / "noxfile.py"), "-s", "certify", "--force-python", "3.99"],
        cwd=REPO,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode != 0, f"nox exited 0 without the interpreter:\n{run.stdout}\n{run.stderr}"
    assert "3.99" in run.stderr + run.stdout
