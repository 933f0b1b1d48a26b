"""The client side of a Z39.50 association, sans I/O (in the manner of h11).

``ClientConnection.send(apdu)`` checks the APDU is allowed now and returns the bytes to
write; ``receive_data(bytes)`` buffers what was read (``b""`` means the peer closed the
TCP connection); ``next_event()`` returns the next decoded APDU, ``NEED_DATA`` or
``CONNECTION_CLOSED``. The lifecycle is the table ``TRANSITIONS``:

    unconnected --send Init--> init sent --recv Init ok--> ready
    ready --send Search--> search sent --recv Search--> ready      (Present, Scan likewise)
    any open state --send Close--> close sent --recv Close--> closed
    any open state --recv Close--> close received --send Close--> closed
    init sent --recv Init refused--> closed

A target may send Close at any time, also while the association is idle (``ready``): the
client then answers with its own Close, as the standard asks.

>>> conn = ClientConnection()
>>> wire = conn.send(InitRequest())
>>> conn.state
<ClientState.INIT_SENT: 'init sent'>
"""

from __future__ import annotations

from enum import Enum, StrEnum
from typing import Literal

from core.errors import LocalProtocolError, RemoteProtocolError
from protocols.ber import (
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_PDU_SIZE,
    FrameProgress,
    frame,
    read_header,
)
from protocols.z3950.apdu import (
    APDU,
    APDUError,
    Close,
    InitRequest,
    InitResponse,
    PresentRequest,
    PresentResponse,
    ScanRequest,
    ScanResponse,
    SearchRequest,
    SearchResponse,
    decode_apdu,
)

__all__ = [
    "CONNECTION_CLOSED",
    "NEED_DATA",
    "TRANSITIONS",
    "ClientConnection",
    "ClientState",
    "Sentinel",
    "Transition",
    "transition",
    "transition_of",
]


class ClientState(StrEnum):
    """Where the origin (client) is in its association with a target."""

    UNCONNECTED = "unconnected"
    INIT_SENT = "init sent"
    READY = "ready"
    SEARCH_SENT = "search sent"
    PRESENT_SENT = "present sent"
    SCAN_SENT = "scan sent"
    CLOSE_SENT = "close sent"
    CLOSE_RECEIVED = "close received"
    CLOSED = "closed"


class Transition(StrEnum):
    """What can happen to a client: an APDU sent or received."""

    SEND_INIT = "send InitRequest"
    RECV_INIT_ACCEPTED = "receive InitResponse (accepted)"
    RECV_INIT_REFUSED = "receive InitResponse (refused)"
    SEND_SEARCH = "send SearchRequest"
    RECV_SEARCH = "receive SearchResponse"
    SEND_PRESENT = "send PresentRequest"
    RECV_PRESENT = "receive PresentResponse"
    SEND_SCAN = "send ScanRequest"
    RECV_SCAN = "receive ScanResponse"
    SEND_CLOSE = "send Close"
    RECV_CLOSE = "receive Close"


S, T = ClientState, Transition
_OPEN = (S.INIT_SENT, S.READY, S.SEARCH_SENT, S.PRESENT_SENT, S.SCAN_SENT)

#: ``{(state, what happened): next state}``; a pair not in the table is a protocol error.
TRANSITIONS: dict[tuple[ClientState, Transition], ClientState] = {
    (S.UNCONNECTED, T.SEND_INIT): S.INIT_SENT,
    (S.INIT_SENT, T.RECV_INIT_ACCEPTED): S.READY,
    (S.INIT_SENT, T.RECV_INIT_REFUSED): S.CLOSED,
    (S.READY, T.SEND_SEARCH): S.SEARCH_SENT,
    (S.SEARCH_SENT, T.RECV_SEARCH): S.READY,
    (S.READY, T.SEND_PRESENT): S.PRESENT_SENT,
    (S.PRESENT_SENT, T.RECV_PRESENT): S.READY,
    (S.READY, T.SEND_SCAN): S.SCAN_SENT,
    (S.SCAN_SENT, T.RECV_SCAN): S.READY,
    **{(state, T.SEND_CLOSE): S.CLOSE_SENT for state in _OPEN},
    **{(state, T.RECV_CLOSE): S.CLOSE_RECEIVED for state in _OPEN},
    (S.CLOSE_RECEIVED, T.SEND_CLOSE): S.CLOSED,
    (S.CLOSE_SENT, T.RECV_CLOSE): S.CLOSED,
    # answers to requests sent before our Close may still arrive; they change nothing
    (S.CLOSE_SENT, T.RECV_INIT_ACCEPTED): S.CLOSE_SENT,
    (S.CLOSE_SENT, T.RECV_INIT_REFUSED): S.CLOSE_SENT,
    (S.CLOSE_SENT, T.RECV_SEARCH): S.CLOSE_SENT,
    (S.CLOSE_SENT, T.RECV_PRESENT): S.CLOSE_SENT,
    (S.CLOSE_SENT, T.RECV_SCAN): S.CLOSE_SENT,
}
del S, T

_SENDS: dict[type, Transition] = {
    InitRequest: Transition.SEND_INIT,
    SearchRequest: Transition.SEND_SEARCH,
    PresentRequest: Transition.SEND_PRESENT,
    ScanRequest: Transition.SEND_SCAN,
    Close: Transition.SEND_CLOSE,
}
_RECEIVES: dict[type, Transition] = {
    SearchResponse: Transition.RECV_SEARCH,
    PresentResponse: Transition.RECV_PRESENT,
    ScanResponse: Transition.RECV_SCAN,
    Close: Transition.RECV_CLOSE,
}


