"""The official MCP conformance suite's authorization-server scenarios against a live ``serve``.

``conformance authorization`` (``@modelcontextprotocol/conformance@0.2.0-alpha.12``, Node 22, both
installed by ``scripts/install-tools.sh``) checks the RFC 8414 metadata and runs an authorization-code
grant with PKCE S256 for a client it is given: this test registers that client over RFC 7591 with the
harness's loopback callback, plays the user (GET the consent page, post its form with the MCP token, as
the page's own form does), lets the harness's callback receive the code, and reads the checks it wrote.

Three runs: without the RFC 8707 ``resource`` parameter, with the multi-service MCP URL (Option 3), and
with a public service's MCP URL (Option 2, no token to paste). ``expected-failures.yaml`` lists what may
fail; a listed scenario that passes fails the test too. Results go to ``reports/mcp-conformance/``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
import yaml

from ..browser._live import REPORTS, Live, live_reference
from ..serve.conftest import free_port, stop_process

pytestmark = pytest.mark.live

HERE = Path(__file__).parent
RESULTS = REPORTS / "mcp-conformance"
PUBLIC_SERVICE = "loan-calculator"
# run -> the resource parameter's path (None: the harness sends none)
RUNS = {"plain": None, "mcp-resource": "/api/mcp", "service-resource": f"/api/mcp/services/{PUBLIC_SERVICE}"}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with live_reference(tmp_path_factory.mktemp("mcp-official-live")) as served:
        yield served


@pytest.fixture(scope="module")
def scenarios(conformance: tuple[list[str], dict[str, str]]) -> list[str]:
    command, env = conformance
    listed = subprocess.run([*command, "list", "--authorization"], capture_output=True, text=True, env=env, timeout=60)
    assert listed.returncode == 0, listed.stderr
    names = re.findall(r"^\s*-\s+(\S+)", listed.stdout, re.M)
    assert names, listed.stdout
    return names


def expected_failures() -> dict[str, str]:
    document = yaml.safe_load((HERE / "expected-failures.yaml").read_text(encoding="utf-8")) or {}
    entries = document.get("expected_failures") or {}
    assert isinstance(entries, dict), "expected_failures must be a mapping: scenario[@run] -> reason"
    for key, reason in entries.items():
        assert isinstance(reason, str) and reason.strip() and "\n" not in reason.strip(), f"{key}: one-line reason"
    return entries


class Harness:
    """``conformance authorization`` as a subprocess; its output collected line by line."""

    def __init__(self, command: list[str], env: dict[str, str], cwd: Path):
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=cwd
        )
        self.lines: list[str] = []
        self._pump = threading.Thread(target=self._read, daemon=True)
        self._pump.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_line(self, pattern: re.Pattern[str], timeout: float) -> str | None:
        """The first line matching ``pattern``; None once the harness has ended without printing one."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if pattern.fullmatch(line.strip()):
                    return line.strip()
            if self.process.poll() is not None:
                self._pump.join(5)
                if not any(pattern.fullmatch(line.strip()) for line in self.lines):
                    return None
            time.sleep(0.05)
        return None

    def finish(self, timeout: float) -> int:
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            pytest.fail(f"conformance authorization did not finish within {timeout} s:\n{self.output[-3000:]}")
        self._pump.join(5)
        return code

    def stop(self) -> None:
        stop_process(self.process)


def play_the_user(live: Live, authorize_url: str, callback_port: int, resource: str | None) -> None:
    """What a person does with the URL the harness prints: open it, paste the MCP token, approve."""
    with httpx.Client(timeout=15) as http:
        page = http.get(authorize_url)
        assert page.status_code == 200, f"consent page: {page.status_code} {page.text[:500]}"
        assert 'id="approve"' in page.text
        form = dict(parse_qsl(urlsplit(authorize_url).query, keep_blank_values=True))
        form["action"] = "approve"
        if resource is None or resource == "/api/mcp":
            form["mcp_tokens"] = live.mcp_token  # multi-service: paste the token; a public service needs none
        answer = http.post(f"{live.base_url}/api/oauth/authorize", data=form)
        assert answer.status_code == 303, f"approve: {answer.status_code} {answer.text[:500]}"
        location = answer.headers["location"]
        assert location.startswith(f"http://127.0.0.1:{callback_port}/callback?"), location
        # The harness prints the URL before its callback server is listening: retry briefly.
        deadline = time.monotonic() + 10
        while True:
            try:
                delivered = http.get(location)
                break
            except httpx.ConnectError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert delivered.status_code == 200, delivered.text


