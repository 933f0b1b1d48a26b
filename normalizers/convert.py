"""MARC21 <-> RUSMARC (UNIMARC) conversion of the core fields: title, names, imprint,
identifiers, subjects, classifications, notes, links, holdings.

Which field becomes which is data (``normalizers/data/convert.yaml``); this module holds the
conversions a subfield map cannot express: names (``Tolstoy, Leo`` <-> ``$a Tolstoy $b Leo``),
the title statement, ISBNs and their qualifiers, ISBD punctuation (in MARC21 data, not in
UNIMARC data), and the coded data (MARC21 leader/008 <-> UNIMARC leader/100).

>>> from normalizers.marc import DataField, MarcRecord
>>> src = MarcRecord(
...     "00000nam a2200000 a 4500",
...     (("008", "930101s1869    ru            000 1 rus d"),),
...     (DataField("100", "1", " ", (("a", "Tolstoy, Leo,"), ("d", "1828-1910."))),
...      DataField("245", "1", "0", (("a", "War and peace /"), ("c", "Leo Tolstoy.")))),
...     "utf-8")
>>> rus = convert(src, "rusmarc")
>>> for f in rus.get("200", "700"):
...     print(f.tag, f.subfields)
200 (('a', 'War and peace'), ('f', 'Leo Tolstoy'))
700 (('a', 'Tolstoy'), ('b', 'Leo'), ('f', '1828-1910'), ('4', '070'))
>>> for f in convert(rus, "marc21").get("100", "245"):
...     print(f.tag, f.subfields)
100 (('a', 'Tolstoy, Leo,'), ('d', '1828-1910.'), ('4', 'aut'))
245 (('a', 'War and peace /'), ('c', 'Leo Tolstoy.'))
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

import yaml

from core import RecordError
from normalizers.clean import trim
from normalizers.mapping import embedded_fields, relator_terms, relators
from normalizers.marc import DataField, MarcRecord

__all__ = ["TARGETS", "Step", "convert", "steps"]

TARGETS = ("marc21", "rusmarc", "unimarc")
_FAMILY = {"marc21": "marc21", "rusmarc": "unimarc", "unimarc": "unimarc"}
#: roles whose holder is an author: MARC21 700 of theirs becomes UNIMARC 701, others 702
_AUTHOR_ROLES = ("", "author", "creator", "co-author")


@dataclass(frozen=True, slots=True)
class Step:
    """One correspondence of ``data/convert.yaml``."""

    source: str
    target: str
    ind1: str = " "
    ind2: str = " "
    subfields: Mapping[str, str] | None = None
    via: str = ""


@cache
def _data() -> dict[str, Any]:
    text = resources.files("normalizers").joinpath("data", "convert.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


@cache
def steps(direction: str) -> tuple[Step, ...]:
    """The steps of ``marc21_to_rusmarc`` or ``rusmarc_to_marc21``."""
    out = []
    for entry in _data()[direction]:
        subs = entry.get("subfields")
        out.append(
            Step(
                source=str(entry["from"]),
                target=str(entry.get("to", "")),
                ind1=str(entry.get("ind1", " ")),
                ind2=str(entry.get("ind2", " ")),
                subfields={str(k): str(v) for k, v in subs.items()} if subs else None,
                via=str(entry.get("via", "")),
            )
        )
    return tuple(out)


def _step_for(tag: str, table: tuple[Step, ...]) -> Step | None:
    for step in table:
        pattern = step.source
        if pattern == tag or ("X" in pattern and tag.startswith(pattern.rstrip("X"))):
            return step
    return None


def _indicator(spec: str, f: DataField) -> str:
    if spec == "=1":
        return f.ind1
    if spec == "=2":
        return f.ind2
    return (spec or " ")[:1]


def _mapped(f: DataField, step: Step, clean: Callable[[str], str]) -> tuple[tuple[str, str], ...]:
    table = step.subfields or {}
    return tuple((table[c], text) for c, v in f.subfields if c in table and (text := clean(v)))


def _field(step: Step, f: DataField, subs: tuple[tuple[str, str], ...], tag: str = "") -> DataField:
    return DataField(tag or step.target, _indicator(step.ind1, f), _indicator(step.ind2, f), subs)


def _marks(text: str) -> str:
    return trim(text, period=False)


def _full(text: str) -> str:
    return trim(text)


# -- MARC21 -> RUSMARC --------------------------------------------------------------------------

_ISBN_QUALIFIER = re.compile(r"^\s*([0-9Xx-]+)\s*(?:\((.*?)\))?")


def _role(f: DataField) -> str:
    terms = relator_terms()
    term = _full(f.first("e") or "").lower()
    if term:
        return terms.get(term, term)
    code = f.first("4").strip().lower()
    return terms.get(code, code)


def _role_code(role: str, flavour: str) -> str:
    return relators().get(role, {}).get(flavour, "")


def _split_name(heading: str) -> tuple[str, str]:
    surname, _, rest = _full(heading).partition(",")
    return surname.strip(), _full(rest.strip())


def _to_uni(step: Step, f: DataField, rec: MarcRecord) -> list[DataField]:
    via = step.via
    if via == "isbn":
        out: list[tuple[str, str]] = []
        for code, value in f.subfields:
            match = _ISBN_QUALIFIER.match(value)
            if code == "a" and match:
                out.append(("a", match.group(1)))
                if match.group(2):
                    out.append(("b", match.group(2)))
            elif code == "q":
                out.append(("b", _full(value).strip("()")))
            elif code == "c":
                out.append(("d", _marks(value)))
            elif code == "z" and match:
                out.append(("z", match.group(1)))
        return [DataField("010", " ", " ", tuple(out))] if out else []
    if via == "lccn":
        number = f.first("a").strip()
        return [DataField("020", " ", " ", (("a", "US"), ("b", number)))] if number else []
    if via == "title":
        subs: list[tuple[str, str]] = []
        for code, value in f.subfields:
            target = {"a": "a", "b": "e", "n": "h", "p": "i", "c": "f"}.get(code)
            text = _full(value) if code != "a" else _full(value.rstrip(" =:;/"))
            if target and text:
                subs.append((target, text))
        ind1 = "1" if any(g.tag in ("100", "110", "111", "130") for g in rec.fields) else "0"
        return [DataField("200", ind1, " ", tuple(subs))]
    if via in ("person", "person_subject"):
        surname, forenames = _split_name(f.first("a"))
        subs = [("a", surname)] + ([("b", forenames)] if forenames else [])
        if f.first("c"):
            subs.append(("c", _full(f.first("c"))))
        if f.first("d"):
            subs.append(("f", _full(f.first("d"))))
        tag = step.target
        if via == "person_subject":
            subs += _subdivisions_to_uni(f)
            return [DataField("600", " ", "1" if f.ind1 == "1" else "0", tuple(subs))]
        role = _role(f)
        if tag == "701" and role not in _AUTHOR_ROLES:
            tag = "702"
        code = _role_code(role or ("author" if tag != "702" else ""), "unimarc")
        if code:
            subs.append(("4", code))
        return [DataField(tag, " ", "1" if f.ind1 != "0" else "0", tuple(subs))]
    if via in ("corporate", "meeting"):
        meeting = via == "meeting" or f.tag in ("111", "711")
        subs = [("a", _full(f.first("a")))]
        if not meeting:
            subs += [("b", _full(v)) for v in f.values("b") if _full(v)]
        else:
            subs += [("d", _full(v)) for v in f.values("n") if _full(v)]
            subs += [("f", _full(v)) for v in f.values("d") if _full(v)]
            subs += [("e", _full(v)) for v in f.values("c") if _full(v)]
        tag = step.target
        role = _role(f)
        if tag == "711" and role not in _AUTHOR_ROLES:
            tag = "712"
        code = _role_code(role, "unimarc")
        if code:
            subs.append(("4", code))
        return [DataField(tag, "1" if meeting else "0", "2", tuple(subs))]
    if via == "subject":
        subs = list(_mapped(f, step, _full)) + _subdivisions_to_uni(f)
        return [_field(step, f, tuple(subs))] if subs else []
    clean = _full if via == "series" else _marks
    subs = list(_mapped(f, step, clean))
    if via == "imprint":
        subs = [(c, v.strip("[]") if c == "d" else v) for c, v in subs]
    return [_field(step, f, tuple(subs))] if subs else []


def _subdivisions_to_uni(f: DataField) -> list[tuple[str, str]]:
    table: dict[str, str] = _data()["subject_subdivisions"]
    return [(table[c], t) for c, v in f.subfields if c in table and (t := _full(v))]


def _coded_100(rec: MarcRecord) -> str:
    """UNIMARC 100 $a (general processing data) from MARC21 008 and leader."""
    f008 = rec.control_value("008").ljust(40)
    entered = f008[0:6]
    if entered.isdigit():
        century = "19" if int(entered[:2]) > 50 else "20"
        entered = century + entered
    else:
        entered = date.today().strftime("%Y%m%d")
    kind = {"s": "d", "m": "f", "q": "f", "r": "e", "c": "a", "d": "b", "t": "d", "n": "g"}
    date_type = kind.get(f008[6], "d")
    date1, date2 = f008[7:11].replace("u", " "), f008[11:15].replace("u", " ")
    language = "rus" if f008[35:38] == "rus" else "eng"
    return f"{entered}{date_type}{date1}{date2}   y0{language}y50      ba"[:36].ljust(36)


def _to_rusmarc(rec: MarcRecord, flavour: str) -> MarcRecord:
    table = steps("marc21_to_rusmarc")
    fields: list[DataField] = [DataField("100", " ", " ", (("a", _coded_100(rec)),))]
    languages = [rec.control_value("008")[35:38]]
    languages = [lang for lang in languages if lang.isalpha() and lang.islower()]
    if languages and not rec.get("041"):
        fields.append(DataField("101", "0", " ", (("a", languages[0]),)))
    for f in rec.fields:
        step = _step_for(f.tag, table)
        if step is not None:
            fields.extend(_to_uni(step, f, rec))
    if languages and rec.get("041"):
        fields = [_with_first_language(g, languages[0]) for g in fields]
    fields.sort(key=lambda g: g.tag)
    control = tuple((t, v) for t, v in rec.control if t in ("001", "005"))
    old = rec.leader.ljust(24)
    level = " " if old[17] in " 14" else "3"  # full, or less than full (UNIMARC sublevel 3)
    leader = f"00000{old[5:8]}  2200000{level}i 450 "
    return MarcRecord(leader, control, tuple(fields), "utf-8", flavour)


def _with_first_language(f: DataField, first: str) -> DataField:
    if f.tag != "101" or any(c == "a" and v == first for c, v in f.subfields):
        return f
    return f._replace(subfields=(("a", first), *f.subfields))


# -- RUSMARC -> MARC21 --------------------------------------------------------------------------


def _end(text: str, mark: str) -> str:
    """``text`` ending in ISBD ``mark`` (``" :"``, ``" /"``, ``","``, ``"."``)."""
    text = text.rstrip()
    if mark == ".":
        return text if text.endswith((".", "?", "!", "-", ")", "]")) else text + "."
    if mark.strip() and text.endswith(mark.strip()):
        return text
    return text + mark


def _terminal(text: str) -> str:
    """The final period of a MARC21 heading or title, unless the last word is so short that
    the period would read as an abbreviation's (``Cobine, Al`` stays as it is)."""
    words = re.findall(r"\w+", text)
    if words and len(words[-1]) <= 2 and words[-1].isalpha():
        return text
    return _end(text, ".")


