"""``./pbx up --separate``: each service in a process of its own on the real servers, as
they run in a deployment, behind one entry URL.

Each service (and each replica ``--replicas wallet=2``) is ``python -m pbx_cli.serve
<service>`` on a port of its own; nginx (a real proxy, not one written here) is the entry
URL, routing ``/identity/``, ``/kyc/``, … to the service's replicas (round robin). The
services other than identity verify tokens with identity's keys through its JWKS
(``PBX_JWKS_URL``). Every process's log lines are printed with the process's name in
front; Ctrl-C (or SIGTERM) stops them all. Needs ``PBX_DATABASE_URL`` and an ``amqp://``
``PBX_AMQP_URL``, and nginx on the PATH (Debian: ``apt-get install nginx-light``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from pbx_cli.services import SERVICES
from pbx_kit.settings import ConfigurationError, Settings

#: how long the processes get to stop after SIGTERM before they are killed
STOP_SECONDS = 20.0


@dataclass(frozen=True)
class Process:
    name: str
    service: str | None
    port: int | None
    argv: list[str]


def find_nginx() -> str | None:
    """nginx on the PATH or where Debian puts it (not on a user's PATH)."""
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
    )


def parse_replicas(text: str) -> dict[str, int]:
    """``wallet=2,fulfillment=2`` → {service: count}; every service at least one."""
    counts = dict.fromkeys(SERVICES, 1)
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, count = part.partition("=")
        if name not in SERVICES or not count.isdigit() or not 1 <= int(count) <= 8:
            raise ConfigurationError(
                f"--replicas: {part!r} is not <service>=<1..8> with a service among "
                f"{', '.join(SERVICES)}"
            )
        counts[name] = int(count)
    return counts


def plan(replicas: Mapping[str, int], first_port: int) -> list[Process]:
    """The service processes, identity first (the others fetch its keys)."""
    processes: list[Process] = []
    port = first_port
    for service in SERVICES:
        for index in range(1, replicas[service] + 1):
            name = service if replicas[service] == 1 else f"{service}-{index}"
            argv = [
                sys.executable,
                "-m",
                "pbx_cli.serve",
                service,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ]
            processes.append(Process(name, service, port, argv))
            port += 1
    return processes


def nginx_conf(processes: list[Process], host: str, port: int, work: Path) -> str:
    """The entry proxy: one upstream per service with its replicas, the path passed as is
    (each service also answers under its prefix)."""
    upstreams = []
    locations = []
    for service in SERVICES:
        servers = "".join(
            f"    server 127.0.0.1:{p.port} max_fails=1 fail_timeout=2s;\n"
            for p in processes
            if p.service == service
        )
        upstreams.append(f"  upstream {service} {{\n{servers}  }}\n")
        locations.append(
            f"    location /{service}/ {{\n"
            f"      proxy_pass http://{service};\n"
            "      proxy_next_upstream error timeout http_502 http_503;\n"
            "    }\n"
        )
    temp = "".join(
        f"  {kind}_temp_path {work / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        "daemon off;\n"
        "worker_processes 1;\n"
        f"pid {work / 'nginx.pid'};\n"
        "error_log stderr warn;\n"
        "events { worker_connections 1024; }\n"
        "http {\n"
        "  access_log off;\n"
        f"{temp}"
        "  client_max_body_size 20m;\n"
        "  proxy_http_version 1.1;\n"
        "  proxy_set_header Host $http_host;\n"
        "  proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
        "  proxy_set_header X-Forwarded-Proto $scheme;\n"
        f"{''.join(upstreams)}"
        "  server {\n"
        f"    listen {host}:{port};\n"
        f"{''.join(locations)}"
        "    location = /healthz { return 200 'ok'; }\n"
        "  }\n"
        "}\n"
    )


_PRINTING = threading.Lock()


def _pump(name: str, stream: object, width: int) -> None:
    """Print each line of a child's output with its name in front."""
    for raw in iter(stream.readline, b""):  # type: ignore[attr-defined]
        line = raw.decode("utf-8", "replace").rstrip("\n")
        with _PRINTING:
            print(f"{name:<{width}} | {line}", flush=True)


