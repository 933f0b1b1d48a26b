"""The Z39.50 association against real servers: Init options, authentication (a zebrasrv that
needs a password), character-set negotiation (zebrasrv converts terms and records), OPAC
holdings (yaz-ztest), piggy-backed records, and Close in both directions (through
``tests/faultproxy.py``, which sees every PDU)."""

from __future__ import annotations

import re
import shutil
import subprocess
import unicodedata
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from faultproxy import FaultProxy, pdu_tag

from connectors.z3950 import Z3950Connector
from core import HoldingStatus, TargetDiagnostic, TargetError, TargetState
from core.target import Auth, Target, Timeouts
from demo.servers import ServerProcess
from demo.zebra import (
    Federation,
    MissingPackageError,
    ZebraLibrary,
    corpus_records,
    start_zebra_protected,
)
from federator.engine import Engine
from federator.targets import load_targets_text
from normalizers import normalize
from protocols import ber
from protocols.z3950.apdu import InitRequest
from protocols.z3950.rpn import parse_pqf

pytestmark = pytest.mark.servers

FAST = Timeouts(connect=3.0, search=5.0, present=5.0)
USER, PASSWORD = "reader", "s3cret-Пароль"
COMPUTER = parse_pqf("@attr 1=4 computer")
needs_yaz_client = pytest.mark.skipif(
    shutil.which("yaz-client") is None, reason="yaz-client not installed"
)


def zebra_target(lib: ZebraLibrary, **changes: object) -> Target:
    fields: dict[str, object] = {
        "id": lib.name,
        "name": lib.name,
        "protocol": "z3950",
        "host": "127.0.0.1",
        "port": lib.port,
        "database": lib.database,
        "timeouts": FAST,
    }
    fields.update(changes)
    return Target(**fields)  # type: ignore[arg-type]


def yaz_client(zurl: str, *commands: str, before: tuple[str, ...] = ()) -> str:
    script = "\n".join([*before, f"open tcp:{zurl}", *commands, "quit"]) + "\n"
    return subprocess.run(
        ["yaz-client"], input=script, capture_output=True, text=True, timeout=20, check=True
    ).stdout


# --------------------------------------------------------------------------- Init options


async def test_init_reports_what_zebra_accepted(zebra_libraries: Federation) -> None:
    lib = zebra_libraries.library("lib1")
    connector = Z3950Connector(zebra_target(lib))
    summary = await connector.ping()
    init = connector.init
    assert init is not None
    assert init.version == 3
    # zebrasrv grants what we asked for, and nothing we did not ask for
    assert {"search", "present", "scan", "namedResultSets"} == init.options
    assert init.implementation_name in summary and "Zebra" in init.implementation_name
    assert init.charset == "" and "charset" not in summary
    # the record size is the smaller of ours and the server's (yazgfs.xml maximumrecordsize)
    configured = re.search(
        r"<maximumrecordsize>(\d+)<", (lib.workdir / "yazgfs.xml").read_text("utf-8")
    )
    assert configured
    wanted = connector.target.max_record_size
    assert init.max_record_size == min(int(configured.group(1)), wanted)


# --------------------------------------------------------------------------- authentication


@pytest.fixture(scope="module")
def protected(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ZebraLibrary]:
    """A zebrasrv whose Init needs user ``reader`` and its password."""
    try:
        records = corpus_records()
        lib = start_zebra_protected(
            tmp_path_factory.mktemp("protected"), "locked", records, {USER: PASSWORD}
        )
    except MissingPackageError as exc:
        pytest.skip(str(exc))
    yield lib
    lib.stop()


def with_auth(lib: ZebraLibrary, method: str = "idpass") -> Target:
    return zebra_target(
        lib, auth=Auth(user_env="SVOD_T_USER", password_env="SVOD_T_PASS", method=method)
    )


async def test_anonymous_init_is_refused_with_1011(protected: ZebraLibrary) -> None:
    with pytest.raises(TargetDiagnostic) as info:
        await Z3950Connector(zebra_target(protected)).search(COMPUTER, 1)
    assert info.value.diagnostic is not None
    assert (info.value.diagnostic.diagset, info.value.diagnostic.code) == ("bib-1", 1011)


