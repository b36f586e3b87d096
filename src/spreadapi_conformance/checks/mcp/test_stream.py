"""MCP-STREAM: what the server sends on which stream of Streamable HTTP (MCP transports, 2025-06-18 on).

The checks judge one conversation per revision (``_support.observed_streams``): at a handshake revision, a
session in which the kit holds two standalone GET streams open (as many as the server allows) while it sends
tools/list, ping and, when the server lists it, spreadapi_get_details (which only describes), each with a
progressToken, reads every answer as it comes and, when the answers carried SSE event ids, resumes the first
of them with Last-Event-ID; at 2026-07-28, the answers to the same requests. A GET stream never ends by itself:
it is read for a short window (``LISTEN_WINDOW``) after the answers are in, then closed. In process the
reference is served on a loopback port for the streams to be read as they come.

Each check's premise is what the server was seen to do: a server that offers no GET stream (405), sends no
notification, gives no event ids or does not resume makes the checks that need it not applicable, with what was
observed as the reason.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ..premise import not_applicable
from ._support import LATEST, MODERN, Observation, Stream, notifications, observed_streams, progress_token, shown

pytestmark = pytest.mark.conformance

HANDSHAKE_REVISIONS = ["2025-06-18", LATEST]
# Notifications that never belong to a request: they go on the GET stream (at 2026-07-28, on a
# subscriptions/listen stream).
CHANGE_NOTIFICATIONS = ("notifications/resources/updated",)


def _is_response(message: dict[str, Any]) -> bool:
    return "method" not in message and "id" in message and ("result" in message or "error" in message)


def _key(message: dict[str, Any]) -> str:
    return json.dumps(message, sort_keys=True)


def _standalone(observation: Observation) -> list[Stream]:
    """The GET streams the server opened; not applicable when it opened none."""
    opened = [stream for stream in observation.of("get") if stream.is_sse]
    if not opened:
        first = observation.of("get")[0]
        if first.status == 405:
            not_applicable("GET answered 405: the server offers no standalone stream")
        if first.status == 0:
            not_applicable("GET with Accept: text/event-stream was not answered in time: no standalone stream")
        not_applicable(
            f"GET with Accept: text/event-stream opened no stream (HTTP {first.status} {first.content_type!r})"
        )
    return opened


def _tellable(message: dict[str, Any]) -> bool:
    """Whether a notification's request can be told from outside: a progress notification names its token, a
    cancellation its request, and a change notification belongs to none (a log message could belong to any)."""
    method = message.get("method", "")
    return method in ("notifications/progress", "notifications/cancelled") or _is_change(method)


def _is_change(method: str) -> bool:
    return method.endswith("/list_changed") or method in CHANGE_NOTIFICATIONS


def _unrelated(message: dict[str, Any], stream: Stream) -> str | None:
    """Why a notification on ``stream`` (a request's answer) does not belong to its request; None when it
    does."""
    method = message.get("method", "")
    params = message.get("params") if isinstance(message.get("params"), dict) else {}
    if method == "notifications/progress" and progress_token(message) != stream.token:
        return f"a progress notification for token {progress_token(message)!r}, not the request's {stream.token!r}"
    if method == "notifications/cancelled" and params.get("requestId") != stream.request_id:
        return f"a cancellation of request {params.get('requestId')!r}, not of this request {stream.request_id!r}"
    if _is_change(method):
        return f"{method}, a change notification, which belongs to no request"
    return None


@pytest.mark.parametrize("revision", [MODERN])
async def test_notifications_on_an_answer_relate_to_its_request(mcp_target, client, revision):
    """MCP-STREAM-001 MUST: at 2026-07-28 the notifications on a request's SSE answer relate to that request: a
    progress notification carries its progressToken, a cancellation names it, and no change notification (those
    belong on a subscriptions/listen stream). A log message could belong to any request and is not judged."""
    await _answers_relate_to_their_requests(client, mcp_target, revision)


@pytest.mark.parametrize("revision", HANDSHAKE_REVISIONS)
async def test_messages_on_an_answer_relate_to_its_request(mcp_target, client, revision):
    """MCP-STREAM-009 SHOULD: before 2026-07-28 the notifications on a request's SSE answer relate to that
    request, as MCP-STREAM-001 judges them (a change notification belongs on the GET stream)."""
    await _answers_relate_to_their_requests(client, mcp_target, revision)


async def _answers_relate_to_their_requests(client: Any, target: Any, revision: str) -> None:
    observation = await observed_streams(client, target, revision)
    if not any(s.is_sse for s in observation.of("post")):
        not_applicable(f"no request was answered as an event stream ({observation.answered()})")
    sent = [
        (stream, message) for stream in observation.of("post") if stream.is_sse for _, message in notifications(stream)
    ]
    if not sent:
        not_applicable(f"the server sent no notification on its SSE answers to {observation.asked()}")
    judged = [(stream, message) for stream, message in sent if _tellable(message)]
    if not judged:
        methods = sorted({message["method"] for _, message in sent})
        not_applicable(
            f"the notifications on the answers ({', '.join(methods)}) cannot be tied to a request from outside"
        )
    unrelated = [
        f"{stream.name}: {why}: {shown(message)}" for stream, message in judged if (why := _unrelated(message, stream))
    ]
    assert not unrelated, "; ".join(unrelated)


@pytest.mark.parametrize("revision", HANDSHAKE_REVISIONS)
async def test_no_response_on_the_get_stream(mcp_target, client, revision):
    """MCP-STREAM-002 MUST NOT: the server sends no JSON-RPC response on a standalone GET stream (one that
    resumes no earlier stream) while the kit's requests are answered."""
    observation = await observed_streams(client, mcp_target, revision)
    responses = [
        f"{stream.name}: {shown(message)}"
        for stream in _standalone(observation)
        for message in stream.messages()
        if _is_response(message)
    ]
    assert not responses, f"JSON-RPC responses on a standalone GET stream: {'; '.join(responses)}"


@pytest.mark.parametrize("revision", HANDSHAKE_REVISIONS)
async def test_each_message_on_one_stream(mcp_target, client, revision):
    """MCP-STREAM-003 MUST: each message the server sends goes on only one of the connected streams, never the
    same one on two (a notification without params, which may simply be sent twice, is not judged)."""
    observation = await observed_streams(client, mcp_target, revision)
    streams = [*_standalone(observation), *observation.of("post")]
    if not any(s.messages() for s in observation.of("post")):
        not_applicable(f"the server sent nothing on the answers to {observation.asked()} while its GET stream was open")
    seen: dict[str, list[str]] = {}
    for stream in streams:
        for message in stream.messages():
            if "id" in message or message.get("params"):
                names = seen.setdefault(_key(message), [])
                if stream.name not in names:
                    names.append(stream.name)
    broadcast = [f"{shown(json.loads(key))} on {' and '.join(names)}" for key, names in seen.items() if len(names) > 1]
    assert not broadcast, f"the same message on several streams: {'; '.join(broadcast)}"


@pytest.mark.parametrize("revision", HANDSHAKE_REVISIONS)
async def test_event_ids_are_unique_in_the_session(mcp_target, client, revision):
    """MCP-STREAM-004 MUST: the SSE event ids the server gives are unique across all the streams of a session
    (its answers and its GET streams; a resumption repeats the ids it replays and is left out)."""
    observation = await observed_streams(client, mcp_target, revision)
    where: dict[str, list[str]] = {}
    for stream in observation.of("get", "post"):
        for event in stream.events:
            if event.id is not None:
                where.setdefault(event.id, []).append(stream.name)
    if not where:
        not_applicable(f"no SSE event carried an id (the answers to {observation.asked()} and the GET streams)")
    repeated = [f"{event_id!r} on {', '.join(names)}" for event_id, names in where.items() if len(names) > 1]
    assert not repeated, f"event ids given more than once in one session: {'; '.join(repeated)}"


@pytest.mark.parametrize("revision", HANDSHAKE_REVISIONS)
async def test_resumption_replays_only_its_own_stream(mcp_target, client, revision):
    """MCP-STREAM-005 MUST NOT: a GET with Last-Event-ID (an event of one answer) replays no message that was
    delivered on another stream, nor the response to another request."""
    observation = await observed_streams(client, mcp_target, revision)
    resumed = observation.of("resume")
    if not resumed:
        not_applicable(f"no SSE event carried an id on the answers to {observation.asked()}: nothing to resume from")
    resumption = resumed[0]
    if not resumption.is_sse:
        not_applicable(
            f"the server does not resume: {resumption.name} answered HTTP {resumption.status} "
            f"{resumption.content_type!r}"
        )
    elsewhere = {
        _key(message): stream.name
        for stream in observation.of("get", "post")
        if stream.name != resumption.resumes
        for message in stream.messages()
    }
    foreign = []
    for message in resumption.messages():
        if _key(message) in elsewhere:
            foreign.append(f"{shown(message)} (delivered on {elsewhere[_key(message)]})")
        elif _is_response(message) and message.get("id") != resumption.request_id:
            foreign.append(f"{shown(message)} (the response to another request)")
    assert not foreign, f"{resumption.name} replayed another stream's messages: {'; '.join(foreign)}"


@pytest.mark.parametrize("revision", HANDSHAKE_REVISIONS)
async def test_get_stream_messages_are_unrelated_to_requests(mcp_target, client, revision):
    """MCP-STREAM-006 SHOULD: what the server sends on a standalone GET stream is unrelated to the requests the
    kit has running: no notification names their progressTokens, none cancels them."""
    observation = await observed_streams(client, mcp_target, revision)
    standalone = _standalone(observation)
    if not any(stream.messages() for stream in standalone):
        not_applicable(f"the GET stream carried no message while the kit sent {observation.asked()}")
    tokens = observation.tokens()
    requests = [stream.request_id for stream in observation.of("post")]
    related = []
    for stream in standalone:
        for _event, message in notifications(stream):
            params = message.get("params") if isinstance(message.get("params"), dict) else {}
            cancels = message["method"] == "notifications/cancelled" and params.get("requestId") in requests
            if cancels or any(token in json.dumps(params) for token in tokens):
                related.append(f"{stream.name}: {shown(message)}")
    assert not related, f"messages about the kit's own requests on the GET stream: {'; '.join(related)}"


@pytest.mark.parametrize("revision", [LATEST])
async def test_event_streams_start_with_a_priming_event(mcp_target, client, revision):
    """MCP-STREAM-007 SHOULD: at 2025-11-25 an SSE answer starts with a priming event, an id and empty data,
    for the client to resume from. Judged on a server that gives event ids: one that gives none keeps no stream
    it could resume, and a priming id would only invite a Last-Event-ID it cannot honour."""
    observation = await observed_streams(client, mcp_target, revision)
    answers = [stream for stream in observation.of("post") if stream.is_sse and stream.events]
    if not any(event.id for stream in observation.of("get", "post") for event in stream.events):
        not_applicable(f"no SSE event carried an id (the answers to {observation.asked()} and the GET streams)")
    unprimed = [
        f"{stream.name} starts with id {stream.events[0].id!r} and data {stream.events[0].data[:80]!r}"
        for stream in answers
        if not stream.events[0].id or stream.events[0].data
    ]
    assert not unprimed, f"SSE answers without a priming event (an id and empty data): {'; '.join(unprimed)}"


@pytest.mark.parametrize("revision", [LATEST])
async def test_closed_get_stream_sent_a_retry_field(mcp_target, client, revision):
    """MCP-STREAM-008 SHOULD: at 2025-11-25 a server that closes a standalone GET stream's connection sends an
    SSE retry field on it first, for the client to know when to reconnect."""
    observation = await observed_streams(client, mcp_target, revision)
    closed = [stream for stream in _standalone(observation) if stream.ended]
    if not closed:
        not_applicable("the server kept its GET stream open while the kit read it")
    silent = [stream.name for stream in closed if not any(event.retry for event in stream.events)]
    assert not silent, f"closed by the server without a retry field: {', '.join(silent)}"
