"""Character-set negotiation (Z39.50 CharSetandLanguageNegotiation-3, OID 1.2.840.10003.15.3).

The origin proposes character sets in the ``otherInfo`` of its InitRequest; a target that
takes part answers with the one it selected in the ``otherInfo`` of its InitResponse, and
with ``recordsInSelectedCharSets`` says whether records are converted too. The
``negotiation`` Init option must be set for a target to look at the proposal.

Unicode forms travel as ISO 10646 encoding-level OIDs (``1.0.10646.1.0.8`` is UTF-8);
any other character set by name, in a private ``externallySpecified`` EXTERNAL
(YAZ's ``ID-Charset``, 1.2.840.10003.15.1000.81.1, whose octets are the name). Both are
what YAZ sends and understands. ISO 2022 proposals are kept as their raw encoding.

>>> proposal = charset_proposal(["UTF-8"])
>>> decode_negotiation(proposal.data).charsets
(Iso10646(encoding_level='1.0.10646.1.0.8', collections=None),)
>>> negotiation_result(TargetResponse(Iso10646(ISO10646_FORMS["UTF-8"]), records=True))
NegotiationResult(charset='UTF-8', language=None, records_in_charset=True)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from protocols import ber
from protocols.ber import GENERAL_STRING, Element, External, Tag
from protocols.z3950.apdu import APDUError, OtherInfoUnit, other_info_externals
from protocols.z3950.oids import CHARNEG3, ID_CHARSET

__all__ = [
    "CHARNEG3",
    "ID_CHARSET",
    "ISO10646_FORMS",
    "Charset",
    "Iso2022",
    "Iso10646",
    "Negotiation",
    "NegotiationResult",
    "NoCharset",
    "OriginProposal",
    "PrivateCharset",
    "TargetResponse",
    "charset_proposal",
    "decode_negotiation",
    "encode_negotiation",
    "find_response",
    "negotiation_result",
]

#: ISO 10646 transfer forms, ``1.0.10646.1.0.form``
ISO10646_FORMS: dict[str, str] = {
    "UCS-2": "1.0.10646.1.0.2",
    "UCS-4": "1.0.10646.1.0.4",
    "UTF-16": "1.0.10646.1.0.5",
    "UTF-8": "1.0.10646.1.0.8",
}
_FORM_NAMES = {oid: name for name, oid in ISO10646_FORMS.items()}


def _ctx(number: int, constructed: bool = False) -> Tag:
    return Tag.context(number, constructed)


# Iso10646 ::= SEQUENCE {
#     collections   [1] IMPLICIT OBJECT IDENTIFIER OPTIONAL,
#     encodingLevel [2] IMPLICIT OBJECT IDENTIFIER }
@dataclass(frozen=True, slots=True)
class Iso10646:
    """A Unicode form by OID (``ISO10646_FORMS``), optionally limited to some collections."""

    encoding_level: str
    collections: str | None = None

    @property
    def name(self) -> str:
        """``UTF-8``, ``UCS-2``, ... or the OID of a form we do not know."""
        return _FORM_NAMES.get(self.encoding_level, self.encoding_level)


# PrivateCharacterSet ::= CHOICE {
#     viaOid               [1] IMPLICIT SEQUENCE OF OBJECT IDENTIFIER,
#     externallySpecified  [2] IMPLICIT EXTERNAL,
#     previouslyAgreedUpon [3] IMPLICIT NULL }
@dataclass(frozen=True, slots=True)
class PrivateCharset:
    """A private character set: by ``oids``, by an ``external``, or previously agreed upon.

    ``PrivateCharset.named("WINDOWS-1251")`` is the form YAZ uses for sets without an OID.
    """

    oids: tuple[str, ...] = ()
    external: External | None = None
    previously_agreed: bool = False

    def __post_init__(self) -> None:
        if sum((bool(self.oids), self.external is not None, self.previously_agreed)) != 1:
            raise ValueError("PrivateCharset needs exactly one of oids, external, agreed")

    @classmethod
    def named(cls, name: str) -> PrivateCharset:
        """A character set by name, in YAZ's ``ID-Charset`` EXTERNAL."""
        return cls(external=External(name.encode("ascii"), ID_CHARSET, "octet-aligned"))

    @property
    def name(self) -> str | None:
        """The name of a set given in an ``ID-Charset`` EXTERNAL, else None."""
        ext = self.external
        if ext is None or ext.direct_reference != ID_CHARSET or ext.encoding != "octet-aligned":
            return None
        return ext.data.decode("ascii", "replace")


