"""Golden cases: both engines reproduce the outputs the plain-Python models computed, and the committed
fixture files (workbooks, golden YAML) are what ``fixtures/build_workbooks.py`` builds today."""

from __future__ import annotations

import importlib.util
import io
import subprocess
import sys
import zipfile

import pytest

from spreadapi_conformance.oracle import differences

from ._support import ENGINES, build_script, compiled, fixture_models, load_services, outputs_table

SERVICES = load_services()
GOLDEN = [(service_id, index) for service_id, service in SERVICES.items() for index in range(len(service.golden))]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("service_id", "index"), GOLDEN, ids=[f"{s}#{i}" for s, i in GOLDEN])
def test_engine_reproduces_golden_case(service_id: str, index: int, engine: str) -> None:
    case = SERVICES[service_id].golden[index]
    actual = compiled(service_id, engine).evaluate(case["cells"])
    diff = differences(actual, case["outputs"])
    assert not diff, (
        f"{service_id} golden case {index} ({case['title']!r}) on engine {engine}\n"
        f"cells: {case['cells']!r}\n"
        + outputs_table({engine: actual, "golden": case["outputs"]}, list(case["outputs"]))
    )


def test_every_service_has_golden_cases_and_a_model() -> None:
    models = fixture_models()
    assert set(models.MODELS) == set(SERVICES), "fixtures/models.py and fixtures/services/ name different services"
    for service_id, service in SERVICES.items():
        assert service.golden, f"{service_id}: no golden cases"
        names = {spec.name for spec in service.inputs}
        outputs = {spec.name for spec in service.outputs}
        for case in service.golden:
            assert set(case["cells"]) <= names, f"{service_id} {case['title']!r}: cells name unknown inputs"
            assert set(case["outputs"]) == outputs, f"{service_id} {case['title']!r}: outputs differ from the service"


@pytest.mark.parametrize("service_id", list(SERVICES))
def test_model_reproduces_its_golden_yaml(service_id: str) -> None:
    models = fixture_models()
    failures = []
    for case in SERVICES[service_id].golden:
        actual = models.expected(service_id, dict(case["cells"]))
        diff = differences(actual, case["outputs"])
        if diff:
            failures.append(
                f"{case['title']!r}:\n" + outputs_table({"model": actual, "golden": case["outputs"]}, list(diff))
            )
    assert not failures, f"fixtures/models.py no longer gives the golden outputs of {service_id}:\n" + "\n".join(
        failures
    )
    # Titles, inputs and cells too: the YAML is generated from the model module, nothing else.
    assert [{k: c[k] for k in ("title", "inputs", "cells")} for c in models.golden_cases(service_id)] == [
        {k: c[k] for k in ("title", "inputs", "cells")} for c in SERVICES[service_id].golden
    ]


def _stale_members() -> list[str]:
    """For the failure message: which zip members of which workbook differ from a rebuild."""
    spec = importlib.util.spec_from_file_location("spreadapi_fixture_build", build_script())
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    saved_path, saved_models = list(sys.path), sys.modules.get("models")
    try:
        spec.loader.exec_module(build)  # it puts fixtures/ on sys.path and imports `models`
    finally:
        sys.path[:] = saved_path
        if saved_models is None:
            sys.modules.pop("models", None)
        else:
            sys.modules["models"] = saved_models
    found = []
    for path, content in build.outputs().items():
        if path.suffix != ".xlsx" or not path.exists():
            continue
        with zipfile.ZipFile(io.BytesIO(content)) as new, zipfile.ZipFile(path) as old:
            names = sorted(set(new.namelist()) | set(old.namelist()))
            for name in names:
                a = old.read(name) if name in old.namelist() else None
                b = new.read(name) if name in new.namelist() else None
                if a != b:
                    found.append(f"{path.name}:{name}")
    return found


def test_committed_fixture_files_are_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(build_script()), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        try:
            members = ", ".join(_stale_members()) or "none (the YAML files differ)"
        except Exception as exc:  # the diagnosis must not hide the real failure
            members = f"<could not diagnose: {exc!r}>"
        pytest.fail(
            f"python fixtures/build_workbooks.py --check exited {result.returncode}\n"
            f"{result.stdout}{result.stderr}\n"
            f"differing workbook members: {members}",
            pytrace=False,
        )
