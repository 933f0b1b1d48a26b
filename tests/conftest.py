"""Shared fixtures: real servers on 127.0.0.1, started per test session, stopped by PID."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo.servers import ServerProcess, start_ztest

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