@dataclass(frozen=True, slots=True)
class Iso2022:
    """An ISO 2022 proposal or selection, kept as the BER of its ``Iso2022`` CHOICE."""

    raw: bytes


@dataclass(frozen=True, slots=True)
class NoCharset:
    """``none [4] IMPLICIT NULL`` in a response: no character-set negotiation in force."""


Charset = Iso10646 | PrivateCharset | Iso2022


# OriginProposal ::= SEQUENCE {
#     proposedCharSets          [1] IMPLICIT SEQUENCE OF CHOICE {
#                                   iso2022  [1] Iso2022,
#                                   iso10646 [2] IMPLICIT Iso10646,
#                                   private  [3] PrivateCharacterSet } OPTIONAL,
#     proposedlanguages         [2] IMPLICIT SEQUENCE OF LanguageCode OPTIONAL,
#     recordsInSelectedCharSets [3] IMPLICIT BOOLEAN OPTIONAL }
# LanguageCode ::= GeneralString
@dataclass(frozen=True, slots=True)
class OriginProposal:
    """What the origin proposes, most preferred first; ``records`` asks for records too."""

    charsets: tuple[Charset, ...] = ()
    languages: tuple[str, ...] = ()
    records: bool | None = None


# TargetResponse ::= SEQUENCE {
#     selectedCharSets          [1] CHOICE { iso2022 [1] Iso2022,
#                                   iso10646 [2] IMPLICIT Iso10646,
#                                   private [3] PrivateCharacterSet,
#                                   none [4] IMPLICIT NULL } OPTIONAL,
#     selectedLanguage          [2] IMPLICIT LanguageCode OPTIONAL,
#     recordsInSelectedCharSets [3] IMPLICIT BOOLEAN OPTIONAL }
@dataclass(frozen=True, slots=True)
class TargetResponse:
    """What the target selected; ``records`` True means records come in that set too."""

    charset: Charset | NoCharset | None = None
    language: str | None = None
    records: bool | None = None


# CharSetandLanguageNegotiation ::= CHOICE {
#     proposal [1] IMPLICIT OriginProposal,
#     response [2] IMPLICIT TargetResponse }
Negotiation = OriginProposal | TargetResponse


def _encode_charset(value: Charset | NoCharset) -> bytes:
    if isinstance(value, Iso10646):
        return ber.constructed(
            _ctx(2, True),
            None if value.collections is None else ber.oid(value.collections, _ctx(1)),
            ber.oid(value.encoding_level, _ctx(2)),
        )
    if isinstance(value, PrivateCharset):
        if value.oids:
            inner = ber.constructed(_ctx(1, True), *(ber.oid(o) for o in value.oids))
        elif value.external is not None:
            inner = ber.external(value.external, _ctx(2, True))
        else:
            inner = ber.null(_ctx(3))
        return ber.constructed(_ctx(3, True), inner)
    if isinstance(value, Iso2022):
        return ber.constructed(_ctx(1, True), value.raw)
    return ber.null(_ctx(4))


def _decode_charset(element: Element) -> Charset | NoCharset:
    tag = element.tag
    if tag == _ctx(2, True):
        collections = encoding = None
        for child in element.children:
            if child.tag == _ctx(1):
                collections = child.oid()
            elif child.tag == _ctx(2):
                encoding = child.oid()
        if encoding is None:
            raise APDUError("Iso10646 without an encodingLevel")
        return Iso10646(encoding, collections)
    if tag == _ctx(3, True):
        inner = element.only_child()
        if inner.tag == _ctx(1, True):
            return PrivateCharset(oids=tuple(c.oid() for c in inner.children))
        if inner.tag == _ctx(2, True):
            return PrivateCharset(external=inner.external())
        if inner.tag == _ctx(3):
            return PrivateCharset(previously_agreed=True)
        raise APDUError(f"PrivateCharacterSet: unexpected {inner.tag}")
    if tag == _ctx(1, True):
        return Iso2022(element.only_child().raw)
    if tag == _ctx(4):
        return NoCharset()
    raise APDUError(f"character set choice: unexpected {tag}")


