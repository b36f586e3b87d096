"""Reading a target's answers without trusting them: every helper here either returns what the check
asked for or raises an AssertionError that says what came instead (a failure of the target), never a
KeyError, a TypeError or a RecursionError from the kit's own code (an error of the kit).

The checks judge the status and the shape their title names before they read a field: a deployment built
elsewhere may answer HTML, truncated JSON, a 1,000-deep echo of the input or a number where a string
belongs, and the verdict must then be "failed, because …", not a crash.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

import httpx

EXCERPT = 300


def excerpt(response: httpx.Response, size: int = EXCERPT) -> str:
    """What the server answered, in one line, for an assertion's message."""
    try:
        text = response.text[:size]
    except Exception:  # a body that is not text, or not read
        text = "(no readable body)"
    return f"HTTP {response.status_code} {response.headers.get('content-type', '')!r} body={text!r}"


DEEP_LIMIT = 1_000_000  # nesting the deep parse may meet (a 100,000-deep echo of a hostile input is legal JSON)
DEEP_STACK = 512 * 1024 * 1024  # bytes of C stack for it


def json_value(response: httpx.Response, *, deep: bool = False) -> Any:
    """The JSON body, whatever its shape (an AssertionError when it is not JSON). Nesting deeper than
    Python's recursion limit is an AssertionError too, unless ``deep``: then it is parsed on a thread with
    a stack big enough for it (for checks that read only the top level of an answer echoing a deep input)."""
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        raise AssertionError(f"the body is not JSON: {excerpt(response)}") from None
    except RecursionError:
        if not deep:
            raise AssertionError(f"the body is JSON nested deeper than the kit reads: {excerpt(response)}") from None
    return _loads_deep(response.content, response)


def _loads_deep(content: bytes, response: httpx.Response) -> Any:
    found: dict[str, Any] = {}

    def parse() -> None:
        try:
            found["value"] = json.loads(content)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            found["error"] = exc

    limit, size = sys.getrecursionlimit(), threading.stack_size()
    try:
        sys.setrecursionlimit(DEEP_LIMIT)
        threading.stack_size(DEEP_STACK)
        worker = threading.Thread(target=parse, name="deep-json")
        worker.start()
        worker.join()
    finally:
        threading.stack_size(size)
        sys.setrecursionlimit(limit)
    if "error" in found:
        raise AssertionError(f"the body is not JSON: {excerpt(response)}")
    return found["value"]


def json_object(response: httpx.Response) -> dict[str, Any]:
    body = json_value(response)
    assert isinstance(body, dict), f"the body is not a JSON object: {excerpt(response)}"
    return body


def field(document: Any, *path: str | int, kind: type | tuple[type, ...] | None = None, what: str = "") -> Any:
    """``document[path[0]][path[1]]…``, asserting each step exists (and the last is of ``kind``)."""
    node = document
    walked = []
    for key in path:
        walked.append(str(key))
        where = ".".join(walked)
        if isinstance(key, int):
            assert isinstance(node, list) and -len(node) <= key < len(node), f"{what or 'the answer'} has no {where}"
        else:
            assert isinstance(node, dict) and key in node, f"{what or 'the answer'} has no {where}"
        node = node[key]
    if kind is not None:
        assert isinstance(node, kind) and not (isinstance(node, bool) and bool not in _kinds(kind)), (
            f"{what or 'the answer'}'s {'.'.join(walked)} is {type(node).__name__} {node!r:.80}, not {_names(kind)}"
        )
    return node


def _kinds(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _names(kind: type | tuple[type, ...]) -> str:
    return " or ".join(k.__name__ for k in _kinds(kind))


def named_values(document: Any, key: str, what: str = "the answer") -> dict[str, Any]:
    """``{item["name"]: item["value"]}`` of ``document[key]``, a list of ``{name, value}`` objects (an execute
    body's ``outputs`` and ``inputs``), asserting that shape."""
    items = field(document, key, kind=list, what=what)
    shapeless = [i for i in items if not (isinstance(i, dict) and isinstance(i.get("name"), str) and "value" in i)]
    assert not shapeless, f"{what}'s {key} holds items that are not {{name, value}}: {str(shapeless[0])[:120]}"
    return {i["name"]: i["value"] for i in items}


def objects(document: Any, key: str, what: str = "the answer") -> list[dict[str, Any]]:
    """``document[key]``, asserting it is a list of JSON objects."""
    items = field(document, key, kind=list, what=what)
    assert all(isinstance(i, dict) for i in items), (
        f"{what}'s {key} holds items that are not objects: {str(items)[:160]}"
    )
    return items
