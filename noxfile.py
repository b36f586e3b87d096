"""Sessions: tests (everything), lint, certify (the main job), notebooks, bench. `nox -l` lists them."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_venv = "yes"
PYTHON = "3.11"


def _install(session: nox.Session) -> None:
    session.install("-e", ".[dev]")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole suite: reference, engines, store (on the real Redis), serve, conformance checks."""
    _install(session)
    # Chromium (apt), Node 22 and the pinned npm tools for the browser and official-MCP-suite tests;
    # about a second when they are already there, so a fresh machine needs no other step.
    session.run("bash", "scripts/install-tools.sh", external=True)
    # Two workers, a test file each at a time (module fixtures such as a served deployment stay with
    # their tests): most of the wall time is tests waiting on subprocesses and sockets, not on the CPU.
    session.run("pytest", *(session.posargs or ["-q", "-n", "2", "--dist", "loadfile"]))


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff, and the committed fixture workbooks match their build script."""
    _install(session)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("python", "fixtures/build_workbooks.py", "--check")


@nox.session(python=PYTHON)
def certify(session: nox.Session) -> None:
    """Certify a target: `nox -s certify` (in-process reference) or `nox -s certify -- --target FILE`."""
    _install(session)
    session.run("spreadapi-conformance", "certify", *session.posargs)


@nox.session(python=PYTHON)
def notebooks(session: nox.Session) -> None:
    """Run the walkthrough notebooks: `nox -s notebooks` (the reference) or `nox -s notebooks -- --target FILE`."""
    _install(session)
    session.run("spreadapi-conformance", "notebooks", *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks: engine latency, REST throughput vs the engine alone, cold start. Figures, not tests."""
    _install(session)
    session.run("python", "benchmarks/run.py", *session.posargs)
