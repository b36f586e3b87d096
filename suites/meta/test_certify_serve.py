"""The whole certify against `serve` over loopback with the memory store: every MUST check of every option
passes (issue 5's first test), and no secret of the target file reaches a report. The same run on Redis
is ``test_certify_relocated.py``: `serve` on Redis behind a proxy that moves every endpoint."""

from __future__ import annotations

from uuid import uuid4

from spreadapi_conformance.catalog import OPTIONS
from spreadapi_conformance.target import load_target

from ..serve.conftest import start_serve
from .conftest import certify
from .test_certify_targets import assert_no_secret


def test_certify_against_serve_passes_every_option(tmp_path):
    served = start_serve(tmp_path, "--admin-token", "certify-serve-admin-" + uuid4().hex)
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