def _punctuated(subs: list[tuple[str, str]], marks: Mapping[str, str]) -> list[tuple[str, str]]:
    """Put the ISBD mark that precedes each subfield at the end of the one before it."""
    out: list[tuple[str, str]] = []
    for code, value in subs:
        if out and code in marks:
            prev_code, prev = out[-1]
            out[-1] = (prev_code, _end(prev, marks[code]))
        out.append((code, value))
    return out


def _to_marc(step: Step, f: DataField, rec: MarcRecord) -> list[DataField]:
    via = step.via
    if via == "isbn":
        subs: list[tuple[str, str]] = []
        for code, value in f.subfields:
            target = {"a": "a", "b": "q", "d": "c", "z": "z"}.get(code)
            if target and value.strip():
                subs.append((target, value.strip()))
        return [DataField("020", " ", " ", tuple(subs))] if subs else []
    if via == "lccn":
        country, number = f.first("a").strip().upper(), f.first("b").strip()
        if not number:
            return []
        if country == "US":
            return [DataField("010", " ", " ", (("a", number),))]
        source = (("2", country.lower()),) if country else ()
        return [DataField("015", " ", " ", (("a", number), *source))]
    if via == "title":
        subs = []
        for code, value in f.subfields:
            target = {"a": "a", "e": "b", "h": "n", "i": "p", "f": "c", "g": "c"}.get(code)
            if not target or not value.strip():
                continue
            if target == "c" and subs and subs[-1][0] == "c":
                subs[-1] = ("c", subs[-1][1] + " ; " + value.strip())
            elif target == "b" and subs and subs[-1][0] == "b":
                subs[-1] = ("b", subs[-1][1] + " : " + value.strip())
            elif target == "a" and subs and subs[-1][0] == "a":
                subs[-1] = ("a", subs[-1][1] + " ; " + value.strip())
            else:
                subs.append((target, value.strip()))
        subs = _punctuated(subs, {"b": " :", "c": " /", "n": ".", "p": ","})
        if subs:
            subs[-1] = (subs[-1][0], _terminal(subs[-1][1]))
        ind1 = "1" if any(g.tag in ("700", "710") for g in rec.fields) else "0"
        return [DataField("245", ind1, "0", tuple(subs))]
    if via in ("person", "person_subject"):
        heading = f.first("a").strip()
        forenames = f.first("b").strip()
        if forenames:
            heading = f"{heading}, {forenames}"
        subs = [("a", heading)]
        fuller = f.first("g").strip()
        if fuller:
            subs.append(("q", f"({fuller})"))
        if f.first("c"):
            subs.append(("c", f.first("c").strip()))
        if f.first("f"):
            subs.append(("d", f.first("f").strip()))
        ind1 = "1" if f.ind2 == "1" else "0"
        if via == "person_subject":
            subs += _subdivisions_to_marc(f)
            subs = _punctuated(subs, {"d": ",", "q": "", "c": ","})
            subs[-1] = (subs[-1][0], _terminal(subs[-1][1]))
            return [DataField("600", ind1, "4", tuple(subs))]
        code = f.first("4").strip()
        role = relator_terms().get(code, "")
        if role and role != "author":
            subs.append(("e", role))
        marc_code = _role_code(role, "marc21")
        subs = _punctuated(subs, {"d": ",", "c": ",", "e": ","})
        subs[-1] = (subs[-1][0], _terminal(subs[-1][1]))
        if marc_code:
            subs.append(("4", marc_code))
        return [DataField(step.target, ind1, " ", tuple(subs))]
    if via == "corporate":
        meeting = f.ind1 == "1"
        tag = step.target
        if meeting:
            tag = {"110": "111", "710": "711"}.get(tag, tag)
            subs = [("a", f.first("a").strip())]
            subs += [("n", v) for v in f.values("d")]
            subs += [("d", v) for v in f.values("f")]
            subs += [("c", v) for v in f.values("e")]
        else:
            subs = [("a", f.first("a").strip())] + [("b", v.strip()) for v in f.values("b")]
            subs = _punctuated(subs, {"b": "."})
        subs[-1] = (subs[-1][0], _end(subs[-1][1], "."))
        code = _role_code(relator_terms().get(f.first("4").strip(), ""), "marc21")
        if code:
            subs.append(("4", code))
        return [DataField(tag, "2", " ", tuple(subs))]
    if via == "subject":
        subs = list(_mapped(f, step, str.strip)) + _subdivisions_to_marc(f)
        if not subs:
            return []
        subs[-1] = (subs[-1][0], _end(subs[-1][1], "."))
        ind2 = "7" if f.first("2") else "4"
        extra = [("2", f.first("2").strip())] if f.first("2") else []
        field = _field(step, f, tuple(subs + extra))
        return [field._replace(ind2=ind2)]
    subs = list(_mapped(f, step, str.strip))
    if via == "imprint":
        subs = _punctuated(subs, {"b": " :", "c": ","})
    elif via == "extent":
        subs = _punctuated(subs, {"a": ",", "b": " :", "c": " ;", "e": " +"})
    elif via == "series":
        subs = _punctuated(subs, {"v": " ;"})
    return [_field(step, f, tuple(subs))] if subs else []


