"""Real Zebra library servers on 127.0.0.1, built from Debian's sample MARC21 records.

For ``svod demo`` and the test fixtures. Each library is one ``zebrasrv`` process that answers
Z39.50 and SRU on the same port; its database name is the library's name.

    corpus_records()      the 69 MARC21 bibliographic records of idzebra-2.0-examples, UTF-8
    split_corpus()        deal them out to n libraries, overlapping (dedup needs duplicates)
    plan_split()          the Manifest of that split: who holds which record
    start_zebra()         index records and serve them as one library
    start_zebra_protected()  the same, but Init needs a user name and password
    launch_federation()   corpus -> split -> n running libraries + manifest.json
    start_federation()    the same, returning just the list of servers; stop_all() ends them

Zebra's silent failures are headed off here: ``encoding: UTF-8`` for query terms (the default
ISO-8859-1 finds nothing), ``modulePath`` probed (a wrong one indexes nothing), ICU index types
so every script case-folds, the danMARC2 record dropped, MARC-8 converted before indexing, and
``zebraidx``'s record count checked (it exits 0 after indexing nothing). The config files it
ships are in demo/data.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from demo.servers import ServerProcess, free_port, stop_all, wait_port

__all__ = [
    "DEFAULT_SEED",
    "MANIFEST_NAME",
    "Federation",
    "Manifest",
    "ManifestEntry",
    "MissingPackageError",
    "ZebraLibrary",
    "ZebraSetupError",
    "corpus_records",
    "launch_federation",
    "plan_split",
    "split_corpus",
    "start_federation",
    "start_zebra",
    "start_zebra_protected",
    "stop_all",
]

DEFAULT_SEED = 42
MANIFEST_NAME = "manifest.json"
HOST = "127.0.0.1"

EXAMPLES = Path("/usr/share/doc/idzebra-2.0/examples")
SAMPLE_MARC = EXAMPLES / "marc21" / "sample-marc.gz"
MARCXML_COLLECTIONS = (
    EXAMPLES / "marcxml" / "collection-opera-43.xml.gz",
    EXAMPLES / "marcxml" / "collection-2.xml.gz",
    EXAMPLES / "marcxml" / "collection-sandburg-1.xml",
)
YAZ_ETC = Path("/usr/share/yaz/etc")
DATA = Path(__file__).parent / "data"
# shipped config files copied into every library's directory (Zebra looks them up there)
CONFIG_FILES = (
    "svod-marc21.abs",
    "svod-icu.idx",
    "svod-words-icu.xml",
    "svod-phrases-icu.xml",
    "svod-cql.properties",
)

FT = b"\x1e"  # ISO 2709 field terminator
RT = b"\x1d"  # record terminator
SF = b"\x1f"  # subfield delimiter


class ZebraSetupError(RuntimeError):
    """A Zebra library could not be built or started; the message says why and where."""


class MissingPackageError(ZebraSetupError):
    """A Debian package the Zebra libraries need is not installed (``package`` names it)."""

    def __init__(self, package: str, what: str) -> None:
        super().__init__(f"{what} not found: install the Debian package '{package}'")
        self.package = package


# ---------------------------------------------------------------- system probes


def _program(name: str, package: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        raise MissingPackageError(package, f"program {name}")
    return exe


def _module_path() -> Path:
    # Debian puts the filters under the multiarch triplet; the example configs' plain
    # /usr/lib/idzebra-2.0/modules makes zebraidx index nothing and still exit 0.
    candidates = [
        *sorted(Path("/usr/lib").glob("*/idzebra-2.0/modules")),
        Path("/usr/lib/idzebra-2.0/modules"),
        Path("/usr/local/lib/idzebra-2.0/modules"),
    ]
    for path in candidates:
        if (path / "mod-grs-marc.so").is_file():
            return path
    raise MissingPackageError("libidzebra-2.0-mod-grs-marc", "Zebra filter module mod-grs-marc")


def _tab_path() -> Path:
    for path in (Path("/usr/share/idzebra-2.0/tab"), Path("/usr/local/share/idzebra-2.0/tab")):
        if (path / "bib1.att").is_file():
            return path
    raise MissingPackageError("idzebra-2.0-common", "Zebra tables (bib1.att)")


# ---------------------------------------------------------------- ISO 2709


def _split_iso2709(data: bytes) -> list[bytes]:
    records = []
    pos = 0
    while pos < len(data):
        # padding between or after records (sample-marc.gz ends in RT RT NUL)
        if data[pos : pos + 1] in b" \r\n\t\x00\x1a\x1d":
            pos += 1
            continue
        head = data[pos : pos + 5]
        if not head.isdigit():
            raise ZebraSetupError(f"bad ISO 2709 record length {head!r} at byte {pos}")
        end = pos + int(head)
        if end > len(data) or data[end - 1 : end] != RT:
            raise ZebraSetupError(f"ISO 2709 record at byte {pos} does not end where it says")
        records.append(data[pos:end])
        pos = end
    return records


def _fields(record: bytes) -> list[tuple[str, bytes]]:
    """``(tag, value without field terminator)`` in directory order."""
    base = int(record[12:17])
    directory = record[24 : base - 1]
    out = []
    for i in range(0, len(directory) - 11, 12):
        entry = directory[i : i + 12]
        length, start = int(entry[3:7]), int(entry[7:12])
        value = record[base + start : base + start + length]
        out.append((entry[:3].decode("ascii"), value.removesuffix(FT)))
    return out


def _build(leader: bytes, fields: Sequence[tuple[str, bytes]]) -> bytes:
    directory = bytearray()
    body = bytearray()
    for tag, value in fields:
        directory += b"%s%04d%05d" % (tag.encode("ascii"), len(value) + 1, len(body))
        body += value + FT
    directory += FT
    base = 24 + len(directory)
    new_leader = bytearray(leader[:24])
    new_leader[0:5] = b"%05d" % (base + len(body) + 1)
    new_leader[12:17] = b"%05d" % base
    return bytes(new_leader) + bytes(directory) + bytes(body) + RT


def _subfields(value: bytes, code: str) -> list[str]:
    want = code.encode("ascii")
    return [part[1:].decode("utf-8", "replace") for part in value.split(SF)[1:] if part[:1] == want]


def _first_subfield(fields: list[tuple[str, bytes]], tags: Sequence[str], code: str) -> str:
    for tag, value in fields:
        if tag in tags:
            found = _subfields(value, code)
            if found:
                return found[0]
    return ""


def _strip_isbd(text: str) -> str:
    """Drop the ISBD punctuation that ends a MARC subfield (``Title /`` -> ``Title``)."""
    return re.sub(r"[\s/:;,=.]+$", "", text.strip())


# ---------------------------------------------------------------- corpus


def _marcdump(args: Sequence[str], path: Path) -> bytes:
    exe = _program("yaz-marcdump", "yaz")
    done = subprocess.run([exe, *args, str(path)], capture_output=True, timeout=60, check=False)
    if done.returncode != 0:
        err = done.stderr.decode("utf-8", "replace").strip()
        raise ZebraSetupError(f"yaz-marcdump {' '.join(args)} {path} failed: {err}")
    return done.stdout


def _read_examples() -> list[bytes]:
    missing = [p for p in (SAMPLE_MARC, *MARCXML_COLLECTIONS) if not p.is_file()]
    if missing:
        raise MissingPackageError("idzebra-2.0-examples", f"Zebra example records ({missing[0]})")
    # sample-marc's last record is danMARC2 in ISO-8859-1 (leader/20-23 "45  "): converting
    # it as MARC-8 gives garbage, and it is not MARC21 anyway.
    records = [
        r for r in _split_iso2709(gzip.decompress(SAMPLE_MARC.read_bytes())) if r[20:24] == b"4500"
    ]
    with tempfile.TemporaryDirectory(prefix="svod-corpus-") as tmp:
        for source in MARCXML_COLLECTIONS:
            xml = source.read_bytes()
            if source.suffix == ".gz":
                xml = gzip.decompress(xml)
            path = Path(tmp) / "collection.xml"
            path.write_bytes(xml)
            # MARCXML is Unicode by definition: mark it so (leader/09 = 'a'), or the MARC-8
            # step below would reinterpret its UTF-8 bytes
            records += _split_iso2709(
                _marcdump(["-i", "marcxml", "-o", "marc", "-l", "9=97"], path)
            )
        path = Path(tmp) / "all.mrc"
        path.write_bytes(b"".join(records))
        # MARC-8 -> UTF-8; records that already say leader/09 = 'a' are left alone
        utf8 = _split_iso2709(
            _marcdump(["-f", "MARC-8", "-t", "UTF-8", "-l", "9=97", "-o", "marc"], path)
        )
    if len(utf8) != len(records):
        raise ZebraSetupError(f"MARC-8 conversion gave {len(utf8)} records for {len(records)}")
    return utf8


_corpus_cache: list[tuple[bytes, ...]] = []


def corpus_records() -> list[bytes]:
    """The MARC21 bibliographic records of Debian's idzebra-2.0-examples, as UTF-8 ISO 2709.

    sample-marc.gz without its danMARC2 record (23), then the MARCXML collections opera-43 (43),
    collection-2 (2) and sandburg-1 (1): 69 records, every leader/09 = 'a'. Raises
    :class:`MissingPackageError` when the examples or ``yaz-marcdump`` are missing.
    """
    if not _corpus_cache:
        _corpus_cache.append(tuple(_read_examples()))
    return list(_corpus_cache[0])


# ---------------------------------------------------------------- split + manifest


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    """One corpus record and the libraries that hold a copy of it.

    ``title`` is 245 $a and ``author`` the first 100/110/111 $a, both without their closing
    ISBD punctuation; ``isbns`` are the 020 $a numbers without qualifiers such as "(pbk.)".
    """

    seq: int
    original_001: str
    title: str
    author: str
    isbns: tuple[str, ...]
    libraries: tuple[str, ...]

    def local_001(self, library: str) -> str:
        """The 001 of ``library``'s copy: ``<library>-<original 001 without spaces>``."""
        return f"{library}-{self.original_001.replace(' ', '')}"


