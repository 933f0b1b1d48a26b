"""Z39.50 APDUs (ANSI/NISO Z39.50-2003, module Z39-50-APDU-1995), one frozen dataclass each.

Every APDU encodes (``to_ber``) and decodes (``from_ber``) both ways, so a client and a
server share this module and tests can round-trip. What a search client needs is modelled:
Init (with otherInfo, where character-set negotiation travels), Search (type-1 RPN queries
with proximity and string attribute values), Present, Scan, Close, records and
diagnostics. Fields we do not model (additionalSearchInfo, resource reports, ...) are
skipped when decoding; features we cannot represent (record fragments, complex record
composition, multi-valued complex attributes) raise ``APDUError``.

The module uses the standard's tagging: explicit by default, ``IMPLICIT`` where written.

>>> apdu = decode_apdu(encode_apdu(Close(CloseReason.FINISHED)))
>>> apdu.close_reason == CloseReason.FINISHED
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TypeVar

from core.diagnostics import Diagnostic
from core.errors import LocalProtocolError, RemoteProtocolError
from protocols import ber
from protocols.ber import (
    DEFAULT_MAX_DEPTH,
    GENERAL_STRING,
    INTEGER,
    OBJECT_IDENTIFIER,
    SEQUENCE,
    VISIBLE_STRING,
    BERError,
    Element,
    External,
    Tag,
    TagClass,
)
from protocols.z3950.oids import BIB1_ATTRSET, BIB1_DIAGSET, DIAG1_FORMAT, USERINFO_1, syntax_name
from protocols.z3950.rpn import (
    AttributesPlusTerm,
    AttributeValue,
    ProximityOperator,
    ProximityRelation,
    ProximityUnit,
    ResultSetOperand,
    RPNNode,
    RPNOperator,
    RPNQuery,
)

__all__ = [
    "APDU",
    "OPTIONS",
    "APDUError",
    "Close",
    "CloseReason",
    "DefaultDiagFormat",
    "DiagRec",
    "IdPass",
    "InitRequest",
    "InitResponse",
    "MultipleNonSurDiagnostics",
    "NamePlusRecord",
    "NonSurrogateDiagnostic",
    "OtherInfoUnit",
    "PresentRequest",
    "PresentResponse",
    "PresentStatus",
    "Records",
    "ResponseRecords",
    "ResultSetStatus",
    "ScanEntry",
    "ScanRequest",
    "ScanResponse",
    "ScanStatus",
    "SearchRequest",
    "SearchResponse",
    "TermInfo",
    "decode_apdu",
    "diagnostic_of",
    "encode_apdu",
    "init_diagnostic",
    "other_info_externals",
    "record_data",
]


class APDUError(RemoteProtocolError):
    """Well-formed BER that is not a Z39.50 APDU we understand (missing or unsupported part)."""


def _ctx(number: int) -> Tag:
    return Tag.context(number)


def _cctx(number: int) -> Tag:
    return Tag.context(number, constructed=True)


_E = TypeVar("_E", bound=IntEnum)


def _enum(kind: type[_E], value: int) -> int:
    try:
        return kind(value)
    except ValueError:
        return value


class _Fields:
    """The members of a decoded SEQUENCE, looked up by tag (Z39.50 tags are unique in each)."""

    def __init__(self, element: Element, name: str) -> None:
        if not element.tag.constructed:
            raise APDUError(f"{name} must be constructed")
        self.name = name
        self.element = element
        self.by_tag: dict[tuple[TagClass, int], Element] = {}
        for child in element.children:
            self.by_tag.setdefault((child.tag.cls, child.tag.number), child)

    def get(self, number: int, cls: TagClass = TagClass.CONTEXT) -> Element | None:
        return self.by_tag.get((cls, number))

    def need(self, number: int, what: str, cls: TagClass = TagClass.CONTEXT) -> Element:
        found = self.get(number, cls)
        if found is None:
            raise APDUError(f"{self.name}: missing {what} [{number}]")
        return found

    def text(self, number: int) -> str | None:
        found = self.get(number)
        return None if found is None else found.text()


# --------------------------------------------------------------------------- otherInfo


# InfoCategory ::= SEQUENCE { categoryTypeId [1] IMPLICIT OBJECT IDENTIFIER OPTIONAL,
#     categoryValue [2] IMPLICIT INTEGER }
# OtherInformation ::= [201] IMPLICIT SEQUENCE OF SEQUENCE {
#     category     [1] IMPLICIT InfoCategory OPTIONAL,
#     information CHOICE {
#         characterInfo         [2] IMPLICIT InternationalString,
#         binaryInfo            [3] IMPLICIT OCTET STRING,
#         externallyDefinedInfo [4] IMPLICIT EXTERNAL,
#         oid                   [5] IMPLICIT OBJECT IDENTIFIER } }
@dataclass(frozen=True, slots=True)
class OtherInfoUnit:
    """One unit of ``otherInfo``: exactly one of the four kinds of information.

    Init carries character-set negotiation this way (an EXTERNAL, OID 1.2.840.10003.15.3).
    ``category`` is ``(categoryTypeId or None, categoryValue)``.
    """

    character_info: str | None = None
    binary_info: bytes | None = None
    external: External | None = None
    oid: str | None = None
    category: tuple[str | None, int] | None = None

    def __post_init__(self) -> None:
        given = [self.character_info, self.binary_info, self.external, self.oid]
        if sum(value is not None for value in given) != 1:
            raise ValueError("OtherInfoUnit needs exactly one kind of information")

    def to_ber(self) -> bytes:
        """Encoding of the SEQUENCE."""
        category = None
        if self.category is not None:
            type_id, value = self.category
            category = ber.constructed(
                _cctx(1),
                None if type_id is None else ber.oid(type_id, _ctx(1)),
                ber.integer(value, _ctx(2)),
            )
        if self.character_info is not None:
            info = ber.string(self.character_info, _ctx(2))
        elif self.binary_info is not None:
            info = ber.octets(self.binary_info, _ctx(3))
        elif self.external is not None:
            info = ber.external(self.external, _cctx(4))
        else:
            assert self.oid is not None
            info = ber.oid(self.oid, _ctx(5))
        return ber.constructed(SEQUENCE, category, info)

    @classmethod
    def from_ber(cls, element: Element) -> OtherInfoUnit:
        """Decode one unit."""
        f = _Fields(element, "OtherInformation")
        category = None
        found = f.get(1)
        if found is not None:
            c = _Fields(found, "InfoCategory")
            type_id = c.get(1)
            category = (
                None if type_id is None else type_id.oid(),
                c.need(2, "categoryValue").integer(),
            )
        for number in (2, 3, 4, 5):
            info = f.get(number)
            if info is None:
                continue
            if number == 2:
                return cls(character_info=info.text(), category=category)
            if number == 3:
                return cls(binary_info=info.octets(), category=category)
            if number == 4:
                return cls(external=info.external(), category=category)
            return cls(oid=info.oid(), category=category)
        raise APDUError("OtherInformation unit without information")


def _encode_other_info(units: tuple[OtherInfoUnit, ...]) -> bytes | None:
    if not units:
        return None
    return ber.constructed(_cctx(201), *(unit.to_ber() for unit in units))


def _decode_other_info(fields: _Fields) -> tuple[OtherInfoUnit, ...]:
    found = fields.get(201)
    if found is None:
        return ()
    return tuple(OtherInfoUnit.from_ber(child) for child in found.children)


def other_info_externals(units: Iterable[OtherInfoUnit], oid: str) -> tuple[External, ...]:
    """The EXTERNALs in ``units`` whose direct reference is ``oid``."""
    return tuple(
        unit.external
        for unit in units
        if unit.external is not None and unit.external.direct_reference == oid
    )


# --------------------------------------------------------------------------- Init

#: Options ::= [4] IMPLICIT BIT STRING { search (0), present (1), delSet (2), ... }
#: (bit 9 is reserved). Names as in the standard, bit positions as values.
OPTIONS: dict[str, int] = {
    "search": 0,
    "present": 1,
    "delSet": 2,
    "resourceReport": 3,
    "triggerResourceCtrl": 4,
    "resourceCtrl": 5,
    "accessCtrl": 6,
    "scan": 7,
    "sort": 8,
    "extendedServices": 10,
    "level-1Segmentation": 11,
    "level-2Segmentation": 12,
    "concurrentOperations": 13,
    "namedResultSets": 14,
    "encapsulation": 15,
    "resultCountInSort": 16,
    "negotiation": 17,
    "dedup": 18,
    "query104": 19,
    "pQESCorrection": 20,
    "stringSchema": 21,
}
_OPTION_NAMES = {bit: name for name, bit in OPTIONS.items()}


def _encode_bitset(bits: Iterable[int], tag: Tag) -> bytes:
    positions = set(bits)
    # whole octets, no unused bits: what YAZ sends, and what old targets expect
    width = max(positions, default=-1) // 8 * 8 + 8
    return ber.bit_string([i in positions for i in range(width)], tag)


def _encode_options(options: frozenset[str]) -> bytes:
    unknown = options - OPTIONS.keys()
    if unknown:
        raise LocalProtocolError(f"unknown Z39.50 options {sorted(unknown)}")
    return _encode_bitset((OPTIONS[name] for name in options), _ctx(4))


def _decode_options(element: Element) -> frozenset[str]:
    bits = element.bits()
    return frozenset(_OPTION_NAMES[i] for i, on in enumerate(bits) if on and i in _OPTION_NAMES)


def _encode_versions(versions: frozenset[int]) -> bytes:
    # ProtocolVersion ::= [3] IMPLICIT BIT STRING { version-1 (0), version-2 (1), version-3 (2) }
    return _encode_bitset((v - 1 for v in versions if v >= 1), _ctx(3))


def _decode_versions(element: Element) -> frozenset[int]:
    return frozenset(i + 1 for i, on in enumerate(element.bits()) if on)


# IdAuthentication ::= CHOICE {
#     open      VisibleString,
#     idPass    SEQUENCE {
#         groupId  [0] IMPLICIT InternationalString OPTIONAL,
#         userId   [1] IMPLICIT InternationalString OPTIONAL,
#         password [2] IMPLICIT InternationalString OPTIONAL },
#     anonymous NULL,
#     other     EXTERNAL }
@dataclass(frozen=True, slots=True)
class IdPass:
    """User id and password authentication (``idPass``)."""

    user_id: str | None = None
    password: str | None = field(default=None, repr=False)
    group_id: str | None = None


def _encode_auth(auth: str | IdPass) -> bytes:
    if isinstance(auth, str):
        inner = ber.string(auth, VISIBLE_STRING)
    else:
        inner = ber.constructed(
            SEQUENCE,
            None if auth.group_id is None else ber.string(auth.group_id, _ctx(0)),
            None if auth.user_id is None else ber.string(auth.user_id, _ctx(1)),
            None if auth.password is None else ber.string(auth.password, _ctx(2)),
        )
    return ber.constructed(_cctx(7), inner)


def _decode_auth(element: Element) -> str | IdPass | None:
    inner = element.only_child()
    if inner.is_(VISIBLE_STRING) or inner.is_(GENERAL_STRING):
        return inner.text()
    if inner.is_(SEQUENCE):
        fields = _Fields(inner, "idPass")
        return IdPass(fields.text(1), fields.text(2), fields.text(0))
    return None  # anonymous, or an EXTERNAL we cannot interpret


def _encode_user_information(value: External) -> bytes:
    return ber.constructed(_cctx(11), ber.external(value))


def _decode_user_information(fields: _Fields) -> External | None:
    found = fields.get(11)
    return None if found is None else found.only_child().external()


# InitializeRequest ::= SEQUENCE {
#     referenceId           ReferenceId OPTIONAL,   -- ReferenceId ::= [2] IMPLICIT OCTET STRING
#     protocolVersion       ProtocolVersion,
#     options               Options,
#     preferredMessageSize  [5] IMPLICIT INTEGER,
#     exceptionalRecordSize [6] IMPLICIT INTEGER,
#     idAuthentication      [7] IdAuthentication OPTIONAL,
#     implementationId      [110] IMPLICIT InternationalString OPTIONAL,
#     implementationName    [111] IMPLICIT InternationalString OPTIONAL,
#     implementationVersion [112] IMPLICIT InternationalString OPTIONAL,
#     userInformationField  [11] EXTERNAL OPTIONAL,
#     otherInfo             OtherInformation OPTIONAL }
@dataclass(frozen=True, slots=True)
class InitRequest:
    """Opens a Z39.50 association: versions, services and message sizes the origin wants."""

    protocol_versions: frozenset[int] = frozenset({1, 2, 3})
    options: frozenset[str] = frozenset({"search", "present"})
    preferred_message_size: int = 8 * 1024 * 1024
    exceptional_record_size: int = 8 * 1024 * 1024
    # an open "user/password" string must not end up in logs through repr()
    id_authentication: str | IdPass | None = field(default=None, repr=False)
    implementation_id: str | None = None
    implementation_name: str | None = None
    implementation_version: str | None = None
    user_information: External | None = None
    reference_id: bytes | None = None
    other_info: tuple[OtherInfoUnit, ...] = ()

    TAG = 20

    def to_ber(self) -> bytes:
        """BER encoding of the whole APDU."""
        return ber.constructed(
            _cctx(self.TAG),
            _encode_reference_id(self.reference_id),
            _encode_versions(self.protocol_versions),
            _encode_options(self.options),
            ber.integer(self.preferred_message_size, _ctx(5)),
            ber.integer(self.exceptional_record_size, _ctx(6)),
            None if self.id_authentication is None else _encode_auth(self.id_authentication),
            *_encode_implementation(
                self.implementation_id, self.implementation_name, self.implementation_version
            ),
            (
                None
                if self.user_information is None
                else _encode_user_information(self.user_information)
            ),
            _encode_other_info(self.other_info),
        )

    @classmethod
    def from_ber(cls, element: Element) -> InitRequest:
        """Decode from the APDU's element (tag [20])."""
        f = _Fields(element, "InitRequest")
        auth = f.get(7)
        return cls(
            protocol_versions=_decode_versions(f.need(3, "protocolVersion")),
            options=_decode_options(f.need(4, "options")),
            preferred_message_size=f.need(5, "preferredMessageSize").integer(),
            exceptional_record_size=f.need(6, "exceptionalRecordSize").integer(),
            id_authentication=None if auth is None else _decode_auth(auth),
            implementation_id=f.text(110),
            implementation_name=f.text(111),
            implementation_version=f.text(112),
            user_information=_decode_user_information(f),
            reference_id=_decode_reference_id(f),
            other_info=_decode_other_info(f),
        )


