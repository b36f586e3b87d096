"""Benchmarks: engine latency per fixture service, REST throughput against the engine alone, cold start,
and the wall time of ``certify`` (in process, and against ``serve`` behind a 50 ms round-trip delay).

Figures, not tests. Everything is measured within one run on the same machine: the REST rate in
windows that alternate with engine-only windows (the load generator, a separate process, sits idle
meanwhile), each REST window compared with the engine windows on either side of it, so that what else
runs on a noisy machine weighs on both sides of the ratio alike. Prints a table and writes
``reports/bench.json``.

    python benchmarks/run.py            # full run (~5 min: engine and REST, the certify runs, a short load run)
    python benchmarks/run.py --quick    # smoke run of engine and REST (~15 s), the same figures from fewer samples
    python benchmarks/run.py --only certify             # only the two certify wall times
    python benchmarks/run.py --only certify-delayed     # one of them; also: engine, rest, certify-in-process
    python benchmarks/run.py --only load   # load and outage (load.py): 200 clients, 60 s, then a 30 s outage phase
    python benchmarks/run.py --json /tmp/bench.json

``certify`` runs as a user runs it, a subprocess with the default hypothesis profile (``CI`` and
``HYPOTHESIS_PROFILE`` removed from its environment). Behind the delay, ``serve --base-url`` points at a
delaying TCP proxy on loopback (``delay_proxy.py``: 25 ms each way) and ``certify --target`` at the proxy.
Both report the slowest checks (from certify's junit.xml) and the time per suite. ``load`` runs
``load.py`` (``serve --workers 2`` on its own Redis under 200 concurrent clients, then Redis stopped and
restarted mid-run; its figures also go to ``reports/load.json``): 60 s of load with ``--only load``, 20 s
(and a 15 s outage phase) in the full run, to keep that within minutes. With ``--only``, the figures
measured are merged into an existing JSON file, the others kept.

Exit status: 0 when every figure was measured (a missed target is reported, not an error), 1 when
something broke (the server did not start, a request failed, an engine raised, a load run's correctness
assertion failed).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib
import importlib.metadata
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from load import cli_command  # benchmarks/ is on the path: run.py and load.py run as scripts from it

from spreadapi_conformance.engine import ENGINES, get_engine
from spreadapi_conformance.fixtures import ServiceDef, load_services
from spreadapi_conformance.strategies import cells_for, random_value
from spreadapi_conformance.threaded import free_port

ROOT = Path(__file__).resolve().parents[1]
LOADGEN = Path(__file__).resolve().with_name("loadgen.py")
LOAD = Path(__file__).resolve().with_name("load.py")
REST_SERVICE = "loan-calculator"
REST_ENGINE = "formulas"
RATIO_TARGET = 0.75
COLD_START_TARGET_S = 3.0
CERTIFY_IN_PROCESS_TARGET_S = 30.0
CERTIFY_DELAYED_TARGET_S = 90.0
DELAY_EACH_WAY_S = 0.025  # a 50 ms round trip
CERTIFY_TIMEOUT_S = 900
SLOWEST = 15
PARTS = ("engine", "rest", "certify-in-process", "certify-delayed", "load")
LOAD_SECONDS = {"alone": (60.0, 30.0), "with the others": (20.0, 15.0)}  # (load phase, outage phase) in s
LOAD_TIMEOUT_S = 900


@dataclass(frozen=True)
class Plan:
    evaluations: int  # timed evaluations per service and engine
    warm_evaluations: int
    compiles: int  # timed compiles per service and engine in this (warm) process; the median is reported
    cold_process_each: bool  # a fresh process for each workbook's cold compile, or one per engine
    cold_starts: int
    # REST against the engine alone: after a warm-up, `rest_rounds` rounds, each an engine-only window
    # then a REST window; a last engine window closes the series, so every REST window sits between two.
    rest_warmup: float
    rest_rounds: int
    rest_window: float
    engine_window: float
    concurrency: int


FULL = Plan(300, 20, 3, True, 3, rest_warmup=3.0, rest_rounds=10, rest_window=1.0, engine_window=0.5, concurrency=8)
QUICK = Plan(40, 5, 1, False, 1, rest_warmup=0.5, rest_rounds=2, rest_window=0.75, engine_window=0.3, concurrency=8)


# ---------------------------------------------------------------------------------------------------
# Inputs: valid, varying, reproducible from the seed


def sample_inputs(service: ServiceDef, count: int, seed: int) -> list[dict[str, Any]]:
    """Request inputs: every mandatory input, each optional one half of the time."""
    rng = random.Random(f"{seed}:{service.id}")
    return [
        {s.name: random_value(s, rng) for s in service.inputs if s.mandatory or rng.random() < 0.5}
        for _ in range(count)
    ]


# ---------------------------------------------------------------------------------------------------
# Engine


def _percentile(samples: list[float], pct: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[pct - 1]


def _import_engine(engine: str) -> float:
    """Seconds to import the engine's library (not part of any workbook's compile time)."""
    started = time.perf_counter()
    get_engine(engine)
    importlib.import_module(engine)
    return time.perf_counter() - started


def compile_probe(engine: str, service_ids: str) -> int:
    """Child mode: first compiles of workbooks in a fresh process, after importing the engine's library
    (which for formulas is cheap: it loads most of itself lazily, during the first compile)."""
    imported = _import_engine(engine)
    services = load_services()
    result: dict[str, Any] = {"import_s": imported, "compile_s": {}}
    for service_id in service_ids.split(","):
        started = time.perf_counter()
        get_engine(engine).compile(services[service_id])
        result["compile_s"][service_id] = time.perf_counter() - started
    print(json.dumps(result))
    return 0


def cold_compiles(engine: str, service_ids: list[str], one_process_each: bool) -> dict[str, dict[str, float]]:
    """{service: {compile_s, import_s}}: each workbook's first compile in a fresh process (full run), or
    all of them in one fresh process, in order (quick run: only the first pays the library's set-up)."""
    batches = [[s] for s in service_ids] if one_process_each else [service_ids]
    found = {}
    for batch in batches:
        command = [sys.executable, str(Path(__file__).resolve()), "--compile-probe", engine, ",".join(batch)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"compile probe {engine} {batch} failed:\n{done.stderr[-2000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        for service_id, seconds in result["compile_s"].items():
            found[service_id] = {"compile_s": seconds, "import_s": result["import_s"]}
    return found


def bench_engine(service: ServiceDef, engine: str, plan: Plan, seed: int, cold: dict[str, float]) -> dict[str, Any]:
    evaluator = get_engine(engine).compile(service)  # untimed: the library's one-time set-up
    compiles = []
    for _ in range(plan.compiles):
        started = time.perf_counter()
        evaluator = get_engine(engine).compile(service)
        compiles.append(time.perf_counter() - started)
    cases = [cells_for(service, i) for i in sample_inputs(service, plan.evaluations + plan.warm_evaluations, seed)]
    for cells in cases[: plan.warm_evaluations]:
        evaluator.evaluate(cells)
    latencies = []
    for cells in cases[plan.warm_evaluations :]:
        started = time.perf_counter()
        evaluator.evaluate(cells)
        latencies.append(time.perf_counter() - started)
    return {
        # first compile of this workbook in a fresh process, after `import <engine>`: what a server pays
        # at start-up, including what the library loads lazily on first use (most of formulas' ~1 s)
        "compile_cold_s": cold["compile_s"],
        "import_s": cold["import_s"],
        # the same workbook compiled again in a warm process (median): the library's one-time set-up
        # (formulas loads function modules lazily) and caches no longer count
        "compile_s": statistics.median(compiles),
        "evaluations": len(latencies),
        "median_ms": statistics.median(latencies) * 1000,
        "p95_ms": _percentile(latencies, 95) * 1000,
    }


def evaluation_rate(evaluate: Callable[[dict], Any], cases: list[dict], seconds: float) -> tuple[float, float]:
    """(evaluations per second, CPU ms per evaluation): one thread, back to back, cycling through the cases."""
    count = 0
    cpu = time.process_time()
    started = time.perf_counter()
    deadline = started + seconds
    while True:
        evaluate(cases[count % len(cases)])
        count += 1
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - started), (time.process_time() - cpu) * 1000 / count


# ---------------------------------------------------------------------------------------------------
# The server


def serve_command(port: int) -> list[str]:
    return [*cli_command(), "serve", "--host", "127.0.0.1", "--port", str(port), "--engine", REST_ENGINE]


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process so far, from /proc (None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


class ServerError(RuntimeError):
    pass


@dataclass
class Server:
    process: subprocess.Popen
    base_url: str
    log: Path
    launched: float  # perf_counter just before the process was started

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text(encoding="utf-8", errors="replace")[-2000:]
        return ""


@contextlib.contextmanager
def server(workdir: Path) -> Iterator[Server]:
    port = free_port()
    log = workdir / f"serve-{port}.log"
    with log.open("wb") as sink:
        launched = time.perf_counter()
        process = subprocess.Popen(serve_command(port), stdout=sink, stderr=subprocess.STDOUT, cwd=workdir)
    handle = Server(process, f"http://127.0.0.1:{port}", log, launched)
    try:
        yield handle
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _poll(srv: Server, request: Callable[[httpx.Client], httpx.Response], timeout: float) -> float:
    """Seconds from launch until ``request`` answers 200."""
    deadline = time.perf_counter() + timeout
    last = "no answer"
    with httpx.Client(base_url=srv.base_url, timeout=5) as client:
        while time.perf_counter() < deadline:
            if srv.process.poll() is not None:
                raise ServerError(f"the server exited with {srv.process.returncode}:\n{srv.log_tail()}")
            try:
                response = request(client)
            except httpx.TransportError as exc:
                last = repr(exc)
            else:
                if response.status_code == 200:
                    return time.perf_counter() - srv.launched
                last = f"{response.status_code} {response.text[:300]}"
            time.sleep(0.01)
    raise ServerError(f"no 200 within {timeout} s (last: {last})\n{srv.log_tail()}")


def _execute_request(body: dict) -> Callable[[httpx.Client], httpx.Response]:
    return lambda client: client.post(f"/api/v1/services/{REST_SERVICE}/execute", json=body)


def _list_request(client: httpx.Client) -> httpx.Response:
    return client.get("/api/v1/services")


def bench_cold_start(
    plan: Plan, body: dict, workdir: Path, then: Callable[[Server], None] | None = None
) -> dict[str, Any]:
    """Launch the server ``plan.cold_starts`` times; ``then`` gets the last one, still running."""
    runs = []
    for index in range(plan.cold_starts):
        with server(workdir) as srv:
            listed = _poll(srv, _list_request, timeout=60)
            executed = _poll(srv, _execute_request(body), timeout=60)
            runs.append({"services_200_s": listed, "execute_200_s": executed})
            if then is not None and index == plan.cold_starts - 1:
                then(srv)
    listed = statistics.median(r["services_200_s"] for r in runs)
    executed = statistics.median(r["execute_200_s"] for r in runs)
    return {
        "runs": runs,
        "services_200_s": listed,
        "execute_200_s": executed,
        "target_s": COLD_START_TARGET_S,
        "pass": max(listed, executed) <= COLD_START_TARGET_S,
    }


class LoadGeneratorProcess:
    """``loadgen.py --rounds`` in its own process, driven one window at a time over stdin/stdout."""

    def __init__(self, url: str, bodies: Path, concurrency: int):
        command = [sys.executable, str(LOADGEN), "--rounds", "--url", url, "--bodies", str(bodies)]
        command += ["--concurrency", str(concurrency)]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, command: str) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise ServerError(f"the load generator exited ({self.process.wait(10)}) on {command!r}")
        answer = json.loads(line)
        if "error" in answer:
            raise ServerError(f"load generator: {answer['error']}")
        return answer

    def close(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(OSError):
                assert self.process.stdin is not None
                self.process.stdin.write("quit\n")
                self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def bench_rest(plan: Plan, services: dict[str, ServiceDef], seed: int, workdir: Path, srv: Server) -> dict[str, Any]:
    """REST throughput on a running server (its first execute answered) against the engine alone."""
    service = services[REST_SERVICE]
    requests = sample_inputs(service, 500, seed)
    bodies_file = workdir / "bodies.json"
    bodies_file.write_text(json.dumps([{"inputs": i} for i in requests]), encoding="utf-8")

    # The engine alone, in this process, on the same inputs: what the server could do at best.
    evaluator = get_engine(REST_ENGINE).compile(service)
    cases = [cells_for(service, i) for i in requests]
    for cells in cases[:20]:
        evaluator.evaluate(cells)

    engine_rates: list[float] = []
    engine_cpu: list[float] = []  # CPU ms per evaluation, per engine window
    windows: list[dict[str, Any]] = []

    def engine_window() -> None:
        rate, cpu_ms = evaluation_rate(evaluator.evaluate, cases, plan.engine_window)
        engine_rates.append(rate)
        engine_cpu.append(cpu_ms)

    url = f"{srv.base_url}/api/v1/services/{REST_SERVICE}/execute"
    load = LoadGeneratorProcess(url, bodies_file, plan.concurrency)
    try:
        load.ask(f"warmup {plan.rest_warmup}")
        for _ in range(plan.rest_rounds):
            engine_window()
            cpu_before = process_cpu_seconds(srv.process.pid)
            window = load.ask(f"measure {plan.rest_window}")
            cpu_after = process_cpu_seconds(srv.process.pid)
            if cpu_before is not None and cpu_after is not None and window["requests"]:
                window["server_cpu_ms_per_request"] = (cpu_after - cpu_before) * 1000 / window["requests"]
            windows.append(window)
        engine_window()
        totals = load.ask("summary")
    finally:
        load.close()
    if srv.process.poll() is not None:
        raise ServerError(f"the server died during the run:\n{srv.log_tail()}")

    # Each REST window against the mean of the engine windows just before and just after it.
    ratios = [w["rps"] / ((engine_rates[i] + engine_rates[i + 1]) / 2) for i, w in enumerate(windows)]
    ratio = statistics.median(ratios)
    engine_rate = statistics.mean(engine_rates)
    server_cpu = [w["server_cpu_ms_per_request"] for w in windows if "server_cpu_ms_per_request" in w]
    server_cpu_ms = statistics.median(server_cpu) if server_cpu else None
    engine_cpu_ms = statistics.median(engine_cpu)
    return {
        "service": REST_SERVICE,
        "engine": REST_ENGINE,
        "load_generator": "httpx, keep-alive, separate process",
        "concurrency": plan.concurrency,
        "warmup_s": plan.rest_warmup,
        "duration_s": totals["seconds"],
        "rounds": plan.rest_rounds,
        "requests": totals["requests"],
        "ok": totals["ok"],
        "failed": totals["failed"],
        "statuses": totals["statuses"],
        "errors": totals["errors"],
        "rps": totals["rps"],
        "latency_median_ms": totals["latency_median_ms"],
        "latency_p95_ms": totals["latency_p95_ms"],
        "engine_eps": engine_rate,
        "engine_eps_windows": engine_rates,
        "rps_windows": [w["rps"] for w in windows],
        "ratio_windows": ratios,
        "ratio": ratio,
        "target": RATIO_TARGET,
        "pass": ratio >= RATIO_TARGET,
        # Diagnostics: CPU per request on each side, and the ratio of CPU costs (engine evaluation
        # over a whole request on the server), which other processes on the machine hardly move.
        "server_cpu_ms_per_request": server_cpu_ms,
        "client_cpu_ms_per_request": totals["cpu_ms_per_request"],
        "engine_cpu_ms_per_evaluation": engine_cpu_ms,
        "cpu_ratio": engine_cpu_ms / server_cpu_ms if server_cpu_ms else None,
    }


# ---------------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------------
# certify: wall time, where it goes


def _certify_environment() -> dict[str, str]:
    """A user's environment: the default hypothesis profile (no CI, no HYPOTHESIS_PROFILE), no pytest leftovers."""
    drop = ("CI", "HYPOTHESIS_PROFILE", "SPREADAPI_TARGET", "SPREADAPI_MAX_RPS", "SPREADAPI_MCP_REVISIONS")
    return {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("PYTEST_")}


def _certify_command(*args: str) -> list[str]:
    return [*cli_command(), "certify", "--no-progress", *args]


def junit_times(junit: Path) -> list[dict[str, Any]]:
    """Every test of certify's junit.xml: ``{"test", "suite", "seconds"}``, slowest first."""
    import xml.etree.ElementTree as ET

    tests = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        classname = case.get("classname", "")
        module = classname.replace(".", "/") + ".py" if classname else "?"
        tests.append(
            {
                "test": f"{module}::{case.get('name')}",
                "suite": classname.split(".")[0] if classname else "?",  # the area: rest, openapi, oauth, mcp, replay
                "seconds": float(case.get("time") or 0),
            }
        )
    return sorted(tests, key=lambda t: t["seconds"], reverse=True)


def _where_time_goes(junit: Path) -> dict[str, Any]:
    tests = junit_times(junit)
    by_suite: dict[str, dict[str, float]] = {}
    for t in tests:
        entry = by_suite.setdefault(t["suite"], {"tests": 0, "seconds": 0.0})
        entry["tests"] += 1
        entry["seconds"] += t["seconds"]
    return {
        "tests": len(tests),
        "test_seconds": round(sum(t["seconds"] for t in tests), 2),
        "slowest": [{**t, "seconds": round(t["seconds"], 2)} for t in tests[:SLOWEST]],
        "by_suite": {
            k: {"tests": v["tests"], "seconds": round(v["seconds"], 2)}
            for k, v in sorted(by_suite.items(), key=lambda kv: -kv[1]["seconds"])
        },
    }


def _run_certify(args: list[str], report_dir: Path) -> dict[str, Any]:
    command = _certify_command("--report-dir", str(report_dir), *args)
    started = time.perf_counter()
    run = subprocess.run(
        command, capture_output=True, text=True, env=_certify_environment(), timeout=CERTIFY_TIMEOUT_S, cwd=ROOT
    )
    wall = time.perf_counter() - started
    # 0 certified, 1 not, 3 incomplete (a --certify-k subset): a verdict either way; 2 and 4 are not figures.
    if run.returncode not in (0, 1, 3) or not (report_dir / "junit.xml").exists():
        raise RuntimeError(f"certify {' '.join(args)} exited {run.returncode}:\n{run.stderr[-2000:]}")
    report = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    return {
        "command": "spreadapi-conformance certify " + " ".join(args),
        "exit": run.returncode,
        "wall_s": round(wall, 2),
        "pytest_s": report["run"]["duration_s"],
        "options": report["options"],
        "summary": report["summary"],
        "workers": report["run"].get("workers", 0),
        **_where_time_goes(report_dir / "junit.xml"),
    }


def bench_certify_in_process(workdir: Path, extra: list[str] | None = None) -> dict[str, Any]:
    """``certify --in-process`` (every option), as a user runs it; target 30 s."""
    result = _run_certify(["--in-process", *(extra or [])], workdir / "certify-in-process")
    return {**result, "target_s": CERTIFY_IN_PROCESS_TARGET_S, "pass": result["wall_s"] <= CERTIFY_IN_PROCESS_TARGET_S}


def bench_certify_delayed(
    workdir: Path, delay: float = DELAY_EACH_WAY_S, extra: list[str] | None = None
) -> dict[str, Any]:
    """``certify --target`` against ``serve`` behind the delaying proxy (``delay`` each way); target 90 s."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from delay_proxy import DelayProxy

    upstream = free_port()
    target = workdir / "delayed-target.toml"
    log = workdir / "serve-delayed.log"
    with DelayProxy(upstream, delay=delay, lifetime=CERTIFY_TIMEOUT_S + 120) as proxy:
        command = [*serve_command(upstream), "--base-url", proxy.url, "--write-target", str(target)]
        with log.open("wb") as sink:
            launched = time.perf_counter()
            process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, cwd=workdir)
        srv = Server(process, f"http://127.0.0.1:{upstream}", log, launched)
        try:
            _poll(srv, _list_request, 60)
            deadline = time.monotonic() + 30
            while not target.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            with httpx.Client(timeout=10) as client:  # the proxy adds what it should, once
                client.get(proxy.url + "/api/v1/services")
                started = time.perf_counter()
                client.get(proxy.url + "/api/v1/services")
                round_trip = time.perf_counter() - started
            before = proxy.stats.as_dict()
            result = _run_certify(["--target", str(target), *(extra or [])], workdir / "certify-delayed")
            after = proxy.stats.as_dict()
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
    traffic = {k: after[k] - before[k] for k in ("connections", "chunks_up", "chunks_down", "bytes_up", "bytes_down")}
    return {
        **result,
        "delay_each_way_ms": delay * 1000,
        "round_trip_ms": round(round_trip * 1000, 1),
        "proxy": {**traffic, "peak_connections": after["peak_connections"], "refused": after["refused"]},
        # Each request written to the proxy waits a full round trip; if they all waited one after the other:
        "sequential_round_trips_s": round(traffic["chunks_up"] * delay * 2, 1),
        "target_s": CERTIFY_DELAYED_TARGET_S,
        "pass": result["wall_s"] <= CERTIFY_DELAYED_TARGET_S,
    }


def bench_load(workdir: Path, alone: bool) -> dict[str, Any]:
    """``load.py`` in its own process (its output shown as it runs): its report, and whether its
    correctness assertions held."""
    seconds, outage = LOAD_SECONDS["alone" if alone else "with the others"]
    report_file = workdir / "load.json"
    command = [sys.executable, str(LOAD), "--seconds", str(seconds), "--outage-seconds", str(outage)]
    command += ["--json", str(report_file)]
    run = subprocess.run(command, timeout=LOAD_TIMEOUT_S, cwd=ROOT, check=False)
    if run.returncode not in (0, 1) or not report_file.exists():
        raise RuntimeError(f"load.py exited {run.returncode}")
    (ROOT / "reports").mkdir(exist_ok=True)
    shutil.copyfile(report_file, ROOT / "reports" / "load.json")
    return {**json.loads(report_file.read_text(encoding="utf-8")), "pass": run.returncode == 0}


def _versions() -> dict[str, str]:
    versions = {}
    for name in ("formulas", "formualizer", "uvicorn", "starlette", "h11", "httptools", "uvloop", "httpx"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[name] = importlib.metadata.version(name)
    return versions


def _loadavg() -> list[float] | None:
    with contextlib.suppress(OSError, AttributeError):
        return [round(x, 2) for x in os.getloadavg()]
    return None


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def print_report(report: dict[str, Any]) -> None:
    if "engine" in report:
        _print_engine(report)
    if "rest" in report:
        _print_rest(report)
    for key, title in (
        ("in_process", "certify --in-process"),
        ("delayed", "certify --target: serve behind the delaying proxy"),
    ):
        if key in report.get("certify", {}):
            _print_certify(title, report["certify"][key])
    if "load" in report:
        _print_load(report["load"])
    print(
        f"\nload average (1, 5, 15 min): start {report['meta']['loadavg_start']}, end {report['meta']['loadavg_end']}"
    )


def _print_load(load: dict[str, Any]) -> None:
    meta = load["meta"]
    print(f"\nLoad and outage (load.py: serve --workers {meta['workers']}, Redis, {meta['clients']} clients)")
    for name, phase in load["phases"].items():
        kinds = ", ".join(f"{k} {v['per_s']:g}/s (p95 {v['p95_ms']} ms)" for k, v in phase["operations"].items())
        print(f"  {name}: {phase['seconds']:g} s, {phase['requests_per_s']:g} requests/s; operations: {kinds}")
    failed = [row["assertion"] for row in load["assertions"] if not row["ok"]]
    print(f"  correctness: {'every assertion held' if not failed else 'FAILED: ' + '; '.join(failed)}")


def _print_certify(title: str, row: dict[str, Any]) -> None:
    workers = f", {row['workers']} workers" if row.get("workers") else ", one check at a time"
    print(f"\n{title} ({row['tests']} tests, default hypothesis profile{workers})")
    if "delay_each_way_ms" in row:
        p = row["proxy"]
        print(
            f"  {row['delay_each_way_ms']:g} ms each way (measured round trip {row['round_trip_ms']:g} ms); through "
            f"the proxy: {p['chunks_up']} writes up, {p['connections']} connections (peak {p['peak_connections']} "
            f"at once); one after the other those writes' round trips alone take {row['sequential_round_trips_s']} s"
        )
    print(
        f"  wall time {row['wall_s']:.1f} s (pytest {row['pytest_s']:g} s)   target <= {row['target_s']:g} s   "
        f"{_verdict(row['pass'])}   exit {row['exit']}, options {row['options']}"
    )
    print("  by suite: " + ", ".join(f"{k} {v['seconds']:.1f} s ({v['tests']})" for k, v in row["by_suite"].items()))
    print(f"  slowest {len(row['slowest'])}:")
    for t in row["slowest"]:
        print(f"    {t['seconds']:>7.2f} s  {t['test']}")


def _print_engine(report: dict[str, Any]) -> None:
    plan = report["meta"]["plan"]
    print(f"\nEngine: per fixture service, {plan['evaluations']} evaluations with varying valid inputs")
    print(f"  {'service':<17}{'engine':<13}{'cold compile s':>15}{'warm compile s':>15}{'median ms':>11}{'p95 ms':>9}")
    for service_id, by_engine in report["engine"].items():
        for engine, row in by_engine.items():
            print(
                f"  {service_id:<17}{engine:<13}{row['compile_cold_s']:>15.3f}{row['compile_s']:>15.3f}"
                f"{row['median_ms']:>11.3f}{row['p95_ms']:>9.3f}"
            )


def _print_rest(report: dict[str, Any]) -> None:
    rest = report["rest"]
    print(
        f"\nREST: POST /api/v1/services/{rest['service']}/execute, engine {rest['engine']}, one uvicorn worker, "
        f"{rest['concurrency']} concurrent, {rest['rounds']} windows, {rest['duration_s']:g} s in all "
        f"after {rest['warmup_s']:g} s warm-up"
    )
    print(
        f"  {rest['rps']:.1f} req/s ({rest['ok']} ok, {rest['failed']} failed); "
        f"latency median {rest['latency_median_ms']:.2f} ms, p95 {rest['latency_p95_ms']:.2f} ms"
    )
    print(
        f"  engine alone: {rest['engine_eps']:.1f} evaluations/s ({1000 / rest['engine_eps']:.2f} ms each; "
        f"one thread in this process, windows between the REST ones)"
    )
    print("  per window: req/s " + ", ".join(f"{x:.0f}" for x in rest["rps_windows"]))
    print("              eval/s " + ", ".join(f"{x:.0f}" for x in rest["engine_eps_windows"]))
    print("              ratio " + ", ".join(f"{x:.2f}" for x in rest["ratio_windows"]))
    if rest.get("server_cpu_ms_per_request"):
        print(
            f"  CPU: {rest['engine_cpu_ms_per_evaluation']:.2f} ms per evaluation alone, "
            f"{rest['server_cpu_ms_per_request']:.2f} ms per request in the server "
            f"(ratio {rest['cpu_ratio']:.2f}), {rest['client_cpu_ms_per_request']:.2f} ms in the load generator"
        )
    print(
        f"  ratio REST/engine (median of windows) {rest['ratio']:.3f}   target >= {rest['target']}   "
        f"{_verdict(rest['pass'])}"
    )
    cold = report["cold_start"]
    print(f"\nCold start (median of {len(cold['runs'])} launches of spreadapi-conformance serve)")
    print(f"  launch -> GET /api/v1/services 200:    {cold['services_200_s']:.2f} s")
    print(f"  launch -> first POST execute 200:      {cold['execute_200_s']:.2f} s")
    print(f"  target <= {cold['target_s']:g} s   {_verdict(cold['pass'])}")


def _parts(only: list[str] | None) -> set[str]:
    """``--only`` names: engine, rest, certify (both certify runs), certify-in-process, certify-delayed, load."""
    if not only:
        return set(PARTS)
    chosen: set[str] = set()
    for name in only:
        chosen |= {"certify-in-process", "certify-delayed"} if name == "certify" else {name}
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument(
        "--quick", action="store_true", help="short smoke run of engine and REST: fewer samples, shorter windows"
    )
    parser.add_argument("--json", type=Path, default=ROOT / "reports" / "bench.json", help="where to write figures")
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument(
        "--only",
        action="append",
        choices=[*PARTS, "certify"],
        help="run only this part (repeatable); 'certify' is both certify runs. Default: everything "
        "(with --quick: engine and rest)",
    )
    parser.add_argument(
        "--certify-k", metavar="EXPR", help="pass -k EXPR to the certify runs (a smoke test of this code; not a figure)"
    )
    parser.add_argument(
        "--certify-workers",
        type=int,
        metavar="N",
        help="pass --workers N to certify against the delayed serve (default: certify's own, 4 for a target)",
    )
    parser.add_argument("--compile-probe", nargs=2, metavar=("ENGINE", "SERVICE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.compile_probe:
        return compile_probe(*args.compile_probe)
    plan = QUICK if args.quick else FULL
    parts = _parts(args.only) if args.only or not args.quick else {"engine", "rest"}
    certify_args = ["-k", args.certify_k] if args.certify_k else []
    services = load_services()

    report: dict[str, Any] = {
        "meta": {
            "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "quick": args.quick,
            "parts": sorted(parts),
            "seed": args.seed,
            "plan": plan.__dict__,
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "versions": _versions(),
            "loadavg_start": _loadavg(),
        }
    }
    try:
        if "engine" in parts:
            for engine in ENGINES:
                _import_engine(engine)
            cold = {}
            for engine in ENGINES:
                print(f"engine: cold compiles, {engine} …", file=sys.stderr, flush=True)
                cold[engine] = cold_compiles(engine, list(services), plan.cold_process_each)
            report["engine"] = {}
            for service_id, service in services.items():
                report["engine"][service_id] = {}
                for engine in ENGINES:
                    print(f"engine: {service_id} / {engine} …", file=sys.stderr, flush=True)
                    row = bench_engine(service, engine, plan, args.seed, cold[engine][service_id])
                    report["engine"][service_id][engine] = row

        with tempfile.TemporaryDirectory(prefix="spreadapi-bench-") as tmp:
            workdir = Path(tmp)

            if "rest" in parts:
                # The last cold-started server goes on to serve the REST throughput run.
                def rest(srv: Server) -> None:
                    print("rest: throughput …", file=sys.stderr, flush=True)
                    report["rest"] = bench_rest(plan, services, args.seed, workdir, srv)

                print("cold start …", file=sys.stderr, flush=True)
                body = {"inputs": sample_inputs(services[REST_SERVICE], 1, args.seed)[0]}
                report["cold_start"] = bench_cold_start(plan, body, workdir, then=rest)

            if "certify-in-process" in parts:
                print("certify --in-process …", file=sys.stderr, flush=True)
                report.setdefault("certify", {})["in_process"] = bench_certify_in_process(workdir, certify_args)
            if "certify-delayed" in parts:
                print("certify --target serve behind a 50 ms round trip …", file=sys.stderr, flush=True)
                workers = [] if args.certify_workers is None else ["--workers", str(args.certify_workers)]
                delayed = bench_certify_delayed(workdir, extra=certify_args + workers)
                report.setdefault("certify", {})["delayed"] = delayed
            if "load" in parts:
                print("load and outage …", file=sys.stderr, flush=True)
                report["load"] = bench_load(workdir, alone=parts == {"load"})
    except Exception:
        traceback.print_exc()
        print("benchmark failed; nothing written", file=sys.stderr)
        return 1

    report["meta"]["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    report["meta"]["loadavg_end"] = _loadavg()
    print_report(report)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    written = report
    if args.only and args.json.exists():  # a partial run: keep the other figures of the file
        with contextlib.suppress(ValueError, OSError):
            written = json.loads(args.json.read_text(encoding="utf-8"))
            certify = {**written.get("certify", {}), **report.pop("certify", {})}
            written.update(report)
            if certify:
                written["certify"] = certify
    args.json.write_text(json.dumps(written, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {args.json}")
    if "load" in report and not report["load"]["pass"]:
        failed = [row["assertion"] for row in report["load"]["assertions"] if not row["ok"]]
        print(f"error: the load run's assertions failed: {failed}", file=sys.stderr)
        return 1
    if "rest" in report and report["rest"]["failed"]:
        print(f"error: {report['rest']['failed']} REST requests failed: {report['rest']['statuses']}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
