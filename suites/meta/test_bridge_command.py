"""certify --bridge-command: the Claude Desktop replay launches the command given, and a command that
cannot be run is one line of error before any check."""

from __future__ import annotations

import sys
from pathlib import Path

from spreadapi_conformance.certify import CertifyError, CertifyRequest, prepare

from .conftest import certify


def test_the_replay_launches_the_given_command(tmp_path: Path):
    log = tmp_path / "launched.log"
    wrapper = tmp_path / "my-bridge"
    wrapper.write_text(
        f'#!/bin/sh\necho "$SPREADAPI_SERVICE_ID" >> "{log}"\nexec "{sys.executable}" -m spreadapi_conformance bridge\n'
    )
    wrapper.chmod(0o755)
    run = certify(
        tmp_path / "reports",
        "--option",
        "claude-desktop",
        "-k",
        "through_the_bridge",
        "--bridge-command",
        f"'{wrapper}'",
    )
    # Two replays of the option's MUSTs ran and passed: the run is incomplete (exit 3), never "Certified".
    assert run.returncode == 3, f"{run.stdout[-2000:]}\n{run.stderr[-2000:]}"
    assert "Certified:" not in run.stdout and "claude-desktop 2 of" in run.stdout
    assert sorted(log.read_text().split()) == ["edge-cases", "loan-calculator", "quote"]
    report = run.json()
    assert report["run"]["bridge_command"] == f"'{wrapper}'"
    ran = {c["id"]: c["outcome"] for c in report["checks"] if c["outcome"] != "skipped"}
    assert ran == {"REPLAY-CLAUDE-001": "passed", "REPLAY-CLAUDE-002": "passed"}


def test_a_bridge_that_exits_fails_the_replay_with_its_reason(tmp_path: Path):
    wrapper = tmp_path / "broken-bridge"
    wrapper.write_text("#!/bin/sh\necho 'broken-bridge: error: nothing here' >&2\nexit 1\n")
    wrapper.chmod(0o755)
    run = certify(
        tmp_path / "reports", "--option", "claude-desktop", "-k", "through_the_bridge", "--bridge-command", str(wrapper)
    )
    assert run.returncode == 1, f"{run.stdout[-2000:]}\n{run.stderr[-2000:]}"
    check = next(c for c in run.json()["checks"] if c["id"] == "REPLAY-CLAUDE-001")
    assert check["outcome"] == "failed" and "did not start" in check["reason"]
    assert "broken-bridge: error: nothing here" in check["reason"]


def test_an_unusable_bridge_command_is_refused_before_the_checks():
    for command, message in (
        ("no-such-program-7f3a --flag", "'no-such-program-7f3a' is not an executable on PATH"),
        ("'unbalanced", "not a valid command line"),
        ("   ", "empty"),
    ):
        try:
            prepare(CertifyRequest(bridge_command=command))
        except CertifyError as exc:
            assert message in str(exc), str(exc)
        else:
            raise AssertionError(f"{command!r} was accepted")
    # Not certifying claude-desktop, the command is not needed and not checked.
    prepare(CertifyRequest(bridge_command="no-such-program-7f3a", options=["rest-actions"]))


# A stdio server that serves 2026-07-28 and, answering tools/list, first writes a request of its own (roots/list) to
# stdout: what 2026-07-28 forbids on stdio, where server-to-client interactions are input-required results.
REQUESTING_BRIDGE = """
import json, sys

def send(message):
    sys.stdout.write(json.dumps(message) + "\\n")
    sys.stdout.flush()

for line in sys.stdin:
    message = json.loads(line)
    if "id" not in message:
        continue
    hints = {"resultType": "complete", "ttlMs": 0, "cacheScope": "private"}
    if message["method"] == "server/discover":
        discovered = {**hints, "supportedVersions": ["2026-07-28"], "capabilities": {"tools": {}}}
        send({"jsonrpc": "2.0", "id": message["id"], "result": discovered})
    elif message["method"] == "tools/list":
        send({"jsonrpc": "2.0", "id": "server-1", "method": "roots/list", "params": {}})
        send({"jsonrpc": "2.0", "id": message["id"], "result": {**hints, "tools": []}})
    else:
        send({"jsonrpc": "2.0", "id": message["id"], "error": {"code": -32601, "message": "Method not found"}})
"""


def test_a_bridge_writing_requests_to_stdout_fails(tmp_path: Path):
    """REPLAY-CLAUDE-015 fails a stdio server that serves 2026-07-28 and writes a JSON-RPC request of its own to
    stdout (the reference's bridge speaks the handshake era on stdio, so the check is not applicable to it)."""
    script = tmp_path / "requesting_bridge.py"
    script.write_text(REQUESTING_BRIDGE, encoding="utf-8")
    run = certify(
        tmp_path / "reports",
        "--option",
        "claude-desktop",
        "-k",
        "REPLAY-CLAUDE-015",
        "--bridge-command",
        f"'{sys.executable}' '{script}'",
        "--no-progress",
    )
    assert run.returncode == 1, f"{run.stdout[-2000:]}\n{run.stderr[-2000:]}"
    check = next(c for c in run.json()["checks"] if c["id"] == "REPLAY-CLAUDE-015")
    assert check["outcome"] == "failed" and "roots/list" in check["reason"], check
