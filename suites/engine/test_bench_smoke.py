"""A smoke test of the benchmark code: ``benchmarks/run.py --quick`` runs and reports every figure.

Not a performance assertion: the figures only have to exist and be positive numbers (a missed target
is the benchmark's verdict to print, not this test's to judge).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ._support import ENGINES, load_services

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "benchmarks" / "run.py"

ENGINE_FIGURES = ("compile_cold_s", "compile_s", "median_ms", "p95_ms", "evaluations")
REST_FIGURES = (
    "rps",
    "latency_median_ms",
    "latency_p95_ms",
    "engine_eps",
    "ratio",
    "requests",
    "ok",
    "duration_s",
    "client_cpu_ms_per_request",
    "engine_cpu_ms_per_evaluation",
)
REST_SERIES = ("rps_windows", "engine_eps_windows", "ratio_windows")
LINUX_FIGURES = ("server_cpu_ms_per_request", "cpu_ratio")  # read from /proc
COLD_START_FIGURES = ("services_200_s", "execute_200_s")


def run_benchmarks(out: Path, *args: str) -> tuple[dict[str, Any], str]:
    """``benchmarks/run.py ARGS --json OUT`` as a user runs it; the figures it wrote, and what it printed."""
    command = [sys.executable, str(RUN), *args, "--json", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    why = f"benchmarks/run.py {' '.join(args)} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert done.returncode == 0, why
    return json.loads(out.read_text(encoding="utf-8")), done.stdout


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0


@pytest.mark.live
def test_quick_benchmark_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    report, printed = run_benchmarks(out, "--quick")

    missing = []
    for service_id in load_services():
        for engine in ENGINES:
            row = report["engine"].get(service_id, {}).get(engine, {})
            missing += [
                f"engine.{service_id}.{engine}.{k}={row.get(k)!r}" for k in ENGINE_FIGURES if not _positive(row.get(k))
            ]
    rest = report["rest"]
    figures = REST_FIGURES + (LINUX_FIGURES if sys.platform.startswith("linux") else ())
    missing += [f"rest.{k}={rest.get(k)!r}" for k in figures if not _positive(rest.get(k))]
    missing += [
        f"rest.{k}={rest.get(k)!r}"
        for k in REST_SERIES
        if not (isinstance(rest.get(k), list) and rest[k] and all(_positive(x) for x in rest[k]))
    ]
    missing += [
        f"cold_start.{k}={report['cold_start'].get(k)!r}"
        for k in COLD_START_FIGURES
        if not _positive(report["cold_start"].get(k))
    ]
    assert not missing, "figures missing or not positive numbers:\n" + "\n".join(missing)

    assert rest["failed"] == 0, rest["statuses"]
    assert len(rest["engine_eps_windows"]) == len(rest["rps_windows"]) + 1  # every REST window bracketed
    assert isinstance(rest["pass"], bool) and isinstance(report["cold_start"]["pass"], bool)
    assert report["meta"]["quick"] is True
    assert "ratio REST/engine" in printed and ("PASS" in printed or "MISS" in printed)


@pytest.mark.live
def test_certify_benchmarks_report_their_figures(tmp_path: Path) -> None:
    """``--only certify`` runs both certify figures (in process; against serve behind the delaying proxy), here
    on one check (``--certify-k``) to keep it short, and merges them into an existing figures file."""
    out = tmp_path / "bench.json"
    out.write_text(json.dumps({"meta": {}, "engine": {"kept": True}}), encoding="utf-8")
    report, printed = run_benchmarks(out, "--only", "certify", "--certify-k", "test_pagination_fields")
    assert report["engine"] == {"kept": True}, "a partial run keeps the other figures"
    for key in ("in_process", "delayed"):
        row = report["certify"][key]
        assert row["exit"] == 3 and row["tests"] == 1 and _positive(row["wall_s"]), row  # one check: incomplete
        assert row["slowest"][0]["test"] == "rest/test_list.py::test_pagination_fields", row["slowest"]
        assert isinstance(row["pass"], bool) and row["by_suite"] == {"rest": row["by_suite"]["rest"]}
    delayed = report["certify"]["delayed"]
    assert delayed["round_trip_ms"] >= 50, "the proxy adds 25 ms each way"
    assert delayed["proxy"]["chunks_up"] >= 1 and delayed["proxy"]["refused"] == 0, delayed["proxy"]
    assert "certify --target: serve behind the delaying proxy" in printed