# InitializeResponse ::= SEQUENCE {
#     referenceId           ReferenceId OPTIONAL,
#     protocolVersion       ProtocolVersion,
#     options               Options,
#     preferredMessageSize  [5] IMPLICIT INTEGER,
#     exceptionalRecordSize [6] IMPLICIT INTEGER,
#     result                [12] IMPLICIT BOOLEAN,    -- reject = FALSE; accept = TRUE
#     implementationId      [110] IMPLICIT InternationalString OPTIONAL,
#     implementationName    [111] IMPLICIT InternationalString OPTIONAL,
#     implementationVersion [112] IMPLICIT InternationalString OPTIONAL,
#     userInformationField  [11] EXTERNAL OPTIONAL,
#     otherInfo             OtherInformation OPTIONAL }
@dataclass(frozen=True, slots=True)
class InitResponse:
    """The target's answer to Init: accepted or not, and what it agreed to.

    A refusal's reason travels in ``user_information`` (implementor agreement 5: a
    UserInfo-1 EXTERNAL holding diag-1 diagnostics); ``diagnostics`` reads it.
    """

    result: bool
    protocol_versions: frozenset[int] = frozenset({1, 2, 3})
    options: frozenset[str] = frozenset({"search", "present"})
    preferred_message_size: int = 8 * 1024 * 1024
    exceptional_record_size: int = 8 * 1024 * 1024
    implementation_id: str | None = None
    implementation_name: str | None = None
    implementation_version: str | None = None
    user_information: External | None = None
    reference_id: bytes | None = None
    other_info: tuple[OtherInfoUnit, ...] = ()

    TAG = 21

    @property
    def version(self) -> int:
        """The highest protocol version both sides agreed on (0 if none)."""
        return max(self.protocol_versions, default=0)

    @property
    def diagnostics(self) -> tuple[Diagnostic, ...]:
        """Diagnostics the target put in userInformationField (usually on refusal)."""
        if self.user_information is None:
            return ()
        return _init_diagnostics(self.user_information)

    def to_ber(self) -> bytes:
        """BER encoding of the whole APDU."""
        return ber.constructed(
            _cctx(self.TAG),
            _encode_reference_id(self.reference_id),
            _encode_versions(self.protocol_versions),
            _encode_options(self.options),
            ber.integer(self.preferred_message_size, _ctx(5)),
            ber.integer(self.exceptional_record_size, _ctx(6)),
            ber.boolean(self.result, _ctx(12)),
            *_encode_implementation(
                self.implementation_id, self.implementation_name, self.implementation_version
            ),
            (
                None
                if self.user_information is None
                else _encode_user_information(self.user_information)
            ),
            _encode_other_info(self.other_info),
        )

    @classmethod
    def from_ber(cls, element: Element) -> InitResponse:
        """Decode from the APDU's element (tag [21])."""
        f = _Fields(element, "InitResponse")
        return cls(
            result=f.need(12, "result").boolean(),
            protocol_versions=_decode_versions(f.need(3, "protocolVersion")),
            options=_decode_options(f.need(4, "options")),
            preferred_message_size=f.need(5, "preferredMessageSize").integer(),
            exceptional_record_size=f.need(6, "exceptionalRecordSize").integer(),
            implementation_id=f.text(110),
            implementation_name=f.text(111),
            implementation_version=f.text(112),
            user_information=_decode_user_information(f),
            reference_id=_decode_reference_id(f),
            other_info=_decode_other_info(f),
        )


def _encode_implementation(*values: str | None) -> list[bytes | None]:
    return [
        None if value is None else ber.string(value, _ctx(tag))
        for tag, value in zip((110, 111, 112), values, strict=True)
    ]


def _encode_reference_id(value: bytes | None) -> bytes | None:
    return None if value is None else ber.octets(value, _ctx(2))


def _decode_reference_id(fields: _Fields) -> bytes | None:
    found = fields.get(2)
    return None if found is None else found.octets()


# --------------------------------------------------------------------------- diagnostics


