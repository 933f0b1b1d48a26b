"""Write the four demo libraries' catalog exports from ``books.yaml``.

    python demo/data/collections/make.py          # rewrites the files beside this script

Each library catalogs the way its kind of library does (see SOURCES.md):

    oblsci    RUSMARC, ISO2709, windows-1251, IRBIS exemplar fields 910 (status codes)
    citylib   RUSMARC, ISO2709, UTF-8, IRBIS exemplar fields 910
    childlib  RUSMARC, ISO2709, windows-1251, location fields 899 (no circulation status)
    unilib    MARC21, MARCXML, UTF-8, holdings 852 with item fields 876 ($j item status)

Copies, statuses, inventory numbers and barcodes are invented, but deterministically (seeded
by the edition and the library), so the output is the same on every run; a test rebuilds it
and compares. Standalone on purpose: the standard library and PyYAML only (pymarc lives in
the normalizers alone, and this writer must not depend on what it is meant to test).
"""

from __future__ import annotations

import random
import re
import sys
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import yaml

HERE = Path(__file__).resolve().parent
FT, RT, SF = b"\x1e", b"\x1d", b"\x1f"

#: IRBIS 910^a exemplar status codes (IRBIS documentation; shared/README.md) and how often
#: each is dealt out: mostly on the shelf, some on loan, a few elsewhere.
IRBIS_STATUSES = [("0", 60), ("1", 25), ("5", 4), ("8", 4), ("9", 4), ("4", 3)]
#: MARC21 876 $j item status, as a university ILS exports it.
ITEM_STATUSES = [
    ("Available", 55),
    ("Checked out", 30),
    ("In transit", 5),
    ("Library use only", 5),
    ("Missing", 5),
]
LOCATIONS = {
    "oblsci": [("АБ", "абонемент"), ("ЧЗ", "читальный зал"), ("КХ", "книгохранение")],
    "citylib": [("АБ", "абонемент"), ("Ф1", "филиал № 1"), ("Ф3", "филиал № 3")],
    "childlib": [("АБМ", "абонемент младших школьников"), ("АБС", "абонемент старших")],
    "unilib": [("MAIN", "Main stacks"), ("READ", "Reading room"), ("TECH", "Technical library")],
}
FOREIGN = {"eng", "fre", "ger"}
ENTERED = "20190415"
CHANGED = "20240311120000.0"


# --- names ------------------------------------------------------------------------------


def split_name(heading: str) -> dict[str, str]:
    """``"Tolstoy, Leo, graf, 1828-1910"`` -> surname, forenames, fuller form, titles, dates."""
    parts = [p.strip() for p in heading.split(",")]
    out = {"surname": parts[0], "forenames": "", "fuller": "", "titles": "", "dates": ""}
    rest = parts[1:]
    if rest and re.fullmatch(r"\d{4}-(\d{4})?", rest[-1]):
        out["dates"] = rest.pop()
    if rest:
        fore = rest.pop(0)
        m = re.fullmatch(r"(.*?)\s*\((.*)\)", fore)
        if m:
            fore, out["fuller"] = m.group(1), m.group(2)
        out["forenames"] = fore
    out["titles"] = ", ".join(rest)
    return out


def initials(forenames: str) -> str:
    """``"Лев Николаевич"`` -> ``"Л. Н."``; already initials stay as they are."""
    words = forenames.replace(".", ". ").split()
    return " ".join(w if w.endswith(".") else w[0] + "." for w in words)


def display(heading: str, *, full: bool = False) -> str:
    """The name as a title page prints it: ``"Л. Н. Толстой"``, ``"Leo Tolstoy"`` (full)."""
    n = split_name(heading)
    fore = n["forenames"] if full else initials(n["forenames"])
    return f"{fore} {n['surname']}".strip()


# --- ISO2709 ----------------------------------------------------------------------------


def iso2709(leader: str, fields: list[tuple[str, bytes]]) -> bytes:
    """One ISO2709 record: 24-byte leader, directory, data; lengths filled in."""
    directory, data = b"", b""
    for tag, value in fields:
        body = value + FT
        directory += f"{tag}{len(body):04d}{len(data):05d}".encode("ascii")
        data += body
    base = 24 + len(directory) + 1
    total = base + len(data) + 1
    head = f"{total:05d}{leader[5:12]}{base:05d}{leader[17:24]}".encode("ascii")
    return head + directory + FT + data + RT


def control(value: str, enc: str) -> bytes:
    return value.encode(enc)


