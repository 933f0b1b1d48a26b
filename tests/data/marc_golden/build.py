"""Rebuild the golden ISO 2709 files of this folder from their line sources.

The bytes come from YAZ (``yaz-marcdump -i line -o marc``, with YAZ's own charset
conversion), never from Svod's writers, so that Svod's reader is tested against records
it did not make. ``camus-etranger.iso5426.line`` is written here byte by byte: YAZ reads
ISO 5426 but cannot write it. Run from anywhere: ``python tests/data/marc_golden/build.py``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

HERE = Path(__file__).parent

# (line source, ISO 2709 file, yaz-marcdump options)
RECORDS = [
    # correctly labelled: 100 $a/26-29 "0189" is cp1251
    ("tolstoy-voina-i-mir.line", "tolstoy-voina-i-mir.cp1251.mrc", ["-f", "utf-8", "-t", "cp1251"]),
    # the same record in UTF-8, still labelled "0189": a wrong declaration the bytes overrule
    ("tolstoy-voina-i-mir.line", "tolstoy-voina-i-mir.utf8.mrc", []),
    # KOI8-R labelled cp1251 ("0189"): letter statistics must tell
    (
        "knuth-iskusstvo-programmirovaniya.line",
        "knuth-iskusstvo-programmirovaniya.koi8r.mrc",
        ["-f", "utf-8", "-t", "koi8-r"],
    ),
    ("abelson-sicp.line", "abelson-sicp.utf8.mrc", []),
    ("kernighan-ritchie-c.line", "kernighan-ritchie-c.utf8.mrc", ["-l", "9=97"]),
    # MARC-8 (leader/09 blank), diacritics written before their letters
    ("hofstadter-geb.line", "hofstadter-geb.marc8.mrc", ["-f", "utf-8", "-t", "marc-8"]),
    ("camus-etranger.iso5426.line", "camus-etranger.iso5426.mrc", []),
]

# UNIMARC in ISO 5426 (100 $a/26-29 "0103"); the non-ASCII bytes are ISO 5426's:
# 0x88/0x89 non-sort begin/end, 0xC1 grave, 0xC2 acute, 0xD0 cedilla (before the letter)
# (the leader ends in a blank: UNIMARC's entry map is "450 ")
CAMUS = (
    b"00000nam0 2200000 i 450 \n"
    + b"""001 SVOD-golden-0004
005 20240115113000.0
100    $a 20240115d1972    k  y0frey0103    ba
101 0  $a fre
102    $a FR
200 1  $a \x88L'\x89\xc2etranger $f Albert Camus
210    $a Paris $c Gallimard $d 1972
215    $a 186 p. $d 18 cm
225 2  $a Folio $v 2
606    $a Roman fran\xd0cais $z 20e si\xc1ecle
700  1 $a Camus $b Albert $f 1913-1960 $4 070
801  0 $a FR $b SVOD $c 20240115
"""
)


def main() -> None:
    (HERE / "camus-etranger.iso5426.line").write_bytes(CAMUS)
    for source, target, options in RECORDS:
        done = subprocess.run(
            ["yaz-marcdump", "-i", "line", "-o", "marc", *options, str(HERE / source)],
            capture_output=True,
            check=True,
        )
        (HERE / target).write_bytes(done.stdout)
        print(f"{target}: {len(done.stdout)} bytes")


if __name__ == "__main__":
    main()
