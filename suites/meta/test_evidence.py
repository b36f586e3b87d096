"""The pieces of certify's reports, in process: masking, the evidence recorder, the rate limiter, folding
test outcomes into one result per requirement, option verdicts."""

from __future__ import annotations

import asyncio
import json

import httpx
import httpx2
import pytest

from spreadapi_conformance.catalog import Requirement
from spreadapi_conformance.report import evidence
from spreadapi_conformance.report.masking import Masker, register_secrets, registered_secrets
from spreadapi_conformance.report.plugin import ConformancePlugin, ItemResult
from spreadapi_conformance.report.writer import option_verdicts

SVC = "svc_tk_" + "ab12" * 16
LIVE = "spapi_live_" + "cd34" * 16
OAT = "oat_" + "ef56" * 16
CODE = "ac_" + "0987" * 16


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"Authorization: Bearer {SVC}", "Authorization: Bearer svc_tk_…(masked)"),
        (f"?token={LIVE}&x=1", "?token=spapi_live_…(masked)&x=1"),
        (f'{{"access_token": "{OAT}", "code": "{CODE}"}}', '{"access_token": "oat_…(masked)", "code": "ac_…(masked)"}'),
        (f"upper-cased: {OAT.upper().replace('OAT_', 'oat_')}", "upper-cased: oat_…(masked)"),
        (f"authorization=Bearer%20{OAT}", "authorization=Bearer%20oat_…(masked)"),
        ("{'Authorization': 'Bearer not-a-real-token'}", "{'Authorization': 'Bearer …(masked)'}"),
        ("bearer eyJhbGciOiJIUzI1NiJ9.payload123", "bearer …(masked)"),
        # Prose and challenges stay readable.
        ("is 401 with a Bearer challenge", "is 401 with a Bearer challenge"),
        ('Bearer error="invalid_token", resource_metadata="http://x/y"', None),
        ("svc_tk_ followed by 64 lowercase hex characters", None),
    ],
)
def test_masking(text, expected):
    assert Masker().text(text) == (text if expected is None else expected)


def test_registered_and_extra_secrets_are_masked_as_sent_and_url_encoded():
    register_secrets(["plain admin/secret value"])  # process-wide, like the target's tokens
    assert "plain admin/secret value" in registered_secrets()
    masker = Masker(["another-literal-secret"])
    text = (
        "a plain admin/secret value, plain%20admin%2Fsecret%20value, plain+admin%2Fsecret+value; another-literal-secret"
    )
    assert masker.text(text) == "a …(masked), …(masked), …(masked); …(masked)"
    assert masker.obj({"k": [text], SVC: 1}) == {"k": [masker.text(text)], "svc_tk_…(masked)": 1}
    assert masker.leaks(text) and not masker.leaks(masker.text(text))


def test_recorder_keeps_the_last_exchanges_masked_and_cut():
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"echo": request.headers.get("authorization"), "pad": "x" * 10_000})

    async def scenario() -> evidence.Recorder:
        recorder = evidence.start("t")
        try:
            async with httpx.AsyncClient(
                transport=httpx.MockTransport(answer), base_url="http://t", event_hooks=evidence.event_hooks()
            ) as http:
                for n in range(6):
                    await http.post(f"/call/{n}", json={"token": SVC}, headers={"Authorization": f"Bearer {SVC}"})
        finally:
            evidence.stop()
        return recorder

    recorder = asyncio.run(scenario())
    assert recorder.total == 6
    shown = recorder.evidence()
    assert [e["request"]["url"] for e in shown] == [f"http://t/call/{n}" for n in range(2, 6)], "the last four"
    last = shown[-1]
    assert last["request"]["headers"]["authorization"] == "Bearer svc_tk_…(masked)"
    assert last["request"]["body"] == '{"token":"svc_tk_…(masked)"}'
    assert last["response"]["status"] == 500
    assert len(last["response"]["body"]) < 4200 and "bytes in all" in last["response"]["body"]
    assert SVC not in json.dumps(shown)


