"""Wiring: the identity service built on the given infrastructure."""

from __future__ import annotations

import anyio

from pbx_events.relay import OutboxRelay, RelaySettings
from pbx_identity import api, api_account, api_auth, api_email, consumers
from pbx_identity.api_models import DOCUMENTED
from pbx_identity.application import IdentityService
from pbx_identity.integration import IdentityMapping
from pbx_identity.mails import IdentityMailer
from pbx_identity.throttle import LoginThrottle, MemoryFailureStore, PostgresFailureStore
from pbx_kit.app import Edge, create_app
from pbx_kit.auth import Caller, StaticKeySource, TokenIssuer, TokenVerifier, install_auth
from pbx_kit.mail_sender import wire_mail_outbox
from pbx_kit.runtime import Infrastructure, ServiceRuntime
from pbx_kit.wiring import wire_edge

SERVICE = "identity"


def make_application(infra: Infrastructure) -> IdentityService:
    """The identity application on this infrastructure (the service, and admin commands)."""
    return IdentityService(
        infra.eventsourcing_env(SERVICE),
        index_key=infra.derived_key("identity.email-index"),
        reset_key=infra.derived_key("identity.password-reset"),
        token_issuer=TokenIssuer(infra.key_ring()),
    )


def build(infra: Infrastructure) -> ServiceRuntime:
    settings = infra.settings
    edge = Edge()
    web = create_app(
        SERVICE,
        title="Identity — クラウドPBX",
        description="Account registration (アカウント登録). Errors are RFC 9457 problem+json.",
        routers=[api.router, api_auth.router, api_account.router, api_email.router],
        max_body_bytes=settings.max_body_bytes,
        edge=edge,
        documented_models=DOCUMENTED,
    )
    runtime = ServiceRuntime(SERVICE, web)

    async def start() -> None:
        application = await anyio.to_thread.run_sync(make_application, infra)
        ring = application.token_issuer.ring
        web.state.application = application
        web.state.key_ring = ring
        web.state.trusted_proxies = frozenset(
            p.strip() for p in settings.trusted_proxies.split(",") if p.strip()
        )

        def revoked(caller: Caller) -> bool:
            # a token issued before a password change or "log out everywhere"
            try:
                current = application.token_version_of(caller.subject_uuid)
            except ValueError:
                return True
            return current is None or caller.token_version < current

        install_auth(web, TokenVerifier(StaticKeySource(ring), revocation=revoked))
        relay = OutboxRelay(application, SERVICE, IdentityMapping(application), infra.bus)
        runtime.loops.append(relay.run)
        web.state.relay = relay

        wallet_notices = await consumers.subscribe_wallet_notices(
            infra.bus, application, settings.queue_prefix
        )
        kyc_decisions = await consumers.subscribe_kyc_decisions(
            infra.bus, application, settings.queue_prefix
        )
        # before wire_edge's hooks: deliveries stop before the application closes
        runtime.on_stop.extend([wallet_notices.cancel, kyc_decisions.cancel])

        pool = await wire_edge(infra, runtime, edge, application, relay)
        # mails are queued (by message id) and sent by the outbox's own loop
        outbox = await wire_mail_outbox(infra, runtime, edge, pool)
        mailer = IdentityMailer(
            application,
            outbox,
            settings.login_url,
            RelaySettings(batch_size=20),
            reset_url=settings.password_reset_url,
            email_confirm_url=settings.email_confirm_url,
        )
        runtime.loops.append(mailer.run)
        web.state.login_throttle = LoginThrottle(MemoryFailureStore())
        if pool is not None:
            failures = PostgresFailureStore(pool, SERVICE)
            await failures.create_table()
            web.state.login_throttle = LoginThrottle(failures)

    runtime.on_start.append(start)
    return runtime