def transition_of(apdu: APDU, *, sent: bool) -> Transition | None:
    """The transition an APDU makes when sent or received by a client (None: never valid)."""
    if sent:
        return _SENDS.get(type(apdu))
    if isinstance(apdu, InitResponse):
        return Transition.RECV_INIT_ACCEPTED if apdu.result else Transition.RECV_INIT_REFUSED
    return _RECEIVES.get(type(apdu))


def transition(state: ClientState, event: Transition) -> ClientState:
    """Next state, or ``LocalProtocolError`` (a send) / ``RemoteProtocolError`` (a receive)."""
    found = TRANSITIONS.get((state, event))
    if found is not None:
        return found
    if event.name.startswith("SEND"):
        raise LocalProtocolError(f"Z39.50: cannot {event} in state '{state}'")
    raise RemoteProtocolError(
        f"Z39.50: unexpected {event.removeprefix('receive ')} in state '{state}'"
    )


class Sentinel(Enum):
    """Non-APDU results of ``next_event``."""

    NEED_DATA = "NEED_DATA"
    CONNECTION_CLOSED = "CONNECTION_CLOSED"


NEED_DATA: Literal[Sentinel.NEED_DATA] = Sentinel.NEED_DATA
CONNECTION_CLOSED: Literal[Sentinel.CONNECTION_CLOSED] = Sentinel.CONNECTION_CLOSED


class ClientConnection:
    """One Z39.50 association seen from the origin; does no I/O.

    ``max_pdu_size`` and ``max_depth`` cap what the target may send (see ``ber.frame``).
    """

    def __init__(
        self, *, max_pdu_size: int = DEFAULT_MAX_PDU_SIZE, max_depth: int = DEFAULT_MAX_DEPTH
    ) -> None:
        self.max_pdu_size = max_pdu_size
        self.max_depth = max_depth
        self._state = ClientState.UNCONNECTED
        self._buffer = bytearray()
        # how far framing got into the PDU at the start of the buffer: a big response
        # arrives in many reads, and each read walks only what it added
        self._framing = FrameProgress()
        self._eof = False

    @property
    def state(self) -> ClientState:
        """The association's state."""
        return self._state

    def send(self, apdu: APDU) -> bytes:
        """Bytes to write for ``apdu``; ``LocalProtocolError`` if it may not be sent now."""
        event = transition_of(apdu, sent=True)
        if event is None:
            raise LocalProtocolError(f"Z39.50: a client does not send {type(apdu).__name__}")
        next_state = transition(self._state, event)
        data = apdu.to_ber()
        self._state = next_state
        return data

    def receive_data(self, data: bytes) -> None:
        """Add bytes read from the target; ``b""`` says the target closed the connection."""
        if self._eof:
            if data:
                raise LocalProtocolError("Z39.50: data received after end of stream")
            return
        if not data:
            self._eof = True
        self._buffer += data

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as an APDU."""
        return len(self._buffer)

    def _whole_buffer(self) -> APDU | None:
        """The buffer decoded as one APDU, if it plainly is one; else None.

        Framing an indefinite-length PDU walks all of it, and decoding walks it again. When
        the buffer ends in end-of-contents octets it usually holds exactly one answer, and a
        decode that uses up every byte proves it; anything else (a PDU still arriving, two
        PDUs, broken bytes) is left to ``frame`` and the decode after it.
        """
        buffer = self._buffer
        if len(buffer) < 4 or buffer[-1] or buffer[-2] or len(buffer) > self.max_pdu_size:
            return None
        try:
            if read_header(buffer)[1] is not None:
                return None  # definite length: framing costs nothing
            apdu = decode_apdu(bytes(buffer), max_depth=self.max_depth)
        except RemoteProtocolError:
            return None
        buffer.clear()
        self._framing = FrameProgress()
        return apdu

    def next_event(self) -> APDU | Literal[Sentinel.NEED_DATA, Sentinel.CONNECTION_CLOSED]:
        """The next APDU from the target, ``NEED_DATA`` or ``CONNECTION_CLOSED``.

        Raises ``RemoteProtocolError`` (``BERError``, ``APDUError``) for bytes that are not a
        valid APDU, an APDU that is out of order, or a stream cut inside a PDU; the
        association is then closed.
        """
        try:
            if self._buffer and self._buffer[0] & 0xE0 != 0xA0:
                # every APDU is a constructed [n] CHOICE arm: anything else (an HTTP
                # answer, a banner) is not Z39.50, and waiting for "the rest" would hang
                raise APDUError(
                    f"Z39.50: the target sent something that is not an APDU:"
                    f" {bytes(self._buffer[:16])!r}"
                )
            apdu = self._whole_buffer()
            if apdu is None:
                length = frame(
                    self._buffer,
                    max_size=self.max_pdu_size,
                    max_depth=self.max_depth,
                    progress=self._framing,
                )
                if length is None:
                    if not self._eof:
                        return NEED_DATA
                    if self._buffer:
                        raise RemoteProtocolError(
                            f"Z39.50: connection closed inside a PDU ({len(self._buffer)} bytes"
                            " of it received)"
                        )
                    self._state = ClientState.CLOSED
                    return CONNECTION_CLOSED
                data = bytes(self._buffer[:length])
                del self._buffer[:length]
                apdu = decode_apdu(data, max_depth=self.max_depth)
            event = transition_of(apdu, sent=False)
            if event is None:
                raise RemoteProtocolError(f"Z39.50: a target does not send {type(apdu).__name__}")
            self._state = transition(self._state, event)
            return apdu
        except RemoteProtocolError:
            self._state = ClientState.CLOSED
            self._buffer.clear()
            self._framing = FrameProgress()
            raise