def _subdivisions_to_marc(f: DataField) -> list[tuple[str, str]]:
    table = {v: k for k, v in _data()["subject_subdivisions"].items()}
    return [(table[c], v.strip()) for c, v in f.subfields if c in table and v.strip()]


def _coded_008(rec: MarcRecord) -> str:
    """MARC21 008 (fixed-length data, books) from UNIMARC 100 $a."""
    f100 = next((f.first("a") for f in rec.get("100")), "").ljust(36)
    entered = f100[2:8] if f100[:8].isdigit() else date.today().strftime("%y%m%d")
    kind = {"d": "s", "e": "r", "f": "q", "g": "m", "a": "c", "b": "d", "h": "t", "i": "t"}
    date_type = kind.get(f100[8], "s")
    date1 = f100[9:13].replace(" ", "u") if f100[9:13].strip() else "uuuu"
    date2 = f100[13:17] if f100[13:17].strip() else "    "
    languages = [v for f in rec.get("101") for v in f.values("a")]
    language = (languages[0] if languages else "")[:3].ljust(3)
    place, material = "xx ", " " * 17  # positions 15-17 and 18-34: not coded
    return f"{entered}{date_type}{date1}{date2}{place}{material}{language} d"


def _flatten_set(rec: MarcRecord) -> MarcRecord:
    """A volume of a set (461 embedding the set's fields) as one record: MARC21 describes a
    volume as ``245 $a set title. $n volume. $p volume title`` under the set's author and
    imprint."""
    link = next((f for f in rec.get("461") if rec.leader[7:8] != "a"), None)
    inner = embedded_fields(link) if link is not None else []
    set_200 = next((g for g in inner if g.tag == "200"), None)
    if link is None or set_200 is None:
        return rec
    own = next(iter(rec.get("200")), None)
    volume = link.first("v") or (own.first("h") if own else "")
    subs: list[tuple[str, str]] = [("a", set_200.first("a"))]
    subs += [("h", volume)] if volume else []
    own_title = " ; ".join(v.strip() for v in own.values("a") if v.strip()) if own else ""
    if own_title and own_title.strip(" .") != volume.strip(" ."):
        subs.append(("i", own_title))
    if own is not None:
        subs += [(c, v) for c, v in own.subfields if c in "hi"]
        subs += [(c, v) for c, v in own.subfields if c in "efg"]
    if not any(c == "f" for c, _ in subs):
        subs += [(c, v) for c, v in set_200.subfields if c == "f"]
    fields = [f for f in rec.fields if f.tag not in ("200", "461")]
    fields.append(DataField("200", "1", " ", tuple(subs)))
    if not any(f.tag in ("700", "701", "710", "711") for f in fields):
        fields += [g for g in inner if g.tag in ("700", "701", "702", "710", "711", "712")]
    own_210 = next(iter(rec.get("210")), None)
    set_210 = next((g for g in inner if g.tag == "210"), None)
    if set_210 is not None and not (own_210 and (own_210.first("a") or own_210.first("c"))):
        merged = [(c, v) for c, v in set_210.subfields if c in "ac"]
        merged += [(c, v) for c, v in (own_210 or set_210).subfields if c == "d"]
        fields = [f for f in fields if f.tag != "210"] + [DataField("210", " ", " ", tuple(merged))]
    return rec.with_fields(sorted(fields, key=lambda g: g.tag))