@pytest.mark.parametrize("library", [httpx, httpx2], ids=["httpx", "httpx2"])
def test_streamed_responses_show_what_the_client_read(library):
    """The MCP SDK (httpx2) reads SSE answers event by event and keeps no body: the evidence shows the
    events it read, whether it read to the end, and how much in all when that is over the limit."""
    message = {"jsonrpc": "2.0", "id": 1, "result": {"token": SVC}}
    event = f"event: message\ndata: {json.dumps(message)}\n\n"

    async def events(count: int, times: int = 1):
        for _ in range(count):
            yield (event * times).encode()

    def answer(request):
        chunks = {"/endless": events(50), "/big": events(1, 400)}.get(request.url.path, events(1))
        # /endless is a GET stream: more events than anyone reads.
        return library.Response(200, headers={"content-type": "text/event-stream"}, content=chunks)

    async def scenario() -> evidence.Recorder:
        recorder = evidence.start("t")
        try:
            async with library.AsyncClient(
                transport=library.MockTransport(answer), base_url="http://t", event_hooks=evidence.event_hooks()
            ) as http:
                for path in ("/one", "/endless", "/big"):
                    async with http.stream("POST", path, json={"jsonrpc": "2.0", "id": 1, "method": "ping"}) as r:
                        async for line in r.aiter_lines():
                            if line.startswith("data:") and path == "/endless":
                                break
                await http.get("/plain")  # read whole by the client: shown as it is
        finally:
            evidence.stop()
        return recorder

    one, endless, big, plain = asyncio.run(scenario()).evidence()
    assert one["request"]["body"] == '{"jsonrpc":"2.0","id":1,"method":"ping"}'
    assert one["response"]["body"] == event.replace(SVC, "svc_tk_…(masked)"), "read to the end: no note"
    assert endless["response"]["body"].startswith(event.replace(SVC, "svc_tk_…(masked)"))
    assert endless["response"]["body"].endswith("(the client read no further)")
    assert len(big["response"]["body"]) < 4200 and f"({len(event) * 400} bytes read in all)" in big["response"]["body"]
    assert plain["response"]["body"] == event.replace(SVC, "svc_tk_…(masked)")
    assert SVC not in json.dumps([one, endless, big, plain])


def test_nothing_is_recorded_outside_a_check():
    async def call() -> None:
        async with httpx.AsyncClient(
            transport=httpx.MockTransport(lambda r: httpx.Response(200)), event_hooks=evidence.event_hooks()
        ) as http:
            await http.get("http://t/")

    evidence.stop()
    asyncio.run(call())
    assert evidence.current() is None


def test_rate_limiter_is_a_token_bucket():
    now = [100.0]
    limiter = evidence.RateLimiter(10, burst=3, clock=lambda: now[0])
    waits = [limiter.reserve() for _ in range(6)]
    assert waits[:3] == [0, 0, 0], "a burst of three goes at once"
    assert waits[3:] == pytest.approx([0.1, 0.2, 0.3])
    now[0] += 10  # idle: the bucket refills, but never beyond the burst
    assert [limiter.reserve() for _ in range(4)] == pytest.approx([0, 0, 0, 0.1])


def test_event_hooks_wait_for_the_limiter():
    limiter = evidence.RateLimiter(50, burst=1)

    async def five() -> float:
        loop = asyncio.get_running_loop()
        async with httpx.AsyncClient(
            transport=httpx.MockTransport(lambda r: httpx.Response(200)), event_hooks=evidence.event_hooks(limiter)
        ) as http:
            start = loop.time()
            await asyncio.gather(*(http.get("http://t/") for _ in range(5)))
            return loop.time() - start

    assert asyncio.run(five()) >= 0.07  # 5 requests at 50/s, burst 1: the last one waits 80 ms


# -- folding tests into requirements ------------------------------------------------------------------


def requirement(
    rid: str, level: str = "MUST", options: tuple[str, ...] = ("rest-actions",), policy: str | None = None
) -> Requirement:
    return Requirement(rid, f"title of {rid}", "a source", level, options, rid.split("-")[0], policy)


def plugin_with(tests: list[ItemResult], catalog: dict[str, Requirement], certified=None) -> ConformancePlugin:
    plugin = ConformancePlugin(catalog, certified, progress=False)
    plugin.tests = {t.nodeid: t for t in tests}
    return plugin


def test_a_requirement_fails_if_any_variant_fails_and_keeps_its_evidence():
    catalog = {"REST-A-001": requirement("REST-A-001"), "REST-A-002": requirement("REST-A-002", "SHOULD")}
    exchange = {"request": {"method": "GET"}, "response": {"status": 500}}
    tests = [
        ItemResult("m::t1[a]", "REST-A-001"),
        ItemResult("m::t1[b]", "REST-A-001", "failed", "AssertionError: 500", [exchange]),
        ItemResult("m::t1[c]", "REST-A-001", "skipped", "not run: revision not selected"),
        ItemResult("m::t2", "REST-A-002", "failed", "AssertionError: no https"),
    ]
    first, second = plugin_with(tests, catalog).results()
    assert first.outcome == "failed"
    assert first.tests == {"passed": 1, "failed": 1, "error": 0, "not-applicable": 0, "skipped": 1}
    assert first.reason == "[t1[b]] AssertionError: 500 (1 of 3 tests failed)"
    assert first.evidence == [{"test": "m::t1[b]", **exchange}]
    assert second.outcome == "warning", "a failed SHOULD is a warning"


