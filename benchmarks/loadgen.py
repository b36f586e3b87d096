"""A closed-loop HTTP load generator, run by ``benchmarks/run.py`` in its own process.

``--concurrency`` workers share one keep-alive httpx client; each POSTs the next body from the pool as
soon as its previous answer arrived. A window counts the requests that complete inside it; at its end
the workers finish their request in flight, so nothing spills into what the caller measures next.

Two modes:

* one shot: a warm-up window, a measured window, then one JSON summary on stdout::

    python benchmarks/loadgen.py --url http://127.0.0.1:8787/api/v1/services/loan-calculator/execute \
        --bodies bodies.json --warmup 3 --seconds 10 --concurrency 8

* ``--rounds``: reads commands on stdin, one per line, and answers each with one JSON line:
  ``warmup SECONDS`` and ``measure SECONDS`` run a window (only measured windows enter the summary),
  ``summary`` answers the summary of all measured windows, ``quit`` ends. The caller can time something
  else between windows while this process sits idle with its connections kept alive.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx


@dataclass
class Totals:
    seconds: float = 0.0
    ok: int = 0
    failed: int = 0
    cpu_s: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    def summary(self, concurrency: int) -> dict:
        lat = sorted(self.latencies)
        requests = self.ok + self.failed
        return {
            "concurrency": concurrency,
            "seconds": self.seconds,
            "requests": requests,
            "ok": self.ok,
            "failed": self.failed,
            "statuses": self.statuses,
            "errors": self.errors,
            "rps": self.ok / self.seconds if self.seconds else 0.0,
            "latency_median_ms": statistics.median(lat) * 1000 if lat else None,
            "latency_p95_ms": statistics.quantiles(lat, n=100, method="inclusive")[94] * 1000 if len(lat) > 1 else None,
            "cpu_ms_per_request": self.cpu_s * 1000 / requests if requests else None,
        }


class LoadGenerator:
    def __init__(self, url: str, bodies: list[bytes], concurrency: int):
        self.url = url
        self.concurrency = concurrency
        self.pool = itertools.cycle(bodies)
        self.client: httpx.AsyncClient | None = None
        self.totals = Totals()

    async def open(self) -> None:
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        headers = {"Content-Type": "application/json"}
        self.client = httpx.AsyncClient(limits=limits, timeout=30, headers=headers)

    async def close(self) -> None:
        if self.client is not None:
            await self.client.aclose()

    async def window(self, seconds: float, measured: bool) -> dict:
        assert self.client is not None
        client = self.client
        window = Totals()
        cpu_started = time.process_time()
        start = time.perf_counter()
        end = start + seconds

        async def worker() -> None:
            while time.perf_counter() < end:
                sent = time.perf_counter()
                try:
                    response = await client.post(self.url, content=next(self.pool))
                    status = str(response.status_code)
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                    if len(window.errors) < 5:
                        window.errors.append(repr(exc))
                done = time.perf_counter()
                if done > end:
                    return  # finished after the window closed: not counted
                window.statuses[status] = window.statuses.get(status, 0) + 1
                if status == "200":
                    window.ok += 1
                    window.latencies.append(done - sent)
                else:
                    window.failed += 1

        await asyncio.gather(*(worker() for _ in range(self.concurrency)))
        window.seconds = seconds
        window.cpu_s = time.process_time() - cpu_started
        if measured:
            t = self.totals
            t.seconds += window.seconds
            t.ok += window.ok
            t.failed += window.failed
            t.cpu_s += window.cpu_s
            t.latencies += window.latencies
            t.errors = (t.errors + window.errors)[:5]
            for status, count in window.statuses.items():
                t.statuses[status] = t.statuses.get(status, 0) + count
        return {k: v for k, v in window.summary(self.concurrency).items() if not k.startswith("latency")}


def one_shot(generator: LoadGenerator, warmup: float, seconds: float) -> dict:
    async def run() -> dict:
        await generator.open()
        try:
            if warmup > 0:
                await generator.window(warmup, measured=False)
            await generator.window(seconds, measured=True)
        finally:
            await generator.close()
        return generator.totals.summary(generator.concurrency)

    return asyncio.run(run())


def rounds(generator: LoadGenerator) -> None:
    def answer(payload: dict) -> None:
        sys.stdout.write(json.dumps(payload) + "\n")
        sys.stdout.flush()

    with asyncio.Runner() as runner:
        runner.run(generator.open())
        try:
            for line in sys.stdin:
                command, _, argument = line.strip().partition(" ")
                if command in ("warmup", "measure"):
                    answer(runner.run(generator.window(float(argument), measured=command == "measure")))
                elif command == "summary":
                    answer(generator.totals.summary(generator.concurrency))
                elif command == "quit":
                    break
                elif command:
                    answer({"error": f"unknown command {command!r}"})
        finally:
            runner.run(generator.close())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--bodies", type=Path, required=True, help="JSON file: a list of request bodies")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0, help="one shot: the measured window")
    parser.add_argument("--warmup", type=float, default=3.0, help="one shot: the warm-up window")
    parser.add_argument("--rounds", action="store_true", help="take windows as commands on stdin")
    args = parser.parse_args()
    bodies = [json.dumps(body).encode() for body in json.loads(args.bodies.read_text(encoding="utf-8"))]
    if not bodies:
        print("no request bodies", file=sys.stderr)
        return 2
    generator = LoadGenerator(args.url, bodies, args.concurrency)
    if args.rounds:
        rounds(generator)
    else:
        print(json.dumps(one_shot(generator, args.warmup, args.seconds)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
