"""What ``./pbx up`` makes sure of before anything starts: a data directory it can write
and no other ``./pbx up`` uses, and its port. Each refusal is a ``ConfigurationError``
(``pbx up: …``, exit 2) that says what is wrong and what to do."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

from pbx_kit.settings import ConfigurationError

#: under the data directory; held (flock) by the running ``./pbx up``, holding its pid
LOCK_FILE = "pbx-up.lock"


def check_writable(data_dir: Path) -> None:
    """Create the data directory if need be, and write (then remove) a file in it."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=data_dir):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigurationError(
            f"the data directory {data_dir} is not writable ({reason}); "
            "give a writable one with --data-dir or PBX_DATA_DIR"
        ) from None


@contextlib.contextmanager
def claimed(data_dir: Path) -> Iterator[None]:
    """Hold the data directory for this process alone (a second ``./pbx up`` on it is
    refused, naming the first one's pid); the lock goes with the process, even killed."""
    check_writable(data_dir)
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            by = f"another ./pbx up (pid {holder})" if holder.isdigit() else "another ./pbx up"
            raise ConfigurationError(
                f"the data directory {data_dir} is in use by {by}; "
                "stop that one first, or give this one another --data-dir"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


def bound(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (uvicorn listens on it), or a clear refusal."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise ConfigurationError(f"--host {host} is not an address here ({exc.strerror})") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigurationError(
                f"port {port} on {host} is already in use (another ./pbx up?); "
                "stop it, or give this one another --port"
            ) from None
        raise ConfigurationError(
            f"cannot listen on {host} port {port} ({exc.strerror or exc})"
        ) from None
    return sock
