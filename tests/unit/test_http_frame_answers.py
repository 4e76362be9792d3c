"""``http_abort`` on pipelined connections: response framing and answers in request order."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ial_resilience.agent._http_frame import RequestFramer
from ial_resilience.faults.toxics._evidence import Evidence
from ial_resilience.faults.toxics._spec import Direction
from ial_resilience.faults.toxics._stage import Chunk, HttpRequestHead, Stage
from ial_resilience.faults.toxics.http_abort import HttpAbort
from ial_resilience.faults.toxics.http_order import AnswerOrder
from ial_resilience.faults.toxics.http_response import ResponseFramer, ResponseFramingError

OK_A = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;x=y\r\nhi\r\n0\r\nT: 1\r\n\r\n"
NO_CONTENT = b"HTTP/1.1 204 No Content\r\n\r\n"
HEAD_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"  # answers a HEAD: no body
LF_ONLY = b"HTTP/1.0 304 Not Modified\n\n"
RESPONSES = [OK_A, CONTINUE + CHUNKED, NO_CONTENT, HEAD_OK, LF_ONLY]
METHODS = ["GET", "POST", "DELETE", "HEAD", "GET"]
STREAM = b"".join(RESPONSES)
ENDS = list(itertools.accumulate(len(r) for r in RESPONSES))


class Recorder:
    """ResponseEvents that remember absolute offsets; methods answered in order."""

    def __init__(self, methods: list[str]) -> None:
        self.methods = list(methods)
        self.base = 0
        self.starts: list[int] = []
        self.ends: list[int] = []

    def next_method(self) -> str | None:
        return self.methods[0] if self.methods else None

    def started(self, offset: int) -> None:
        self.starts.append(self.base + offset)

    def finished(self, offset: int) -> None:
        self.ends.append(self.base + offset)
        self.methods.pop(0)


def follow(data: bytes, cuts: list[int], methods: list[str] = METHODS) -> Recorder:
    events = Recorder(methods)
    framer = ResponseFramer(events)
    bounds = [0, *sorted(set(cuts)), len(data)]
    for start, stop in itertools.pairwise(bounds):
        events.base = start
        framer.feed(data[start:stop])
    return events


def test_response_ends_are_found_for_every_kind_of_body() -> None:
    events = follow(STREAM, [])
    assert events.ends == ENDS
    assert events.starts == [0, ENDS[0], ENDS[0] + len(CONTINUE), *ENDS[1:-1]]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(STREAM) - 1), max_size=40))
def test_random_split_points_give_the_same_response_ends(cuts: list[int]) -> None:
    assert follow(STREAM, cuts).ends == ENDS


@pytest.mark.parametrize(
    ("stream", "method", "fragment"),
    [
        (b"HTTP/1.1 200 OK\r\n\r\nuntil close", "GET", "without a usable Content-Length"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "GET", "connection closes"),
        (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", "GET", "101"),
        (b"HTTP/1.1 200 Connection established\r\n\r\n", "CONNECT", "CONNECT tunnel"),
        (b"SSH-2.0-OpenSSH\r\n", "GET", "not an HTTP/1.x response"),
        (b"HTTP/1.1 2000 OK\r\n\r\n", "GET", "malformed response head"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxx\r\n", "GET", "not hex"),
    ],
)
def test_responses_that_cannot_be_followed_say_why(
    stream: bytes, method: str, fragment: str
) -> None:
    with pytest.raises(ResponseFramingError, match=fragment):
        follow(stream, [], [method])


def test_answers_wait_for_the_server_answers_owed_before_them() -> None:
    order = AnswerOrder()
    order.track()
    order.forwarded(HttpRequestHead("GET", "/a"))
    assert order.inject(b"503") == []  # the server still owes /a
    order.forwarded(HttpRequestHead("HEAD", "/b"))
    assert order.inject(b"502") == []
    assert order.next_method() == "GET"
    assert order.answered() == [b"503"]  # /a answered: 503 goes right after it
    assert order.next_method() == "HEAD"
    assert order.answered() == [b"502"]
    assert order.inject(b"500") == [b"500"]  # nothing owed: at once


def test_a_request_another_toxic_answered_is_owed_by_nobody() -> None:
    order = AnswerOrder()
    order.track()
    other = HttpRequestHead("GET", "/other")
    order.forwarded(other)
    assert order.inject(b"503") == []
    other.fate.answered_by_toxic = True  # a later stage of the chain aborted it
    assert order.ready() == [b"503"]
    assert order.ready() == []


def test_without_tracking_or_after_stop_answers_go_at_once() -> None:
    untracked = AnswerOrder()
    untracked.forwarded(HttpRequestHead("GET", "/a"))
    assert untracked.inject(b"503") == [b"503"]
    order = AnswerOrder()
    order.track()
    order.forwarded(HttpRequestHead("GET", "/a"))
    assert order.inject(b"503") == []
    order.stop("a body that ends when the connection closes")
    assert order.ready() == [] and order.inject(b"504") == [b"504"]


class FakeControl:
    def __init__(self) -> None:
        self.replies: list[bytes] = []
        self.closed = 0
        self.timers: list[Callable[[], None]] = []

    def reset(self) -> None:
        raise AssertionError("http_abort never resets")

    def close(self) -> None:
        self.closed += 1

    def reply(self, data: bytes) -> None:
        self.replies.append(data)

    def after(self, delay: float, action: Callable[[], None]) -> None:
        self.timers.append(action)


def abort_stages(path: str = "/orders") -> tuple[Stage, Stage, FakeControl, Evidence]:
    kind = HttpAbort({"status": 503.0, "percentage": 100.0, "method": None, "path": path})
    control, evidence = FakeControl(), Evidence()
    up = kind.stage(evidence, control, Direction.UPSTREAM)
    down = kind.stage(evidence, control, Direction.DOWNSTREAM)
    assert up is not None and down is not None
    return up, down, control, evidence


def run(stage: Stage, chunks: list[Chunk]) -> bytes:
    return b"".join(out.data for chunk in chunks for out in stage.process(chunk, 1.0))


def test_a_pipelined_abort_is_woven_in_after_the_earlier_response() -> None:
    up, down, control, evidence = abort_stages()
    requests = b"GET /a HTTP/1.1\r\n\r\nGET /orders HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n"
    forwarded = run(up, RequestFramer().feed(Chunk(requests, 1.0, 1.0)))
    assert forwarded == b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n"
    assert control.replies == [] and len(control.timers) == 2
    to_client = run(down, [Chunk(OK_A[:5], 1.0, 1.0), Chunk(OK_A[5:] + OK_A, 1.0, 1.0)])
    answer = to_client[len(OK_A) : -len(OK_A)]
    assert to_client == OK_A + answer + OK_A and answer.startswith(b"HTTP/1.1 503")
    for timer in control.timers:  # the rechecks find nothing left to send
        timer()
    assert control.replies == [] and evidence.requests_aborted == 1


def test_a_waiting_answer_is_sent_when_the_answer_stage_never_hears_the_server() -> None:
    up, _, control, _ = abort_stages()  # the answer stage is left out of the pipeline
    framer = RequestFramer()
    run(up, framer.feed(Chunk(b"GET /a HTTP/1.1\r\n\r\n", 1.0, 1.0)))
    run(up, framer.feed(Chunk(b"GET /orders HTTP/1.1\r\n\r\n", 1.0, 1.0)))
    assert control.replies == []  # waits behind /a, whose answer this toxic cannot see
    recheck, unheard = control.timers
    recheck()
    assert control.replies == []
    unheard()
    assert len(control.replies) == 1 and control.replies[0].startswith(b"HTTP/1.1 503")
    run(up, framer.feed(Chunk(b"GET /b HTTP/1.1\r\n\r\nGET /orders HTTP/1.1\r\n\r\n", 1.0, 1.0)))
    assert len(control.replies) == 2  # ordering stopped: answered at once from now on


def test_unframable_bytes_right_after_an_aborted_request_close_the_connection() -> None:
    up, _, control, evidence = abort_stages()
    framer = RequestFramer()
    head = b"POST /orders HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    assert run(up, framer.feed(Chunk(head + b"zz\r\nrest", 1.0, 1.0))) == b""
    assert control.replies[0].startswith(b"HTTP/1.1 503") and control.closed == 1
    assert evidence.connections_closed == 1


def test_unframable_bytes_after_a_forwarded_request_pass_on() -> None:
    up, _, control, _ = abort_stages()
    stream = b"GET /ok HTTP/1.1\r\n\r\n\x16\x03\x01"
    assert run(up, RequestFramer().feed(Chunk(stream, 1.0, 1.0))) == stream
    assert control.closed == 0


def test_a_request_aborted_by_a_later_toxic_is_not_awaited_by_an_earlier_one() -> None:
    first_up, first_down, first, _ = abort_stages("/a")
    second_up, second_down, second, _ = abort_stages("/b")
    framer = RequestFramer()

    def client_sends(request: bytes) -> bytes:
        chunks = framer.feed(Chunk(request, 1.0, 1.0))
        return run(second_up, [out for c in chunks for out in first_up.process(c, 1.0)])

    assert client_sends(b"GET /b HTTP/1.1\r\n\r\n") == b""  # the second toxic answers it
    assert second.replies[0].startswith(b"HTTP/1.1 503") and first.replies == []
    assert client_sends(b"GET /a HTTP/1.1\r\n\r\n") == b""  # not held behind /b
    assert first.replies[0].startswith(b"HTTP/1.1 503")
    assert run(second_down, [Chunk(OK_A, 1.0, 1.0)]) == OK_A  # nothing woven in later
    assert run(first_down, [Chunk(OK_A, 1.0, 1.0)]) == OK_A