def _name_title_subject(f: DataField) -> list[DataField]:
    """UNIMARC 604 (name/title subject, both embedded) as MARC21 600/610 with ``$t``."""
    inner = embedded_fields(f)
    name = next((g for g in inner if g.tag[:1] == "7"), None)
    title = next((g for g in inner if g.tag[:1] == "5"), None)
    if name is None:
        return []
    heading = name.first("a").strip()
    if name.tag in ("700", "701", "702") and name.first("b"):
        heading += ", " + name.first("b").strip()
    subs = [("a", heading)]
    if name.tag in ("700", "701", "702") and name.first("f"):
        subs.append(("d", name.first("f").strip()))
    if title is not None and title.first("a"):
        subs.append(("t", title.first("a").strip()))
    subs = _punctuated(subs, {"d": ",", "t": "."})
    subs[-1] = (subs[-1][0], _terminal(subs[-1][1]))
    tag = "600" if name.tag in ("700", "701", "702") else "610"
    return [DataField(tag, "1" if tag == "600" else "2", "4", tuple(subs))]


def _to_marc21(rec: MarcRecord) -> MarcRecord:
    table = steps("rusmarc_to_marc21")
    rec = _flatten_set(rec)
    fields: list[DataField] = []
    for f in rec.fields:
        if f.tag == "604":
            fields.extend(_name_title_subject(f))
            continue
        step = _step_for(f.tag, table)
        if step is not None:
            fields.extend(_to_marc(step, f, rec))
    if len([v for f in rec.get("101") for v in f.values("a")]) <= 1:
        fields = [f for f in fields if f.tag != "041"]
    if not any(f.tag in ("100", "110", "111") for f in fields):  # a uniform title heads it
        fields = [
            f._replace(tag="130", ind1="0", ind2=" ") if f.tag == "240" else f for f in fields
        ]
    fields.sort(key=lambda g: g.tag)
    control = [(t, v) for t, v in rec.control if t in ("001", "005")]
    control.append(("008", _coded_008(rec)))
    control.sort()
    old = rec.leader.ljust(24)
    leader = f"00000{old[5:8]} a2200000 i 4500"
    return MarcRecord(leader[:24], tuple(control), tuple(fields), "utf-8", "marc21")


def convert(rec: MarcRecord, to: str) -> MarcRecord:
    """``rec`` as a record of flavour ``to`` (``marc21``, ``rusmarc``, ``unimarc``).

    A record already in the target's family comes back as it is (RUSMARC and UNIMARC differ
    only in local practice: the flavour is relabelled).
    """
    target = to.strip().lower()
    if target == "usmarc":
        target = "marc21"
    if target not in TARGETS:
        raise RecordError(f"cannot convert to {to!r}: choose marc21, rusmarc or unimarc")
    if _FAMILY[rec.flavour] == _FAMILY[target]:
        return (
            rec
            if rec.flavour == target
            else MarcRecord(
                rec.leader,
                rec.control,
                rec.fields,
                rec.charset,
                target,
                rec.charset_suspect,
                rec.order,
            )
        )
    if target == "marc21":
        return _to_marc21(rec)
    return _to_rusmarc(rec, target)