# DefaultDiagFormat ::= SEQUENCE {
#     diagnosticSetId OBJECT IDENTIFIER,
#     condition       INTEGER,
#     addinfo CHOICE {
#         v2Addinfo VisibleString,        -- v2 only
#         v3Addinfo InternationalString } }
@dataclass(frozen=True, slots=True)
class DefaultDiagFormat:
    """A diagnostic: its set (Bib-1 unless told otherwise), condition code and addinfo."""

    condition: int
    addinfo: str = ""
    diagnostic_set_id: str = BIB1_DIAGSET

    def to_ber(self, tag: Tag = SEQUENCE) -> bytes:
        """Encoding; ``tag`` for the IMPLICIT uses ([130] nonSurrogateDiagnostic)."""
        # v2 peers only read VisibleString; ASCII fits it, anything else needs v3's GeneralString
        string_tag = VISIBLE_STRING if self.addinfo.isascii() else GENERAL_STRING
        return ber.constructed(
            tag,
            ber.oid(self.diagnostic_set_id),
            ber.integer(self.condition),
            ber.string(self.addinfo, string_tag),
        )

    @classmethod
    def from_ber(cls, element: Element) -> DefaultDiagFormat:
        """Decode a DefaultDiagFormat whatever its (possibly implicit) tag."""
        if not element.tag.constructed:
            raise APDUError("DefaultDiagFormat must be constructed")
        diagset: str | None = None
        condition: int | None = None
        addinfo = ""
        for child in element.children:
            if child.is_(OBJECT_IDENTIFIER) and diagset is None:
                diagset = child.oid()
            elif child.is_(INTEGER) and condition is None:
                condition = child.integer()
            elif child.tag.cls == TagClass.UNIVERSAL and not child.tag.constructed:
                addinfo = child.text()
        if diagset is None or condition is None:
            raise APDUError("DefaultDiagFormat without diagnosticSetId or condition")
        return cls(condition, addinfo, diagset)

    def to_diagnostic(self) -> Diagnostic:
        """As a ``core.Diagnostic``: ``bib-1`` with its standard text, or the set's OID."""
        if self.diagnostic_set_id == BIB1_DIAGSET:
            return Diagnostic.of("bib-1", self.condition, self.addinfo)
        return Diagnostic(self.diagnostic_set_id, self.condition, "", self.addinfo)


# DiagRec ::= CHOICE { defaultFormat DefaultDiagFormat, externallyDefined EXTERNAL }
DiagRec = DefaultDiagFormat | External


def _encode_diagrec(value: DiagRec) -> bytes:
    return value.to_ber() if isinstance(value, DefaultDiagFormat) else ber.external(value)


def _decode_diagrec(element: Element) -> DiagRec:
    if element.is_(ber.EXTERNAL):
        return element.external()
    if element.is_(SEQUENCE):
        return DefaultDiagFormat.from_ber(element)
    raise APDUError(f"DiagRec: unexpected {element.tag}")


def diagnostic_of(value: DiagRec) -> Diagnostic:
    """A ``core.Diagnostic`` for any DiagRec (an externally defined one is read if it is diag-1)."""
    if isinstance(value, DefaultDiagFormat):
        return value.to_diagnostic()
    found = _diag1_diagnostics(value)
    if found:
        return found[0]
    return Diagnostic(value.direct_reference or "unknown", 0, "externally defined diagnostic")


# DiagnosticFormat ::= SEQUENCE OF SEQUENCE {      -- diag-1, OID 1.2.840.10003.4.2
#     diagnostic [1] CHOICE {
#         defaultDiagRec     [1] IMPLICIT DefaultDiagFormat,
#         explicitDiagnostic [2] DiagFormat } OPTIONAL,
#     message    [2] IMPLICIT InternationalString OPTIONAL }
def _diag1_diagnostics(value: External) -> tuple[Diagnostic, ...]:
    if value.direct_reference != DIAG1_FORMAT or value.encoding == "arbitrary":
        return ()
    out: list[Diagnostic] = []
    for entry in ber.decode(value.data).children:
        fields = _Fields(entry, "DiagnosticFormat")
        wrapper = fields.get(1)
        message = fields.text(2) or ""
        inner = wrapper.only_child() if wrapper is not None else None
        if inner is not None and inner.tag == _cctx(1):
            diagnostic = DefaultDiagFormat.from_ber(inner).to_diagnostic()
            if message and not diagnostic.addinfo:
                diagnostic = Diagnostic(
                    diagnostic.diagset, diagnostic.code, diagnostic.message, message
                )
            out.append(diagnostic)
        elif message:
            out.append(Diagnostic("bib-1", 0, message))
    return tuple(out)


# UserInfo-1 ::= OtherInformation      -- OID 1.2.840.10003.10.3
# OtherInformation ::= [201] IMPLICIT SEQUENCE OF SEQUENCE {
#     category     [1] IMPLICIT InfoCategory OPTIONAL,
#     information CHOICE {
#         characterInfo         [2] IMPLICIT InternationalString,
#         binaryInfo            [3] IMPLICIT OCTET STRING,
#         externallyDefinedInfo [4] IMPLICIT EXTERNAL,
#         oid                   [5] IMPLICIT OBJECT IDENTIFIER } }
def _init_diagnostics(value: External) -> tuple[Diagnostic, ...]:
    if value.direct_reference != USERINFO_1 or value.encoding == "arbitrary":
        return ()
    try:
        other_info = ber.decode(value.data)
        out: list[Diagnostic] = []
        for unit in other_info.children:
            fields = _Fields(unit, "OtherInformation")
            text = fields.text(2)
            if text:
                out.append(Diagnostic("bib-1", 0, text))
            embedded = fields.get(4)
            if embedded is not None:
                out.extend(_diag1_diagnostics(embedded.external()))
        return tuple(out)
    except (BERError, APDUError):
        # the refusal itself is what matters; a garbled reason must not hide it
        return ()


def init_diagnostic(condition: int, addinfo: str = "") -> External:
    """The userInformationField YAZ sends with a refused Init (bib-1 ``condition``)."""
    diag1 = ber.constructed(
        SEQUENCE,
        ber.constructed(
            SEQUENCE,
            ber.constructed(_cctx(1), DefaultDiagFormat(condition, addinfo).to_ber(_cctx(1))),
        ),
    )
    unit = ber.constructed(
        SEQUENCE,
        ber.external(External(diag1, DIAG1_FORMAT, "single-ASN1-type"), _cctx(4)),
    )
    return External(ber.constructed(_cctx(201), unit), USERINFO_1, "single-ASN1-type")


# --------------------------------------------------------------------------- records


# NamePlusRecord ::= SEQUENCE {
#     name   [0] IMPLICIT DatabaseName OPTIONAL,
#     record [1] CHOICE {
#         retrievalRecord      [1] EXTERNAL,
#         surrogateDiagnostic  [2] DiagRec,
#         startingFragment     [3] FragmentSyntax,
#         intermediateFragment [4] FragmentSyntax,
#         finalFragment        [5] FragmentSyntax } }
@dataclass(frozen=True, slots=True)
class NamePlusRecord:
    """One entry of a response: a record (an EXTERNAL) or a surrogate diagnostic.

    Exactly one of ``record`` and ``diagnostic`` is set.
    """

    record: External | None = None
    diagnostic: DiagRec | None = None
    database_name: str | None = None

    def __post_init__(self) -> None:
        if (self.record is None) == (self.diagnostic is None):
            raise ValueError("NamePlusRecord needs exactly one of record and diagnostic")

    @property
    def syntax(self) -> str:
        """Short name of the record's syntax (``usmarc``, ``xml``, ...) or its dotted OID."""
        if self.record is None or self.record.direct_reference is None:
            return ""
        return syntax_name(self.record.direct_reference)

    def to_ber(self) -> bytes:
        """Encoding of the SEQUENCE."""
        if self.record is not None:
            choice = ber.constructed(_cctx(1), ber.external(self.record))
        elif self.diagnostic is not None:
            choice = ber.constructed(_cctx(2), _encode_diagrec(self.diagnostic))
        return ber.constructed(
            SEQUENCE,
            None if self.database_name is None else ber.string(self.database_name, _ctx(0)),
            ber.constructed(_cctx(1), choice),
        )

    @classmethod
    def from_ber(cls, element: Element) -> NamePlusRecord:
        """Decode one NamePlusRecord."""
        f = _Fields(element, "NamePlusRecord")
        choice = f.need(1, "record").only_child()
        name = f.text(0)
        if choice.tag == _cctx(1):
            return cls(record=choice.only_child().external(), database_name=name)
        if choice.tag == _cctx(2):
            return cls(diagnostic=_decode_diagrec(choice.only_child()), database_name=name)
        raise APDUError(f"NamePlusRecord: record fragments ({choice.tag}) are not supported")


def record_data(record: External) -> bytes:
    """The bytes of a retrieval record, as a normalizer wants them.

    Octet-aligned records (ISO2709, XML) are their octets. A single-ASN1-type string (YAZ
    sends SUTRS that way) is the string's contents; any other single-ASN1-type value (OPAC,
    GRS-1) stays its complete BER encoding.
    """
    if record.encoding != "single-ASN1-type":
        return record.data
    element = ber.decode(record.data)
    if element.tag.cls == TagClass.UNIVERSAL and element.tag.number in (4, 26, 27):
        return element.octets()
    return record.data


@dataclass(frozen=True, slots=True)
class ResponseRecords:
    """``responseRecords [28] IMPLICIT SEQUENCE OF NamePlusRecord``."""

    records: tuple[NamePlusRecord, ...]


