"""Start and stop real YAZ / Zebra servers on 127.0.0.1, for ``svod demo`` and the tests.

Each server runs in its own process group (``start_new_session``) and is stopped by PID.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ServerProcess",
    "SilentServer",
    "free_port",
    "refusing_port",
    "start_silent_server",
    "start_ztest",
    "stop_all",
    "wait_port",
]


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
        self.terminate()
        self.wait_stopped(5.0)

    def terminate(self) -> None:
        """Send SIGTERM to the server's process group and return at once."""
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)

    def wait_stopped(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the server to exit, then SIGKILL its group."""
        try:
            self.process.wait(timeout=max(timeout, 0.0))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)


def stop_all(servers: Iterable[ServerProcess], timeout: float = 5.0) -> None:
    """Stop several servers: signal them all first, then wait, so they stop in parallel.

    YAZ's frontend server can take a few seconds to notice SIGTERM; stopping one server after
    another would add those seconds up.
    """
    servers = list(servers)
    for server in servers:
        server.terminate()
    deadline = time.monotonic() + timeout
    for server in servers:
        server.wait_stopped(deadline - time.monotonic())


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


class SilentServer:
    """A TCP listener on 127.0.0.1 that accepts connections and never sends a byte.

    For timeout tests: a client connects at once, then waits forever for an answer. Whatever
    the client sends is read and dropped, so its writes never block. ``accepted`` counts the
    connections so far.

    >>> with start_silent_server() as silent:  # doctest: +SKIP
    ...     connect_and_wait(("127.0.0.1", silent.port))
    """

    def __init__(self, port: int = 0) -> None:
        self._listener = socket.create_server(("127.0.0.1", port))
        self._listener.setblocking(False)
        self.port = int(self._listener.getsockname()[1])
        self.accepted = 0
        # a socketpair wakes the selector loop up when stop() is called
        self._wake_r, self._wake_w = socket.socketpair()
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"silent-server-{self.port}", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self._listener, selectors.EVENT_READ, "listen")
        sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        conns: set[socket.socket] = set()
        try:
            while not self._stopping.is_set():
                for key, _ in sel.select():
                    if key.data == "wake":
                        return
                    if key.data == "listen":
                        with contextlib.suppress(BlockingIOError):
                            conn, _addr = self._listener.accept()
                            conn.setblocking(False)
                            conns.add(conn)
                            sel.register(conn, selectors.EVENT_READ, "conn")
                            self.accepted += 1
                        continue
                    peer = key.fileobj
                    assert isinstance(peer, socket.socket)
                    try:
                        data = peer.recv(65536)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""
                    if not data:
                        sel.unregister(peer)
                        conns.discard(peer)
                        peer.close()
        finally:
            for conn in conns:
                conn.close()
            sel.close()

    def stop(self) -> None:
        """Close every connection and the listener; returns when the thread has ended."""
        if not self._stopping.is_set():
            self._stopping.set()
            self._wake_w.send(b"x")
            self._thread.join(timeout=5)
            self._listener.close()
            self._wake_r.close()
            self._wake_w.close()

    def __enter__(self) -> SilentServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_silent_server(port: int | None = None) -> SilentServer:
    """Start a :class:`SilentServer` on ``port`` (a free one by default)."""
    return SilentServer(port or 0)


@contextlib.contextmanager
def refusing_port() -> Iterator[int]:
    """Yield a 127.0.0.1 port where connections are refused (RST) for as long as it is open.

    The port is bound but not listening, so the kernel refuses connections and nothing else
    can take the port meanwhile.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])
