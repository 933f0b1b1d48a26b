"""The labeled deduplication set: real base records, cataloged again by simulated libraries.

Two steps, both deterministic:

    # 1. pick the base records (done once; base.mrc is committed)
    python tests/data/dedup/make_set.py select BooksAll.2016.part01.utf8 [sample-marc]
    # 2. write the libraries' files and the labels from base.mrc
    python tests/data/dedup/make_set.py generate [SEED OUTDIR]

``BooksAll.2016.part01.utf8`` is the Library of Congress MARC21 file shipped in the pymarc
5.4.0 sdist (``pip download --no-deps --no-binary :all: pymarc==5.4.0``); ``sample-marc`` is
Debian's idzebra-2.0 example (``/usr/share/doc/idzebra-2.0/examples/marc21/sample-marc.gz``,
gunzipped). Both are real catalog records.

Every label is known by construction. Each base record is one manifestation (an edition);
the files hold copies of it as four libraries would catalog it:

    lib-a.mrc          MARC21 ISO 2709, the base record as LC wrote it
    lib-b.xml          MARCXML, cataloged differently (subfield splits, ISBD punctuation,
                       ISBN-10 for ISBN-13 or none, initials for forenames, typos,
                       abbreviated publishers, bracketed dates, popular romanization)
    lib-c.mrc          MARC21 ISO 2709, other variations of the same kinds
    lib-d-rusmarc.iso  RUSMARC (UNIMARC fields) in UTF-8 and Cyrillic, for Russian books:
                       LC's romanization written back in Cyrillic

Some base records get a second edition (same work, another manifestation: later year,
"2nd ed.", more pages, another ISBN). Traps: real records that share a title but are
different works (found in the LC file), and a bad shared ISBN (a book given another
book's ISBN, as publishers sometimes reuse them).

``labels.tsv``: file, position (1-based record number in the file), manifestation, work,
what the record is.
"""

from __future__ import annotations

import random
import re
import sys
import unicodedata
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from stdnum import ean
from stdnum import isbn as stdisbn

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from dedup.normalize import parse_name, title_skeleton  # noqa: E402
from normalizers.iso2709 import split_stream  # noqa: E402
from normalizers.marc import DataField, MarcRecord, read_iso2709  # noqa: E402
from normalizers.writers import to_iso2709, to_marcxml  # noqa: E402

HERE = Path(__file__).resolve().parent
BASE = HERE / "base.mrc"
SEED = 20261122

# --- reading and small helpers -----------------------------------------------------------


def read_file(path: Path) -> list[MarcRecord]:
    """Every decodable record of an ISO 2709 file."""
    out = []
    for _, chunk in split_stream(path.read_bytes()):
        try:
            out.append(read_iso2709(chunk))
        except Exception:  # a broken record in a source file is skipped, not fatal
            continue
    return out


def sub(marc: MarcRecord, tag: str, code: str) -> str:
    for f in marc.get(tag):
        v = f.first(code)
        if v:
            return v
    return ""


def set_fields(marc: MarcRecord, fields: list[DataField]) -> MarcRecord:
    return marc.with_fields(sorted(fields, key=lambda f: f.tag))


def edit(marc: MarcRecord, tag: str, fn) -> MarcRecord:  # type: ignore[no-untyped-def]
    """Apply ``fn(subfields) -> subfields | None`` to each ``tag`` field (None drops it)."""
    out = []
    for f in marc.fields:
        if f.tag == tag:
            subs = fn(list(f.subfields))
            if subs is None:
                continue
            f = f._replace(subfields=tuple(subs))
        out.append(f)
    return marc.with_fields(out)


def isbn13s(marc: MarcRecord) -> list[str]:
    out = []
    for f in marc.get("020"):
        for v in f.values("a"):
            token = stdisbn.compact(v.split()[0]) if v.split() else ""
            if token and stdisbn.is_valid(token):
                out.append(stdisbn.to_isbn13(token))
    return out


def lang(marc: MarcRecord) -> str:
    return marc.control_value("008")[35:38]


