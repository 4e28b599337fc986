"""Wiring: the wallet service built on the given infrastructure."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import structlog

from pbx_kit.runtime import Infrastructure, ServiceRuntime
from pbx_kit.service import Running, Service
from pbx_kit.settings import ConfigurationError
from pbx_wallet import api, sandbox_api
from pbx_wallet.api import PaymentNotificationIn
from pbx_wallet.application import WalletService, utc_now
from pbx_wallet.consumers import ROUTES
from pbx_wallet.integration import WalletMapping
from pbx_wallet.ledger import LedgerStore, MemoryLedgerStore, PostgresLedgerStore
from pbx_wallet.payments import SandboxProvider
from pbx_wallet.projections import LedgerProjection
from pbx_wallet.scheduler import ChargeExpiry
from pbx_wallet.settings import WalletSettings

SERVICE = "wallet"
log = structlog.get_logger("pbx.wallet")


def choose_provider(infra: Infrastructure, settings: WalletSettings) -> str:
    """The payment provider to run: the sandbox only on the embedded default or in memory,
    or on real servers when ``PBX_WALLET_ALLOW_SANDBOX`` says so (a staging system)."""
    on_real_servers = infra.embedded is None and infra.database_url is not None
    provider = settings.provider
    if provider is None:
        if on_real_servers:
            raise ConfigurationError(
                "PBX_WALLET_PROVIDER is not set. Only the development sandbox is built: on "
                "real servers set PBX_WALLET_PROVIDER=sandbox and PBX_WALLET_ALLOW_SANDBOX=true "
                "for a staging system (never production: any admin can mark a top-up paid)."
            )
        provider = "sandbox"
    if provider == "sandbox" and on_real_servers and not settings.allow_sandbox:
        raise ConfigurationError(
            "PBX_WALLET_PROVIDER=sandbox on real servers needs PBX_WALLET_ALLOW_SANDBOX=true "
            "(a staging system only: the sandbox lets any admin mark a top-up paid)."
        )
    if provider == "sandbox":
        log.warning(
            "payment_sandbox_in_use",
            detail="THE PAYMENT SANDBOX IS ON: no real money moves, and anyone with an admin "
            "login can mark a top-up paid at POST /wallet/sandbox/payments/{charge_id}/pay. "
            "Development and staging only.",
        )
    return provider


def webhook_secrets(infra: Infrastructure, settings: WalletSettings) -> list[bytes]:
    if settings.webhook_secrets is not None:
        values = settings.webhook_secrets.get_secret_value().split(",")
        return [v.strip().encode() for v in values if v.strip()]
    return [infra.derived_key("wallet.payment-webhook")]


def make_application(
    infra: Infrastructure,
    settings: WalletSettings | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> WalletService:
    settings = settings or WalletSettings()
    # the sandbox signs with the first secret (the newest while rotating)
    provider = SandboxProvider(webhook_secrets(infra, settings)[0], settings.sandbox_base_url)
    return WalletService(infra.eventsourcing_env(SERVICE), provider=provider, clock=clock)


def build(
    infra: Infrastructure,
    settings: WalletSettings | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> ServiceRuntime:
    wallet_settings = settings or WalletSettings()
    provider = choose_provider(infra, wallet_settings)

    async def setup(service: Running[WalletService]) -> None:
        """The provider, the ledger read model (caught up before serving), the deadlines."""
        app, web = service.application, service.api
        web.state.sandbox = app.provider
        web.state.webhook_secrets = webhook_secrets(infra, wallet_settings)

        async def payment_provider() -> tuple[bool, str]:
            return True, provider

        service.edge.figures["payment_provider"] = payment_provider
        store: LedgerStore = (
            MemoryLedgerStore() if service.pool is None else PostgresLedgerStore(service.pool)
        )
        await store.setup()
        projection = LedgerProjection(app, store)
        await projection.start()
        await projection.drain()
        web.state.ledger_store = store
        web.state.projection = projection
        expiry = ChargeExpiry(app, store, wallet_settings.expiry_interval)
        web.state.expiry = expiry
        service.loop(projection.run)
        service.loop(expiry.run)

    wallet = Service[WalletService](
        name=SERVICE,
        title="Wallet — クラウドPBX",
        description="The prepaid balance (プリペイド): top-ups by four methods, the statement, "
        "the payment provider's webhook. Money is integer yen. Errors are RFC 9457 "
        "problem+json.",
        # the sandbox's own pages exist only where the sandbox is the provider
        routers=[api.router, *([sandbox_api.router] if provider == "sandbox" else [])],
        application=lambda infra: make_application(infra, wallet_settings, clock),
        mapping=WalletMapping,
        consumers=ROUTES,
        setup=setup,
        documented_models=[PaymentNotificationIn],
    )
    return wallet.build(infra)
