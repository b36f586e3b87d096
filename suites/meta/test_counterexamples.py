"""Every catalogue entry can fail, and a reader can see how.

An entry is proven when a fault of the reference names it (``reference/faults``: `spreadapi-conformance selftest`
starts the reference with the bug and the entry must fail; CI runs one fault per area, `nox -s selftest` all of
them) or when a test here in suites/ makes it fail on answers no fault of the reference can give (a server
that answers 500, a document that points elsewhere, a Latin-1 MCP server: ``COUNTEREXAMPLES``). The entries
with neither are the work list, ``without-counterexample.txt`` beside this file.

The test fails when an entry is proven nowhere and not on the list (a new check came without a way to show it
failing), when a listed entry has meanwhile been proven (the list only shrinks), and when a named test no
longer exists.
"""

from __future__ import annotations

import ast
from pathlib import Path

from spreadapi_conformance.catalog import area_order, load_catalog
from spreadapi_conformance.reference.faults import FAULTS

HERE = Path(__file__).parent
SUITES = HERE.parent
WORK_LIST = HERE / "without-counterexample.txt"

ELSEWHERE = ("meta/test_offtarget.py", "test_documents_pointing_elsewhere_fail_and_nothing_reaches_the_other_host")
# entry -> the test that shows it failing (file under suites/, test function)
COUNTEREXAMPLES = {
    "REST-AUTH-010": ("meta/test_certify_targets.py", "test_failing_target_fails_with_masked_evidence"),
    "MCP-AUTH-035": ("meta/test_certify_targets.py", "test_failing_target_fails_with_masked_evidence"),
    "OPENAPI-DOC-014": (
        "meta/test_offtarget.py",
        "test_documents_pointing_elsewhere_fail_and_nothing_reaches_the_other_host",
    ),
    "OPENAPI-DOC-015": (
        "meta/test_offtarget.py",
        "test_documents_pointing_elsewhere_fail_and_nothing_reaches_the_other_host",
    ),
    "REPLAY-ACTIONS-002": (
        "meta/test_offtarget.py",
        "test_documents_pointing_elsewhere_fail_and_nothing_reaches_the_other_host",
    ),
    "OAUTH-TLS-001": ("meta/test_tls.py", "test_plain_http_off_loopback_fails_and_loopback_is_exempt"),
    "MCP-HTTP-042": ("meta/test_hostile.py", "test_a_body_in_another_charset_fails_the_utf_8_check"),
    "MCP-HTTP-046": ("meta/test_hostile.py", "test_a_careless_modern_server_fails_the_transport_checks"),
    "MCP-HTTP-047": ("meta/test_hostile.py", "test_a_careless_modern_server_fails_the_transport_checks"),
    "MCP-HTTP-048": ("meta/test_hostile.py", "test_a_careless_modern_server_fails_the_transport_checks"),
    "REPLAY-CLAUDE-001": ("meta/test_bridge_command.py", "test_a_bridge_that_exits_fails_the_replay_with_its_reason"),
    "REST-WIRE-002": ("meta/test_wire.py", "test_a_parser_that_overflows_or_crashes_fails_rest_wire_002"),
    "REST-WIRE-003": ("meta/test_wire.py", "test_a_server_that_waits_for_the_data_fails_rest_wire_003_only"),
    "MCP-STREAM-001": ("meta/test_streams.py", "test_careless_progress_and_replay_fail_their_checks"),
    "MCP-STREAM-002": ("meta/test_streams.py", "test_a_careless_streaming_server_fails_the_stream_checks"),
    "MCP-STREAM-003": ("meta/test_streams.py", "test_a_careless_streaming_server_fails_the_stream_checks"),
    "MCP-STREAM-004": ("meta/test_streams.py", "test_a_careless_streaming_server_fails_the_stream_checks"),
    "MCP-STREAM-005": ("meta/test_streams.py", "test_careless_progress_and_replay_fail_their_checks"),
    "MCP-STREAM-006": ("meta/test_streams.py", "test_a_careless_streaming_server_fails_the_stream_checks"),
    "MCP-STREAM-007": ("meta/test_streams.py", "test_a_careless_streaming_server_fails_the_stream_checks"),
    "MCP-STREAM-008": ("meta/test_streams.py", "test_careless_progress_and_replay_fail_their_checks"),
    "MCP-STREAM-009": ("meta/test_streams.py", "test_careless_progress_and_replay_fail_their_checks"),
    "MCP-PROGRESS-001": ("meta/test_streams.py", "test_careless_progress_and_replay_fail_their_checks"),
    "MCP-PROGRESS-002": ("meta/test_streams.py", "test_careless_progress_and_replay_fail_their_checks"),
    "MCP-PROGRESS-003": ("meta/test_streams.py", "test_careless_progress_and_replay_fail_their_checks"),
    "REPLAY-CLAUDE-015": ("meta/test_bridge_command.py", "test_a_bridge_writing_requests_to_stdout_fails"),
    "MCP-HTTP-049": ("meta/test_hostile.py", "test_a_sloppy_modern_only_server_fails_the_checks_of_its_faults"),
    "MCP-HTTP-050": ("meta/test_hostile.py", "test_a_sloppy_modern_only_server_fails_the_checks_of_its_faults"),
    "MCP-HTTP-052": ("meta/test_hostile.py", "test_a_sloppy_modern_only_server_fails_the_checks_of_its_faults"),
    "MCP-HTTP-054": ("meta/test_hostile.py", "test_a_sloppy_modern_only_server_fails_the_checks_of_its_faults"),
    "MCP-HTTP-053": ("meta/test_hostile.py", "test_a_counter_offer_of_the_oldest_revision_warns"),
    **dict.fromkeys(
        ("MCP-HTTP-010", "MCP-HTTP-014", "MCP-HTTP-022", "MCP-HTTP-032", "MCP-HTTP-033"),
        ("meta/test_hostile.py", "test_a_server_breaking_one_transport_rule_fails_its_check"),
    ),
    "OPENAPI-GPT-002": ("meta/test_actions_limits.py", "test_plain_http_off_loopback_fails_the_actions_https_rule"),
    "REPLAY-ACTIONS-001": ("meta/test_actions_limits.py", "test_plain_http_off_loopback_fails_the_actions_https_rule"),
    "OPENAPI-GPT-006": ("meta/test_actions_limits.py", "test_an_answer_past_the_actions_size_limit_fails"),
    "OPENAPI-GPT-007": ("meta/test_actions_limits.py", "test_an_answer_past_the_actions_size_limit_fails"),
}