def datafield(ind: str, subfields: list[tuple[str, str]], enc: str) -> bytes:
    body = ind.encode("ascii")
    for code, value in subfields:
        if value:
            body += SF + code.encode("ascii") + value.encode(enc)
    return body


# --- copies -----------------------------------------------------------------------------


def pick(rng: random.Random, table: list[tuple[str, int]]) -> str:
    return rng.choices([v for v, _ in table], weights=[w for _, w in table])[0]


def _date(rng: random.Random, year: int) -> str:
    return f"{year + rng.randint(0, 3)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"


def copies(book: dict[str, Any], lib: str) -> list[dict[str, str]]:
    """The copies ``lib`` holds of ``book``: location, inventory number, barcode, status."""
    rng = random.Random(f"{book['k']}:{lib}")
    school = "Школьная библиотека" in str(book.get("ser", ""))
    count = rng.randint(2, 4) if (lib == "childlib" and school) else rng.randint(1, 3)
    out = []
    for n in range(count):
        loc = LOCATIONS[lib][n % len(LOCATIONS[lib])] if n else rng.choice(LOCATIONS[lib])
        inventory = f"{rng.randint(100000, 999999)}"
        out.append(
            {
                "loc": loc[0],
                "loc_name": loc[1],
                "inventory": inventory,
                "barcode": f"{rng.randint(10**12, 10**13 - 1)}",
                "irbis": pick(rng, IRBIS_STATUSES),
                "item": pick(rng, ITEM_STATUSES),
                "received": _date(rng, max(int(book["y"]), 1995)),
            }
        )
    return out


def shelf_mark(book: dict[str, Any]) -> str:
    """Classification and the author's initial letter, as a call number (invented)."""
    cls = book.get("bbk") or book.get("udc") or ""
    return f"{cls} {split_name(book['a'])['surname'][:1]}".strip()


# --- RUSMARC ----------------------------------------------------------------------------


def _part(book: dict[str, Any]) -> tuple[str, str]:
    volume = str(book.get("v", ""))
    if not volume:
        return "", ""
    m = re.match(r"^(.*?\d+)\.\s+(.*)$", volume)
    return (m.group(1), m.group(2)) if m else (volume, "")


def rusmarc(book: dict[str, Any], lib: dict[str, Any], number: int) -> bytes:
    """One RUSMARC record as IRBIS64 exports it to ISO2709."""
    enc = "cp1251" if lib["charset"] == "cp1251" else "utf-8"
    charset = "0189" if enc == "cp1251" else "50  "
    lang = book.get("lang", "rus")
    script = "ba" if lang in FOREIGN else "ca"
    year = int(book["y"])
    f100 = f"{ENTERED}d{year:04d}    u  y0rusy{charset}    {script}"
    assert len(f100) == 36, f100
    number_, name = _part(book)
    responsibility = ", ".join(display(a) for a in [book["a"], *book.get("co", [])])
    f: list[tuple[str, bytes]] = [
        ("001", control(f"RU\\{lib['id'].upper()}\\bibl\\{number:07d}", enc)),
        ("005", control(CHANGED, enc)),
    ]
    if book.get("isbn"):
        f.append(("010", datafield("  ", [("a", book["isbn"])], enc)))
    f.append(("100", datafield("  ", [("a", f100)], enc)))
    if book.get("orig"):
        f.append(("101", datafield("1 ", [("a", lang), ("c", book["orig"])], enc)))
    else:
        f.append(("101", datafield("0 ", [("a", lang)], enc)))
    if lang not in FOREIGN:
        f.append(("102", datafield("  ", [("a", "RU")], enc)))
    f.append(("105", datafield("  ", [("a", "y   z   000yy")], enc)))
    f.append(
        (
            "200",
            datafield(
                "1 ",
                [
                    ("a", book["t"]),
                    ("e", str(book.get("i", ""))),
                    ("h", number_),
                    ("i", name),
                    ("f", responsibility),
                    ("g", str(book.get("r", ""))),
                ],
                enc,
            ),
        )
    )
    if book.get("ed"):
        f.append(("205", datafield("  ", [("a", book["ed"])], enc)))
    f.append(
        (
            "210",
            datafield("  ", [("a", book["pl"]), ("c", str(book["pub"])), ("d", str(year))], enc),
        )
    )
    if book.get("ser"):
        f.append(("225", datafield("1 ", [("a", book["ser"])], enc)))
    for heading in book.get("subj", []):
        head, *subs = [p.strip() for p in heading.split(" -- ")]
        f.append(("606", datafield("1 ", [("a", head), *(("x", s) for s in subs)], enc)))
    if book.get("udc"):
        f.append(("675", datafield("  ", [("a", book["udc"])], enc)))
    if book.get("bbk"):
        f.append(("686", datafield("  ", [("a", book["bbk"]), ("2", "rubbk")], enc)))
    for tag, heading in [("700", book["a"]), *(("701", c) for c in book.get("co", []))]:
        n = split_name(heading)
        f.append(
            (
                tag,
                datafield(
                    " 1",
                    [
                        ("a", n["surname"]),
                        ("b", initials(n["forenames"])),
                        ("g", n["fuller"] or n["forenames"]),
                        ("c", n["titles"]),
                        ("f", n["dates"]),
                        ("4", "070"),
                    ],
                    enc,
                ),
            )
        )
    f.append(
        (
            "801",
            datafield(" 0", [("a", "RU"), ("b", lib["code"]), ("c", ENTERED), ("g", "RCR")], enc),
        )
    )
    for copy in copies(book, lib["id"]):
        if lib["id"] == "childlib":
            f.append(
                (
                    "899",
                    datafield(
                        "  ",
                        [
                            ("a", lib["code"]),
                            ("b", copy["loc"]),
                            ("j", shelf_mark(book)),
                            ("p", copy["barcode"]),
                            ("x", copy["inventory"]),
                        ],
                        enc,
                    ),
                )
            )
        else:
            f.append(
                (
                    "910",
                    datafield(
                        "  ",
                        [
                            ("a", copy["irbis"]),
                            ("b", copy["inventory"]),
                            ("c", copy["received"]),
                            ("d", copy["loc"]),
                            ("h", copy["barcode"]),
                        ],
                        enc,
                    ),
                )
            )
    hierarchy = "2" if number_ else " "
    leader = f"00000nam{hierarchy} 2200000 i 450 "
    return iso2709(leader, sorted(f, key=lambda kv: kv[0]))