def test_an_error_in_the_kit_is_not_the_targets_failure():
    catalog = {"REST-A-001": requirement("REST-A-001")}
    tests = [
        ItemResult("m::t1[a]", "REST-A-001", "failed", "AssertionError: 500"),
        ItemResult("m::t1[b]", "REST-A-001", "error", "KeyError: 'outputs'", traceback="Traceback …KeyError"),
    ]
    (result,) = plugin_with(tests, catalog).results()
    assert result.outcome == "error", "an error hides nothing: the requirement is not established"
    assert result.reason == "[t1[b]] KeyError: 'outputs' (1 of 2 tests raised)" and "KeyError" in result.traceback
    verdicts, details = option_verdicts([result], ["rest-actions"], ["rest-actions"])
    assert verdicts == {"rest-actions": "incomplete"} and details["rest-actions"]["not_established"] == ["REST-A-001"]


def test_not_applicable_premises_and_requirements_without_tests():
    catalog = {
        "REST-A-001": requirement("REST-A-001"),
        "REST-A-002": requirement("REST-A-002"),
        "MCP-A-003": requirement("MCP-A-003", options=("claude-desktop",)),
        "MCP-A-004": requirement("MCP-A-004"),
        "MCP-A-005": requirement("MCP-A-005"),
    }
    tests = [
        ItemResult("m::t1[a]", "REST-A-001"),
        ItemResult("m::t1[b]", "REST-A-001", "not-applicable", "not applicable: no token for quote"),
        ItemResult("m::t2", "REST-A-002", "not-applicable", "not applicable: a loopback deployment"),
        ItemResult("m::t5", "MCP-A-005", "skipped", "not run: MCP revision 2025-03-26 is not selected"),
    ]
    plugin = plugin_with(tests, catalog, certified={"rest-actions"})
    plugin.not_certified_reasons = {"claude-desktop": "not claimed by the target"}
    results = {r.requirement.id: r for r in plugin.results()}
    assert (results["REST-A-001"].outcome, results["REST-A-001"].reason) == (
        "passed",
        "1 of 2 tests not run: not applicable: no token for quote",
    )
    assert (results["REST-A-002"].outcome, results["REST-A-002"].reason) == ("not-applicable", "a loopback deployment")
    assert results["MCP-A-003"].outcome == "skipped"
    assert (
        results["MCP-A-003"].reason
        == "not run: its options are not being certified: claude-desktop (not claimed by the target)"
    )
    assert results["MCP-A-004"].reason.startswith("not run: no check of this requirement was selected")
    assert results["MCP-A-005"].outcome == "skipped"


def test_option_verdicts():
    catalog = {
        "REST-A-001": requirement("REST-A-001", options=("rest-actions", "claude-desktop")),
        "REST-A-002": requirement("REST-A-002", "SHOULD", options=("claude-desktop",)),
        "REST-A-003": requirement("REST-A-003", options=("legacy-bridge",)),
        "REST-A-004": requirement("REST-A-004", "MUST NOT", options=("chatgpt-multi-oauth",)),
        "REST-A-005": requirement("REST-A-005", options=("rest-actions",), policy="the kit asks 401, not 400"),
        "REST-A-006": requirement("REST-A-006", options=("chatgpt-single-oauth",)),
        "REST-A-007": requirement("REST-A-007", options=("chatgpt-single-oauth",)),
    }
    tests = [
        ItemResult("m::t1", "REST-A-001"),
        ItemResult("m::t2", "REST-A-002", "failed", "x"),
        ItemResult("m::t3", "REST-A-003", "failed", "y"),
        ItemResult("m::t4", "REST-A-004", "failed", "z"),
        ItemResult("m::t5", "REST-A-005", "failed", "400, not 401"),
        ItemResult("m::t6", "REST-A-006", "not-applicable", "not applicable: no session ids"),
        # REST-A-007 has no test: not run
    ]
    results = plugin_with(tests, catalog).results()
    options = ["rest-actions", "claude-desktop", "legacy-bridge", "chatgpt-multi-oauth", "chatgpt-single-oauth"]
    verdicts, details = option_verdicts(results, options, options)
    assert verdicts == {
        "rest-actions": "pass",  # its only failure is a policy, apart from the verdict
        "claude-desktop": "pass",  # its failure is a SHOULD: a warning
        "legacy-bridge": "fail",
        "chatgpt-multi-oauth": "fail",  # MUST NOT decides like MUST
        "chatgpt-single-oauth": "incomplete",  # one MUST not applicable (no gap), one not run (a gap)
    }
    assert details["rest-actions"]["policy_failures"] == ["REST-A-005"] and not details["rest-actions"]["must_failures"]
    assert details["claude-desktop"]["should_failures"] == ["REST-A-002"] and details["claude-desktop"]["checks"] == 2
    single = details["chatgpt-single-oauth"]
    assert (single["deciding"], single["deciding_run"], single["deciding_not_applicable"]) == (2, 0, 1)
    assert single["not_established"] == ["REST-A-007"]
    unclaimed, _ = option_verdicts(results, ["legacy-bridge"], [])
    assert unclaimed == {"legacy-bridge": "not-claimed"}
