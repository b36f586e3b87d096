"""Faults: realistic deployment bugs the reference can be started with, to prove what certify catches.

``spreadapi-conformance serve --fault NAME`` (repeatable), and in process ``ReferenceConfig(faults=…)``
(``spreadapi-conformance selftest`` certifies the reference once per fault). Each fault is implemented where
the bug would live in a real deployment (the token check, the input coercion, the OAuth code store, the MCP
tool), never as a rewrite of the answer at the edge, and names the catalogue IDs expected to catch it: a
fault is caught when at least one of them fails (or, for a SHOULD or a policy, warns).

The catalogue of faults is plain data, one module per area (``rest.py``, ``oauth.py``, ``mcp.py``); the code
asks :func:`active` at the place of the bug.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Fault:
    name: str
    area: str  # REST, OPENAPI, OAUTH, CONSENT, MCP-TRANSPORT, MCP-AUTH, MCP-CRED, MCP-TOOLS, BRIDGE
    bug: str  # the bug, as a deployment would have it
    caught_by: tuple[str, ...]  # catalogue IDs expected to fail (or warn) when it is active


def _all() -> dict[str, Fault]:
    from . import mcp, oauth, rest

    found: dict[str, Fault] = {}
    for fault in (*rest.FAULTS, *oauth.FAULTS, *mcp.FAULTS):
        if fault.name in found:
            raise ValueError(f"fault {fault.name!r} is defined twice")
        found[fault.name] = fault
    return found


FAULTS: dict[str, Fault] = _all()


def check_names(names: Any) -> frozenset[str]:
    """``names`` as a frozenset, after refusing any that is not a fault (one line naming the known ones)."""
    chosen = frozenset(names or ())
    if unknown := sorted(chosen - set(FAULTS)):
        raise ValueError(f"unknown fault {', '.join(unknown)} (known: {', '.join(sorted(FAULTS))})")
    return chosen


def active(holder: Any, name: str) -> bool:
    """Whether fault ``name`` is on: ``holder`` is a request, an app, a ReferenceConfig, or the set of faults."""
    if name not in FAULTS:  # a typo at a fault site must not silently never fire
        raise KeyError(f"no fault named {name!r}")
    if isinstance(holder, frozenset | set):
        return name in holder
    if isinstance(getattr(holder, "faults", None), frozenset):  # a ReferenceConfig, a Catalog
        return name in holder.faults
    config = getattr(holder, "config", None) or _config_of(holder)
    return name in getattr(config, "faults", ())


def _config_of(holder: Any) -> Any:
    app = getattr(holder, "app", holder)
    return getattr(getattr(app, "state", None), "config", None)
