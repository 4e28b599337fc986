"""Helpers for tests that run ``./pbx up`` as a subprocess (as an operator would)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from pbx_kit.testing_faults import free_port


class Up:
    """``python -m pbx_cli up`` in a subprocess, its log lines collected as they come."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.port = free_port()
        self.lines: list[str] = []
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter
            [sys.executable, "-m", "pbx_cli", "up", "--port", str(self.port), *args],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for_line(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            assert self.process.poll() is None, f"pbx up exited:\n{self.output}"
            assert time.monotonic() < deadline, f"no {text!r} in:\n{self.output}"
            time.sleep(0.1)

    def healthz(self) -> int | None:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).status_code
        except httpx.TransportError:
            return None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._reader.join(5)


def base_env(tmp_path: Path) -> dict[str, str]:
    return {
        "PBX_DATA_DIR": str(tmp_path),
        "PBX_LOG_LEVEL": "INFO",
        # the wallet refuses to start on real servers without a provider
        "PBX_WALLET_PROVIDER": "sandbox",
        "PBX_WALLET_ALLOW_SANDBOX": "true",
    }