@dataclass(frozen=True, slots=True)
class NonSurrogateDiagnostic:
    """``nonSurrogateDiagnostic [130] IMPLICIT DefaultDiagFormat``: the operation failed."""

    diagnostic: DefaultDiagFormat


@dataclass(frozen=True, slots=True)
class MultipleNonSurDiagnostics:
    """``multipleNonSurDiagnostics [205] IMPLICIT SEQUENCE OF DiagRec``."""

    diagnostics: tuple[DiagRec, ...]


# Records ::= CHOICE {
#     responseRecords           [28] IMPLICIT SEQUENCE OF NamePlusRecord,
#     nonSurrogateDiagnostic    [130] IMPLICIT DefaultDiagFormat,
#     multipleNonSurDiagnostics [205] IMPLICIT SEQUENCE OF DiagRec }
Records = ResponseRecords | NonSurrogateDiagnostic | MultipleNonSurDiagnostics


def _encode_records(value: Records | None) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, ResponseRecords):
        return ber.constructed(_cctx(28), *(r.to_ber() for r in value.records))
    if isinstance(value, NonSurrogateDiagnostic):
        return value.diagnostic.to_ber(_cctx(130))
    return ber.constructed(_cctx(205), *(_encode_diagrec(d) for d in value.diagnostics))


def _decode_records(fields: _Fields, read: ResponseRecords | None = None) -> Records | None:
    """The Records CHOICE; ``read``: the [28] records the fast path already read."""
    if read is not None:
        return read
    found = fields.get(28)
    if found is not None:
        return ResponseRecords(tuple(NamePlusRecord.from_ber(c) for c in found.children))
    found = fields.get(130)
    if found is not None:
        return NonSurrogateDiagnostic(DefaultDiagFormat.from_ber(found))
    found = fields.get(205)
    if found is not None:
        return MultipleNonSurDiagnostics(tuple(_decode_diagrec(c) for c in found.children))
    return None


def _records_diagnostics(value: Records | None) -> tuple[Diagnostic, ...]:
    if isinstance(value, NonSurrogateDiagnostic):
        return (value.diagnostic.to_diagnostic(),)
    if isinstance(value, MultipleNonSurDiagnostics):
        return tuple(diagnostic_of(d) for d in value.diagnostics)
    return ()


def _records_list(value: Records | None) -> tuple[NamePlusRecord, ...]:
    return value.records if isinstance(value, ResponseRecords) else ()


# --------------------------------------------------------------------------- queries

# Query ::= CHOICE { type-0 [0] ANY, type-1 [1] IMPLICIT RPNQuery, type-2 [2] OCTET STRING,
#     type-100 [100] OCTET STRING, type-101 [101] IMPLICIT RPNQuery, type-102 [102] OCTET
#     STRING, type-104 [104] IMPLICIT EXTERNAL }
# RPNQuery ::= SEQUENCE { attributeSet AttributeSetId, rpn RPNStructure }
# RPNStructure ::= CHOICE { op [0] Operand, rpnRpnOp [1] IMPLICIT RpnRpnOp }
# Operand ::= CHOICE { attrTerm AttributesPlusTerm, resultSet ResultSetId,
#     resultAttr ResultSetPlusAttributes }
# AttributesPlusTerm ::= [102] IMPLICIT SEQUENCE { attributes AttributeList, term Term }
# AttributeList ::= [44] IMPLICIT SEQUENCE OF AttributeElement
# AttributeElement ::= SEQUENCE { attributeSet [1] IMPLICIT AttributeSetId OPTIONAL,
#     attributeType [120] IMPLICIT INTEGER,
#     attributeValue CHOICE { numeric [121] IMPLICIT INTEGER,
#         complex [224] IMPLICIT SEQUENCE {
#             list           [1] IMPLICIT SEQUENCE OF StringOrNumeric,
#             semanticAction [2] IMPLICIT SEQUENCE OF INTEGER OPTIONAL } } }
# StringOrNumeric ::= CHOICE { string [1] IMPLICIT InternationalString,
#     numeric [2] IMPLICIT INTEGER, ... }
# Term ::= CHOICE { general [45] IMPLICIT OCTET STRING, numeric [215] IMPLICIT INTEGER,
#     characterString [216] IMPLICIT InternationalString, ... }
# RpnRpnOp ::= SEQUENCE { rpn1 RPNStructure, rpn2 RPNStructure, op Operator }
# Operator ::= [46] CHOICE { and [0] IMPLICIT NULL, or [1] IMPLICIT NULL,
#     and-not [2] IMPLICIT NULL, prox [3] IMPLICIT ProximityOperator }
# ResultSetId ::= [31] IMPLICIT InternationalString
# (ProximityOperator is quoted in protocols/z3950/rpn.py.)

_OPERATOR_TAGS = {"and": 0, "or": 1, "and-not": 2, "prox": 3}
_OPERATOR_NAMES = {tag: name for name, tag in _OPERATOR_TAGS.items()}


def _encode_attribute(kind: int, value: AttributeValue) -> bytes:
    if isinstance(value, int):
        encoded = ber.integer(value, _ctx(121))
    else:
        string = ber.string(value, _ctx(1))
        encoded = ber.constructed(_cctx(224), ber.constructed(_cctx(1), string))
    return ber.constructed(SEQUENCE, ber.integer(kind, _ctx(120)), encoded)


def _decode_attribute(item: Element, attribute_set: str | None) -> tuple[int, AttributeValue]:
    f = _Fields(item, "AttributeElement")
    own_set = f.get(1)
    if own_set is not None and own_set.oid() != attribute_set:
        raise APDUError(f"attribute set {own_set.oid()} inside a query is not supported")
    kind = f.need(120, "attributeType").integer()
    numeric = f.get(121)
    if numeric is not None:
        return kind, numeric.integer()
    complex_value = f.get(224)
    if complex_value is None:
        raise APDUError("AttributeElement without a value")
    values = _Fields(complex_value, "complex attribute").need(1, "list").children
    if len(values) != 1:
        raise APDUError(f"complex attribute values with {len(values)} entries are not supported")
    if values[0].tag == _ctx(1):
        return kind, values[0].text("surrogateescape")
    if values[0].tag == _ctx(2):
        return kind, values[0].integer()
    raise APDUError(f"complex attribute value {values[0].tag} is not supported")


def _encode_apt(node: AttributesPlusTerm) -> bytes:
    attributes = (_encode_attribute(kind, value) for kind, value in node.attributes)
    term = node.term.encode("utf-8", "surrogateescape")
    return ber.constructed(
        _cctx(102), ber.constructed(_cctx(44), *attributes), ber.octets(term, _ctx(45))
    )


def _decode_apt(operand: Element, attribute_set: str | None) -> AttributesPlusTerm:
    if len(operand.children) != 2 or operand.children[0].tag != _cctx(44):
        raise APDUError("AttributesPlusTerm must hold an attribute list and a term")
    attributes = tuple(_decode_attribute(i, attribute_set) for i in operand.children[0].children)
    return AttributesPlusTerm(attributes, _decode_term(operand.children[1]))


def _encode_proximity(prox: ProximityOperator) -> bytes:
    unit = ber.integer(prox.unit, _ctx(2 if prox.private_unit else 1))
    return ber.constructed(
        _cctx(3),
        None if prox.exclusion is None else ber.boolean(prox.exclusion, _ctx(1)),
        ber.integer(prox.distance, _ctx(2)),
        ber.boolean(prox.ordered, _ctx(3)),
        ber.integer(prox.relation, _ctx(4)),
        ber.constructed(_cctx(5), unit),
    )


def _decode_proximity(element: Element) -> ProximityOperator:
    f = _Fields(element, "ProximityOperator")
    exclusion = f.get(1)
    unit = f.need(5, "proximityUnitCode").only_child()
    if unit.tag not in (_ctx(1), _ctx(2)):
        raise APDUError(f"ProximityOperator: unexpected unit {unit.tag}")
    return ProximityOperator(
        distance=f.need(2, "distance").integer(),
        ordered=f.need(3, "ordered").boolean(),
        relation=_enum(ProximityRelation, f.need(4, "relationType").integer()),
        unit=_enum(ProximityUnit, unit.integer()),
        exclusion=None if exclusion is None else exclusion.boolean(),
        private_unit=unit.tag == _ctx(2),
    )


def _encode_rpn_node(node: RPNNode) -> bytes:
    if isinstance(node, RPNOperator):
        if node.proximity is not None:
            operator = _encode_proximity(node.proximity)
        else:
            operator = ber.null(_ctx(_OPERATOR_TAGS[node.op]))
        return ber.constructed(
            _cctx(1),
            _encode_rpn_node(node.left),
            _encode_rpn_node(node.right),
            ber.constructed(_cctx(46), operator),
        )
    if isinstance(node, ResultSetOperand):
        return ber.constructed(_cctx(0), ber.string(node.name, _ctx(31)))
    return ber.constructed(_cctx(0), _encode_apt(node))


def _decode_term(element: Element) -> str:
    if element.tag == _ctx(45) or element.tag == _cctx(45):
        return element.octets().decode("utf-8", "surrogateescape")
    if element.tag == _ctx(215):
        return str(element.integer())
    if element.tag.number == 216 and element.tag.cls == TagClass.CONTEXT:
        return element.text("surrogateescape")
    raise APDUError(f"query term type {element.tag} is not supported")


