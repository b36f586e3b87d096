"""MCP-PROGRESS: progress notifications (MCP basic utilities, Progress, 2025-06-18 on).

The checks judge the conversation of MCP-STREAM (``_support.observed_streams``): every request the kit sends
carries a progressToken of its own, and every notifications/progress the server sends, on the answers and on
the GET streams, is judged. A server may send no progress at all (the clause allows it, and the reference's
calculations finish at once): then the checks are not applicable.
"""

from __future__ import annotations

import pytest

from ..premise import not_applicable
from ._support import LATEST, MODERN, Observation, SseEvent, Stream, notifications, observed_streams, progress_token
from ._support import shown as show

pytestmark = pytest.mark.conformance

REVISIONS = ["2025-06-18", LATEST, MODERN]
# s: a progress notification on another stream than the answer that arrives this long after the answer was
# sent after it (two connections may deliver out of order by less).
GRACE = 0.5


def _progress(observation: Observation) -> list[tuple[Stream, SseEvent, dict]]:
    """Every notifications/progress of the conversation, in the order it came; not applicable when none."""
    found = [
        (stream, event, message)
        for stream in observation.streams
        if stream.kind != "resume"  # a replay repeats what was sent before
        for event, message in notifications(stream, "notifications/progress")
    ]
    if not found:
        not_applicable(
            f"the server sent no notifications/progress (the kit gave a progressToken to {observation.asked()})"
        )
    return sorted(found, key=lambda item: item[1].at)


def _own(observation: Observation) -> list[tuple[Stream, SseEvent, dict]]:
    """The progress notifications for the kit's own tokens; not applicable when none."""
    tokens = observation.tokens()
    own = [item for item in _progress(observation) if progress_token(item[2]) in tokens]
    if not own:
        not_applicable("the server sent progress notifications, none for the kit's progressTokens")
    return own


@pytest.mark.parametrize("revision", REVISIONS)
async def test_progress_increases(mcp_target, client, revision):
    """MCP-PROGRESS-001 MUST: for one progressToken, each progress notification's progress value is a number
    greater than the one before."""
    observation = await observed_streams(client, mcp_target, revision)
    last: dict[str, float] = {}
    wrong = []
    for _stream, _event, message in _own(observation):
        token, value = progress_token(message), message["params"].get("progress")
        if not isinstance(value, int | float) or isinstance(value, bool):
            wrong.append(f"progress is not a number: {show(message)}")
        elif token in last and value <= last[token]:
            wrong.append(f"progress {value} after {last[token]} for token {token!r}")
        else:
            last[token] = value
    assert not wrong, "; ".join(wrong)


@pytest.mark.parametrize("revision", REVISIONS)
async def test_progress_only_for_active_requests(mcp_target, client, revision):
    """MCP-PROGRESS-002 MUST: a progress notification names only a progressToken the kit gave in a request (one
    it never gave belongs to no request of this client)."""
    observation = await observed_streams(client, mcp_target, revision)
    tokens = observation.tokens()
    foreign = [
        f"{stream.name}: {show(message)}"
        for stream, _event, message in _progress(observation)
        if progress_token(message) not in tokens
    ]
    assert not foreign, f"progress for tokens the kit never gave ({sorted(tokens)}): {'; '.join(foreign)}"


@pytest.mark.parametrize("revision", REVISIONS)
async def test_progress_stops_after_the_answer(mcp_target, client, revision):
    """MCP-PROGRESS-003 MUST: no progress notification for a token comes after the response to its request: on
    the same stream after the response, or on another stream more than GRACE seconds after it."""
    observation = await observed_streams(client, mcp_target, revision)
    requests = observation.tokens()
    late = []
    for stream, event, message in _own(observation):
        request = requests[progress_token(message)]
        answer = request.answer()
        if answer is None:
            continue
        if stream is request:  # one stream keeps its order
            after = stream.events.index(event) > stream.events.index(answer)
        else:
            after = event.at > answer.at + GRACE
        if after:
            late.append(f"{stream.name}, after the response to request {request.request_id!r}: {show(message)}")
    assert not late, "; ".join(late)
