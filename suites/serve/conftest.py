"""Run `spreadapi-conformance serve` as a real process on loopback."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
import redis

from spreadapi_conformance.target import TargetSpec, load_target
from spreadapi_conformance.threaded import free_port, uvicorn_thread  # noqa: F401 (the suites import them from here)

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")


def stop_process(process: subprocess.Popen) -> None:
    """Terminate, then kill what does not stop within 10 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@dataclass
class Served:
    process: subprocess.Popen
    base_url: str
    target_file: Path

    @property
    def target(self) -> TargetSpec:
        return load_target(self.target_file)

    def stop(self) -> str:
        """Stop the server and return what it wrote on stderr."""
        stop_process(self.process)
        return self.process.stderr.read() if self.process.stderr else ""

    def execute(self, service_id: str, inputs: dict[str, Any]) -> dict[str, Any]:
        """The REST execute body for ``inputs`` on the service published from fixture ``service_id``."""
        service = self.target.services[service_id]
        headers = {"Authorization": f"Bearer {service.token}"} if service.token else {}
        response = httpx.post(
            f"{self.base_url}/api/v1/services/{service.id}/execute",
            json={"inputs": inputs},
            headers=headers,
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return response.json()


def serve_command(port: int, target_file: Path, *args: str) -> list[str]:
    """``spreadapi-conformance serve`` on ``port``, writing ``target_file``, as a subprocess command line."""
    return [
        sys.executable,
        "-m",
        "spreadapi_conformance",
        "serve",
        "--port",
        str(port),
        "--write-target",
        str(target_file),
        *args,
    ]


def start_serve(
    tmp_path: Path, *args: str, timeout: float = 30, env: dict[str, str] | None = None, port: int | None = None
) -> Served:
    port = port or free_port()
    target_file = tmp_path / f"target-{port}.toml"
    command = serve_command(port, target_file, *args)
    environment = {**os.environ, **(env or {})}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=environment)
    served = Served(process, f"http://127.0.0.1:{port}", target_file)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"serve exited with {process.returncode}: {served.stop()}")
        try:
            if target_file.exists() and httpx.get(served.base_url + "/api/v1/services", timeout=1).status_code == 200:
                return served
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    served.stop()
    pytest.fail(f"serve did not answer within {timeout} s")


@pytest.fixture
def serve(tmp_path: Path) -> Iterator:
    """A factory: serve(*cli_args, env={...}) starts one more server; all are stopped at teardown."""
    started: list[Served] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Served:
        served = start_serve(tmp_path, *args, env=env)
        started.append(served)
        return served

    yield start
    for served in started:
        served.stop()


@contextlib.contextmanager
def fresh_redis_prefix() -> Iterator[str]:
    """A fresh key prefix in Redis database 15; every key under it is deleted afterwards."""
    prefix = f"test:{uuid4().hex}:"
    try:
        yield prefix
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=prefix + "*", count=500))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    with fresh_redis_prefix() as prefix:
        yield prefix
