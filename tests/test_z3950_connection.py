"""The sans-IO client connection: its transition table, and a client talking to an in-memory
target built from the same APDU codec."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import LocalProtocolError, RemoteProtocolError
from protocols import ber
from protocols.ber import BERError
from protocols.z3950.apdu import (
    APDU,
    APDUError,
    Close,
    CloseReason,
    DefaultDiagFormat,
    InitRequest,
    InitResponse,
    NamePlusRecord,
    PresentRequest,
    PresentResponse,
    ResponseRecords,
    ScanRequest,
    ScanResponse,
    ScanStatus,
    SearchRequest,
    SearchResponse,
    TermInfo,
    decode_apdu,
    encode_apdu,
)
from protocols.z3950.connection import (
    CONNECTION_CLOSED,
    NEED_DATA,
    TRANSITIONS,
    ClientConnection,
    ClientState,
    Transition,
    transition,
    transition_of,
)
from protocols.z3950.oids import RECORD_SYNTAXES
from protocols.z3950.rpn import AttributesPlusTerm, parse_pqf

QUERY = parse_pqf("@attr 1=4 computer")

# one APDU for each transition, as the client would send or receive it
EXAMPLES: dict[Transition, APDU] = {
    Transition.SEND_INIT: InitRequest(),
    Transition.RECV_INIT_ACCEPTED: InitResponse(True),
    Transition.RECV_INIT_REFUSED: InitResponse(False),
    Transition.SEND_SEARCH: SearchRequest(QUERY),
    Transition.RECV_SEARCH: SearchResponse(7),
    Transition.SEND_PRESENT: PresentRequest("default", 1, 1),
    Transition.RECV_PRESENT: PresentResponse(0, 1),
    Transition.SEND_SCAN: ScanRequest(AttributesPlusTerm(((1, 4),), "comp"), 5),
    Transition.RECV_SCAN: ScanResponse(ScanStatus.SUCCESS, 1, (TermInfo("computer", None, 11),)),
    Transition.SEND_CLOSE: Close(),
    Transition.RECV_CLOSE: Close(),
}


def is_send(event: Transition) -> bool:
    return event.name.startswith("SEND")


@pytest.mark.parametrize(
    ("state", "event"), list(itertools.product(list(ClientState), list(Transition)))
)
def test_transition_function_follows_the_table(state: ClientState, event: Transition) -> None:
    expected = TRANSITIONS.get((state, event))
    if expected is not None:
        assert transition(state, event) == expected
    else:
        error = LocalProtocolError if is_send(event) else RemoteProtocolError
        with pytest.raises(error, match=str(state)):
            transition(state, event)


def test_every_state_is_reachable_and_closed_is_always_reachable() -> None:
    edges: dict[ClientState, set[ClientState]] = {}
    for (source, _event), target in TRANSITIONS.items():
        edges.setdefault(source, set()).add(target)

    def reachable(start: ClientState) -> set[ClientState]:
        seen, todo = {start}, [start]
        while todo:
            for nxt in edges.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    assert reachable(ClientState.UNCONNECTED) == set(ClientState)
    for state in ClientState:
        if state != ClientState.UNCONNECTED:
            assert ClientState.CLOSED in reachable(state), state
    assert not edges.get(ClientState.CLOSED)


def test_examples_map_to_their_transitions() -> None:
    for event, apdu in EXAMPLES.items():
        assert transition_of(apdu, sent=is_send(event)) == event
    assert transition_of(InitResponse(True), sent=True) is None
    assert transition_of(SearchRequest(QUERY), sent=False) is None


def drive(connection: ClientConnection, event: Transition) -> None:
    apdu = EXAMPLES[event]
    if is_send(event):
        connection.send(apdu)
    else:
        connection.receive_data(encode_apdu(apdu))
        assert connection.next_event() == apdu


@given(st.lists(st.sampled_from(list(Transition)), max_size=12))
@settings(max_examples=300)
def test_connection_matches_the_table(events: list[Transition]) -> None:
    """Any sequence of sends and receives: the connection does what the table says."""
    connection = ClientConnection()
    state = ClientState.UNCONNECTED
    for event in events:
        expected = TRANSITIONS.get((state, event))
        if expected is None:
            if is_send(event):
                with pytest.raises(LocalProtocolError):
                    drive(connection, event)
                assert connection.state == state  # a refused send changes nothing
            else:
                with pytest.raises(RemoteProtocolError):
                    drive(connection, event)
                assert connection.state == ClientState.CLOSED
                return
        else:
            drive(connection, event)
            state = expected
        assert connection.state == state


def test_role_errors() -> None:
    connection = ClientConnection()
    with pytest.raises(LocalProtocolError, match="does not send InitResponse"):
        connection.send(InitResponse(True))
    connection.send(InitRequest())
    connection.receive_data(encode_apdu(SearchRequest(QUERY)))
    with pytest.raises(RemoteProtocolError, match="does not send SearchRequest"):
        connection.next_event()
    assert connection.state == ClientState.CLOSED


def test_end_of_stream() -> None:
    clean = ClientConnection()
    clean.send(InitRequest())
    assert clean.next_event() is NEED_DATA
    clean.receive_data(b"")
    assert clean.next_event() is CONNECTION_CLOSED
    assert clean.state == ClientState.CLOSED
    clean.receive_data(b"")  # repeated EOF is harmless
    with pytest.raises(LocalProtocolError, match="after end of stream"):
        clean.receive_data(b"x")

    cut = ClientConnection()
    cut.send(InitRequest())
    answer = encode_apdu(InitResponse(True))
    cut.receive_data(answer[:-3])
    assert cut.next_event() is NEED_DATA
    cut.receive_data(b"")
    with pytest.raises(RemoteProtocolError, match=f"inside a PDU \\({len(answer) - 3} bytes"):
        cut.next_event()


def test_garbage_and_caps() -> None:
    garbage = ClientConnection()
    garbage.send(InitRequest())
    garbage.receive_data(b"\xa4\xff\x00")
    with pytest.raises(BERError, match="reserved length"):
        garbage.next_event()
    assert garbage.state == ClientState.CLOSED

    http = ClientConnection()
    http.send(InitRequest())
    http.receive_data(b"HTTP/1.1 200 OK\r\n")  # 'H' would announce 84 bytes: do not wait
    with pytest.raises(APDUError, match=r"not an APDU: b'HTTP/1\.1"):
        http.next_event()

    capped = ClientConnection(max_pdu_size=100)
    capped.send(InitRequest())
    capped.receive_data(encode_apdu(InitResponse(True, implementation_name="x" * 200))[:10])
    with pytest.raises(BERError, match="exceeds the limit of 100"):
        capped.next_event()

    shallow = ClientConnection(max_depth=3)
    shallow.send(InitRequest())
    deep = InitResponse(
        True, user_information=ber.External(ber.decode(b"\x30\x00").raw, "1.2", "single-ASN1-type")
    )
    shallow.receive_data(encode_apdu(deep))  # [21] / [11] / EXTERNAL / [0] / SEQUENCE
    with pytest.raises(BERError, match="nesting deeper than 3"):
        shallow.next_event()


class MemoryTarget:
    """A tiny target made of the same codec: decodes requests, encodes answers."""

    def __init__(self, hits: int) -> None:
        self.hits = hits
        self.buffer = b""

    def receive(self, data: bytes) -> bytes:
        self.buffer += data
        out = b""
        while (length := ber.frame(self.buffer)) is not None:
            request = decode_apdu(self.buffer[:length])
            self.buffer = self.buffer[length:]
            out += encode_apdu(self.answer(request))
        return out

    def answer(self, request: APDU) -> APDU:
        if isinstance(request, InitRequest):
            return InitResponse(True, implementation_name="memory", reference_id=b"r1")
        if isinstance(request, SearchRequest):
            term = request.query.root
            return SearchResponse(self.hits if term else 0)
        if isinstance(request, PresentRequest):
            first = request.result_set_start_point
            count = min(request.number_of_records_requested, self.hits - first + 1)
            entries = tuple(
                NamePlusRecord(
                    ber.External(f"record {n}".encode(), request.preferred_record_syntax)
                )
                if n % 3
                else NamePlusRecord(diagnostic=DefaultDiagFormat(14, str(n)))
                for n in range(first, first + count)
            )
            return PresentResponse(len(entries), first + count, records=ResponseRecords(entries))
        return Close(CloseReason.FINISHED)


@given(st.integers(min_value=1, max_value=64))
@settings(max_examples=30)
def test_client_and_memory_target(chunk: int) -> None:
    """A whole association, the target's bytes delivered ``chunk`` bytes at a time."""
    client, target = ClientConnection(), MemoryTarget(hits=5)
    pending = b""

    def exchange(request: APDU) -> APDU:
        nonlocal pending
        pending += target.receive(client.send(request))
        while (event := client.next_event()) is NEED_DATA:
            client.receive_data(pending[:chunk])
            pending = pending[chunk:]
        assert event is not CONNECTION_CLOSED
        return event

    init = exchange(InitRequest())
    assert isinstance(init, InitResponse) and init.implementation_name == "memory"
    assert init.reference_id == b"r1"
    search = exchange(SearchRequest(QUERY))
    assert isinstance(search, SearchResponse) and search.result_count == 5
    present = exchange(PresentRequest("default", 2, 10, None, RECORD_SYNTAXES["usmarc"]))
    assert isinstance(present, PresentResponse)
    entries = present.name_plus_records
    assert [e.record.data if e.record else e.diagnostic for e in entries] == [
        b"record 2",
        DefaultDiagFormat(14, "3"),
        b"record 4",
        b"record 5",
    ]
    assert {e.syntax for e in entries if e.record} == {"usmarc"}
    assert isinstance(exchange(Close()), Close)
    assert client.state == ClientState.CLOSED
    assert pending == b"" and client.buffered == 0
