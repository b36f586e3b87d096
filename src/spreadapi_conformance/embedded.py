"""The embedded default: the reference, seeded in this process, and the target spec that describes it.

``certify`` without a target file, ``pytest`` on the checks without ``--spreadapi-target`` and the tests
of this project check this deployment: no network, no setup. It is the one place outside ``reference/``
and the CLI that builds a reference for checking; the checks themselves only see the :class:`TargetSpec`
and the ASGI app, never the reference's internals.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterable
from typing import Any

from .target import TargetSpec, reference_spec

# Seconds an authorization code of the embedded reference stays redeemable (the spec states it, so that
# OAUTH-TOKEN-017 sees one expire): long enough for every flow, which redeems its code at once even on a
# busy machine, and short enough that waiting it out adds only seconds to a run.
EMBEDDED_CODE_LIFETIME = 10.0


def in_process_reference(faults: Iterable[str] = ()) -> tuple[TargetSpec, Any]:
    """``(spec, app)`` of a freshly seeded reference with the memory store and its admin surface on (so
    the checks that issue and revoke credentials of their own run too); ``faults``: deployment bugs to
    reproduce (``reference.faults``), for the selftest (ValueError naming an unknown one)."""
    from .reference.app import Reference
    from .reference.config import ReferenceConfig
    from .reference.faults import check_names

    faults = check_names(faults)

    # No background warm-up: the checks compile what they use, and no thread outlives the run.
    admin_token = "admin-" + secrets.token_hex(16)
    config = ReferenceConfig(
        warm_up=False, admin_token=admin_token, oauth_code_lifetime=EMBEDDED_CODE_LIFETIME, faults=faults
    )
    reference = Reference(config)
    asyncio.run(reference.seed())  # the memory store is not bound to an event loop
    return reference_spec(reference, None, admin_token=admin_token), reference.app
