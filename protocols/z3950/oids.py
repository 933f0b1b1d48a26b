"""Z39.50 object identifiers, as data (Z39.50-2003 appendix 1, YAZ ``src/oid.csv``).

Record syntaxes have short names used in ``targets.yaml`` and in ``RawRecord.syntax``.

>>> syntax_oid("usmarc"), syntax_name("1.2.840.10003.5.1")
('1.2.840.10003.5.10', 'unimarc')
"""

from __future__ import annotations

from core.errors import LocalProtocolError

__all__ = [
    "BIB1_ATTRSET",
    "BIB1_DIAGSET",
    "CHARNEG3",
    "DIAG1_FORMAT",
    "ID_CHARSET",
    "RECORD_SYNTAXES",
    "USERINFO_1",
    "syntax_name",
    "syntax_oid",
]

Z3950 = "1.2.840.10003"

#: Bib-1 attribute set (``@attrset bib-1``)
BIB1_ATTRSET = f"{Z3950}.3.1"
#: Bib-1 diagnostic set: the ``diagnosticSetId`` of DefaultDiagFormat
BIB1_DIAGSET = f"{Z3950}.4.1"
#: diag-1, the DiagnosticFormat an Init response carries in its userInformationField
DIAG1_FORMAT = f"{Z3950}.4.2"
#: UserInfoFormat-userInfo-1 (OtherInformation in an EXTERNAL), Z39.50 implementor agreement 5
USERINFO_1 = f"{Z3950}.10.3"
#: NegotiationRecordDefinition charSetandLanguageNegotiation-3 (in Init's otherInfo)
CHARNEG3 = f"{Z3950}.15.3"
#: Index Data's private "character set by name" EXTERNAL (YAZ ``ID-Charset``; octets: the name)
ID_CHARSET = f"{Z3950}.15.1000.81.1"

#: name -> OID of every record syntax Svod asks for; the first name of an OID is its canonical one
RECORD_SYNTAXES: dict[str, str] = {
    "usmarc": f"{Z3950}.5.10",
    "marc21": f"{Z3950}.5.10",
    "unimarc": f"{Z3950}.5.1",
    "rusmarc": f"{Z3950}.5.28",
    "xml": f"{Z3950}.5.109.10",
    "opac": f"{Z3950}.5.102",
    "sutrs": f"{Z3950}.5.101",
}

_NAMES: dict[str, str] = {}
for _name, _oid in RECORD_SYNTAXES.items():
    _NAMES.setdefault(_oid, _name)


def syntax_oid(name: str) -> str:
    """OID for a syntax name (case-insensitive); a dotted OID is passed through."""
    found = RECORD_SYNTAXES.get(name.lower())
    if found is not None:
        return found
    if name and all(part.isdigit() for part in name.split(".")) and "." in name:
        return name
    known = ", ".join(RECORD_SYNTAXES)
    raise LocalProtocolError(f"unknown record syntax {name!r} (known: {known})")


def syntax_name(oid: str) -> str:
    """Short name of a record syntax OID; an OID we do not know stays dotted."""
    return _NAMES.get(oid, oid)
