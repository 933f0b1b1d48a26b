"""Shared fixtures: real servers on 127.0.0.1, started per test session, stopped by PID."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo.servers import ServerProcess, start_ztest
from demo.zebra import Federation, MissingPackageError, launch_federation

needs_yaz = pytest.mark.skipif(
    shutil.which("yaz-ztest") is None, reason="yaz-ztest not installed (Debian package 'yaz')"
)


@pytest.fixture(scope="session")
def ztest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A yaz-ztest Z39.50 server; databases ``Default`` and ``db*``."""
    if shutil.which("yaz-ztest") is None:
        pytest.skip("yaz-ztest not installed (Debian package 'yaz')")
    server = start_ztest(Path(tmp_path_factory.mktemp("ztest")))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def zebra_libraries(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    """Three zebrasrv libraries ``lib1``..``lib3`` sharing Debian's sample records, overlapping.

    Iterate it for the libraries (``name``, ``port``, ``database``, ``record_count``, ``zurl``,
    ``sru_url``), ``.library("lib2")`` picks one, ``.manifest`` says which library holds which
    record. Z39.50 and SRU answer on the same port; the database name is the library name.
    Skips when zebrasrv, zebraidx, yaz-marcdump or idzebra-2.0-examples is missing.
    """
    try:
        federation = launch_federation(Path(tmp_path_factory.mktemp("zebra")))
    except MissingPackageError as exc:
        pytest.skip(str(exc))
    yield federation
    federation.stop()
