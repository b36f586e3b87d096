"""Per-request evaluation: nothing of one evaluation survives into the next, with or without threads.

SpreadAPI evaluated every request on one shared workbook, so an optional input omitted by one caller
kept the previous caller's value (behaviour reference 1.10). The engines here must not.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from spreadapi_conformance.engine.base import published_values

from ._support import ENGINES, distinct_inputs, fresh, load_services, other_than, outputs_table

SERVICES = load_services()
WORKERS = 8
PER_WORKER = 50


def _with_all_inputs(service_id: str) -> dict:
    """Every input set, each optional one to a value other than the published one."""
    service = SERVICES[service_id]
    published = published_values(service)
    base = distinct_inputs(service, 1, seed=1, optional="all")[0]
    for spec in service.inputs:
        if not spec.mandatory:
            base[spec.name] = other_than(spec, published[spec.name])
    return base


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("service_id", list(SERVICES))
def test_omitted_inputs_do_not_inherit_the_previous_request(service_id: str, engine: str) -> None:
    service = SERVICES[service_id]
    if all(spec.mandatory for spec in service.inputs):
        pytest.skip(f"{service_id} has no optional input to omit")
    a = _with_all_inputs(service_id)
    b = {spec.name: a[spec.name] for spec in service.inputs if spec.mandatory}

    reused = fresh(service_id, engine)
    result_a = reused.evaluate(a)
    result_b = reused.evaluate(b)
    expected_b = fresh(service_id, engine).evaluate(b)

    # The check has teeth only if A's optional values change some output.
    assert result_a != expected_b, f"{service_id}: A's optional inputs change no output; pick other values"
    assert result_b == expected_b, (
        f"{service_id} on {engine}: B after A differs from B on a fresh evaluator (A leaked)\n"
        f"A: {a!r}\nB: {b!r}\n" + outputs_table({"after A": result_b, "fresh": expected_b}, list(expected_b))
    )
    # And A again: B's published defaults do not stick either.
    assert reused.evaluate(a) == result_a


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("service_id", list(SERVICES))
def test_concurrent_evaluations_equal_single_threaded_ones(service_id: str, engine: str) -> None:
    service = SERVICES[service_id]
    evaluator = fresh(service_id, engine)
    cases = distinct_inputs(service, WORKERS * PER_WORKER, seed=7)
    expected = [evaluator.evaluate(inputs) for inputs in cases]

    def worker(start: int) -> list[tuple[int, dict]]:
        return [(i, evaluator.evaluate(cases[i])) for i in range(start, len(cases), WORKERS)]

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        chunks = list(pool.map(worker, range(WORKERS)))

    got = dict(item for chunk in chunks for item in chunk)
    assert sorted(got) == list(range(len(cases)))
    wrong = [i for i in range(len(cases)) if got[i] != expected[i]]
    assert not wrong, (
        f"{service_id} on {engine}: {len(wrong)} of {len(cases)} concurrent evaluations differ from their "
        f"single-threaded result; first: inputs {cases[wrong[0]]!r}\n"
        + outputs_table({"threaded": got[wrong[0]], "single": expected[wrong[0]]}, list(expected[wrong[0]]))
    )
