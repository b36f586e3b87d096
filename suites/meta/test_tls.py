"""OAUTH-TLS-001 against `serve`: a deployment reached at a non-loopback address whose metadata publishes http
URLs fails it; the same deployment on loopback is exempt (not applicable), never failed."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from spreadapi_conformance.threaded import free_port

from ..serve.conftest import start_serve
from .conftest import certify


def non_loopback_address() -> str | None:
    """This machine's address on its default route (no packet is sent), or None without one."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))
            address = probe.getsockname()[0]
    except OSError:
        return None
    return None if ipaddress.ip_address(address).is_loopback else address


def certify_tls(target_file, report_dir) -> dict:
    run = certify(report_dir, "--no-progress", "--workers", "0", "--target", str(target_file), "-k", "OAUTH-TLS-001")
    return next(c for c in run.json()["checks"] if c["id"] == "OAUTH-TLS-001")


def test_plain_http_off_loopback_fails_and_loopback_is_exempt(tmp_path):
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to serve on")
    port = free_port()
    served = start_serve(tmp_path, "--host", "0.0.0.0", "--base-url", f"http://{address}:{port}", port=port)
    try:
        check = certify_tls(served.target_file, tmp_path / "off-loopback")
    finally:
        served.stop()
    assert check["outcome"] == "failed", check
    assert f"issuer http://{address}:{port}" in check["reason"], check["reason"]

    served = start_serve(tmp_path)
    try:
        check = certify_tls(served.target_file, tmp_path / "loopback")
    finally:
        served.stop()
    assert check["outcome"] == "not-applicable" and "loopback" in check["reason"], check
