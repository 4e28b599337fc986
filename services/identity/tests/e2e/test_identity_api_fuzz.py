"""Property-based API tests from identity's own OpenAPI (schemathesis): no input a
client can send yields a 500, and every response conforms to the documented schema."""

from __future__ import annotations

import asyncio
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from pbx_events.store import new_cipher_key
from pbx_identity.api import REGISTRATION_EXAMPLE
from pbx_identity.commands import LogIn, RegisterAccount
from pbx_identity.main import build
from pbx_identity.validation.registration import validate_registration
from pbx_kit.host import running
from pbx_kit.mail import MaildirMailer
from pbx_kit.runtime import Infrastructure, bus_for
from pbx_kit.settings import Settings


def _runtime() -> tuple[Infrastructure, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="pbx-fuzz-"))
    cfg = Settings(amqp_url="memory://", data_dir=data_dir, cipher_key=new_cipher_key())
    infra = Infrastructure(
        settings=cfg,
        database_url=None,
        bus=bus_for(cfg),
        mailer=MaildirMailer(data_dir / "mail", cfg.mail_from),
        cipher_key=str(cfg.cipher_key),
    )
    return infra, build(infra)


INFRA, RUNTIME = _runtime()
schema = schemathesis.openapi.from_asgi("/openapi.json", RUNTIME.api)


@pytest.fixture(scope="module", autouse=True)
def identity_running() -> Iterator[None]:
    """The identity service (in-memory store, in-process bus) running in a background loop."""
    started, stop = threading.Event(), threading.Event()

    async def serve() -> None:
        async with running(INFRA, [RUNTIME]):
            started.set()
            while not stop.is_set():
                await asyncio.sleep(0.05)

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert started.wait(30)
    app = RUNTIME.api.state.application
    data, errors = validate_registration(REGISTRATION_EXAMPLE)
    assert data is not None, errors
    login_id = app.register_account(RegisterAccount(data)).login_id
    CUSTOMER["token"] = app.log_in(LogIn(login_id, REGISTRATION_EXAMPLE["password"])).access_token
    yield
    stop.set()
    thread.join(10)


CUSTOMER: dict[str, str] = {}

#: a body can match the documented shape and still break a business rule (a
#: hiragana furigana, a mobile screening number): that 422 is correct, so the
#: "schema-valid data must be accepted" check does not apply here
EXCLUDED = [positive_data_acceptance]


@schema.parametrize()
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_input_yields_a_server_error_and_responses_match_the_schema(case: Any) -> None:
    case.call_and_validate(excluded_checks=EXCLUDED)


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_a_logged_in_customer_cannot_provoke_a_server_error_either(case: Any) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {CUSTOMER['token']}"}, excluded_checks=EXCLUDED
    )