@dataclass(frozen=True, slots=True)
class Manifest:
    """Which library holds which corpus record, for one ``(n, seed)`` split.

    ``seq`` (1-based position in the record list) is the key: the corpus holds two identical
    records, so ``original_001`` is not unique. LoC titles are decomposed Unicode (NFD).

    >>> m = plan_split(corpus_records())  # doctest: +SKIP
    >>> e = m.entries[0]; (e.title, e.libraries, e.local_001("lib2"))  # doctest: +SKIP
    ('How to program a computer', ('lib1', 'lib2', 'lib3'), 'lib2-11224466')
    """

    seed: int
    libraries: tuple[str, ...]
    entries: tuple[ManifestEntry, ...]

    def held_by(self, library: str) -> list[ManifestEntry]:
        """The entries ``library`` holds a copy of, in corpus order."""
        return [e for e in self.entries if library in e.libraries]

    def with_copies(self, count: int) -> list[ManifestEntry]:
        """The entries held by exactly ``count`` libraries."""
        return [e for e in self.entries if len(e.libraries) == count]

    def to_json(self) -> str:
        """JSON text: ``{"seed", "libraries", "records": [{seq, original_001, ...}]}``."""
        records = [
            {
                "seq": e.seq,
                "original_001": e.original_001,
                "title": e.title,
                "author": e.author,
                "isbns": list(e.isbns),
                "libraries": list(e.libraries),
            }
            for e in self.entries
        ]
        doc = {"seed": self.seed, "libraries": list(self.libraries), "records": records}
        return json.dumps(doc, ensure_ascii=False, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Read what :meth:`to_json` wrote."""
        doc = json.loads(text)
        entries = tuple(
            ManifestEntry(
                seq=int(r["seq"]),
                original_001=str(r["original_001"]),
                title=str(r["title"]),
                author=str(r["author"]),
                isbns=tuple(str(i) for i in r["isbns"]),
                libraries=tuple(str(lib) for lib in r["libraries"]),
            )
            for r in doc["records"]
        )
        return cls(int(doc["seed"]), tuple(str(n) for n in doc["libraries"]), entries)


def _names(n: int, names: Sequence[str] | None) -> tuple[str, ...]:
    if n < 1:
        raise ValueError("a split needs at least one library")
    chosen = tuple(names) if names is not None else tuple(f"lib{i + 1}" for i in range(n))
    if len(chosen) != n or len(set(chosen)) != n:
        raise ValueError(f"need {n} distinct library names, got {chosen!r}")
    for name in chosen:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
            raise ValueError(f"library name {name!r}: use letters, digits and _")
    return chosen


def _assign(count: int, n: int, seed: int) -> list[int]:
    """A bit mask of holding libraries for each of ``count`` records.

    The records are shuffled by a seeded SHA-256 order (stable across Python versions, unlike
    ``random``), then dealt the 2**n - 1 non-empty subsets in turn, so with at least 2**n - 1
    records every combination of libraries occurs, and 1-, 2-, ... n-library records all exist.
    """
    masks = list(range(1, 2**n))
    order = sorted(range(count), key=lambda i: hashlib.sha256(f"{seed}:{i}".encode()).digest())
    assigned = [0] * count
    for turn, index in enumerate(order):
        assigned[index] = masks[turn % len(masks)]
    return assigned


def plan_split(
    records: Sequence[bytes],
    n: int = 3,
    seed: int = DEFAULT_SEED,
    names: Sequence[str] | None = None,
) -> Manifest:
    """The :class:`Manifest` of ``split_corpus(records, n, seed, names)``."""
    libs = _names(n, names)
    entries = []
    for seq, (record, mask) in enumerate(
        zip(records, _assign(len(records), n, seed), strict=True), 1
    ):
        fields = _fields(record)
        control = next((v for t, v in fields if t == "001"), b"").decode("utf-8", "replace")
        isbns = tuple(
            token.replace("-", "")
            for t, v in fields
            if t == "020"
            for a in _subfields(v, "a")
            for token in a.split()[:1]
        )
        entries.append(
            ManifestEntry(
                seq=seq,
                original_001=control.strip() or f"{seq:06d}",
                title=_strip_isbd(_first_subfield(fields, ("245",), "a")),
                author=_strip_isbd(_first_subfield(fields, ("100", "110", "111"), "a")),
                isbns=isbns,
                libraries=tuple(lib for i, lib in enumerate(libs) if mask >> i & 1),
            )
        )
    return Manifest(seed, libs, tuple(entries))


def _localize(record: bytes, entry: ManifestEntry, library: str) -> bytes:
    """The copy ``library`` holds: own 001/003 and an 852 holding; ISBN/title/author untouched."""
    fields = [(t, v) for t, v in _fields(record) if t not in ("001", "003")]
    call_number = _first_subfield(fields, ("050", "082", "090"), "a") or f"SVOD {entry.seq}"
    holding = b"  " + SF + b"a" + library.encode() + SF + b"h" + call_number.encode("utf-8")
    fields += [
        ("001", entry.local_001(library).encode("utf-8")),
        ("003", library.encode()),
        ("852", holding),
    ]
    fields.sort(key=lambda tv: tv[0])  # stable: repeated tags keep their order
    return _build(record[:24], fields)


def split_corpus(
    records: Sequence[bytes],
    n: int = 3,
    seed: int = DEFAULT_SEED,
    names: Sequence[str] | None = None,
    *,
    localize: bool = True,
) -> list[list[bytes]]:
    """Deal ``records`` out to ``n`` libraries (``lib1``.. unless ``names``), overlapping.

    Every record goes to a non-empty subset of the libraries, which depends only on its
    position, ``n`` and ``seed``; :func:`plan_split` says which. With ``localize`` each copy
    gets the library's own 001 (``lib2-<original 001>``), ``003 lib2`` and ``852 $a lib2 $h
    <call number>``, the way real catalogues differ; ISBN, title and author never change.
    """
    manifest = plan_split(records, n, seed, names)
    out: list[list[bytes]] = [[] for _ in manifest.libraries]
    for record, entry in zip(records, manifest.entries, strict=True):
        for i, library in enumerate(manifest.libraries):
            if library in entry.libraries:
                out[i].append(_localize(record, entry, library) if localize else record)
    return out


# ---------------------------------------------------------------- one library


@dataclass
class ZebraLibrary(ServerProcess):
    """A running zebrasrv: Z39.50 and SRU on ``port``, database ``database``."""

    database: str
    record_count: int
    workdir: Path

    @property
    def zurl(self) -> str:
        """ZOOM/yaz-client address, ``127.0.0.1:PORT/DB``."""
        return f"{HOST}:{self.port}/{self.database}"

    @property
    def sru_url(self) -> str:
        """SRU base URL, ``http://127.0.0.1:PORT/DB``."""
        return f"http://{HOST}:{self.port}/{self.database}"


def _zebra_cfg(workdir: Path, database: str) -> str:
    return f"""# generated by svod demo/zebra.py
profilePath: {workdir}:{_tab_path()}
modulePath: {_module_path()}
attset: bib1.att
attset: explain.att
recordType: grs.marcxml.svod-marc21
database: {database}
# ICU word and phrase index types: Unicode case and diacritic folding in every script
index: svod-icu.idx
# charset of query terms (Z39.50 and CQL); the default ISO-8859-1 silently finds nothing
encoding: UTF-8
register: {workdir / "reg"}:1G
lockDir: {workdir / "lock"}
keyTmpDir: {workdir / "tmp"}
setTmpDir: {workdir / "tmp"}
memMax: 64
"""


def _yazgfs_xml(workdir: Path, name: str, database: str, port: int) -> str:
    dc = YAZ_ETC / "MARC21slim2DC.xsl"
    # leader/09 = 'a' makes YAZ read the stored records as UTF-8 despite inputcharset
    to_marcxml = '<marc inputformat="marc" outputformat="marcxml" inputcharset="marc-8"/>'
    dc_retrieval = dc_schema = ""
    if dc.is_file():
        dc_retrieval = f"""
      <retrieval syntax="xml" name="dc" identifier="info:srw/schema/1/dc-v1.1">
        <backend syntax="usmarc" name="F">
          {to_marcxml}
          <xslt stylesheet="{escape(str(dc))}"/>
        </backend>
      </retrieval>"""
        dc_schema = """
        <schema identifier="info:srw/schema/1/dc-v1.1" name="dc">
          <title>Dublin Core</title></schema>"""
    e_name, e_db, e_dir = escape(name), escape(database), escape(str(workdir))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- generated by svod demo/zebra.py: zebrasrv -f yazgfs.xml -->
<yazgfs>
  <listen id="svod">tcp:{HOST}:{port}</listen>
  <server id="{e_name}" listenref="svod">
    <directory>{e_dir}</directory>
    <config>zebra.cfg</config>
    <cql2rpn>{e_dir}/svod-cql.properties</cql2rpn>
    <maximumrecordsize>10000000</maximumrecordsize>
    <retrievalinfo>
      <!-- Z39.50 usmarc (element set F, B or none): the stored ISO 2709, UTF-8 -->
      <retrieval syntax="usmarc" name="F"/>
      <retrieval syntax="usmarc" name="B"/>
      <retrieval syntax="usmarc"/>
      <!-- SRU recordSchema=marcxml (the default), Z39.50 xml -->
      <retrieval syntax="xml" name="marcxml" identifier="info:srw/schema/1/marcxml-v1.1">
        <backend syntax="usmarc" name="F">
          {to_marcxml}
        </backend>
      </retrieval>{dc_retrieval}
    </retrievalinfo>
    <explain xmlns="http://explain.z3950.org/dtd/2.0/">
      <serverInfo protocol="SRU" version="1.2">
        <host>{HOST}</host>
        <port>{port}</port>
        <database>{e_db}</database>
      </serverInfo>
      <databaseInfo>
        <title>Svod demo library {e_name}</title>
        <description lang="en">Zebra with Debian's sample MARC21 records; Z39.50 and SRU on
        one port</description>
      </databaseInfo>
      <indexInfo>
        <set name="cql" identifier="info:srw/cql-context-set/1/cql-v1.2"/>
        <set name="dc" identifier="info:srw/cql-context-set/1/dc-v1.1"/>
        <set name="bath" identifier="http://zing.z3950.org/cql/bath/2.0/"/>
        <set name="rec" identifier="info:srw/cql-context-set/2/rec-1.1"/>
        <index><title>any</title><map><name set="cql">serverChoice</name></map></index>
        <index><title>title</title><map><name set="dc">title</name></map></index>
        <index><title>author</title><map><name set="dc">creator</name></map></index>
        <index><title>subject</title><map><name set="dc">subject</name></map></index>
        <index><title>ISBN</title><map><name set="bath">isbn</name></map></index>
        <index><title>ISSN</title><map><name set="bath">issn</name></map></index>
        <index><title>publisher</title><map><name set="dc">publisher</name></map></index>
        <index><title>date</title><map><name set="dc">date</name></map></index>
        <index><title>holding library</title>
          <map><name set="bath">possessingInstitution</name></map></index>
        <index><title>local number</title><map><name set="rec">id</name></map></index>
      </indexInfo>
      <schemaInfo>
        <schema identifier="info:srw/schema/1/marcxml-v1.1" name="marcxml">
          <title>MARCXML</title></schema>{dc_schema}
      </schemaInfo>
      <configInfo>
        <default type="numberOfRecords">10</default>
        <setting type="maximumRecords">1000</setting>
      </configInfo>
    </explain>
  </server>
</yazgfs>
"""


def _index(workdir: Path, name: str, count: int) -> None:
    zebraidx = _program("zebraidx", "idzebra-2.0-utils")
    log = workdir / "zebraidx.log"
    log.unlink(missing_ok=True)
    for args in (["init"], ["update", "records.mrc"]):
        done = subprocess.run(
            [zebraidx, "-c", "zebra.cfg", "-l", str(log), *args],
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            raise ZebraSetupError(f"zebraidx {args[0]} failed for {name}, see {log}")
    # zebraidx exits 0 even when it indexed nothing (a wrong modulePath, an unknown filter)
    found = re.findall(r"Records:\s*(\d+)", log.read_text("utf-8", "replace"))
    if not found or int(found[-1]) != count:
        got = found[-1] if found else "no"
        raise ZebraSetupError(f"zebraidx indexed {got} of {count} records for {name}, see {log}")


def _owns_listener(pid: int, port: int) -> bool | None:
    """Whether process ``pid`` has the socket listening on 127.0.0.1:``port``; None if /proc
    cannot tell (not Linux)."""
    try:
        table = Path("/proc/net/tcp").read_text("ascii").splitlines()[1:]
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return None
    inodes = {
        cols[9]
        for cols in (line.split() for line in table)
        if cols[1] == f"0100007F:{port:04X}" and cols[3] == "0A"  # 0A = LISTEN
    }
    for fd in fds:
        try:
            target = fd.readlink().name
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            return True
    return False


def _launch(exe: str, workdir: Path, name: str, port: int) -> subprocess.Popen[bytes] | None:
    """Start zebrasrv; None if it could not listen (the port was taken meanwhile)."""
    proc = subprocess.Popen(
        [exe, "-f", str(workdir / "yazgfs.xml"), "-l", str(workdir / "zebrasrv.log")],
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # own process group: stop() signals its per-connection children
    )
    server = ServerProcess(name, port, proc, workdir / "zebrasrv.log")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return None  # "Failed to bind ... Address already in use" in zebrasrv.log
        # something accepting on the port is not enough: it may be whoever took it from us
        owned = _owns_listener(proc.pid, port)
        if owned or (owned is None and wait_port(port, 0.1) and proc.poll() is None):
            return proc
        time.sleep(0.02)
    server.stop()
    raise ZebraSetupError(f"zebrasrv for {name} did not listen on {port}, see {server.log}")


def _prepare(workdir: Path, name: str, records: Sequence[bytes]) -> Path:
    """Write the configuration and records into ``workdir`` and index them; the resolved dir."""
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    for sub in ("reg", "lock", "tmp"):
        shutil.rmtree(workdir / sub, ignore_errors=True)
        (workdir / sub).mkdir()
    for file in CONFIG_FILES:
        shutil.copyfile(DATA / file, workdir / file)
    (workdir / "records.mrc").write_bytes(b"".join(records))
    (workdir / "zebra.cfg").write_text(_zebra_cfg(workdir, name), "utf-8")
    _index(workdir, name, len(records))
    return workdir


def _serve(exe: str, workdir: Path, name: str, count: int, port: int | None) -> ZebraLibrary:
    """Start zebrasrv on ``port``; a free port can be taken between free_port() and the
    server's bind, so without a fixed port a few are tried."""
    for _attempt in range(5 if port is None else 1):
        chosen = port or free_port()
        (workdir / "yazgfs.xml").write_text(_yazgfs_xml(workdir, name, name, chosen), "utf-8")
        (workdir / "zebrasrv.log").unlink(missing_ok=True)
        proc = _launch(exe, workdir, name, chosen)
        if proc is not None:
            log = workdir / "zebrasrv.log"
            return ZebraLibrary(name, chosen, proc, log, name, count, workdir)
    raise ZebraSetupError(f"zebrasrv for {name} could not listen, see {workdir}/zebrasrv.log")


def start_zebra(
    workdir: Path, name: str, records: Sequence[bytes], port: int | None = None
) -> ZebraLibrary:
    """Index ``records`` (UTF-8 MARC21 ISO 2709) in ``workdir`` and serve them as ``name``.

    ``workdir`` gets zebra.cfg, yazgfs.xml, the shipped config files, records.mrc and the
    register (reg/, lock/, tmp/, rebuilt every time). The server listens on 127.0.0.1:``port``
    (a free port by default) for Z39.50 and SRU, database ``name``, in its own process group.
    """
    _names(1, [name])
    exe = _program("zebrasrv", "idzebra-2.0-utils")
    workdir = _prepare(workdir, name, records)
    return _serve(exe, workdir, name, len(records), port)


# ---------------------------------------------------------------- federation


@dataclass(frozen=True)
class Federation:
    """Running libraries made from one split of the corpus, and that split's manifest."""

    workdir: Path
    libraries: tuple[ZebraLibrary, ...]
    manifest: Manifest

    def __iter__(self) -> Iterator[ZebraLibrary]:
        return iter(self.libraries)

    def __len__(self) -> int:
        return len(self.libraries)

    def library(self, name: str) -> ZebraLibrary:
        """The library called ``name``."""
        for lib in self.libraries:
            if lib.name == name:
                return lib
        raise KeyError(name)

    def stop(self) -> None:
        """Stop every library (by PID, in parallel)."""
        stop_all(self.libraries)


def launch_federation(
    workdir: Path, n: int = 3, seed: int = DEFAULT_SEED, names: Sequence[str] | None = None
) -> Federation:
    """Split :func:`corpus_records` over ``n`` libraries and start them all.

    ``workdir/<name>/`` holds each library, ``workdir/manifest.json`` the
    :meth:`Manifest.to_json` of the split. If one library fails, the others are stopped and
    the error is raised.
    """
    records = corpus_records()
    manifest = plan_split(records, n, seed, names)
    shares = split_corpus(records, n, seed, names)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / MANIFEST_NAME).write_text(manifest.to_json(), "utf-8")
    with ThreadPoolExecutor(max_workers=n) as pool:
        futures: list[Future[ZebraLibrary]] = [
            pool.submit(start_zebra, workdir / name, name, share)
            for name, share in zip(manifest.libraries, shares, strict=True)
        ]
    started = [f.result() for f in futures if f.exception() is None]
    errors = [e for f in futures if (e := f.exception()) is not None]
    if errors:
        stop_all(started)
        raise errors[0]
    return Federation(workdir, tuple(started), manifest)