@contextlib.contextmanager
def started(
    processes: list[Process], env: dict[str, str], width: int
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start the processes with their output interleaved (names padded to ``width``); stop
    them all on exit."""
    children: list[subprocess.Popen[bytes]] = []
    try:
        for process in processes:
            child = subprocess.Popen(  # noqa: S603 - our own interpreter, or nginx
                process.argv,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches this process; it stops them
            )
            children.append(child)
            threading.Thread(
                target=_pump, args=(process.name, child.stdout, width), daemon=True
            ).start()
        yield children
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        for child in children:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(max(0.1, deadline - time.monotonic()))
            if child.poll() is None:
                child.kill()
                child.wait()


def wait_ready(
    processes: list[Process], children: list[subprocess.Popen[bytes]], seconds: float
) -> None:
    deadline = time.monotonic() + seconds
    for process, child in zip(processes, children[: len(processes)], strict=True):
        if process.port is None:
            continue
        while True:
            if child.poll() is not None:
                raise RuntimeError(f"{process.name} exited with {child.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                reply = httpx.get(f"http://127.0.0.1:{process.port}/readyz", timeout=2)
                if reply.status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{process.name} not ready after {seconds:g} s")
            time.sleep(0.3)


def _sim_login(settings: Settings) -> tuple[str, str]:
    """The stand-in warehouse's staff login, made once (its password under the data dir)."""
    from pbx_cli.warehouse_sim import sim_login
    from pbx_identity.main import make_application
    from pbx_kit.runtime import open_infrastructure

    infra = open_infrastructure(settings)
    try:
        app = make_application(infra)
        try:
            return sim_login(app, settings.data_dir)
        finally:
            app.close()
    finally:
        import asyncio

        asyncio.run(infra.close())


def main(
    settings: Settings, host: str, port: int, replicas: str = "", warehouse_sim: bool = False
) -> int:
    if not settings.database_url or not settings.uses_rabbitmq:
        raise ConfigurationError(
            "--separate runs each service in its own process: set PBX_DATABASE_URL and an "
            "amqp:// PBX_AMQP_URL (the embedded default and the in-process bus are one "
            "process's)"
        )
    nginx = find_nginx()
    if nginx is None:
        raise ConfigurationError(
            "--separate needs nginx for its entry URL (Debian: apt-get install nginx-light)"
        )
    counts = parse_replicas(replicas)
    processes = plan(counts, port + 1)
    work = (settings.data_dir / "separate").resolve()
    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (work / kind).mkdir(parents=True, exist_ok=True)
    conf = work / "nginx.conf"
    conf.write_text(nginx_conf(processes, host, port, work), encoding="utf-8")
    entry = f"http://{host}:{port}"
    identity = next(p for p in processes if p.service == "identity")
    env = {
        **os.environ,
        "PBX_DATA_DIR": str(settings.data_dir.resolve()),
        "PBX_JWKS_URL": f"http://127.0.0.1:{identity.port}/.well-known/jwks.json",
        "PBX_PUBLIC_URL": os.environ.get("PBX_PUBLIC_URL", entry),
    }
    edge = Process("edge", None, None, [nginx, "-c", str(conf), "-p", str(work)])
    later: list[Process] = []
    if warehouse_sim:
        login_id, password = _sim_login(settings)
        env["PBX_WAREHOUSE_PASSWORD"] = password
        sim = [sys.executable, "-m", "pbx_cli", "warehouse-sim", "--url", entry]
        later.append(Process("warehouse", None, None, [*sim, "--login-id", login_id]))
    stopping = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    width = max(len(p.name) for p in [*processes, edge, *later])
    with started([*processes, edge], env, width) as children:
        try:
            wait_ready(processes, children, 180)
        except RuntimeError as exc:
            print(f"pbx up --separate: {exc}", file=sys.stderr)
            return 1
        # the stand-in warehouse once the services answer (it logs in at identity)
        with started(later, env, width):
            print(
                f"pbx up --separate: {len(processes)} service processes behind {entry}",
                flush=True,
            )
            while not stopping.is_set():
                if any(child.poll() is not None for child in children):
                    print("pbx up --separate: a process exited; stopping all", file=sys.stderr)
                    return 1
                stopping.wait(0.5)
    return 0
