"""``./pbx admin …``: operator commands against the same data as ``./pbx up``."""

from __future__ import annotations

import argparse
import getpass
import secrets
import string
import sys
from datetime import date

from pbx_identity.commands import CreateStaff
from pbx_identity.domain.staff import STAFF_ROLES
from pbx_identity.main import make_application
from pbx_identity.validation.errors import RuleViolation
from pbx_identity.validation.password import check_password
from pbx_kit.runtime import Infrastructure, open_infrastructure
from pbx_kit.settings import Settings


def _run_unused_balance(settings: Settings, day: date) -> int:
    import asyncio

    infra = open_infrastructure(settings)
    try:
        assert infra.database_url is not None
        print(asyncio.run(_unused_balance(infra.database_url, infra, day)))
    finally:
        if infra.embedded is not None:
            infra.embedded.stop()
    return 0


_ALPHABET = string.ascii_letters + string.digits + "!@#$%^&*?_-"


def _strong_password() -> str:
    while True:
        candidate = "".join(secrets.choice(_ALPHABET) for _ in range(20))
        try:
            check_password(candidate)
        except RuleViolation:
            continue
        return candidate


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    admin = sub.add_parser("admin", help="operator commands")
    commands = admin.add_subparsers(dest="admin_command", required=True)
    staff = commands.add_parser("create-staff", help="create a staff login")
    staff.add_argument("--role", action="append", required=True, choices=STAFF_ROLES)
    staff.add_argument("--login-id", required=True, help="e.g. REVIEWER01")
    staff.add_argument("--name", required=True, help="the staff member's name")
    staff.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input (default: generate and print one)",
    )
    staff.add_argument("--data-dir", default=None, help="default ./var (PBX_DATA_DIR)")
    unused = commands.add_parser(
        "unused-balance",
        help="total unused prepaid balance at the end of a day, Japan time (3/31, 9/30 reports)",
    )
    unused.add_argument("--date", required=True, type=_date, help="YYYY-MM-DD")
    unused.add_argument("--data-dir", default=None, help="default ./var (PBX_DATA_DIR)")


def _date(text: str) -> date:
    from pbx_kit.problems import RuleViolationError
    from pbx_wallet.api import report_date

    try:
        return report_date(text)
    except RuleViolationError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc.errors[0].message}") from None


async def _unused_balance(database_url: str, infra: Infrastructure, day: date) -> str:
    """Bring the ledger read model up to date, then report from it."""
    import anyio

    from pbx_kit.db import create_pool
    from pbx_wallet.api import unused_balance_report
    from pbx_wallet.main import make_application as make_wallet
    from pbx_wallet.projections import LedgerProjection
    from pbx_wallet.queries import PostgresLedgerStore

    app = await anyio.to_thread.run_sync(make_wallet, infra)
    pool = await create_pool(database_url, "wallet")
    try:
        store = PostgresLedgerStore(pool)
        await store.setup()
        projection = LedgerProjection(app, store)
        await projection.start()
        await projection.drain()
        report = await unused_balance_report(store, day)
    finally:
        await pool.close()
        app.close()
    return (
        f"unused prepaid balance at the end of {report.date} (JST, before {report.as_of}): "
        f"{report.total:,} yen in {report.wallets:,} wallets"
    )


def run(args: argparse.Namespace) -> int:
    overrides = {"data_dir": args.data_dir} if args.data_dir else {}
    settings = Settings(**overrides)
    if args.admin_command == "unused-balance":
        return _run_unused_balance(settings, args.date)
    if args.password_stdin:
        password = (
            sys.stdin.readline().rstrip("\n") if not sys.stdin.isatty() else getpass.getpass()
        )
        try:
            check_password(password)
        except RuleViolation as exc:
            print(f"password refused: {exc.message}", file=sys.stderr)
            return 2
        generated = False
    else:
        password, generated = _strong_password(), True
    infra = open_infrastructure(settings)
    try:
        app = make_application(infra)
        try:
            staff_id = app.create_staff(
                CreateStaff(args.login_id, args.name, tuple(args.role), password)
            )
        except ValueError as exc:
            print(f"refused: {exc}", file=sys.stderr)
            return 2
        finally:
            app.close()
    finally:
        if infra.embedded is not None:
            infra.embedded.stop()
    print(f"staff {staff_id} created: login ID {args.login_id.strip().upper()}, roles {args.role}")
    if generated:
        print(f"password (shown once): {password}")
    return 0
