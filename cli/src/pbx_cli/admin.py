"""``./pbx admin …``: operator commands against the same data as ``./pbx up``."""

from __future__ import annotations

import argparse
import getpass
import secrets
import string
import sys

from pbx_identity.commands import CreateStaff
from pbx_identity.domain.staff import STAFF_ROLES
from pbx_identity.main import make_application
from pbx_identity.validation.errors import RuleViolation
from pbx_identity.validation.password import check_password
from pbx_kit.runtime import open_infrastructure
from pbx_kit.settings import Settings

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


def run(args: argparse.Namespace) -> int:
    overrides = {"data_dir": args.data_dir} if args.data_dir else {}
    settings = Settings(**overrides)
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