def _decode_rpn_node(element: Element, attribute_set: str) -> RPNNode:
    if element.tag == _cctx(1):
        if len(element.children) != 3 or element.children[2].tag != _cctx(46):
            raise APDUError("RpnRpnOp must hold rpn1, rpn2 and an operator")
        operator = element.children[2].only_child()
        left = _decode_rpn_node(element.children[0], attribute_set)
        right = _decode_rpn_node(element.children[1], attribute_set)
        if operator.tag == _cctx(3):
            return RPNOperator("prox", left, right, _decode_proximity(operator))
        if operator.tag.constructed or operator.tag.number not in (0, 1, 2):
            raise APDUError(f"query operator {operator.tag} is not supported")
        return RPNOperator(_OPERATOR_NAMES[operator.tag.number], left, right)  # type: ignore[arg-type]
    if element.tag != _cctx(0):
        raise APDUError(f"RPNStructure: unexpected {element.tag}")
    operand = element.only_child()
    if operand.tag == _ctx(31):
        return ResultSetOperand(operand.text("surrogateescape"))
    if operand.tag != _cctx(102):
        raise APDUError(f"query operand {operand.tag} is not supported")
    return _decode_apt(operand, attribute_set)


def _encode_query(query: RPNQuery) -> bytes:
    body = ber.constructed(_cctx(1), ber.oid(query.attribute_set), _encode_rpn_node(query.root))
    return ber.constructed(_cctx(21), body)


def _decode_query(element: Element) -> RPNQuery:
    choice = element.only_child()
    if choice.tag not in (_cctx(1), _cctx(101)):
        raise APDUError(f"query type {choice.tag} is not supported (only type-1 RPN)")
    if len(choice.children) != 2 or not choice.children[0].is_(OBJECT_IDENTIFIER):
        raise APDUError("RPNQuery must hold an attribute set and an RPN structure")
    attribute_set = choice.children[0].oid()
    return RPNQuery(_decode_rpn_node(choice.children[1], attribute_set), attribute_set)


# --------------------------------------------------------------------------- Search


class ResultSetStatus(IntEnum):
    """resultSetStatus [26] IMPLICIT INTEGER: only when searchStatus is FALSE."""

    SUBSET = 1
    INTERIM = 2
    NONE = 3


class PresentStatus(IntEnum):
    """PresentStatus ::= [27] IMPLICIT INTEGER."""

    SUCCESS = 0
    PARTIAL_1 = 1
    PARTIAL_2 = 2
    PARTIAL_3 = 3
    PARTIAL_4 = 4
    FAILURE = 5


# ElementSetNames ::= CHOICE { genericElementSetName [0] IMPLICIT InternationalString,
#     databaseSpecific [1] IMPLICIT SEQUENCE OF SEQUENCE { dbName DatabaseName,
#     esn ElementSetName } }
def _encode_esn(name: str | None, tag: int) -> bytes | None:
    if name is None:
        return None
    return ber.constructed(_cctx(tag), ber.string(name, _ctx(0)))


def _decode_esn(fields: _Fields, tag: int) -> str | None:
    found = fields.get(tag)
    if found is None:
        return None
    choice = found.only_child()
    if choice.tag != _ctx(0):
        raise APDUError("database-specific element set names are not supported")
    return choice.text()


# SearchRequest ::= SEQUENCE {
#     referenceId              ReferenceId OPTIONAL,
#     smallSetUpperBound       [13] IMPLICIT INTEGER,
#     largeSetLowerBound       [14] IMPLICIT INTEGER,
#     mediumSetPresentNumber   [15] IMPLICIT INTEGER,
#     replaceIndicator         [16] IMPLICIT BOOLEAN,
#     resultSetName            [17] IMPLICIT InternationalString,
#     databaseNames            [18] IMPLICIT SEQUENCE OF DatabaseName,
#     smallSetElementSetNames  [100] ElementSetNames OPTIONAL,
#     mediumSetElementSetNames [101] ElementSetNames OPTIONAL,
#     preferredRecordSyntax    [104] IMPLICIT OBJECT IDENTIFIER OPTIONAL,
#     query                    [21] Query,
#     additionalSearchInfo     [203] IMPLICIT OtherInformation OPTIONAL,
#     otherInfo                OtherInformation OPTIONAL }
# DatabaseName ::= [105] IMPLICIT InternationalString
@dataclass(frozen=True, slots=True)
class SearchRequest:
    """Run a type-1 query against databases, into the result set ``result_set_name``.

    The three bounds control piggy-backed records; the defaults ask for none.
    """

    query: RPNQuery
    database_names: tuple[str, ...] = ("Default",)
    result_set_name: str = "default"
    replace_indicator: bool = True
    small_set_upper_bound: int = 0
    large_set_lower_bound: int = 1
    medium_set_present_number: int = 0
    small_set_element_set_name: str | None = None
    medium_set_element_set_name: str | None = None
    preferred_record_syntax: str | None = None
    reference_id: bytes | None = None

    TAG = 22

    def to_ber(self) -> bytes:
        """BER encoding of the whole APDU."""
        return ber.constructed(
            _cctx(self.TAG),
            _encode_reference_id(self.reference_id),
            ber.integer(self.small_set_upper_bound, _ctx(13)),
            ber.integer(self.large_set_lower_bound, _ctx(14)),
            ber.integer(self.medium_set_present_number, _ctx(15)),
            ber.boolean(self.replace_indicator, _ctx(16)),
            ber.string(self.result_set_name, _ctx(17)),
            ber.constructed(_cctx(18), *(ber.string(n, _ctx(105)) for n in self.database_names)),
            _encode_esn(self.small_set_element_set_name, 100),
            _encode_esn(self.medium_set_element_set_name, 101),
            (
                None
                if self.preferred_record_syntax is None
                else ber.oid(self.preferred_record_syntax, _ctx(104))
            ),
            _encode_query(self.query),
        )

    @classmethod
    def from_ber(cls, element: Element) -> SearchRequest:
        """Decode from the APDU's element (tag [22])."""
        f = _Fields(element, "SearchRequest")
        syntax = f.get(104)
        return cls(
            query=_decode_query(f.need(21, "query")),
            database_names=tuple(c.text() for c in f.need(18, "databaseNames").children),
            result_set_name=f.need(17, "resultSetName").text(),
            replace_indicator=f.need(16, "replaceIndicator").boolean(),
            small_set_upper_bound=f.need(13, "smallSetUpperBound").integer(),
            large_set_lower_bound=f.need(14, "largeSetLowerBound").integer(),
            medium_set_present_number=f.need(15, "mediumSetPresentNumber").integer(),
            small_set_element_set_name=_decode_esn(f, 100),
            medium_set_element_set_name=_decode_esn(f, 101),
            preferred_record_syntax=None if syntax is None else syntax.oid(),
            reference_id=_decode_reference_id(f),
        )


# SearchResponse ::= SEQUENCE {
#     referenceId             ReferenceId OPTIONAL,
#     resultCount             [23] IMPLICIT INTEGER,
#     numberOfRecordsReturned [24] IMPLICIT INTEGER,
#     nextResultSetPosition   [25] IMPLICIT INTEGER,
#     searchStatus            [22] IMPLICIT BOOLEAN,
#     resultSetStatus         [26] IMPLICIT INTEGER { subset (1), interim (2), none (3) }
#                                  OPTIONAL,
#     presentStatus           PresentStatus OPTIONAL,
#     records                 Records OPTIONAL,
#     additionalSearchInfo    [203] IMPLICIT OtherInformation OPTIONAL,
#     otherInfo               OtherInformation OPTIONAL }
class _CarriesRecords:
    """What Search and Present responses share: their ``Records`` field, read two ways."""

    __slots__ = ()
    records: Records | None

    @property
    def diagnostics(self) -> tuple[Diagnostic, ...]:
        """Non-surrogate diagnostics (why the search or present failed, or a warning)."""
        return _records_diagnostics(self.records)

    @property
    def name_plus_records(self) -> tuple[NamePlusRecord, ...]:
        """The records returned (piggy-backed on a search), each a record or a surrogate
        diagnostic."""
        return _records_list(self.records)


@dataclass(frozen=True, slots=True)
class SearchResponse(_CarriesRecords):
    """Hit count and status of a search; ``records`` holds piggy-backed records or the
    non-surrogate diagnostic of a failed search."""

    result_count: int
    search_status: bool = True
    number_of_records_returned: int = 0
    next_result_set_position: int = 1
    result_set_status: int | None = None
    present_status: int | None = None
    records: Records | None = None
    reference_id: bytes | None = None

    TAG = 23

    def to_ber(self) -> bytes:
        """BER encoding of the whole APDU."""
        return ber.constructed(
            _cctx(self.TAG),
            _encode_reference_id(self.reference_id),
            ber.integer(self.result_count, _ctx(23)),
            ber.integer(self.number_of_records_returned, _ctx(24)),
            ber.integer(self.next_result_set_position, _ctx(25)),
            ber.boolean(self.search_status, _ctx(22)),
            (
                None
                if self.result_set_status is None
                else ber.integer(self.result_set_status, _ctx(26))
            ),
            None if self.present_status is None else ber.integer(self.present_status, _ctx(27)),
            _encode_records(self.records),
        )

    @classmethod
    def from_ber(cls, element: Element, records: ResponseRecords | None = None) -> SearchResponse:
        """Decode from the APDU's element (tag [23]); ``records``: its [28] records if they
        were read already (``element`` then leaves them out)."""
        f = _Fields(element, "SearchResponse")
        result_set_status = f.get(26)
        present_status = f.get(27)
        return cls(
            result_count=f.need(23, "resultCount").integer(),
            search_status=f.need(22, "searchStatus").boolean(),
            number_of_records_returned=f.need(24, "numberOfRecordsReturned").integer(),
            next_result_set_position=f.need(25, "nextResultSetPosition").integer(),
            result_set_status=None
            if result_set_status is None
            else _enum(ResultSetStatus, result_set_status.integer()),
            present_status=None
            if present_status is None
            else _enum(PresentStatus, present_status.integer()),
            records=_decode_records(f, records),
            reference_id=_decode_reference_id(f),
        )


