"""The whole certify against `serve` over loopback with the memory store: every MUST check of every option
passes (issue 5's first test), and no secret of the target file reaches a report. The same run on Redis
is ``test_certify_relocated.py``: `serve` on Redis behind a proxy that moves every endpoint."""

from __future__ import annotations

from uuid import uuid4

from ..serve.conftest import start_serve
from .conftest import certify
from .test_certify_targets import assert_certified


def test_certify_against_serve_passes_every_option(tmp_path):
    served = start_serve(tmp_path, "--admin-token", "certify-serve-admin-" + uuid4().hex)
    try:
        run = certify(tmp_path / "reports", "--target", str(served.target_file), "--no-progress")
    finally:
        served.stop()
    assert_certified(run, served.target_file)