@needs_yaz_client
@pytest.mark.parametrize("method", ["idpass", "open"])
async def test_credentials_from_the_environment(
    protected: ZebraLibrary, method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SVOD_T_USER", USER)
    monkeypatch.setenv("SVOD_T_PASS", PASSWORD)
    result = await Z3950Connector(with_auth(protected, method)).search(COMPUTER, 2)
    printed = yaz_client(
        protected.zurl, "find @attr 1=4 computer", before=(f"auth {USER} {PASSWORD}",)
    )
    found = re.search(r"Number of hits: (\d+)", printed)
    assert found and result.hits == int(found.group(1)) > 0
    assert len(result.records) == 2


async def test_a_wrong_password_is_refused_and_never_shown(
    protected: ZebraLibrary, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "not-the-password-42"
    monkeypatch.setenv("SVOD_T_USER", USER)
    monkeypatch.setenv("SVOD_T_PASS", wrong)
    target = with_auth(protected)
    outcome = await Engine([target]).search("dc.title=computer")
    (status,) = outcome.statuses
    assert status.state == TargetState.ERROR
    assert status.diagnostic is not None and status.diagnostic.code == 1011
    shown = " ".join([status.message, str(status.diagnostic), repr(target), caplog.text])
    assert wrong not in shown and PASSWORD not in shown
    # the Init APDU does not print the secret either
    request = InitRequest(id_authentication=f"{USER}/{wrong}")
    assert wrong not in repr(request)


async def test_a_missing_variable_is_named_before_connecting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SVOD_T_USER", raising=False)
    monkeypatch.setenv("SVOD_T_PASS", "x")
    # port 9 on 127.0.0.1 is never contacted: the error comes first
    target = Target(
        "t", "t", "z3950", host="127.0.0.1", port=9, auth=Auth("SVOD_T_USER", "SVOD_T_PASS")
    )
    with pytest.raises(TargetError, match="environment variable SVOD_T_USER"):
        await Z3950Connector(target).search(COMPUTER, 1)


def test_auth_keys_in_targets_yaml() -> None:
    (target,) = load_targets_text(
        "targets: [{id: k, protocol: z3950, host: h, auth: {user_env: KEMRSL_USER,"
        " password_env: KEMRSL_PASS, group_env: KEMRSL_GROUP}}]"
    )
    assert target.auth == Auth("KEMRSL_USER", "KEMRSL_PASS", "KEMRSL_GROUP", "idpass")


# --------------------------------------------------------------------------- charset negotiation


def latin1_title_word(federation: Federation, library: str) -> str:
    """A title word of ``library`` with letters beyond ASCII that ISO-8859-1 can hold."""
    for entry in federation.manifest.held_by(library):
        for word in unicodedata.normalize("NFC", entry.title).split():
            word = word.strip(",.;:")
            if not word.isascii() and word.isalpha():
                try:
                    word.encode("latin-1")
                except UnicodeEncodeError:
                    continue
                return word
    raise AssertionError(f"{library} has no Latin-1 title word")


async def test_utf8_negotiation_marks_the_records(zebra_libraries: Federation) -> None:
    lib = zebra_libraries.library("lib1")
    connector = Z3950Connector(zebra_target(lib, negotiate_charset="UTF-8"))
    result = await connector.search(COMPUTER, 3)
    assert connector.init is not None
    assert (connector.init.charset, connector.init.records_in_charset) == ("UTF-8", True)
    assert "negotiation" in connector.init.options
    assert {r.charset for r in result.records} == {"utf-8"}
    plain = await Z3950Connector(zebra_target(lib)).search(COMPUTER, 3)
    assert [r.data for r in result.records] == [r.data for r in plain.records]
    assert {r.charset for r in plain.records} == {""}


async def test_latin1_negotiation_converts_terms_and_records(zebra_libraries: Federation) -> None:
    lib = zebra_libraries.library("lib1")
    word = latin1_title_word(zebra_libraries, "lib1")
    query = parse_pqf(f"@attr 1=4 {word}")
    utf8 = await Z3950Connector(zebra_target(lib)).search(query, 5)
    latin1_target = zebra_target(lib, negotiate_charset="ISO-8859-1")
    latin1 = await Z3950Connector(latin1_target).search(query, 5)
    # the term went out in ISO-8859-1 and was understood: the same records match
    assert latin1.hits == utf8.hits >= 1
    assert {r.charset for r in latin1.records} == {"iso8859-1"}
    raw = latin1.records[0]
    assert word.encode("latin-1") in raw.data  # Zebra converted the record ...
    assert raw.data[9:10] == b"a"  # ... but leader/09 still says UTF-8 (lab README)
    wrong = normalize(replace(raw, charset=""))
    right = normalize(raw, charset=raw.charset)
    assert right.title == normalize(utf8.records[0]).title
    assert right.title != wrong.title
    # the engine decodes with the negotiated charset, not the record's leader
    outcome = await Engine([latin1_target]).search(f"dc.title={word}", limit=5)
    assert {normalize(utf8.records[0]).title} <= {h.display.title for h in outcome.hits}


@needs_yaz_client
async def test_a_target_may_pick_another_charset_for_messages_only(ztest: ServerProcess) -> None:
    target = Target("z", "z", "z3950", host="127.0.0.1", port=ztest.port, negotiate_charset="UTF-8")
    connector = Z3950Connector(target)
    result = await connector.search("@attr 1=4 3", 2)
    printed = yaz_client(f"127.0.0.1:{ztest.port}/Default", before=("charset UTF-8",))
    accepted = re.search(r"Accepted character set : (\S+)", printed)
    records = re.search(r"Accepted records in \.\.\.: (\d)", printed)
    assert accepted and records
    assert connector.init is not None
    assert connector.init.charset == accepted.group(1)
    assert connector.init.records_in_charset is (records.group(1) == "1") is False
    # records not converted: their own marks (leader/09) decide
    assert {r.charset for r in result.records} == {""}


# --------------------------------------------------------------------------- records


@needs_yaz_client
async def test_opac_holdings_reach_the_engine(ztest: ServerProcess) -> None:
    target = Target(
        "z", "z", "z3950", host="127.0.0.1", port=ztest.port, syntax="opac", timeouts=FAST
    )
    result = await Z3950Connector(target).search("@attr 1=4 3", 3)
    assert [r.syntax for r in result.records] == ["usmarc"] * 3
    printed = yaz_client(f"127.0.0.1:{ztest.port}/Default", "find 3", "format opac", "show 1")
    call_number = re.search(r"^callNumber: (.*)$", printed, re.MULTILINE)
    item = re.search(r"^ itemId: (.*)$", printed, re.MULTILINE)
    assert call_number and item
    (holding,) = result.records[0].holdings
    assert (holding.call_number, holding.barcode) == (call_number.group(1), item.group(1))
    assert holding.status == HoldingStatus.AVAILABLE
    outcome = await Engine([target]).search("dc.title=3", limit=1)
    (hit,) = outcome.hits
    assert any(h.call_number == call_number.group(1) for r in hit.records for h in r.holdings)


async def test_piggyback_brings_records_with_the_search(zebra_libraries: Federation) -> None:
    lib = zebra_libraries.library("lib1")
    async with FaultProxy(lib.port) as proxy:
        piggy = zebra_target(lib, port=proxy.port, batch_size=4)
        result = await Z3950Connector(piggy).search(COMPUTER, 4)
        plain = await Z3950Connector(replace(piggy, piggyback=False)).search(COMPUTER, 4)
    # 20 Init, 22 Search, 24 Present, 48 Close
    assert proxy.client_tags == [[20, 22, 48], [20, 22, 24, 48]]
    assert [r.data for r in result.records] == [r.data for r in plain.records]
    assert [r.position for r in result.records] == [1, 2, 3, 4]


@pytest.mark.parametrize("element_set", ["F", "B"])
async def test_element_set_names(zebra_libraries: Federation, element_set: str) -> None:
    lib = zebra_libraries.library("lib2")
    result = await Z3950Connector(zebra_target(lib, element_set=element_set)).search(COMPUTER, 2)
    assert len(result.records) == 2 and result.diagnostics == ()


async def test_unknown_element_set_is_a_surrogate_diagnostic(
    zebra_libraries: Federation,
) -> None:
    lib = zebra_libraries.library("lib2")
    target = zebra_target(lib, element_set="nosuch", piggyback=False)
    result = await Z3950Connector(target).search(COMPUTER, 2)
    # the search itself succeeded; the records came back as diagnostics, kept, not fatal
    assert result.hits > 0 and result.records == ()
    assert result.diagnostics and all(d.diagset == "bib-1" for d in result.diagnostics)


# --------------------------------------------------------------------------- Close


async def test_close_both_directions(zebra_libraries: Federation, tmp_path: Path) -> None:
    lib = zebra_libraries.library("lib1")
    async with FaultProxy(lib.port, record=tmp_path) as proxy:
        await Z3950Connector(zebra_target(lib, port=proxy.port)).search(COMPUTER, 1)
    # we said Close (48) last, and zebrasrv answered with its own Close
    assert proxy.client_tags == [[20, 22, 48]]
    stream, tags = (tmp_path / "server.bin").read_bytes(), []
    while stream:
        length = ber.frame(stream)
        assert length is not None
        tags.append(pdu_tag(stream[:length]))
        stream = stream[length:]
    assert tags == [21, 23, 48]