# --------------------------------------------------------------------------- Present


# PresentRequest ::= SEQUENCE {
#     referenceId              ReferenceId OPTIONAL,
#     resultSetId              ResultSetId,       -- ResultSetId ::= [31] IMPLICIT
#                                                 --     InternationalString
#     resultSetStartPoint      [30] IMPLICIT INTEGER,
#     numberOfRecordsRequested [29] IMPLICIT INTEGER,
#     additionalRanges         [212] IMPLICIT SEQUENCE OF Range OPTIONAL,
#     recordComposition CHOICE {
#         simple  [19] ElementSetNames,
#         complex [209] IMPLICIT CompSpec } OPTIONAL,
#     preferredRecordSyntax    [104] IMPLICIT OBJECT IDENTIFIER OPTIONAL,
#     maxSegmentCount          [204] IMPLICIT INTEGER OPTIONAL,
#     maxRecordSize            [206] IMPLICIT INTEGER OPTIONAL,
#     maxSegmentSize           [207] IMPLICIT INTEGER OPTIONAL,
#     otherInfo                OtherInformation OPTIONAL }
@dataclass(frozen=True, slots=True)
class PresentRequest:
    """Fetch ``number_of_records_requested`` records from position ``result_set_start_point``."""

    result_set_id: str
    result_set_start_point: int
    number_of_records_requested: int
    element_set_name: str | None = None
    preferred_record_syntax: str | None = None
    reference_id: bytes | None = None

    TAG = 24

    def to_ber(self) -> bytes:
        """BER encoding of the whole APDU."""
        return ber.constructed(
            _cctx(self.TAG),
            _encode_reference_id(self.reference_id),
            ber.string(self.result_set_id, _ctx(31)),
            ber.integer(self.result_set_start_point, _ctx(30)),
            ber.integer(self.number_of_records_requested, _ctx(29)),
            _encode_esn(self.element_set_name, 19),
            (
                None
                if self.preferred_record_syntax is None
                else ber.oid(self.preferred_record_syntax, _ctx(104))
            ),
        )

    @classmethod
    def from_ber(cls, element: Element) -> PresentRequest:
        """Decode from the APDU's element (tag [24])."""
        f = _Fields(element, "PresentRequest")
        if f.get(209) is not None:
            raise APDUError("PresentRequest: complex record composition is not supported")
        syntax = f.get(104)
        return cls(
            result_set_id=f.need(31, "resultSetId").text(),
            result_set_start_point=f.need(30, "resultSetStartPoint").integer(),
            number_of_records_requested=f.need(29, "numberOfRecordsRequested").integer(),
            element_set_name=_decode_esn(f, 19),
            preferred_record_syntax=None if syntax is None else syntax.oid(),
            reference_id=_decode_reference_id(f),
        )


# PresentResponse ::= SEQUENCE {
#     referenceId             ReferenceId OPTIONAL,
#     numberOfRecordsReturned [24] IMPLICIT INTEGER,
#     nextResultSetPosition   [25] IMPLICIT INTEGER,
#     presentStatus           PresentStatus,
#     records                 Records OPTIONAL,
#     otherInfo               OtherInformation OPTIONAL }
@dataclass(frozen=True, slots=True)
class PresentResponse(_CarriesRecords):
    """Records (or surrogate diagnostics in their place), or why the present failed."""

    number_of_records_returned: int
    next_result_set_position: int
    present_status: int = PresentStatus.SUCCESS
    records: Records | None = None
    reference_id: bytes | None = None

    TAG = 25

    def to_ber(self) -> bytes:
        """BER encoding of the whole APDU."""
        return ber.constructed(
            _cctx(self.TAG),
            _encode_reference_id(self.reference_id),
            ber.integer(self.number_of_records_returned, _ctx(24)),
            ber.integer(self.next_result_set_position, _ctx(25)),
            ber.integer(self.present_status, _ctx(27)),
            _encode_records(self.records),
        )

    @classmethod
    def from_ber(cls, element: Element, records: ResponseRecords | None = None) -> PresentResponse:
        """Decode from the APDU's element (tag [25]); ``records`` as for ``SearchResponse``."""
        f = _Fields(element, "PresentResponse")
        return cls(
            number_of_records_returned=f.need(24, "numberOfRecordsReturned").integer(),
            next_result_set_position=f.need(25, "nextResultSetPosition").integer(),
            present_status=_enum(PresentStatus, f.need(27, "presentStatus").integer()),
            records=_decode_records(f, records),
            reference_id=_decode_reference_id(f),
        )


# --------------------------------------------------------------------------- Scan


class ScanStatus(IntEnum):
    """scanStatus [4] IMPLICIT INTEGER of ScanResponse."""

    SUCCESS = 0
    PARTIAL_1 = 1  # not all expected entries can be returned
    PARTIAL_2 = 2  # not all terms in range; premature end
    PARTIAL_3 = 3  # term list exhausted at one end
    PARTIAL_4 = 4  # term list exhausted at both ends
    PARTIAL_5 = 5  # the term itself was not found (only position 1.. returned)
    FAILURE = 6


# ScanRequest ::= SEQUENCE {
#     referenceId                 ReferenceId OPTIONAL,
#     databaseNames               [3] IMPLICIT SEQUENCE OF DatabaseName,
#     attributeSet                AttributeSetId OPTIONAL,
#     termListAndStartPoint       AttributesPlusTerm,
#     stepSize                    [5] IMPLICIT INTEGER OPTIONAL,
#     numberOfTermsRequested      [6] IMPLICIT INTEGER,
#     preferredPositionInResponse [7] IMPLICIT INTEGER OPTIONAL,
#     otherInfo                   OtherInformation OPTIONAL }
@dataclass(frozen=True, slots=True)
class ScanRequest:
    """Browse the index that ``term``'s attributes select, starting at its term.

    ``preferred_position_in_response`` 1 puts the start term first in the list.
    """

    term: AttributesPlusTerm
    number_of_terms_requested: int
    database_names: tuple[str, ...] = ("Default",)
    attribute_set: str | None = BIB1_ATTRSET
    step_size: int | None = 0
    preferred_position_in_response: int | None = 1
    reference_id: bytes | None = None

    TAG = 35

    def to_ber(self) -> bytes:
        """BER encoding of the whole APDU."""
        return ber.constructed(
            _cctx(self.TAG),
            _encode_reference_id(self.reference_id),
            ber.constructed(_cctx(3), *(ber.string(n, _ctx(105)) for n in self.database_names)),
            None if self.attribute_set is None else ber.oid(self.attribute_set),
            _encode_apt(self.term),
            None if self.step_size is None else ber.integer(self.step_size, _ctx(5)),
            ber.integer(self.number_of_terms_requested, _ctx(6)),
            (
                None
                if self.preferred_position_in_response is None
                else ber.integer(self.preferred_position_in_response, _ctx(7))
            ),
        )

    @classmethod
    def from_ber(cls, element: Element) -> ScanRequest:
        """Decode from the APDU's element (tag [35])."""
        f = _Fields(element, "ScanRequest")
        attribute_set = f.get(OBJECT_IDENTIFIER.number, TagClass.UNIVERSAL)
        set_id = None if attribute_set is None else attribute_set.oid()
        step = f.get(5)
        position = f.get(7)
        return cls(
            term=_decode_apt(f.need(102, "termListAndStartPoint"), set_id or BIB1_ATTRSET),
            number_of_terms_requested=f.need(6, "numberOfTermsRequested").integer(),
            database_names=tuple(c.text() for c in f.need(3, "databaseNames").children),
            attribute_set=set_id,
            step_size=None if step is None else step.integer(),
            preferred_position_in_response=None if position is None else position.integer(),
            reference_id=_decode_reference_id(f),
        )


# TermInfo ::= SEQUENCE {
#     term                Term,
#     displayTerm         [0] IMPLICIT InternationalString OPTIONAL,
#     suggestedAttributes AttributeList OPTIONAL,
#     alternativeTerm     [4] IMPLICIT SEQUENCE OF AttributesPlusTerm OPTIONAL,
#     globalOccurrences   [2] IMPLICIT INTEGER OPTIONAL,
#     byAttributes        [3] IMPLICIT OccurrenceByAttributes OPTIONAL,
#     otherTermInfo       OtherInformation OPTIONAL }
@dataclass(frozen=True, slots=True)
class TermInfo:
    """One index entry: the term, how to show it, and how many records hold it.

    ``term`` keeps bytes that are not UTF-8 as surrogate escapes, like query terms.
    """

    term: str
    display_term: str | None = None
    global_occurrences: int | None = None

    def to_ber(self) -> bytes:
        """Encoding as ``termInfo [1] IMPLICIT TermInfo``."""
        return ber.constructed(
            _cctx(1),
            ber.octets(self.term.encode("utf-8", "surrogateescape"), _ctx(45)),
            None if self.display_term is None else ber.string(self.display_term, _ctx(0)),
            (
                None
                if self.global_occurrences is None
                else ber.integer(self.global_occurrences, _ctx(2))
            ),
        )

    @classmethod
    def from_ber(cls, element: Element) -> TermInfo:
        """Decode a TermInfo; the parts we do not model are skipped."""
        if not element.children:
            raise APDUError("TermInfo without a term")
        f = _Fields(element, "TermInfo")
        occurrences = f.get(2)
        display = f.get(0)
        return cls(
            term=_decode_term(element.children[0]),
            display_term=None if display is None else display.text("surrogateescape"),
            global_occurrences=None if occurrences is None else occurrences.integer(),
        )


