"""Parsing JSON request bodies strictly, shared by the REST and OAuth endpoints.

Python's json module is more lenient than JSON: it takes NaN/Infinity, turns 1e400 into inf,
recurses until the stack runs out and keeps lone surrogates that no UTF-8 answer or hash can carry.
Each of those would otherwise surface later as a 500.
"""

from __future__ import annotations

import json
import math
from typing import Any

from .faults import active


class BodyError(ValueError):
    """The body is not a usable JSON object; the message is for the client."""


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def parse_json_object(raw: bytes | str, faults: frozenset[str] = frozenset()) -> dict[str, Any]:
    """``faults``: the deployment bugs to reproduce (``faults.rest``), for the selftest."""
    # A float literal beyond the double range becomes inf unless parse_float refuses it.
    floats = float if active(faults, "json-overflow-kept-as-infinity") else _finite_float
    try:
        body = json.loads(raw, parse_constant=_reject_constant, parse_float=floats)
    except RecursionError:
        if active(faults, "json-nesting-unbounded"):
            raise  # nobody expected the parser to run out of stack: a 500
        raise BodyError("The request body is nested too deeply.") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BodyError(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict) and not active(faults, "rest-body-shape-unchecked"):
        raise BodyError("The request body must be a JSON object.")
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise BodyError("The request body contains an unpaired UTF-16 surrogate.") from None
    return body