def start_federation(workdir: Path, n: int = 3, seed: int = DEFAULT_SEED) -> list[ZebraLibrary]:
    """Start ``n`` overlapping libraries ``lib1``..``libn`` under ``workdir``; see
    :func:`launch_federation`. Stop them with :func:`stop_all`."""
    return list(launch_federation(workdir, n, seed).libraries)


# ---------------------------------------------------------------- a library that needs a password


def start_zebra_protected(
    workdir: Path,
    name: str,
    records: Sequence[bytes],
    users: Mapping[str, str],
    port: int | None = None,
) -> ZebraLibrary:
    """Like :func:`start_zebra`, but Init is refused without a user name and password.

    ``users`` maps user names to passwords; they go to ``workdir/passwd`` (``user:password``
    lines, Zebra's plain-text format) named by ``passwd:`` in zebra.cfg. Zebra then refuses
    anonymous and wrong logins with bib-1 diagnostic 1011 and accepts both the ``open``
    (``user/password``) and the ``idPass`` forms. Character-set negotiation works as in
    every zebrasrv.
    """
    _names(1, [name])
    for user, password in users.items():
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", user) or ":" in password or "\n" in password:
            raise ValueError(f"user {user!r}: use letters, digits, '_.-'; no ':' in passwords")
    exe = _program("zebrasrv", "idzebra-2.0-utils")
    workdir = _prepare(workdir, name, records)
    passwd = workdir / "passwd"
    passwd.write_text("".join(f"{u}:{p}\n" for u, p in users.items()), "utf-8")
    passwd.chmod(0o600)
    with (workdir / "zebra.cfg").open("a", encoding="utf-8") as cfg:
        cfg.write(f"# Init needs a user and password from this file\npasswd: {passwd}\n")
    return _serve(exe, workdir, name, len(records), port)