def encode_negotiation(value: Negotiation) -> bytes:
    """BER of a CharSetandLanguageNegotiation (what the EXTERNAL's single-ASN1-type holds)."""
    records = None if value.records is None else ber.boolean(value.records, _ctx(3))
    if isinstance(value, OriginProposal):
        charsets = languages = None
        if value.charsets:
            charsets = ber.constructed(_ctx(1, True), *(_encode_charset(c) for c in value.charsets))
        if value.languages:
            languages = ber.constructed(
                _ctx(2, True), *(ber.string(lang, GENERAL_STRING) for lang in value.languages)
            )
        return ber.constructed(_ctx(1, True), charsets, languages, records)
    selected = None
    if value.charset is not None:
        selected = ber.constructed(_ctx(1, True), _encode_charset(value.charset))
    language = None if value.language is None else ber.string(value.language, _ctx(2))
    return ber.constructed(_ctx(2, True), selected, language, records)


def decode_negotiation(data: bytes) -> Negotiation:
    """Decode the BER of a CharSetandLanguageNegotiation (proposal or response)."""
    element = ber.decode(data)
    if element.tag not in (_ctx(1, True), _ctx(2, True)):
        raise APDUError(f"CharSetandLanguageNegotiation: unexpected {element.tag}")
    records: bool | None = None
    if element.tag == _ctx(1, True):
        charsets: tuple[Charset, ...] = ()
        languages: tuple[str, ...] = ()
        for child in element.children:
            if child.tag == _ctx(1, True):
                decoded = [_decode_charset(c) for c in child.children]
                charsets = tuple(c for c in decoded if not isinstance(c, NoCharset))
            elif child.tag == _ctx(2, True):
                languages = tuple(c.text() for c in child.children)
            elif child.tag == _ctx(3):
                records = child.boolean()
        return OriginProposal(charsets, languages, records)
    charset: Charset | NoCharset | None = None
    language: str | None = None
    for child in element.children:
        if child.tag == _ctx(1, True):
            charset = _decode_charset(child.only_child())
        elif child.tag == _ctx(2):
            language = child.text()
        elif child.tag == _ctx(3):
            records = child.boolean()
    return TargetResponse(charset, language, records)


def _charset_for(name: str) -> Charset:
    form = ISO10646_FORMS.get(name.upper())
    return Iso10646(form) if form else PrivateCharset.named(name)


def charset_proposal(
    charsets: Sequence[str], languages: Sequence[str] = (), *, records: bool = True
) -> External:
    """The EXTERNAL to put in an InitRequest's otherInfo to propose ``charsets`` (by name)."""
    proposal = OriginProposal(tuple(_charset_for(n) for n in charsets), tuple(languages), records)
    return External(encode_negotiation(proposal), CHARNEG3, "single-ASN1-type")


@dataclass(frozen=True, slots=True)
class NegotiationResult:
    """What a target agreed to: a character set name (``UTF-8``, ``ISO-8859-1``, ...).

    ``charset`` is None when the target selected ``none`` or something we cannot name;
    ``records_in_charset`` says whether records, not only messages and terms, use it.
    """

    charset: str | None
    language: str | None = None
    records_in_charset: bool = False


def negotiation_result(response: TargetResponse) -> NegotiationResult:
    """Name what a TargetResponse selected."""
    selected = response.charset
    name = selected.name if isinstance(selected, Iso10646 | PrivateCharset) else None
    return NegotiationResult(name, response.language, bool(response.records) and name is not None)


def find_response(units: Iterable[OtherInfoUnit]) -> TargetResponse | None:
    """The TargetResponse in an InitResponse's otherInfo, if the target sent one.

    A malformed one raises ``APDUError`` (a ``RemoteProtocolError``).
    """
    for external in other_info_externals(units, CHARNEG3):
        if external.encoding != "single-ASN1-type":
            raise APDUError("character-set negotiation must be a single-ASN1-type EXTERNAL")
        decoded = decode_negotiation(external.data)
        if isinstance(decoded, TargetResponse):
            return decoded
    return None
