"""Pytest wiring of this project's own tests (``suites/``): hypothesis profiles.

The checks and their fixtures (``target``, ``client``, …) are the package's pytest plugin
(``spreadapi_conformance.checks.plugin``, registered as the ``pytest11`` entry point): ``pytest`` here
collects ``suites/`` (this project's parts) and the checks (``src/spreadapi_conformance/checks``), the
latter against the embedded reference unless ``--spreadapi-target FILE`` names a deployment.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    parent=settings.get_profile("ci"),
    max_examples=60,
    stateful_step_count=15,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "dev",
    max_examples=25,
    stateful_step_count=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
