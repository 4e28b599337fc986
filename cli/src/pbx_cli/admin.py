"""``./pbx admin …``: operator commands against the same data as ``./pbx up``."""

from __future__ import annotations

import argparse
import getpass
import secrets
import string
import sys
from collections.abc import Sequence
from datetime import date, timedelta, timezone

from pbx_identity.commands import CreateStaff
from pbx_identity.domain.staff import STAFF_ROLES
from pbx_identity.main import make_application
from pbx_identity.validation.password import check_password
from pbx_kit.jp.errors import RuleViolation
from pbx_kit.mail_outbox import ParkedMail
from pbx_kit.runtime import Infrastructure, open_infrastructure
from pbx_kit.settings import Settings

JST = timezone(timedelta(hours=9), "JST")


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
    _add_mail_parser(commands)


def _add_mail_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    mail = commands.add_parser(
        "mail", help="outgoing mails the mail server refused for good (parked): list, resend, drop"
    )
    actions = mail.add_subparsers(dest="mail_command", required=True)
    parked = actions.add_parser(
        "parked", help="list parked mails: message id, when, SMTP code, masked recipient, subject"
    )
    resend = actions.add_parser(
        "resend", help="put parked mails back in the queue; the running service sends them"
    )
    which = resend.add_mutually_exclusive_group(required=True)
    which.add_argument("message_id", nargs="?", help="the parked mail's message id")
    which.add_argument("--all", action="store_true", help="every parked mail")
    drop = actions.add_parser(
        "drop", help="give a parked (or still queued) mail up for good; its content is erased"
    )
    drop.add_argument("message_id")
    for action in (parked, resend, drop):
        action.add_argument("--service", default="identity", help="whose mails (default identity)")
        action.add_argument("--data-dir", default=None, help="default ./var (PBX_DATA_DIR)")


def _run_mail(settings: Settings, args: argparse.Namespace) -> int:
    import asyncio

    infra = open_infrastructure(settings)
    try:
        assert infra.database_url is not None
        return asyncio.run(_mail(infra.database_url, infra, args))
    finally:
        if infra.embedded is not None:
            infra.embedded.stop()


async def _mail(database_url: str, infra: Infrastructure, args: argparse.Namespace) -> int:
    """The parked mails of a service's outbox: list, resend or drop."""
    from pbx_kit.db import create_pool
    from pbx_kit.mail_outbox_postgres import PostgresMailOutbox

    pool = await create_pool(database_url, args.service, max_size=1)
    try:
        outbox = PostgresMailOutbox(pool, args.service, infra.derived_key("mail-outbox"))
        await outbox.create_table()
        if args.mail_command == "parked":
            return _print_parked(await outbox.parked())
        if args.mail_command == "resend":
            wanted = None if args.all else [args.message_id]
            requeued = await outbox.resend(wanted)
            for message_id in requeued:
                print(f"queued again: {message_id}")
            if not args.all and not requeued:
                print(f"no parked mail {args.message_id}", file=sys.stderr)
                return 1
            print(f"{len(requeued)} mail(s) queued again; the running service sends them")
            return 0
        if await outbox.drop(args.message_id):
            print(f"dropped: {args.message_id}")
            return 0
        print(f"no parked or queued mail {args.message_id}", file=sys.stderr)
        return 1
    finally:
        await pool.close()


def _print_parked(parked: Sequence[ParkedMail]) -> int:
    if not parked:
        print("no parked mails")
        return 0
    print("message_id\tparked_at (JST)\tsmtp_code\tto\tsubject\treason")
    for mail in parked:
        when = mail.parked_at.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S")
        code = "-" if mail.code is None else str(mail.code)
        print(f"{mail.message_id}\t{when}\t{code}\t{mail.masked_to}\t{mail.subject}\t{mail.reason}")
    print(f"{len(parked)} parked mail(s)")
    return 0


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
    from pbx_wallet.ledger import PostgresLedgerStore
    from pbx_wallet.main import make_application as make_wallet
    from pbx_wallet.projections import LedgerProjection

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
    if args.admin_command == "mail":
        return _run_mail(settings, args)
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