def read_results(out: Path, scenarios: list[str]) -> dict[str, list[dict]]:
    """scenario -> its checks, from ``<out>/authorization-server-<scenario>-<timestamp>/checks.json``."""
    results: dict[str, list[dict]] = {}
    for checks in sorted(out.glob("*/checks.json")):
        for name in scenarios:
            if checks.parent.name.startswith(f"authorization-server-{name}-"):
                results[name] = json.loads(checks.read_text(encoding="utf-8"))
    return results


def passed(checks: list[dict]) -> bool:
    statuses = {c.get("status") for c in checks}
    return "FAILURE" not in statuses and "SUCCESS" in statuses


def publish(run: str, out: Path, harness: Harness, results: dict[str, list[dict]]) -> None:
    """Copy the harness's files into reports/mcp-conformance/<run>/, with its console output and a summary."""
    target = RESULTS / run
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for checks in out.glob("*/checks.json"):
        (target / checks.parent.name).mkdir()
        shutil.copy2(checks, target / checks.parent.name / "checks.json")
    (target / "console.txt").write_text(harness.output + "\n", encoding="utf-8")
    summary_file = RESULTS / "summary.json"
    summary = json.loads(summary_file.read_text(encoding="utf-8")) if summary_file.exists() else {}
    summary[run] = {
        name: {
            "passed": passed(checks),
            "checks": {c["id"]: c["status"] for c in checks},
            "warnings": [f"{c['id']}: {c.get('errorMessage', '')}" for c in checks if c.get("status") == "WARNING"],
        }
        for name, checks in results.items()
    }
    summary_file.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def test_the_expected_failures_name_listed_scenarios_and_runs(scenarios: list[str]) -> None:
    for key in expected_failures():
        name, _, run = key.partition("@")
        assert name in scenarios, f"expected-failures.yaml: {name!r} is not a scenario of this suite ({scenarios})"
        assert not run or run in RUNS, f"expected-failures.yaml: {key!r} names no run of {sorted(RUNS)}"


@pytest.mark.parametrize("run", list(RUNS))
def test_official_authorization_server_scenarios(
    run: str, live: Live, conformance: tuple[list[str], dict[str, str]], scenarios: list[str], tmp_path: Path
) -> None:
    command, env = conformance
    port = free_port()
    redirect_uri = f"http://127.0.0.1:{port}/callback"
    registered = httpx.post(
        f"{live.base_url}/oauth/register",
        json={"redirect_uris": [redirect_uri], "client_name": f"MCP conformance suite ({run})"},
        timeout=10,
    )
    assert registered.status_code == 201, registered.text
    resource_path = RUNS[run]
    out = tmp_path / "results"
    arguments = ["authorization", "--url", live.base_url, "--client-id", registered.json()["client_id"]]
    arguments += ["--port", str(port), "--output-dir", str(out)]
    if resource_path:
        arguments += ["--resource", live.base_url + resource_path]

    harness = Harness([*command, *arguments], env, tmp_path)
    try:
        authorize = re.compile(re.escape(f"{live.base_url}/oauth/authorize?") + r"\S+")
        url = harness.wait_for_line(authorize, timeout=60)
        if url is not None:  # None: the harness gave up before the grant (its checks say why)
            play_the_user(live, url, port, resource_path)
        code = harness.finish(timeout=60)
    finally:
        harness.stop()

    results = read_results(out, scenarios)
    publish(run, out, harness, results)
    failing = {name for name in scenarios if not passed(results.get(name, []))}
    for name, checks in sorted(results.items()):
        for check in checks:
            if check.get("status") == "WARNING":
                print(f"WARNING {run} {name}: {check['id']}: {check.get('errorMessage', '')}")

    allowed = expected_failures()
    expected = {name for name in scenarios if name in allowed or f"{name}@{run}" in allowed}
    unexpected = sorted(failing - expected)
    stale = sorted(expected - failing)
    details = {
        name: [f"{c['id']}: {c['status']} {c.get('errorMessage', '')}" for c in results.get(name, [])] or ["no result"]
        for name in unexpected
    }
    assert not unexpected, f"unexpected failures in run {run!r}: {details}\n{harness.output[-2000:]}"
    assert not stale, f"listed in expected-failures.yaml but passing in run {run!r}, remove them: {stale}"
    assert set(results) == set(scenarios), f"scenarios without results: {sorted(set(scenarios) - set(results))}"
    assert code == (1 if failing else 0), f"harness exit code {code}\n{harness.output[-2000:]}"
