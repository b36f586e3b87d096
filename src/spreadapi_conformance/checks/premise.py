"""A check's premise: what must hold before it can judge the target at all.

A check that cannot apply (the option is not claimed by this endpoint, the server did not negotiate that
revision, keeps no sessions, offers no registration, the target file gives no credential for the endpoint)
calls :func:`not_applicable` with the premise that failed. The report shows it as ``not-applicable`` with
that premise: never a failure, never a pass, and no gap in the option's verdict. Anything else that keeps
a check from running is a plain skip, reported as ``not run``, and a MUST not run leaves the verdict
``incomplete``: :func:`control_failed` is one, for a negative check whose control (the same request without
the fault under test) is refused too, so that a refusal would prove nothing about the property checked.
"""

from __future__ import annotations

from typing import NoReturn

import pytest

from ..report.outcomes import NOT_APPLICABLE


def not_applicable(premise: str) -> NoReturn:
    """Stop the check: ``premise`` (what does not hold, in a few words) makes it not applicable."""
    pytest.skip(NOT_APPLICABLE + premise)


def control_failed(what: str) -> NoReturn:
    """Stop a negative check whose control failed: ``what`` says which control and what came instead. The
    check is not run (its claim cannot be established), which leaves a MUST's option ``incomplete``."""
    pytest.skip(f"not run: the control failed, so a refusal would prove nothing: {what}")