def proven_by_faults() -> set[str]:
    return {rid for fault in FAULTS.values() for rid in fault.caught_by}


def work_list() -> list[str]:
    lines = WORK_LIST.read_text(encoding="utf-8").splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def test_every_entry_is_proven_or_on_the_work_list():
    catalog = load_catalog()
    proven = proven_by_faults() | set(COUNTEREXAMPLES)
    unproven = [r.id for r in sorted(catalog.values(), key=area_order) if r.id not in proven]
    listed = work_list()
    new = [rid for rid in unproven if rid not in listed]
    assert not new, (
        f"entries with no fault and no counterexample test (add one, or list them in {WORK_LIST.name}): {new}"
    )
    done = [rid for rid in listed if rid in proven]
    assert not done, f"these entries are proven now: take them off {WORK_LIST.name}: {done}"
    unknown = [rid for rid in listed if rid not in catalog]
    assert not unknown, f"{WORK_LIST.name} lists entries the catalogue does not have: {unknown}"


def test_every_counterexample_names_a_test_that_exists_and_names_its_entry():
    for rid, (file, function) in COUNTEREXAMPLES.items():
        source = (SUITES / file).read_text(encoding="utf-8")
        found = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.FunctionDef) and n.name == function]
        assert found, f"{rid}: {file} has no test {function}"
        assert rid in source, f"{rid}: {file} never names it"
