"""What options_compared.ipynb concludes comes from the figures (``compare.py``), and the bytes it reports are
the bytes exchanged; certify --with-notebooks's exit code and report."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from spreadapi_conformance import compare
from spreadapi_conformance.certify import EXIT_NOT_CERTIFIED, EXIT_NOTEBOOK_FAILED, exit_code
from spreadapi_conformance.report import evidence

from .conftest import certify


def measured(option: str, median_ms: float, setup_exchanges: int, first: float) -> compare.Measured:
    latencies = [median_ms / 1000 * factor for factor in (0.9, 1.0, 1.1)]
    return compare.Measured(
        option,
        latencies=latencies,
        call_exchanges=[1, 1, 1],
        call_bytes=[1500, 1500, 1500],
        setup_exchanges=setup_exchanges,
        setup_bytes=setup_exchanges * 2000,
        first_result=first,
    )


def test_the_conclusion_follows_the_figures():
    """The same sentence names whichever option the figures favour: swap the figures, the names swap."""
    one = [measured("rest-actions", 5, 1, 0.05), measured("claude-desktop", 9, 4, 0.8)]
    text = compare.conclusion(one, "the target")
    assert "Fastest per calculation: Option 1" in text and "slowest: Claude Desktop" in text, text
    assert "Cheapest to set up: Option 1" in text and "1 HTTP exchange and" in text, text
    other = [measured("rest-actions", 9, 6, 0.9), measured("claude-desktop", 5, 4, 0.1)]
    text = compare.conclusion(other, "the target")
    assert "Fastest per calculation: Claude Desktop" in text and "slowest: Option 1" in text, text
    assert "Cheapest to set up: Claude Desktop" in text and "Quickest from a cold client" in text, text
    assert "1.8× the fastest" in text, text


def test_an_option_not_measured_says_why_in_the_table_and_the_conclusion():
    results = [
        measured("rest-actions", 5, 1, 0.05),
        compare.Measured("legacy-bridge", skipped="the target file has no [mcp_tokens] all"),
    ]
    assert "not measured: the target file has no [mcp_tokens] all" in compare.table(results)
    assert "Not measured: Legacy" in compare.conclusion(results, "the target")
    assert compare.conclusion([results[1]], "the target") == "No option was measured on the target."


def test_the_chart_has_a_box_per_option_and_a_setup_bar():
    import matplotlib

    matplotlib.use("agg")
    figure = compare.chart([measured("rest-actions", 5, 1, 0.05), measured("chatgpt-multi-oauth", 8, 11, 0.3)])
    latency, setup = figure.axes
    assert [label.get_text() for label in latency.get_yticklabels()] == ["Option 1: REST", "Option 3: OAuth + /api/mcp"]
    assert [round(bar.get_width(), 2) for bar in setup.patches] == [0.05, 0.3]


def test_wire_bytes_are_the_http_messages_exchanged():
    """Start line, headers and body each way, for a body read whole and one streamed."""

    async def app(scope, receive, send):
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"x" * 1000})

    async def exchange(stream: bool) -> tuple[int, int]:
        transport = httpx.ASGITransport(app)
        client = httpx.AsyncClient(transport=transport, base_url="http://t", event_hooks=evidence.event_hooks())
        async with client:
            with evidence.recording(evidence.Recorder("r", keep=5)) as recorder:
                if stream:
                    async with client.stream("POST", "/a", content=b"hello") as response:
                        await response.aread()
                else:
                    response = await client.post("/a", content=b"hello")
            request_head = b"POST /a HTTP/1.1\r\n" + b"".join(
                name + b": " + value + b"\r\n" for name, value in response.request.headers.raw
            )
            response_head = b"HTTP/1.1 200 OK\r\n" + b"".join(
                name + b": " + value + b"\r\n" for name, value in response.headers.raw
            )
            assert recorder.wire_bytes() == (len(request_head) + 2 + 5, len(response_head) + 2 + 1000)
            return recorder.wire_bytes()

    assert asyncio.run(exchange(stream=False)) == asyncio.run(exchange(stream=True))


def test_wire_bytes_refuse_a_count_when_exchanges_fell_off():
    recorder = evidence.Recorder("small", keep=1)
    request = httpx.Request("GET", "http://t/")
    recorder.on_request(request)
    recorder.on_request(request)
    with pytest.raises(ValueError, match="kept 1 of 2"):
        recorder.wire_bytes()


def report(verdict: str, notebooks_ok: list[bool]) -> dict:
    return {
        "options": {"rest-actions": verdict},
        "run": {"certified_options": ["rest-actions"]},
        "summary": {"errors": 0},
        "notebooks": [{"name": f"n{i}", "ok": ok} for i, ok in enumerate(notebooks_ok)],
    }


def test_a_failed_notebook_is_exit_5_unless_a_must_failed():
    assert exit_code(report("pass", [True, True])) == 0
    assert exit_code(report("pass", [True, False])) == EXIT_NOTEBOOK_FAILED
    assert exit_code(report("fail", [False])) == EXIT_NOT_CERTIFIED


def test_certify_with_notebooks_links_them_from_the_report(tmp_path):
    run = certify(tmp_path, "--no-progress", "--with-notebooks", "-k", "REST-LIST-001", timeout=900)
    assert run.returncode == 3, f"{run.stdout}\n{run.stderr[-3000:]}"  # incomplete: a -k subset
    notebooks = run.json()["notebooks"]
    assert sorted(n["name"] for n in notebooks) == [
        "multi_service_mcp",
        "oauth_connector_flow",
        "options_compared",
        "single_service_options",
    ]
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    for notebook in notebooks:
        assert notebook["ok"], notebook
        assert (tmp_path / notebook["html"]).is_file() and (tmp_path / notebook["notebook"]).is_file()
        assert f'href="{notebook["html"]}"' in html, notebook["name"]
    assert "Notebooks: all 4 ran to their end" in run.stdout, run.stdout


def test_certify_with_notebooks_refuses_a_faulty_reference(tmp_path):
    run = certify(tmp_path, "--no-progress", "--with-notebooks", "--reference-fault", "rest-401-without-challenge")
    assert run.returncode == 2 and "--with-notebooks" in run.stderr, run.stderr


def test_max_rps_reaches_every_client_of_a_notebook(monkeypatch):
    """The runner hands --max-rps to the kernel as SPREADAPI_MAX_RPS; the deployment paces its clients by it."""
    from spreadapi_conformance.walkthrough import MAX_RPS_VARIABLE, open_deployment

    monkeypatch.setenv(MAX_RPS_VARIABLE, "4")
    deployment = open_deployment(None)
    try:
        assert deployment.limiter is not None and deployment.limiter.interval == 0.25
    finally:
        deployment.close()
    monkeypatch.delenv(MAX_RPS_VARIABLE)
    unpaced = open_deployment(None)
    try:
        assert unpaced.limiter is None
    finally:
        unpaced.close()