# --- MARC21 (MARCXML) -------------------------------------------------------------------

COUNTRY = {
    "Москва": "ru ",
    "Санкт-Петербург": "ru ",
    "Ленинград": "ru ",
    "London": "enk",
    "Oxford": "enk",
    "New York": "nyu",
    "Boston": "mau",
    "Waltham, MA": "mau",
}


def _country(place: str) -> str:
    if place in COUNTRY:
        return COUNTRY[place]
    if "Mass" in place:
        return "mau"
    if "N.J." in place or "NJ" in place:
        return "nju"
    if "CA" in place:
        return "cau"
    return "xx "


def _sub(code: str, value: str) -> str:
    return f'    <subfield code="{code}">{escape(value)}</subfield>\n'


def _df(tag: str, ind: str, subs: list[tuple[str, str]]) -> str:
    inner = "".join(_sub(c, v) for c, v in subs if v)
    attrs = f"tag={quoteattr(tag)} ind1={quoteattr(ind[0])} ind2={quoteattr(ind[1])}"
    return f"  <datafield {attrs}>\n{inner}  </datafield>\n"


def _name_subfields(heading: str) -> list[tuple[str, str]]:
    """MARC21 100/700 ``$a $q $c $d`` with their ISBD punctuation."""
    n = split_name(heading)
    subs = [("a", f"{n['surname']}, {n['forenames']}".rstrip(", "))]
    if n["fuller"]:
        subs.append(("q", f"({n['fuller']})"))
    if n["titles"]:
        subs.append(("c", n["titles"]))
    if n["dates"]:
        subs.append(("d", n["dates"]))
    for i in range(len(subs) - 1):
        subs[i] = (subs[i][0], subs[i][1] + ("" if subs[i + 1][0] == "q" else ","))
    last = subs[-1][1]
    if not last.endswith((".", "-")):
        subs[-1] = (subs[-1][0], last + ("." if subs[-1][0] != "d" else ""))
    return subs