#: Entry ::= CHOICE { termInfo [1] IMPLICIT TermInfo, surrogateDiagnostic [2] DiagRec }
ScanEntry = TermInfo | DefaultDiagFormat | External


def _encode_entry(entry: ScanEntry) -> bytes:
    if isinstance(entry, TermInfo):
        return entry.to_ber()
    return ber.constructed(_cctx(2), _encode_diagrec(entry))


def _decode_entry(element: Element) -> ScanEntry:
    if element.tag == _cctx(1):
        return TermInfo.from_ber(element)
    if element.tag == _cctx(2):
        return _decode_diagrec(element.only_child())
    raise APDUError(f"scan Entry: unexpected {element.tag}")


# ScanResponse ::= SEQUENCE {
#     referenceId             ReferenceId OPTIONAL,
#     stepSize                [3] IMPLICIT INTEGER OPTIONAL,
#     scanStatus              [4] IMPLICIT INTEGER { success (0), partial-1 (1), ...,
#                                 partial-5 (5), failure (6) },
#     numberOfEntriesReturned [5] IMPLICIT INTEGER,
#     positionOfTerm          [6] IMPLICIT INTEGER OPTIONAL,
#     entries                 [7] IMPLICIT ListEntries OPTIONAL,
#     attributeSet            [8] IMPLICIT AttributeSetId OPTIONAL,
#     otherInfo               OtherInformation OPTIONAL }
# ListEntries ::= SEQUENCE {
#     entries                 [1] IMPLICIT SEQUENCE OF Entry OPTIONAL,
#     nonsurrogateDiagnostics [2] IMPLICIT SEQUENCE OF DiagRec OPTIONAL }
@dataclass(frozen=True, slots=True)
class ScanResponse:
    """Index entries (terms or surrogate diagnostics) and why a scan failed, if it did."""

    scan_status: int
    number_of_entries_returned: int
    entries: tuple[ScanEntry, ...] = ()
    nonsurrogate_diagnostics: tuple[DiagRec, ...] = ()
    position_of_term: int | None = None
    step_size: int | None = None
    attribute_set: str | None = None
    reference_id: bytes | None = None

    TAG = 36

    @property
    def diagnostics(self) -> tuple[Diagnostic, ...]:
        """Why the scan failed or was partial (non-surrogate diagnostics)."""
        return tuple(diagnostic_of(d) for d in self.nonsurrogate_diagnostics)

    @property
    def terms(self) -> tuple[TermInfo, ...]:
        """The entries that are terms (surrogate diagnostics left out)."""
        return tuple(e for e in self.entries if isinstance(e, TermInfo))

    def to_ber(self) -> bytes:
        """BER encoding of the whole APDU."""
        entries = None
        if self.entries or self.nonsurrogate_diagnostics:
            entries = ber.constructed(
                _cctx(7),
                (
                    ber.constructed(_cctx(1), *(_encode_entry(e) for e in self.entries))
                    if self.entries
                    else None
                ),
                (
                    ber.constructed(
                        _cctx(2), *(_encode_diagrec(d) for d in self.nonsurrogate_diagnostics)
                    )
                    if self.nonsurrogate_diagnostics
                    else None
                ),
            )
        return ber.constructed(
            _cctx(self.TAG),
            _encode_reference_id(self.reference_id),
            None if self.step_size is None else ber.integer(self.step_size, _ctx(3)),
            ber.integer(self.scan_status, _ctx(4)),
            ber.integer(self.number_of_entries_returned, _ctx(5)),
            None if self.position_of_term is None else ber.integer(self.position_of_term, _ctx(6)),
            entries,
            None if self.attribute_set is None else ber.oid(self.attribute_set, _ctx(8)),
        )

    @classmethod
    def from_ber(cls, element: Element) -> ScanResponse:
        """Decode from the APDU's element (tag [36])."""
        f = _Fields(element, "ScanResponse")
        step = f.get(3)
        position = f.get(6)
        attribute_set = f.get(8)
        entries: tuple[ScanEntry, ...] = ()
        diagnostics: tuple[DiagRec, ...] = ()
        found = f.get(7)
        if found is not None:
            lists = _Fields(found, "ListEntries")
            items = lists.get(1)
            if items is not None:
                entries = tuple(_decode_entry(c) for c in items.children)
            diags = lists.get(2)
            if diags is not None:
                diagnostics = tuple(_decode_diagrec(c) for c in diags.children)
        return cls(
            scan_status=_enum(ScanStatus, f.need(4, "scanStatus").integer()),
            number_of_entries_returned=f.need(5, "numberOfEntriesReturned").integer(),
            entries=entries,
            nonsurrogate_diagnostics=diagnostics,
            position_of_term=None if position is None else position.integer(),
            step_size=None if step is None else step.integer(),
            attribute_set=None if attribute_set is None else attribute_set.oid(),
            reference_id=_decode_reference_id(f),
        )


# --------------------------------------------------------------------------- Close


class CloseReason(IntEnum):
    """CloseReason ::= [211] IMPLICIT INTEGER."""

    FINISHED = 0
    SHUTDOWN = 1
    SYSTEM_PROBLEM = 2
    COST_LIMIT = 3
    RESOURCES = 4
    SECURITY_VIOLATION = 5
    PROTOCOL_ERROR = 6
    LACK_OF_ACTIVITY = 7
    PEER_ABORT = 8
    UNSPECIFIED = 9


# Close ::= SEQUENCE {
#     referenceId           ReferenceId OPTIONAL,
#     closeReason           CloseReason,
#     diagnosticInformation [3] IMPLICIT InternationalString OPTIONAL,
#     resourceReportFormat  [4] IMPLICIT ResourceReportId OPTIONAL,
#     resourceReport        [5] ResourceReport OPTIONAL,
#     otherInfo             OtherInformation OPTIONAL }
@dataclass(frozen=True, slots=True)
class Close:
    """Ends the association; either side sends it and the other answers with a Close."""

    close_reason: int = CloseReason.FINISHED
    diagnostic_information: str | None = None
    reference_id: bytes | None = None

    TAG = 48

    @property
    def reason_text(self) -> str:
        """``finished``, ``protocolError``, ... plus the diagnostic information, if any."""
        try:
            name = CloseReason(self.close_reason).name.lower().replace("_", " ")
        except ValueError:
            name = f"reason {self.close_reason}"
        extra = f": {self.diagnostic_information}" if self.diagnostic_information else ""
        return name + extra

    def to_ber(self) -> bytes:
        """BER encoding of the whole APDU."""
        return ber.constructed(
            _cctx(self.TAG),
            _encode_reference_id(self.reference_id),
            ber.integer(self.close_reason, _ctx(211)),
            (
                None
                if self.diagnostic_information is None
                else ber.string(self.diagnostic_information, _ctx(3))
            ),
        )

    @classmethod
    def from_ber(cls, element: Element) -> Close:
        """Decode from the APDU's element (tag [48])."""
        f = _Fields(element, "Close")
        return cls(
            close_reason=_enum(CloseReason, f.need(211, "closeReason").integer()),
            diagnostic_information=f.text(3),
            reference_id=_decode_reference_id(f),
        )


# --------------------------------------------------------------------------- PDU

# PDU ::= CHOICE { initRequest [20] IMPLICIT InitializeRequest,
#     initResponse [21] IMPLICIT InitializeResponse, searchRequest [22] IMPLICIT SearchRequest,
#     searchResponse [23] IMPLICIT SearchResponse, presentRequest [24] IMPLICIT PresentRequest,
#     presentResponse [25] IMPLICIT PresentResponse, ..., scanRequest [35] IMPLICIT
#     ScanRequest, scanResponse [36] IMPLICIT ScanResponse, ..., close [48] IMPLICIT Close, ...}
APDU = (
    InitRequest
    | InitResponse
    | SearchRequest
    | SearchResponse
    | PresentRequest
    | PresentResponse
    | ScanRequest
    | ScanResponse
    | Close
)

_DECODERS: dict[int, Callable[[Element], APDU]] = {
    kind.TAG: kind.from_ber
    for kind in (
        InitRequest,
        InitResponse,
        SearchRequest,
        SearchResponse,
        PresentRequest,
        PresentResponse,
        ScanRequest,
        ScanResponse,
        Close,
    )
}

# names of the PDU alternatives we do not model, for clear errors
_OTHER_PDUS = {
    26: "deleteResultSetRequest",
    27: "deleteResultSetResponse",
    28: "accessControlRequest",
    29: "accessControlResponse",
    30: "resourceControlRequest",
    31: "resourceControlResponse",
    32: "triggerResourceControlRequest",
    33: "resourceReportRequest",
    34: "resourceReportResponse",
    43: "sortRequest",
    44: "sortResponse",
    45: "segmentRequest",
    46: "extendedServicesRequest",
    47: "extendedServicesResponse",
}


