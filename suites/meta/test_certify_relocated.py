"""certify against a deployment whose endpoints are not at the seed's paths: every check takes its paths
from the target file (``[paths]``) or finds them as a client would (the 401 challenge, RFC 9728, RFC 8414).

The deployment is `serve` on Redis behind ``_relocated.RelocatingProxy``, which moves every endpoint (the
public SpreadAPI code's ``/api/mcp/service/{id}`` among them) and answers 404 at the seed's paths. A check
that builds a seed path itself fails here, and the proxy names the path it refused. This is also the
whole certify against `serve` with the Redis store (``test_certify_serve.py`` runs it on the memory store).
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

import httpx
import pytest
import tomli_w

from ..serve.conftest import REDIS_URL, fresh_redis_prefix, start_serve, uvicorn_thread
from ._relocated import PATHS, RelocatingProxy
from .conftest import certify
from .test_certify_targets import assert_certified


@dataclass
class Relocated:
    """`serve` on Redis behind the relocating proxy, and a target file giving the moved paths."""

    proxy: RelocatingProxy
    target_file: Path


@pytest.fixture(scope="module")
def relocated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Relocated]:
    directory = tmp_path_factory.mktemp("relocated")
    proxy = RelocatingProxy(upstream="")  # serve needs the proxy's URL first: it advertises it
    with fresh_redis_prefix() as prefix, uvicorn_thread(proxy, name="relocating-proxy") as base:
        served = start_serve(
            directory,
            *("--admin-token", "relocated-admin-" + uuid4().hex, "--base-url", base),
            *("--redis-url", REDIS_URL, "--store-prefix", prefix),
        )
        proxy.upstream = served.base_url
        try:
            raw = tomllib.loads(served.target_file.read_text(encoding="utf-8"))
            assert raw["base_url"] == base
            raw["paths"] = PATHS
            target_file = directory / "relocated.toml"
            target_file.write_text(tomli_w.dumps(raw), encoding="utf-8")
            yield Relocated(proxy, target_file)
        finally:
            served.stop()


def test_the_proxy_moves_the_endpoints(tmp_path):
    """The premise: at the moved paths the proxy serves what serve serves; at the seed's paths, nothing."""
    served = start_serve(tmp_path)
    try:
        with uvicorn_thread(RelocatingProxy(served.base_url), name="relocating-proxy") as base:
            moved = httpx.get(base + PATHS["services"], timeout=30)
            assert moved.status_code == 200, moved.text
            assert all("/v2/services/" in s["endpoint"] for s in moved.json()["services"]), moved.text
            assert httpx.get(base + "/api/v1/services", timeout=30).status_code == 404
            challenge = httpx.post(base + "/api/mcp/service/quote", json={}, timeout=30)
            assert challenge.status_code == 401, challenge.text
            assert "/oauth-protected-resource/api/mcp/service/quote" in challenge.headers["www-authenticate"]
    finally:
        served.stop()


@pytest.mark.redis
def test_certify_follows_the_target_files_paths(relocated, tmp_path):
    """The whole certify against the relocated deployment on Redis, its target file giving the moved paths
    in [paths]: every option passes, no check asked for a seed path, no secret reaches a report."""
    refused_before = len(relocated.proxy.refused)
    run = certify(tmp_path / "reports", "--target", str(relocated.target_file), "--no-progress")
    refused = relocated.proxy.refused[refused_before:]
    assert refused == [], f"checks asked for the seed's paths: {sorted(set(refused))}"
    assert_certified(run, relocated.target_file)


@pytest.mark.redis
def test_the_notebooks_follow_the_target_files_paths(relocated, tmp_path):
    """The walkthrough notebooks against the relocated deployment: they run to the end, asking for no seed path
    (the Claude Desktop cell hands the bridge the moved endpoint as SPREADAPI_MCP_URL)."""
    refused_before = len(relocated.proxy.refused)
    command = [sys.executable, "-m", "spreadapi_conformance", "notebooks", "--target", str(relocated.target_file)]
    run = subprocess.run([*command, "--out", str(tmp_path)], capture_output=True, text=True, timeout=600)
    refused = relocated.proxy.refused[refused_before:]
    assert refused == [], f"the notebooks asked for the seed's paths: {sorted(set(refused))}"
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr[-3000:]}"
