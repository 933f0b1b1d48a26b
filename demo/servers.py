"""Start and stop real YAZ / Zebra servers on 127.0.0.1, for ``svod demo`` and the tests.

Each server runs in its own process group (``start_new_session``) and is stopped by PID.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ServerProcess", "free_port", "start_ztest", "wait_port"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 10.0) -> bool:
    """Wait until something accepts connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


@dataclass
class ServerProcess:
    """A running server: its port and the process (leader of its own group)."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        """SIGTERM the server's process group, SIGKILL it after 5 s."""
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)
        except ProcessLookupError:
            pass


def start_ztest(workdir: Path, port: int | None = None) -> ServerProcess:
    """Start YAZ's dummy Z39.50 server ``yaz-ztest`` (databases ``Default``, ``db*``)."""
    exe = shutil.which("yaz-ztest")
    if exe is None:
        raise FileNotFoundError("yaz-ztest not found (Debian package 'yaz')")
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / f"ztest-{port}.log"
    proc = subprocess.Popen(
        [exe, "-l", str(log), f"tcp:127.0.0.1:{port}"],
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    server = ServerProcess("ztest", port, proc, log)
    if not wait_port(port):
        server.stop()
        raise RuntimeError(f"yaz-ztest did not start on port {port}, see {log}")
    return server
