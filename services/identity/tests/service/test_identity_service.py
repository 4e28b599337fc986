"""The identity application on the in-memory store: one class per command, error paths
included. Passwords are hashed with cheap argon2id parameters (the same code paths)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from uuid import uuid4

import pytest

import pbx_identity.application
from pbx_identity.api import REGISTRATION_EXAMPLE
from pbx_identity.app_auth import normalize_login_id
from pbx_identity.application import IdentityService, Registered
from pbx_identity.commands import (
    AddCircle,
    CancelCircle,
    ChangeContractInfo,
    ConfirmEmailChange,
    LogIn,
    RegisterAccount,
    RequestPasswordReminder,
    ResetPassword,
)
from pbx_identity.domain.reminder import PasswordReminder
from pbx_identity.errors import (
    CircleNotFoundError,
    EmailChangeAlreadyConfirmedError,
    EmailTakenError,
    InvalidCredentialsError,
    InvalidEmailChangeTokenError,
    InvalidResetTokenError,
)
from pbx_identity.main import make_application
from pbx_identity.validation import validate_registration
from pbx_identity.validation.model import RegistrationData
from pbx_identity.validation.registration import ContractInfo
from pbx_kit.testing import memory_infrastructure
from pbx_kit.testing_passwords import cheap_password_hashing

PASSWORD = REGISTRATION_EXAMPLE["password"]
NEW_PASSWORD = "Qw9$nLx@vT2e"


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> IdentityService:
    cheap_password_hashing(monkeypatch, pbx_identity.application)
    return make_application(memory_infrastructure(tmp_path))


def registration(email: str | None = None) -> RegistrationData:
    data, errors = validate_registration(REGISTRATION_EXAMPLE)
    assert data is not None and not errors
    if email is None:
        return data
    return dataclasses.replace(data, contractor=dataclasses.replace(data.contractor, email=email))


def registered(app: IdentityService) -> Registered:
    return app.register_account(RegisterAccount(registration(f"{uuid4().hex[:10]}@example.jp")))


def info_with_email(data: RegistrationData, email: str) -> ContractInfo:
    contractor = dataclasses.replace(data.contractor, email=email)
    return ContractInfo(
        contractor,
        data.representative,
        data.usage_contact,
        data.billing_contact,
        data.shipping_address,
    )


class TestRegisterAccount:
    def test_an_account_gets_a_system_issued_login_id(self, app: IdentityService) -> None:
        done = app.register_account(RegisterAccount(registration()))
        account = app.get_account(done.account_id)
        assert done.login_id.startswith("PBX") and len(done.login_id) == 11
        assert account.login_id == done.login_id
        assert account.password_hash != PASSWORD

    def test_a_taken_email_is_refused(self, app: IdentityService) -> None:
        app.register_account(RegisterAccount(registration()))
        with pytest.raises(EmailTakenError):
            app.register_account(RegisterAccount(registration()))

    def test_a_taken_email_is_refused_whatever_its_case(self, app: IdentityService) -> None:
        app.register_account(RegisterAccount(registration("Taro@Example.jp")))
        with pytest.raises(EmailTakenError):
            app.register_account(RegisterAccount(registration("taro@example.jp")))


class TestLogIn:
    def test_the_right_password_gives_tokens(self, app: IdentityService) -> None:
        done = registered(app)
        tokens = app.log_in(LogIn(done.login_id, PASSWORD))
        assert tokens.access_token and tokens.refresh_token

    def test_a_wrong_password_is_refused(self, app: IdentityService) -> None:
        done = registered(app)
        with pytest.raises(InvalidCredentialsError):
            app.log_in(LogIn(done.login_id, NEW_PASSWORD))

    def test_an_unknown_login_id_is_refused_the_same_way(self, app: IdentityService) -> None:
        with pytest.raises(InvalidCredentialsError):
            app.log_in(LogIn("PBX00000000", PASSWORD))


class TestEmailChange:
    def test_a_new_address_applies_only_when_confirmed(self, app: IdentityService) -> None:
        done = registered(app)
        old = app.get_account(done.account_id).email
        app.change_contract_info(
            ChangeContractInfo(done.account_id, info_with_email(registration(), "new@example.jp"))
        )
        account = app.get_account(done.account_id)
        assert account.email == old
        pending = account.pending_email_change
        assert pending is not None and pending.new_email == "new@example.jp"

        token = app.email_change_token(done.account_id, pending.change_id)
        app.confirm_email_change(ConfirmEmailChange(token))
        assert app.get_account(done.account_id).email == "new@example.jp"

        with pytest.raises(EmailChangeAlreadyConfirmedError):
            app.confirm_email_change(ConfirmEmailChange(token))

    def test_a_forged_token_is_refused(self, app: IdentityService) -> None:
        done = registered(app)
        app.change_contract_info(
            ChangeContractInfo(done.account_id, info_with_email(registration(), "new@example.jp"))
        )
        forged = app.email_change_token(done.account_id, uuid4().hex)
        with pytest.raises(InvalidEmailChangeTokenError):
            app.confirm_email_change(ConfirmEmailChange(forged))

    def test_another_accounts_address_is_refused(self, app: IdentityService) -> None:
        first, second = registered(app), registered(app)
        taken = app.get_account(first.account_id).email
        with pytest.raises(EmailTakenError):
            app.change_contract_info(
                ChangeContractInfo(second.account_id, info_with_email(registration(), taken))
            )


class TestPasswordReset:
    def reset_token(self, app: IdentityService, login_id: str) -> str:
        app.request_password_reminder(RequestPasswordReminder(login_id))
        reminder_id = PasswordReminder.create_id(normalize_login_id(login_id))
        reminder: PasswordReminder = app.repository.get(reminder_id)
        (reset_id,) = reminder.resets
        return app.reset_token(reminder_id, reset_id)

    def test_the_mailed_token_sets_a_new_password_once(self, app: IdentityService) -> None:
        done = registered(app)
        token = self.reset_token(app, done.login_id)
        app.reset_password(ResetPassword(token, NEW_PASSWORD))
        assert app.log_in(LogIn(done.login_id, NEW_PASSWORD)).access_token
        with pytest.raises(InvalidCredentialsError):
            app.log_in(LogIn(done.login_id, PASSWORD))
        with pytest.raises(InvalidResetTokenError):
            app.reset_password(ResetPassword(token, PASSWORD))

    def test_a_reset_ends_every_session(self, app: IdentityService) -> None:
        done = registered(app)
        before = app.get_account(done.account_id).token_version
        app.reset_password(ResetPassword(self.reset_token(app, done.login_id), NEW_PASSWORD))
        assert app.get_account(done.account_id).token_version > before

    def test_a_reminder_for_an_unknown_login_id_is_accepted_and_its_token_changes_nothing(
        self, app: IdentityService
    ) -> None:
        token = self.reset_token(app, "PBX00000000")
        with pytest.raises(InvalidResetTokenError):
            app.reset_password(ResetPassword(token, NEW_PASSWORD))

    def test_a_malformed_token_is_refused(self, app: IdentityService) -> None:
        with pytest.raises(InvalidResetTokenError):
            app.reset_password(ResetPassword("not-a-token", NEW_PASSWORD))


class TestCircles:
    def test_a_circle_is_added_once_and_cancelled(self, app: IdentityService) -> None:
        done = registered(app)
        circle_id = uuid4()
        command = AddCircle(done.account_id, circle_id, "営業部", "山田")
        app.add_circle(command)
        app.add_circle(command)  # a retry
        (circle,) = app.get_account(done.account_id).circles
        assert circle["status"] == "active"

        app.cancel_circle(CancelCircle(done.account_id, circle_id))
        (circle,) = app.get_account(done.account_id).circles
        assert circle["status"] == "cancelled"

    def test_an_unknown_circle_cannot_be_cancelled(self, app: IdentityService) -> None:
        done = registered(app)
        with pytest.raises(CircleNotFoundError):
            app.cancel_circle(CancelCircle(done.account_id, uuid4()))