def marc21(book: dict[str, Any], lib: dict[str, Any], number: int) -> str:
    """One MARC21 bibliographic record with embedded holdings, as MARCXML."""
    lang = book.get("lang", "rus")
    year = int(book["y"])
    fiction = (
        "1"
        if any("литература" in s or "Fiction" in s or "поэзия" in s for s in book.get("subj", []))
        else "0"
    )
    f008 = f"{ENTERED[2:]}s{year:04d}    {_country(book['pl'])}           000 {fiction} {lang} d"
    assert len(f008) == 40, (f008, len(f008))
    number_, name = _part(book)
    names = ", ".join(display(a, full=lang in FOREIGN) for a in [book["a"], *book.get("co", [])])
    resp = names + (f" ; {book['r']}" if book.get("r") else "")
    out = [
        '<record xmlns="http://www.loc.gov/MARC21/slim">\n',
        "  <leader>00000nam a2200000 i 4500</leader>\n",
    ]
    out.append(f'  <controlfield tag="001">unilib{number:06d}</controlfield>\n')
    out.append(f'  <controlfield tag="005">{CHANGED}</controlfield>\n')
    out.append(f'  <controlfield tag="008">{escape(f008)}</controlfield>\n')
    if book.get("isbn"):
        out.append(_df("020", "  ", [("a", book["isbn"].replace("-", ""))]))
    out.append(
        _df("040", "  ", [("a", "RU-NBU"), ("b", "rus" if lang == "rus" else "eng"), ("e", "rda")])
    )
    if book.get("orig"):
        out.append(_df("041", "1 ", [("a", lang), ("h", book["orig"])]))
    if book.get("lcc"):
        out.append(_df("050", " 4", [("a", book["lcc"])]))
    if book.get("udc"):
        out.append(_df("080", "  ", [("a", book["udc"])]))
    if book.get("bbk"):
        out.append(_df("084", "  ", [("a", book["bbk"]), ("2", "rubbk")]))
    out.append(_df("100", "1 ", _name_subfields(book["a"])))
    nonfiling = "4" if book["t"].startswith("The ") else "0"
    title: list[tuple[str, str]] = [("a", book["t"])]
    if book.get("i"):
        title = [("a", book["t"] + " :"), ("b", str(book["i"]))]
    if number_:
        title[-1] = (title[-1][0], title[-1][1].rstrip(".") + ".")
        title.append(("n", number_ + ("," if name else "")))
        if name:
            title.append(("p", name))
    title[-1] = (title[-1][0], title[-1][1] + " /")
    title.append(("c", resp + "."))
    out.append(_df("245", f"1{nonfiling}", title))
    if book.get("ed"):
        out.append(_df("250", "  ", [("a", book["ed"])]))
    out.append(
        _df(
            "264",
            " 1",
            [("a", book["pl"] + " :"), ("b", str(book["pub"]) + ","), ("c", f"{year}.")],
        )
    )
    if book.get("ser"):
        out.append(_df("490", "0 ", [("a", book["ser"])]))
    for heading_ in book.get("subj", []):
        head, *subs = [p.strip() for p in heading_.split(" -- ")]
        ind2 = "0" if lang in FOREIGN else "4"
        out.append(_df("650", f" {ind2}", [("a", head), *(("x", s) for s in subs)]))
    for co in book.get("co", []):
        out.append(_df("700", "1 ", _name_subfields(co)))
    call = book.get("lcc") or shelf_mark(book)
    for copy in copies(book, lib["id"]):
        out.append(
            _df(
                "852",
                "  ",
                [("a", "RU-NBU"), ("b", copy["loc"]), ("h", call), ("p", copy["barcode"])],
            )
        )
        out.append(
            _df(
                "876", "  ", [("a", copy["inventory"]), ("j", copy["item"]), ("p", copy["barcode"])]
            )
        )
    out.append("</record>\n")
    return "".join(out)


# --- the whole set ----------------------------------------------------------------------


def build(books_file: Path = HERE / "books.yaml") -> dict[str, bytes]:
    """File name -> bytes of every library's export."""
    doc = yaml.safe_load(books_file.read_text("utf-8"))
    libraries: dict[str, dict[str, Any]] = doc["libraries"]
    out: dict[str, bytes] = {}
    for letter, lib in libraries.items():
        held = [b for b in doc["books"] if letter in b["in"]]
        if lib["flavour"] == "marc21":
            body = "".join(marc21(b, lib, n) for n, b in enumerate(held, 1))
            text = '<?xml version="1.0" encoding="UTF-8"?>\n<collection xmlns="http://www.loc.gov/MARC21/slim">\n'
            out[lib["file"]] = (text + body + "</collection>\n").encode("utf-8")
        else:
            out[lib["file"]] = b"".join(rusmarc(b, lib, n) for n, b in enumerate(held, 1))
    return out


def main() -> int:
    for name, data in build().items():
        (HERE / name).write_bytes(data)
        print(f"{name}: {len(data)} bytes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
