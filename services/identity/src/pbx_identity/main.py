"""The identity service: what it is, for ``pbx_kit.service`` to build."""

from __future__ import annotations

from pbx_events.relay import FollowerSettings
from pbx_identity import (
    api,
    api_account,
    api_applicant,
    api_auth,
    api_circles,
    api_email,
    api_reference,
)
from pbx_identity.api_models import DOCUMENTED
from pbx_identity.application import IdentityService
from pbx_identity.consumers import ROUTES
from pbx_identity.integration import IdentityMapping
from pbx_identity.mails import IdentityMailer
from pbx_identity.throttle import LoginThrottle, MemoryFailureStore, PostgresFailureStore
from pbx_identity.tokens import TokenIssuer
from pbx_kit.auth import Caller, StaticKeySource, TokenVerifier
from pbx_kit.mail_sender import wire_mail_outbox
from pbx_kit.runtime import Infrastructure, ServiceRuntime
from pbx_kit.service import Running, Service

SERVICE = "identity"


def make_application(infra: Infrastructure) -> IdentityService:
    """The identity application on this infrastructure (the service, and admin commands)."""
    return IdentityService(
        infra.eventsourcing_env(SERVICE),
        index_key=infra.derived_key("identity.email-index"),
        reset_key=infra.derived_key("identity.password-reset"),
        token_issuer=TokenIssuer(infra.key_ring()),
    )


def verifier(infra: Infrastructure, application: IdentityService) -> TokenVerifier:
    """Identity's own keys, and the account's token version: a token issued before a
    password change or "log out everywhere" is refused here at once."""

    def revoked(caller: Caller) -> bool:
        try:
            current = application.token_version_of(caller.subject_uuid)
        except ValueError:
            return True
        return current is None or caller.token_version < current

    return TokenVerifier(StaticKeySource(application.token_issuer.ring), revocation=revoked)


async def setup(service: Running[IdentityService]) -> None:
    """The keys and proxies the routes read, the login throttle, the mail outbox and the
    mailer that fills it from the log."""
    infra, app, web = service.infra, service.application, service.api
    settings = infra.settings
    web.state.key_ring = app.token_issuer.ring
    web.state.trusted_proxies = frozenset(
        p.strip() for p in settings.trusted_proxies.split(",") if p.strip()
    )
    web.state.login_throttle = LoginThrottle(MemoryFailureStore())
    if service.pool is not None:
        failures = PostgresFailureStore(service.pool, SERVICE)
        await failures.create_table()
        web.state.login_throttle = LoginThrottle(failures)
    # mails are queued (by message id) and sent by the outbox's own loop
    outbox = await wire_mail_outbox(infra, service.runtime, service.edge, service.pool)
    mailer = IdentityMailer(
        app,
        outbox,
        settings.login_url,
        FollowerSettings(batch_size=20),
        reset_url=settings.password_reset_url,
        email_confirm_url=settings.email_confirm_url,
    )
    service.loop(mailer.run)


IDENTITY = Service[IdentityService](
    name=SERVICE,
    title="Identity — クラウドPBX",
    description="Account registration (アカウント登録). Errors are RFC 9457 problem+json.",
    routers=[
        api.router,
        api_auth.router,
        api_account.router,
        api_circles.router,
        api_applicant.router,
        api_email.router,
        api_reference.router,
    ],
    application=make_application,
    mapping=IdentityMapping,
    consumers=ROUTES,
    setup=setup,
    verifier=verifier,
    documented_models=DOCUMENTED,
)


def build(infra: Infrastructure) -> ServiceRuntime:
    return IDENTITY.build(infra)
