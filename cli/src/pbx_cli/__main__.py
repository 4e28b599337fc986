"""``./pbx``: up, test, bench."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from pbx_kit.server_wait import DEFAULT_WAIT_SECONDS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pbx", description="クラウドPBX portal back end")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser(
        "up",
        help="start the whole system (embedded default) on one port",
        description="Start every service in one process on one port, each under /<service>. "
        "Without PBX_DATABASE_URL it runs an embedded PostgreSQL under the data directory; "
        "without PBX_AMQP_URL an in-process bus. The links in customer mails point at this "
        "address (http://HOST:PORT/login, …) unless PBX_PUBLIC_URL or PBX_LOGIN_URL, "
        "PBX_PASSWORD_RESET_URL, PBX_EMAIL_CONFIRM_URL say otherwise.",
    )
    up.add_argument(
        "--port", type=int, default=8000, help="TCP port the API listens on (default: %(default)s)"
    )
    up.add_argument(
        "--host",
        default="127.0.0.1",
        help="address the API listens on; 0.0.0.0 for every interface (default: %(default)s)",
    )
    up.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where the embedded PostgreSQL, the maildir (mail/) and the dev keys live; "
        "one ./pbx up per directory (default: PBX_DATA_DIR, else ./var)",
    )
    up.add_argument(
        "--wait",
        type=float,
        default=None,
        metavar="SECONDS",
        help="how long to wait at start for PostgreSQL and RabbitMQ to answer "
        f"(default: {DEFAULT_WAIT_SECONDS:g})",
    )

    up.add_argument(
        "--separate",
        action="store_true",
        help="each service in its own process on PBX_DATABASE_URL and PBX_AMQP_URL, behind "
        "nginx on --port (the entry URL); needs nginx",
    )
    up.add_argument(
        "--replicas",
        default="",
        metavar="SERVICE=N,…",
        help="with --separate: processes per service, e.g. wallet=2,fulfillment=2",
    )
    up.add_argument(
        "--warehouse-sim",
        action="store_true",
        help="also run the stand-in warehouse in this process (dispatches and delivers every "
        "shipment after a few seconds), with its own staff login",
    )

    sim = sub.add_parser(
        "warehouse-sim",
        help="a stand-in warehouse on the real bus (PBX_AMQP_URL): dispatches and delivers",
        description="Consume the warehouse's queue (warehouse.shipments) on RabbitMQ and "
        "report each shipment dispatched, then delivered, to fulfillment over HTTP with a "
        "warehouse login (./pbx admin create-staff --role warehouse …). The password comes "
        "from PBX_WAREHOUSE_PASSWORD or standard input.",
    )
    sim.add_argument("--url", default="http://127.0.0.1:8000", help="the system's entry URL")
    sim.add_argument("--login-id", default="WAREHOUSE01", help="a staff login with role warehouse")
    sim.add_argument("--dispatch-after", type=float, default=5.0, metavar="SECONDS")
    sim.add_argument("--deliver-after", type=float, default=5.0, metavar="SECONDS")

    test = sub.add_parser("test", help="run the whole test suite (extra args go to pytest)")
    test.add_argument("pytest_args", nargs=argparse.REMAINDER)

    bench = sub.add_parser("bench", help="benchmarks that print figures")
    bench.add_argument("what", choices=["relay", "inbox", "wallet"])
    bench.add_argument("--events", type=int, default=5000)

    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["test"]:
        # everything after `test` goes to pytest untouched (options included)
        return subprocess.call(  # noqa: S603 - our own interpreter, args from the command line
            [sys.executable, "-m", "pytest", *argv[1:]], env=os.environ.copy()
        )
    from pbx_cli.admin import add_parser as add_admin

    add_admin(sub)
    args = parser.parse_args(argv)
    if args.command == "up":
        from pbx_cli.up import main as up_main
        from pbx_kit.server_wait import ServerRefusedError, ServerUnreachableError
        from pbx_kit.settings import ConfigurationError, Settings

        overrides = {"data_dir": args.data_dir} if args.data_dir else {}
        wait = {"wait": args.wait} if args.wait is not None else {}
        try:
            if args.separate:
                from pbx_cli.separate import main as separate_main

                return separate_main(
                    Settings(**overrides), args.host, args.port, args.replicas, args.warehouse_sim
                )
            up_main(
                Settings(**overrides),
                args.host,
                args.port,
                warehouse_sim=args.warehouse_sim,
                **wait,
            )
        except ConfigurationError as exc:
            print(f"pbx up: {exc}", file=sys.stderr)
            return 2
        except (ServerUnreachableError, ServerRefusedError) as exc:
            print(f"pbx up: {exc}", file=sys.stderr)
            return 1
        return 0
    if args.command == "admin":
        from pbx_cli.admin import run as run_admin

        return run_admin(args)
    if args.command == "warehouse-sim":
        from pbx_cli.warehouse_sim import main as sim_main

        password = os.environ.get("PBX_WAREHOUSE_PASSWORD") or sys.stdin.readline().rstrip("\n")
        return sim_main(args.url, args.login_id, password, args.dispatch_after, args.deliver_after)
    if args.command == "bench":
        from pbx_cli.bench import main as bench_main

        return bench_main(args.what, args.events)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
