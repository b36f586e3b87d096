"""Counterexamples for the ChatGPT Actions limits no fault of the reference breaks where the bug would live:
the reference, otherwise conformant, with one thing broken, certified on the entries that judge it.

- Plain http off loopback (OPENAPI-GPT-002, REPLAY-ACTIONS-001): `serve` at this machine's non-loopback
  address advertises its own http base URL, which an Action would refuse to call; on loopback both entries
  are exempt (the clean runs show them passed or not applicable).
- Oversized answers (OPENAPI-GPT-006, OPENAPI-GPT-007): the reference behind a middleware that pads one kind
  of answer with a JSON member no client reads, past the 100,000 characters an Action takes. The reference's
  documents and results are a few kilobytes, so no realistic bug of its own gets there.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from spreadapi_conformance.catalog import load_catalog
from spreadapi_conformance.target import reference_spec, write_target
from spreadapi_conformance.threaded import free_port

from ..serve.conftest import start_serve, uvicorn_thread
from .conftest import certify
from .test_tls import non_loopback_address

pytestmark = pytest.mark.live

PADDING = 100_000  # characters: the Actions limit on a document and on an answer, reached by the padding alone


def checks_of(run: Any, *requirements: str) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in run.json()["checks"] if c["id"] in requirements}


def failing(requirement: str) -> str:
    """The outcome of the entry when it does not hold: `warning` for a policy of the kit beyond its source."""
    return "warning" if load_catalog()[requirement].policy else "failed"


def test_plain_http_off_loopback_fails_the_actions_https_rule(tmp_path: Path):
    """OPENAPI-GPT-002 and REPLAY-ACTIONS-001 fail a deployment whose documents advertise its own plain http
    URL at a non-loopback address."""
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to serve on")
    port = free_port()
    base = f"http://{address}:{port}"
    served = start_serve(tmp_path, "--host", "0.0.0.0", "--base-url", base, port=port)
    try:
        run = certify(
            tmp_path / "reports",
            "--no-progress",
            "--workers",
            "0",
            "--target",
            str(served.target_file),
            "-k",
            "OPENAPI-GPT-002 or REPLAY-ACTIONS-001",
        )
    finally:
        served.stop()
    checks = checks_of(run, "OPENAPI-GPT-002", "REPLAY-ACTIONS-001")
    for rid, check in checks.items():
        assert check["outcome"] == failing(rid), (rid, check)
        assert base in check["reason"] and "https" in check["reason"], (rid, check["reason"])
    assert set(checks) == {"OPENAPI-GPT-002", "REPLAY-ACTIONS-001"}, sorted(checks)


class Padded:
    """An ASGI middleware: the 200 JSON answers ``chosen(method, path)`` picks get ``pad(body)`` applied."""

    def __init__(self, app: Any, chosen: Callable[[str, str], bool], pad: Callable[[dict[str, Any]], None]):
        self.app, self.chosen, self.pad = app, chosen, pad

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or not self.chosen(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def padded(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks)
            if start["status"] == 200:
                answer = json.loads(body)
                self.pad(answer)
                body = json.dumps(answer).encode("utf-8")
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode("ascii")))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, padded)


def _release_notes(document: dict[str, Any]) -> None:
    document["x-release-notes"] = "Recalculated the amortisation schedule. " * (PADDING // 40 + 1)


def _evaluation_trace(result: dict[str, Any]) -> None:
    cells = [{"cell": f"Schedule!A{row}", "formula": '=IF(A1<>"",A1+1,"")'} for row in range(PADDING // 40)]
    result["metadata"]["trace"] = cells


# entry -> what the broken answer does: (which answers, how they are padded)
OVERSIZED = {
    "OPENAPI-GPT-006": (
        lambda method, path: method == "GET" and path.endswith("/openapi.json"),
        _release_notes,
    ),
    "OPENAPI-GPT-007": (
        lambda method, path: method == "POST" and path.endswith("/execute"),
        _evaluation_trace,
    ),
}


@pytest.mark.parametrize("requirement", OVERSIZED)
def test_an_answer_past_the_actions_size_limit_fails(requirement: str, tmp_path: Path):
    """OPENAPI-GPT-006 fails documents padded past 100,000 characters (release notes in the document), and
    OPENAPI-GPT-007 execute answers padded past it (an evaluation trace in the metadata)."""
    from spreadapi_conformance.reference.app import Reference
    from spreadapi_conformance.reference.config import ReferenceConfig

    reference = Reference(ReferenceConfig(warm_up=False))
    asyncio.run(reference.seed())  # the memory store is not bound to an event loop
    chosen, pad = OVERSIZED[requirement]
    with uvicorn_thread(Padded(reference.app, chosen, pad), name="padded") as base:
        target = tmp_path / "padded.toml"
        services = list(reference_spec(reference, base).services.values())
        write_target(target, base, services, claims=("rest-actions",))
        run = certify(tmp_path / "reports", "--no-progress", "--target", str(target), "-k", requirement)
    check = checks_of(run, requirement)[requirement]
    assert check["outcome"] == failing(requirement), check
    assert "characters" in check["reason"], check["reason"]
