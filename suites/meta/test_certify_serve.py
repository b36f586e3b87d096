"""The whole certify against `serve` over loopback, with the memory store and with Redis: every MUST
check of every option passes (issue 5's first test), and no secret of the target file reaches a report."""

from __future__ import annotations

from uuid import uuid4

import pytest
import redis

from spreadapi_conformance.catalog import OPTIONS
from spreadapi_conformance.target import load_target

from ..serve.conftest import REDIS_URL, start_serve
from .conftest import certify
from .test_certify_targets import assert_no_secret


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def store_args(request):
    if request.param == "memory":
        yield ()
        return
    prefix = f"test:{uuid4().hex}:"
    yield ("--redis-url", REDIS_URL, "--store-prefix", prefix)
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)
    client.close()


def test_certify_against_serve_passes_every_option(store_args, tmp_path):
    served = start_serve(tmp_path, "--admin-token", "certify-serve-admin-" + uuid4().hex, *store_args)
    try:
        run = certify(tmp_path / "reports", "--target", str(served.target_file), "--no-progress")
    finally:
        served.stop()
    assert run.returncode == 0, f"{run.stdout[-3000:]}\n{run.stderr[-2000:]}"
    report = run.json()
    assert report["options"] == dict.fromkeys(OPTIONS, "pass"), report["options"]
    failed = [c["id"] for c in report["checks"] if c["outcome"] == "failed"]
    assert not failed, failed
    assert_no_secret(run, load_target(served.target_file).secrets())
