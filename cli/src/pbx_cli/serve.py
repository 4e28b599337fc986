"""``python -m pbx_cli.serve <service>``: one service alone in this process, a container's
entry point (the Dockerfile, docker-compose.yml, deploy/k8s/).

The service's own FastAPI app is served at the root path (``/healthz``, ``/readyz``,
``/docs``, …) behind a gateway that strips its ``/<service>`` prefix (deploy/nginx,
the Ingress); ``--root-path`` (default ``/<service>``) is that prefix, so the links the
service writes (documentation pages, product images) are the ones clients see, as under
``./pbx up``. It runs on real servers only: ``PBX_DATABASE_URL`` and an ``amqp://``
``PBX_AMQP_URL`` must be set, since a process of its own can share neither the embedded
PostgreSQL nor the in-process bus with the other services. It refuses (exit 2, saying
why) otherwise, and exits 1 when the servers do not answer within ``--wait``.
"""

from __future__ import annotations

import argparse
import os
import sys

from pbx_cli.services import SERVICES
from pbx_kit.server_wait import DEFAULT_WAIT_SECONDS
from pbx_kit.settings import ConfigurationError, Settings

PROG = "python -m pbx_cli.serve"


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Serve one service alone, at the root path, on real PostgreSQL "
        "(PBX_DATABASE_URL) and RabbitMQ (PBX_AMQP_URL). Other services verify tokens with "
        "identity's keys through PBX_JWKS_URL.",
    )
    parser.add_argument(
        "service",
        nargs="?",
        default=os.environ.get("PBX_SERVICE"),
        help=f"one of {', '.join(SERVICES)} (default: PBX_SERVICE)",
    )
    parser.add_argument(
        "--host",
        default="0.0.0.0",  # noqa: S104 - a container listens on every interface
        help="address to listen on (default: %(default)s)",
    )
    parser.add_argument(
        "--port", type=int, default=8000, help="TCP port to listen on (default: %(default)s)"
    )
    parser.add_argument(
        "--root-path",
        default=None,
        help="the path prefix the gateway in front strips, carried by the service's links "
        "(default: /<service>; '' when clients reach the service directly)",
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=DEFAULT_WAIT_SECONDS,
        metavar="SECONDS",
        help="how long to wait at start for PostgreSQL and RabbitMQ to answer "
        "(default: %(default)g)",
    )
    return parser


def check_real_servers(settings: Settings) -> None:
    """Refuse the embedded default: a service alone needs the servers the others use."""
    if not settings.database_url:
        raise ConfigurationError(
            "PBX_DATABASE_URL is not set: a service served alone needs the PostgreSQL "
            "server the other services use (the embedded one is for ./pbx up only)"
        )
    if not settings.uses_rabbitmq:
        raise ConfigurationError(
            f"PBX_AMQP_URL is {settings.amqp_url!r}: a service served alone needs RabbitMQ "
            "(amqp://… or amqps://…); the in-process bus reaches no other process"
        )


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.service not in SERVICES:
        which = "no service named" if args.service is None else f"unknown service {args.service!r}"
        print(f"{PROG}: {which}; give one of {', '.join(SERVICES)}", file=sys.stderr)
        return 2
    root_path = f"/{args.service}" if args.root_path is None else args.root_path.rstrip("/")
    if root_path and not root_path.startswith("/"):
        print(f"{PROG}: --root-path must start with / (or be empty)", file=sys.stderr)
        return 2

    from pbx_cli.up import main as up_main
    from pbx_kit.server_wait import ServerRefusedError, ServerUnreachableError

    try:
        settings = Settings()
        check_real_servers(settings)
        up_main(
            settings, args.host, args.port, wait=args.wait, alone=args.service, root_path=root_path
        )
    except ConfigurationError as exc:
        print(f"{PROG} {args.service}: {exc}", file=sys.stderr)
        return 2
    except (ServerUnreachableError, ServerRefusedError) as exc:
        print(f"{PROG} {args.service}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
