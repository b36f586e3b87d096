"""Sessions: tests (everything), lint, certify (the main job), selftest, notebooks, bench, build. `nox -l` lists them.

Every session runs on the interpreter nox itself runs with, which must be one the package supports
(3.11 to 3.13); any other, and a Python a session asks for that is not there, is an error, never a skip
that exits 0.
"""

from __future__ import annotations

import sys

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = True
SUPPORTED = ((3, 11), (3, 13))  # the oldest and the newest Python the package supports


def _install(session: nox.Session) -> None:
    oldest, newest = SUPPORTED
    if not oldest <= sys.version_info[:2] <= newest:
        session.error(
            f"Python {sys.version.split()[0]} runs nox; spreadapi-conformance supports {oldest[0]}.{oldest[1]} to "
            f"{newest[0]}.{newest[1]}: run nox with one of those (e.g. python3.11 -m nox)"
        )
    session.install("-e", ".[dev]")


@nox.session
def tests(session: nox.Session) -> None:
    """The whole suite: reference, engines, store (on the real Redis), serve, peers, the checks."""
    _install(session)
    # Chromium (apt), Node 22, the pinned npm tools and the peers for the browser, official-suite and peer
    # tests; about a second when they are already there, so a fresh machine needs no other step.
    session.run("bash", "scripts/install-tools.sh", external=True, env={"PYTHON": sys.executable})
    # Two workers, a test file each at a time (module fixtures such as a served deployment stay with
    # their tests): most of the wall time is tests waiting on subprocesses and sockets, not on the CPU.
    session.run("pytest", *(session.posargs or ["-q", "-n", "2", "--dist", "loadfile"]))


@nox.session
def lint(session: nox.Session) -> None:
    """ruff, the committed fixture workbooks match their build script, the generated pages (requirements,
    faults) match their data, the clause coverage matrix agrees with the catalogue and docs/coverage.md with it."""
    _install(session)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("python", "fixtures/build_workbooks.py", "--check")
    session.run("python", "scripts/requirements_doc.py", "--check")
    session.run("python", "scripts/coverage_doc.py", "--check")


@nox.session
def certify(session: nox.Session) -> None:
    """Certify a target: `nox -s certify` (in-process reference) or `nox -s certify -- --target FILE`."""
    _install(session)
    session.run("spreadapi-conformance", "certify", *session.posargs)


@nox.session
def selftest(session: nox.Session) -> None:
    """What certify catches: the clean reference, then one certify per deliberate fault (`-- --list` names them)."""
    _install(session)
    session.run("spreadapi-conformance", "selftest", *session.posargs)


@nox.session
def notebooks(session: nox.Session) -> None:
    """Run the walkthrough notebooks: `nox -s notebooks` (the reference) or `nox -s notebooks -- --target FILE`."""
    _install(session)
    session.run("spreadapi-conformance", "notebooks", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks: engine latency, REST throughput vs the engine alone, cold start, certify, load and outage.
    Figures, not tests (the load run fails on a correctness assertion, never on time)."""
    _install(session)
    session.run("python", "benchmarks/run.py", *session.posargs)


@nox.session
def build(session: nox.Session) -> None:
    """The wheel, into dist/: `pip install dist/*.whl` gives the command, the checks and the reference."""
    _install(session)
    session.run("python", "-m", "pip", "wheel", "--no-deps", "--wheel-dir", "dist", ".")
