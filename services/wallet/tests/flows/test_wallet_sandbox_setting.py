"""The payment sandbox credits wallets for free, so it runs only where a setting says so:
on the embedded default (said loudly at start), or on real servers when explicitly
allowed (a staging system); its "customer paid" page needs an admin login."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from pbx_kit.settings import ConfigurationError
from pbx_kit.testing import Stack, infrastructure_for
from pbx_wallet.main import build
from pbx_wallet.settings import WalletSettings


async def test_only_an_admin_may_play_the_customer_paying(wallets: Any) -> None:
    account = await wallets.register()
    charge = (await wallets.top_up(account, 3_000, "convenience_store")).json()["charge_id"]
    path = f"/sandbox/payments/{charge}/pay"

    anonymous = await wallets.client.post(path)
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "unauthorized"
    for role in ("customer", "auditor", "reviewer", "warehouse"):
        refused = await wallets.client.post(path, headers=wallets.auth(account, role))
        assert refused.status_code == 403, (role, refused.text)
        assert refused.json()["code"] == "forbidden"
    assert (await wallets.balance(account))["balance"] == 0

    paid = await wallets.sandbox_pay(charge)
    assert paid.status_code == 200, paid.text
    assert paid.json()["result"] == "credited"
    assert (await wallets.balance(account))["balance"] == 3_000


async def test_readiness_names_the_payment_provider(wallets: Any) -> None:
    ready = (await wallets.client.get("/readyz")).json()
    assert ready["checks"]["payment_provider"] == {"value": "sandbox"}


@pytest.mark.parametrize(
    ("settings", "setting_named"),
    [
        (WalletSettings(), "PBX_WALLET_PROVIDER"),
        (WalletSettings(provider="sandbox"), "PBX_WALLET_ALLOW_SANDBOX"),
    ],
)
def test_real_servers_refuse_the_sandbox_unless_it_is_allowed(
    fresh_database_url: str, tmp_path: Path, settings: WalletSettings, setting_named: str
) -> None:
    from pbx_events.store import new_cipher_key
    from pbx_kit.settings import Settings

    stack = Stack(
        "real",
        Settings(
            amqp_url="memory://",
            database_url=fresh_database_url,
            data_dir=tmp_path,
            cipher_key=new_cipher_key(),
        ),
        fresh_database_url,
    )
    with pytest.raises(ConfigurationError, match=setting_named):
        build(infrastructure_for(stack), settings)
    allowed = build(
        infrastructure_for(stack), WalletSettings(provider="sandbox", allow_sandbox=True)
    )
    assert any(
        getattr(r, "path", "") == "/sandbox/payments/{charge_id}/pay" for r in _routes(allowed)
    )


def test_the_embedded_default_runs_the_sandbox_and_says_so_loudly(tmp_path: Path) -> None:
    from pbx_kit.testing import memory_infrastructure

    with capture_logs() as logs:
        build(memory_infrastructure(tmp_path), WalletSettings())
    [warning] = [e for e in logs if e["event"] == "payment_sandbox_in_use"]
    assert warning["log_level"] == "warning"
    assert "THE PAYMENT SANDBOX IS ON" in warning["detail"]


def test_pbx_up_on_real_servers_without_a_provider_stops_with_a_clear_message(
    fresh_database_url: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "PBX_DATABASE_URL": fresh_database_url,
        "PBX_AMQP_URL": "memory://",
        "PBX_DATA_DIR": str(tmp_path),
        "PBX_EXCHANGE": f"test.{uuid.uuid4().hex[:10]}",
    }
    env.pop("PBX_WALLET_PROVIDER", None)
    env.pop("PBX_WALLET_ALLOW_SANDBOX", None)
    done = subprocess.run(
        [sys.executable, "-m", "pbx_cli", "up", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "pbx up: PBX_WALLET_PROVIDER is not set" in done.stderr


def _routes(runtime: Any) -> list[Any]:
    from fastapi.routing import iter_route_contexts

    return [context for context in iter_route_contexts(runtime.api.routes)]