def encode_apdu(apdu: APDU) -> bytes:
    """BER encoding of any APDU."""
    return apdu.to_ber()


def decode_apdu(data: bytes, *, max_depth: int = DEFAULT_MAX_DEPTH, fast: bool = True) -> APDU:
    """Decode one complete APDU (as framed by ``protocols.ber.frame``).

    Raises ``BERError`` for bad BER and ``APDUError`` for BER that is not an APDU we know.
    The records of a Search or Present response are read straight from the bytes when they
    have the usual shape (see ``_read_entry``); ``fast=False`` builds the whole BER tree
    instead, the reference the fast path is tested against. Both give equal APDUs.
    """
    data = bytes(data)
    if fast and max_depth >= _ENTRY_DEPTH and data[:1] in _RESPONSES_WITH_RECORDS:
        return _decode_response(data, max_depth)
    element = ber.decode(data, max_depth=max_depth)
    if element.tag.cls != TagClass.CONTEXT or not element.tag.constructed:
        raise APDUError(f"not a Z39.50 APDU: {element.tag}")
    decoder = _DECODERS.get(element.tag.number)
    if decoder is None:
        name = _OTHER_PDUS.get(element.tag.number, f"unknown APDU {element.tag}")
        raise APDUError(f"{name} is not supported")
    return decoder(element)


# --------------------------------------------------------------------------- the fast path
#
# A present response of 100 MARC records is some 1,500 TLVs, nearly all of them the same
# seven per record. Building an Element for each and reading them back through _Fields cost
# more than the rest of a search together, so the usual record shape is read straight from
# the bytes:
#
#     30 len                          NamePlusRecord SEQUENCE
#        80 len name                  [0] IMPLICIT DatabaseName (optional)
#        a1 len                       record [1]
#           a1 len                    retrievalRecord [1]
#              28 len                 EXTERNAL
#                 06 len oid          direct-reference
#                 81 len octets       octet-aligned [1] IMPLICIT OCTET STRING
#
# each ``len`` definite or indefinite (zebrasrv and yaz-ztest write indefinite ones). Any
# other entry (a surrogate diagnostic, a single-ASN1-type record, an extra field, anything
# malformed) is decoded the general way, so errors and results are those of ``fast=False``.

# first octets of searchResponse [23] and presentResponse [25] (constructed, context)
_RESPONSES_WITH_RECORDS = (b"\xb7", b"\xb9")
_RECORD_LIST = 0xBC  # responseRecords [28], constructed
# depth of the deepest value in the usual entry (the APDU is at depth 0)
_ENTRY_DEPTH = 6


class _Unusual(Exception):
    """The entry is not of the usual shape: decode it the general way."""


def _open(buf: bytes, pos: int, limit: int) -> tuple[int, int]:
    """Length octets at ``pos``: (end of the value or -1 if indefinite, contents offset)."""
    octet = buf[pos]
    if octet < 0x80:
        end = pos + 1 + octet
        if end > limit:
            raise _Unusual
        return end, pos + 1
    if octet == 0x80:
        return -1, pos + 1
    count = octet & 0x7F
    if count > 4:
        raise _Unusual
    start = pos + 1 + count
    end = start + int.from_bytes(buf[pos + 1 : start], "big")
    if end > limit:
        raise _Unusual
    return end, start


def _enter(buf: bytes, pos: int, identifier: int, limit: int) -> tuple[int, int, int]:
    """Into the constructed value at ``pos``, which must have ``identifier``: (its end or -1
    if indefinite, contents offset, the limit of what it holds)."""
    if buf[pos] != identifier:
        raise _Unusual
    end, start = _open(buf, pos + 1, limit)
    return end, start, limit if end < 0 else end


def _close(buf: bytes, pos: int, end: int, limit: int) -> int:
    """Past the end of a value whose contents were read up to ``pos``."""
    if end >= 0:
        if pos != end:
            raise _Unusual
        return end
    if pos + 2 > limit or buf[pos] or buf[pos + 1]:
        raise _Unusual
    return pos + 2


# record [1], retrievalRecord [1] and EXTERNAL in indefinite form, then the OID's identifier
_INDEFINITE_HEAD = b"\xa1\x80\xa1\x80\x28\x80\x06"
# the end-of-contents octets of the EXTERNAL, both [1] and the SEQUENCE
_INDEFINITE_TAIL = bytes(8)


def _read_indefinite_entry(buf: bytes, pos: int, limit: int) -> tuple[NamePlusRecord, int] | None:
    """The usual entry with every constructed length indefinite, as YAZ servers write it,
    matched a few octets at a time (``pos``: just past ``30 80``); None if it is not that."""
    name = None
    if buf[pos] == 0x80:
        size = buf[pos + 1]
        if size >= 0x80:
            return None
        start = pos + 2
        pos = start + size
        name = buf[start:pos].decode("utf-8", "replace")
    if not buf.startswith(_INDEFINITE_HEAD, pos):
        return None
    size = buf[pos + 7]
    if size >= 0x80:
        return None
    start = pos + 8
    pos = start + size
    if buf[pos] != 0x81:
        return None
    data_end, data_start = _open(buf, pos + 1, limit)
    end = data_end + 8
    if data_end < 0 or end > limit or not buf.startswith(_INDEFINITE_TAIL, data_end):
        return None
    oid = ber.decode_oid(buf[start:pos])
    return NamePlusRecord(External(buf[data_start:data_end], oid, "octet-aligned"), None, name), end


def _read_entry(buf: bytes, pos: int, limit: int) -> tuple[NamePlusRecord, int]:
    """A NamePlusRecord of the usual shape at ``pos`` and its end; ``_Unusual`` otherwise."""
    try:
        if buf[pos] == 0x30 and buf[pos + 1] == 0x80:
            found = _read_indefinite_entry(buf, pos + 2, limit)
            if found is not None:
                return found
        seq_end, pos, seq_limit = _enter(buf, pos, 0x30, limit)
        name = None
        if buf[pos] == 0x80:
            name_end, start = _open(buf, pos + 1, seq_limit)
            if name_end < 0:
                raise _Unusual
            name = buf[start:name_end].decode("utf-8", "replace")
            pos = name_end
        choice_end, pos, choice_limit = _enter(buf, pos, 0xA1, seq_limit)  # record [1]
        record_end, pos, record_limit = _enter(buf, pos, 0xA1, choice_limit)  # retrieval [1]
        external_end, pos, external_limit = _enter(buf, pos, 0x28, record_limit)  # EXTERNAL
        if buf[pos] != 0x06:
            raise _Unusual
        oid_end, start = _open(buf, pos + 1, external_limit)
        if oid_end < 0:
            raise _Unusual
        oid = ber.decode_oid(buf[start:oid_end])
        if buf[oid_end] != 0x81:
            raise _Unusual
        data_end, start = _open(buf, oid_end + 1, external_limit)
        if data_end < 0:
            raise _Unusual
        data = buf[start:data_end]
        pos = _close(buf, data_end, external_end, record_limit)
        pos = _close(buf, pos, record_end, choice_limit)
        pos = _close(buf, pos, choice_end, seq_limit)
        pos = _close(buf, pos, seq_end, limit)
    except (IndexError, BERError):
        raise _Unusual from None
    return NamePlusRecord(External(data, oid, "octet-aligned"), None, name), pos


def _read_records(buf: bytes, pos: int, limit: int, max_depth: int) -> tuple[ResponseRecords, int]:
    """The responseRecords [28] whose header is at ``pos`` (depth 1), and its end."""
    _, length, pos = ber.read_header(buf, pos, limit)
    end = limit if length is None else pos + length
    if end > limit:
        raise BERError("value truncated", pos)
    entries: list[NamePlusRecord] = []
    while (pos < end) if length is not None else not ber.is_end_of_contents(buf, pos, end):
        try:
            entry, pos = _read_entry(buf, pos, end)
        except _Unusual:
            element, pos = ber.decode_one(buf, pos, max_depth=max_depth, depth=2, end=end)
            entry = NamePlusRecord.from_ber(element)
        entries.append(entry)
    return ResponseRecords(tuple(entries)), pos if length is not None else pos + 2


def _decode_response(data: bytes, max_depth: int) -> APDU:
    """A Search or Present response, its first [28] records read by ``_read_records``."""
    tag, length, content_start = ber.read_header(data, 0)
    pos = content_start
    end = len(data) if length is None else pos + length
    if end > len(data):
        raise BERError("value truncated", 0)
    children: list[Element] = []
    records: ResponseRecords | None = None
    while (pos < end) if length is not None else not ber.is_end_of_contents(data, pos, end):
        if data[pos] == _RECORD_LIST and records is None:
            records, pos = _read_records(data, pos, end, max_depth)
            continue
        child, pos = ber.decode_one(data, pos, max_depth=max_depth, depth=1, end=end)
        children.append(child)
    content_end = pos
    if length is None:
        pos += 2
    if pos != len(data):
        raise BERError(f"{len(data) - pos} bytes after the value", pos)
    element = Element(tag, data, 0, content_start, content_end, pos, tuple(children))
    if tag.number == SearchResponse.TAG:
        return SearchResponse.from_ber(element, records)
    return PresentResponse.from_ber(element, records)