def year_of(marc: MarcRecord) -> int | None:
    m = re.search(r"\d{4}", marc.control_value("008")[7:11])
    return int(m.group()) if m else None


# --- step 1: choosing the base -----------------------------------------------------------


def _usable(m: MarcRecord) -> bool:
    return bool(
        sub(m, "245", "a") and sub(m, "100", "a") and (sub(m, "260", "b") or sub(m, "264", "b"))
    )


def select(books_all: Path, sample: Path | None) -> None:
    """Pick base records by fixed rules and strides; write ``base.mrc``."""
    loc = read_file(books_all)
    english_isbn = [
        m for m in loc if _usable(m) and lang(m) == "eng" and isbn13s(m) and sub(m, "300", "a")
    ]
    english_old = [m for m in loc if _usable(m) and lang(m) == "eng" and not isbn13s(m)]
    russian = [m for m in loc if _usable(m) and lang(m) == "rus" and not m.get("880")]
    picked: list[MarcRecord] = []
    picked += english_isbn[:: max(1, len(english_isbn) // 110)][:110]
    picked += english_old[:: max(1, len(english_old) // 40)][:40]
    picked += russian[:: max(1, len(russian) // 45)][:45]
    # traps: different works with one title proper (different main authors)
    by_title: dict[str, list[MarcRecord]] = defaultdict(list)
    for m in loc:
        if _usable(m):
            key = title_skeleton(re.split(r" [:;/=]", sub(m, "245", "a"))[0])
            if len(key) >= 6:
                by_title[key].append(m)
    traps = 0
    for group in by_title.values():
        authors = {parse_name(sub(m, "100", "a"))[0]: m for m in group}
        if len(authors) >= 2 and traps < 12:
            picked += list(authors.values())[:2]
            traps += 1
    # traps: one author's different books of one year from one publisher (series volumes),
    # later given one shared ISBN
    series: dict[tuple[str, int | None, str], dict[str, MarcRecord]] = defaultdict(dict)
    for m in loc:
        if _usable(m) and year_of(m):
            key = (parse_name(sub(m, "100", "a"))[0], year_of(m), sub(m, "260", "b"))
            title = title_skeleton(re.split(r" [:;/=]", sub(m, "245", "a"))[0])
            series[key].setdefault(title, m)
    groups = [g for g in series.values() if len(g) >= 2]
    for g in groups[:: max(1, len(groups) // 10)][:10]:
        picked += list(g.values())[:2]
    if sample is not None:
        titles = set()
        for m in read_file(sample):
            key = (sub(m, "245", "a"), sub(m, "100", "a"))
            if key not in titles and sub(m, "245", "a"):  # Debian's sample holds one book twice
                titles.add(key)
                picked.append(m)
    out = b"".join(to_iso2709(m) for m in picked)
    BASE.write_bytes(out)
    print(f"{len(picked)} base records -> {BASE.relative_to(ROOT)}")


# --- step 2: variants ---------------------------------------------------------------------

#: ALA-LC romanization of Russian, back to Cyrillic (longest first)
_LC_TO_CYR = [
    ("shch", "щ"), ("t͡s", "ц"), ("i͡u", "ю"), ("i͡a", "я"), ("zh", "ж"), ("kh", "х"),
    ("ch", "ч"), ("sh", "ш"), ("ĭ", "й"), ("ė", "э"), ("ë", "ё"), ("ʺ", "ъ"), ("ʹ", "ь"),
    ("a", "а"), ("b", "б"), ("v", "в"), ("g", "г"), ("d", "д"), ("e", "е"), ("z", "з"),
    ("i", "и"), ("k", "к"), ("l", "л"), ("m", "м"), ("n", "н"), ("o", "о"), ("p", "п"),
    ("r", "р"), ("s", "с"), ("t", "т"), ("u", "у"), ("f", "ф"), ("y", "ы"),
]  # fmt: skip
#: ALA-LC -> the popular romanization an English-language library may use
_LC_TO_POPULAR = [
    ("i͡u", "yu"),
    ("i͡a", "ya"),
    ("t͡s", "ts"),
    ("ĭ", "y"),
    ("ė", "e"),
    ("ʹ", ""),
    ("ʺ", ""),
]


def to_cyrillic(text: str) -> str:
    """LC romanization back to Cyrillic, case kept."""
    text = unicodedata.normalize("NFC", text)
    out = []
    i = 0
    while i < len(text):
        for lat, cyr in _LC_TO_CYR:
            chunk = text[i : i + len(lat)]
            if chunk.lower() == lat:
                out.append(cyr.upper() if chunk[0].isupper() else cyr)
                i += len(lat)
                break
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def popular(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    for lat, pop in _LC_TO_POPULAR:
        text = text.replace(lat, pop).replace(lat.upper(), pop.capitalize())
        text = text.replace(lat.capitalize(), pop.capitalize())
    # "ii" endings (LC -iĭ, now "iy") read as "y" in popular spelling
    return re.sub(r"iy\b", "y", text)


def _typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 2)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def v_typo(m: MarcRecord, rng: random.Random) -> MarcRecord:
    def fn(subs):  # type: ignore[no-untyped-def]
        out = []
        for c, v in subs:
            if c == "a":
                words = v.split()
                long = [i for i, w in enumerate(words) if len(w) >= 7 and w.isalpha()]
                if long:
                    k = rng.choice(long)
                    words[k] = _typo(words[k], rng)
                    v = " ".join(words)
            out.append((c, v))
        return out

    return edit(m, "245", fn)


def v_split(m: MarcRecord, rng: random.Random) -> MarcRecord:
    """Title and subtitle in one $a, or a one-$a title split in two."""

    def fn(subs):  # type: ignore[no-untyped-def]
        codes = [c for c, _ in subs]
        if "b" in codes:
            a = next(v for c, v in subs if c == "a").rstrip(" :")
            b = next(v for c, v in subs if c == "b")
            rest = [(c, v) for c, v in subs if c not in "ab"]
            return [("a", f"{a} : {b}"), *rest]
        out = []
        for c, v in subs:
            if c == "a" and " : " in v:
                a, b = v.split(" : ", 1)
                out += [("a", a + " :"), ("b", b)]
            else:
                out.append((c, v))
        return out

    return edit(m, "245", fn)


def v_drop_subtitle(m: MarcRecord, rng: random.Random) -> MarcRecord:
    def fn(subs):  # type: ignore[no-untyped-def]
        out = [(c, v) for c, v in subs if c != "b"]
        return [
            (
                c,
                v.rstrip(" :") + (" /" if c == "a" and any(x == "c" for x, _ in out) else "")
                if c == "a"
                else v,
            )
            for c, v in out
        ]

    return edit(m, "245", fn)


def v_isbd(m: MarcRecord, rng: random.Random) -> MarcRecord:
    """No ISBD punctuation at subfield ends (as some systems export)."""

    def strip(subs):  # type: ignore[no-untyped-def]
        return [(c, re.sub(r"\s*[/:;,=.]\s*$", "", v)) for c, v in subs]

    for tag in ("245", "260", "264", "300", "100"):
        m = edit(m, tag, strip)
    return m


def v_no_isbn(m: MarcRecord, rng: random.Random) -> MarcRecord:
    return edit(m, "020", lambda subs: None)


def v_isbn10(m: MarcRecord, rng: random.Random) -> MarcRecord:
    def fn(subs):  # type: ignore[no-untyped-def]
        out = []
        for c, v in subs:
            token = stdisbn.compact(v.split()[0]) if c == "a" and v.split() else ""
            if token and stdisbn.is_valid(token):
                try:
                    v = stdisbn.format(stdisbn.to_isbn10(token))
                except Exception:  # 979 ISBNs have no ISBN-10
                    v = stdisbn.format(token)
            out.append((c, v))
        return out

    return edit(m, "020", fn)


def v_initials(m: MarcRecord, rng: random.Random) -> MarcRecord:
    def fn(subs):  # type: ignore[no-untyped-def]
        out = []
        for c, v in subs:
            if c == "a" and "," in v:
                surname, given = v.split(",", 1)
                initials = " ".join(w[0] + "." for w in given.split() if w[:1].isalpha())
                v = f"{surname}, {initials}" if initials else v
            out.append((c, v))
        return [(c, v) for c, v in out if c != "d"]

    return edit(m, "100", fn)


def v_publisher(m: MarcRecord, rng: random.Random) -> MarcRecord:
    repl = [
        (r"\bPublishing\b", "Pub."), (r"\bCompany\b", "Co."), (r"\bcompany\b", "co."),
        (r"\bIncorporated\b", "Inc."), (r",? Inc\.?", ""), (r"\bUniversity\b", "Univ."),
        (r"\bPublishers\b", "Pub."), (r"\bIzd-vo\b", "Izdatelʹstvo"),
    ]  # fmt: skip

    def fn(subs):  # type: ignore[no-untyped-def]
        out = []
        for c, v in subs:
            if c == "b":
                for a, b in repl:
                    v = re.sub(a, b, v)
            if c == "c":
                y = re.search(r"\d{4}", v)
                v = f"[{y.group()}]" if y and rng.random() < 0.5 else (f"c{y.group()}" if y else v)
            out.append((c, v))
        return out

    m = edit(m, "260", fn)
    return edit(m, "264", fn)


def v_popular(m: MarcRecord, rng: random.Random) -> MarcRecord:
    """Popular romanization of a Russian record's names and titles."""

    def fn(subs):  # type: ignore[no-untyped-def]
        return [(c, popular(v)) for c, v in subs]

    for tag in ("100", "245", "260", "264"):
        m = edit(m, tag, fn)
    return m


def v_local(m: MarcRecord, rng: random.Random) -> MarcRecord:
    """Local fields a library adds and removes (control number, cataloging source)."""
    fields = [f for f in m.fields if f.tag not in ("010", "035", "040", "042", "050", "082")]
    return m.with_fields(fields)


VARIANTS = {
    "typo": v_typo,
    "split": v_split,
    "no-subtitle": v_drop_subtitle,
    "isbd": v_isbd,
    "no-isbn": v_no_isbn,
    "isbn10": v_isbn10,
    "initials": v_initials,
    "publisher": v_publisher,
    "popular": v_popular,
    "local": v_local,
}


def catalog_again(m: MarcRecord, rng: random.Random, russian: bool) -> tuple[MarcRecord, str]:
    names = ["local"]
    pool = ["split", "isbd", "no-isbn", "isbn10", "initials", "publisher", "typo", "no-subtitle"]
    if russian:
        pool.append("popular")
    names += rng.sample(pool, rng.randint(1, 3))
    if "no-isbn" in names and "isbn10" in names:
        names.remove("isbn10")
    for name in names:
        m = VARIANTS[name](m, rng)
    return m, "+".join(names)


def _new_control(m: MarcRecord, value: str) -> MarcRecord:
    control = [(t, v) for t, v in m.control if t != "001"]
    return replace(m, control=(("001", value), *control), order="")


def second_edition(m: MarcRecord, rng: random.Random, russian: bool) -> MarcRecord:
    """A later edition of the same work: new year, edition statement, pages, ISBN."""
    year = (year_of(m) or 1990) + rng.randint(2, 9)
    label = "2-e izd." if russian else "2nd ed."

    def imprint(subs):  # type: ignore[no-untyped-def]
        return [(c, re.sub(r"\d{4}", str(year), v) if c == "c" else v) for c, v in subs]

    def pages(subs):  # type: ignore[no-untyped-def]
        return [
            (
                c,
                re.sub(r"(\d+) p", lambda x: f"{int(x.group(1)) + rng.randint(24, 80)} p", v)
                if c == "a"
                else v,
            )
            for c, v in subs
        ]

    def isbn(subs):  # type: ignore[no-untyped-def]
        out = []
        for c, v in subs:
            token = stdisbn.compact(v.split()[0]) if c == "a" and v.split() else ""
            if token and stdisbn.is_valid(token):
                t13 = stdisbn.to_isbn13(token)
                body = t13[:9] + f"{(int(t13[9:12]) + 7) % 1000:03d}"
                v = body + ean.calc_check_digit(body)
            out.append((c, v))
        return out

    m = edit(m, "260", imprint)
    m = edit(m, "264", imprint)
    m = edit(m, "300", pages)
    m = edit(m, "020", isbn)
    f008 = m.control_value("008")
    control = tuple(
        (t, f008[:7] + str(year) + f008[11:] if t == "008" else v) for t, v in m.control
    )
    m = replace(m, control=control)
    fields = [f for f in m.fields if f.tag != "250"]
    fields.append(DataField("250", " ", " ", (("a", label),)))
    return set_fields(m, fields)


def bad_isbn(m: MarcRecord, donor: MarcRecord) -> MarcRecord:
    """``m`` carrying ``donor``'s ISBN instead of its own."""
    fields = [f for f in m.fields if f.tag != "020"]
    fields += donor.get("020")[:1]
    return set_fields(m, fields)


def with_isbn(m: MarcRecord, isbn: str) -> MarcRecord:
    fields = [f for f in m.fields if f.tag != "020"]
    fields.append(DataField("020", " ", " ", (("a", isbn),)))
    return set_fields(m, fields)


def _series_pairs(base: list[MarcRecord]) -> dict[int, str]:
    """Base records by one author, of one year and publisher, with different titles: each
    pair gets one made-up (valid) ISBN, as a publisher reusing a number would give them."""
    by: dict[tuple[str, int | None, str], list[int]] = defaultdict(list)
    for i, m in enumerate(base):
        by[(parse_name(sub(m, "100", "a"))[0], year_of(m), sub(m, "260", "b"))].append(i)
    out: dict[int, str] = {}
    for n, group in enumerate(g for g in by.values() if len(g) >= 2):
        body = f"978099{n:06d}"
        for i in group[:2]:
            out[i] = body + ean.calc_check_digit(body)
    return out


def rusmarc(m: MarcRecord, rng: random.Random) -> MarcRecord:
    """A Russian library's RUSMARC record of the same book, in Cyrillic."""
    a = sub(m, "245", "a").rstrip(" :/;")
    b = sub(m, "245", "b").rstrip(" :/;")
    c = sub(m, "245", "c").rstrip(" .")
    surname, _, given = sub(m, "100", "a").partition(",")
    given = given.strip().rstrip(",.")
    initials = " ".join(w[0] + "." for w in given.split() if w[:1].isalpha())
    place = sub(m, "260", "a").rstrip(" :;[]") or sub(m, "264", "a").rstrip(" :;")
    publisher = (sub(m, "260", "b") or sub(m, "264", "b")).rstrip(" ,:;")
    imprint = re.search(r"\d{4}", sub(m, "260", "c") or sub(m, "264", "c"))
    year = int(imprint.group()) if imprint else (year_of(m) or 0)
    extent = sub(m, "300", "a").rstrip(" :;")
    pages = re.search(r"(\d+) p", extent)
    fields = [
        DataField("100", " ", " ", (("a", f"20261122d{year:04d}    u  y0rusy50      ca"),)),
        DataField("101", "0", " ", (("a", "rus"),)),
        DataField("200", "1", " ", tuple(
            x for x in (("a", to_cyrillic(a)), ("e", to_cyrillic(b)) if b else None,
                        ("f", to_cyrillic(c)) if c else None) if x
        )),
        DataField("210", " ", " ", (("a", to_cyrillic(place.strip("[]"))),
                                    ("c", to_cyrillic(publisher.strip('"'))), ("d", str(year)))),
        DataField("700", " ", "1", (("a", to_cyrillic(surname.strip())),
                                    ("b", to_cyrillic(initials)),
                                    *((("g", to_cyrillic(given)),) if given and rng.random() < 0.5
                                      else ()))),
        DataField("801", " ", "0", (("a", "RU"), ("b", "Svod test library"))),
    ]  # fmt: skip
    if pages:
        fields.append(DataField("215", " ", " ", (("a", f"{pages.group(1)} с."),)))
    edition = sub(m, "250", "a")
    if edition:
        fields.append(DataField("205", " ", " ", (("a", to_cyrillic(edition)),)))
    for isbn in isbn13s(m)[:1]:
        fields.append(DataField("010", " ", " ", (("a", stdisbn.format(isbn)),)))
    control = (("001", "RU\\SVOD\\" + m.control_value("001").strip()),)
    return MarcRecord(
        "00000nam0 2200000   450 ", control, tuple(sorted(fields)), "utf-8", "rusmarc"
    )


def generate(seed: int = SEED, out: Path = HERE) -> None:
    """Write the four libraries' files and ``labels.tsv`` from ``base.mrc`` into ``out``
    (another seed gives another set from the same base: a held-out check of the rules)."""
    rng = random.Random(seed)
    base = read_file(BASE)
    files: dict[str, list[tuple[MarcRecord, str, str, str]]] = defaultdict(list)
    isbn_books = [i for i, m in enumerate(base) if isbn13s(m)]
    bad_pairs = set(rng.sample(isbn_books, 12))
    shared = _series_pairs(base)
    for i, m in enumerate(base):
        russian = lang(m) == "rus"
        man, work = f"m{i + 1:03d}", f"w{i + 1:03d}"
        editions = [(m, man, "base")]
        if rng.random() < 0.22:
            editions.append((second_edition(m, rng, russian), f"{man}e2", "edition"))
        if i in bad_pairs:
            donor = base[isbn_books[(isbn_books.index(i) + 5) % len(isbn_books)]]
            m = bad_isbn(m, donor)
            editions[0] = (m, man, "trap:bad-isbn")
        elif i in shared:
            m = with_isbn(m, shared[i])
            editions[0] = (m, man, "trap:shared-isbn")
        for record, mlabel, kind in editions:
            holders = ["lib-a", "lib-b", "lib-c"]
            if russian:
                holders.append("lib-d")
            count = rng.randint(1, len(holders))
            chosen = rng.sample(holders, count)
            for lib in chosen:
                if lib == "lib-a":
                    files[lib].append((record, mlabel, work, kind))
                elif lib == "lib-d":
                    files[lib].append((rusmarc(record, rng), mlabel, work, kind + ";rusmarc"))
                else:
                    var, names = catalog_again(record, rng, russian)
                    files[lib].append((var, mlabel, work, f"{kind};{names}"))
    labels = ["file\tposition\tmanifestation\twork\tkind"]
    names = {
        "lib-a": "lib-a.mrc",
        "lib-b": "lib-b.xml",
        "lib-c": "lib-c.mrc",
        "lib-d": "lib-d-rusmarc.iso",
    }
    for lib, entries in sorted(files.items()):
        rng.shuffle(entries)
        name = names[lib]
        records = [e[0] for e in entries]
        if name.endswith(".xml"):
            (out / name).write_bytes(to_marcxml(records))
        else:
            (out / name).write_bytes(b"".join(to_iso2709(r) for r in records))
        for pos, (_, mlabel, work, kind) in enumerate(entries, 1):
            labels.append(f"{name}\t{pos}\t{mlabel}\t{work}\t{kind}")
    (out / "labels.tsv").write_text("\n".join(labels) + "\n", "utf-8")
    print(f"{len(labels) - 1} records in {len(files)} files -> {out}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["select"]:
        select(Path(sys.argv[2]), Path(sys.argv[3]) if len(sys.argv) > 3 else None)
    elif sys.argv[1:2] == ["generate"]:
        args = sys.argv[2:]
        generate(int(args[0]) if args else SEED, Path(args[1]) if len(args) > 1 else HERE)
    else:
        sys.exit(__doc__)
