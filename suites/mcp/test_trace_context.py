"""The W3C grammars MCP-HTTP-049 holds trace context in ``_meta`` to: the examples of W3C Trace Context and W3C
Baggage pass, and each way of breaking them is named."""

from __future__ import annotations

import pytest

from spreadapi_conformance.checks.mcp.test_http import trace_context_problem

TRACE_ID, PARENT_ID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"

VALID = [
    ("traceparent", f"00-{TRACE_ID}-{PARENT_ID}-01"),
    ("traceparent", f"00-{TRACE_ID}-{PARENT_ID}-00"),
    ("traceparent", f"01-{TRACE_ID}-{PARENT_ID}-01-more-of-a-later-version"),
    ("tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
    ("tracestate", "fw529a3039@dt=a, rojo=00f067aa0ba902b7 ,,"),
    ("baggage", "userId=alice,serverNode=DF%2028,isProduction=false"),
    ("baggage", "key1=value1;property1;property2, key2 = value2, key3=value3; propertyKey=propertyValue"),
]

INVALID = [
    ("traceparent", f"ff-{TRACE_ID}-{PARENT_ID}-01", "version ff"),
    ("traceparent", f"00-{TRACE_ID.upper()}-{PARENT_ID}-01", "lowercase hex"),
    ("traceparent", f"00-{'0' * 32}-{PARENT_ID}-01", "all-zero"),
    ("traceparent", f"00-{TRACE_ID}-{'0' * 16}-01", "all-zero"),
    ("traceparent", f"00-{TRACE_ID}-{PARENT_ID}-01-extra", "version 00"),
    ("traceparent", f"00-{TRACE_ID[:-1]}-{PARENT_ID}-01", "lowercase hex"),
    ("traceparent", 17, "not a string"),
    ("tracestate", "Rojo=00f067aa0ba902b7", "key=value"),
    ("tracestate", "rojo=", "key=value"),
    ("tracestate", "rojo=a=b", "key=value"),
    ("tracestate", ",".join(f"k{n}=v" for n in range(33)), "more than 32"),
    ("baggage", "", "key=value"),
    ("baggage", "user id=alice", "key=value"),
    ("baggage", "userId=alice smith", "key=value"),
    ("baggage", 'userId="alice"', "key=value"),
]


@pytest.mark.parametrize(("key", "value"), VALID)
def test_the_w3c_examples_pass(key: str, value: str):
    assert trace_context_problem(key, value) is None


@pytest.mark.parametrize(("key", "value", "named"), INVALID)
def test_each_breach_is_named(key: str, value: object, named: str):
    problem = trace_context_problem(key, value)
    assert problem is not None and named in problem, problem
