"""Wiring: the kyc service built on the given infrastructure."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import anyio

from pbx_kit.runtime import Infrastructure, ServiceRuntime
from pbx_kit.service import Running, Service
from pbx_kyc import api, api_reference
from pbx_kyc.application import KycService, utc_now
from pbx_kyc.consumers import ROUTES
from pbx_kyc.integration import KycMapping
from pbx_kyc.projections import ReviewProjection
from pbx_kyc.read_model import MemoryReviewStore, PostgresReviewStore, ReviewStore
from pbx_kyc.scanner import EicarFakeScanner, Scanner
from pbx_kyc.settings import KycSettings
from pbx_kyc.uploads import MAX_UPLOAD_BYTES
from pbx_kyc.vault import DocumentVault

SERVICE = "kyc"


def make_application(
    infra: Infrastructure,
    scanner: Scanner | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> KycService:
    vault = DocumentVault(
        infra.settings.data_dir / "kyc", infra.derived_key("kyc.document-key-encryption")
    )
    return KycService(
        infra.eventsourcing_env(SERVICE),
        vault=vault,
        scanner=scanner or EicarFakeScanner(),
        clock=clock,
    )


def build(
    infra: Infrastructure,
    scanner: Scanner | None = None,
    clock: Callable[[], datetime] = utc_now,
    settings: KycSettings | None = None,
) -> ServiceRuntime:
    kyc_settings = settings or KycSettings()

    def application(infra: Infrastructure) -> KycService:
        app = make_application(infra, scanner, clock)
        app.verification_method = kyc_settings.verification_method
        return app

    async def setup(service: Running[KycService]) -> None:
        """The review read model (caught up before serving) and the approval-expiry timer."""
        app, web = service.application, service.api
        store: ReviewStore = (
            MemoryReviewStore() if service.pool is None else PostgresReviewStore(service.pool)
        )
        await store.setup()
        # ready before serving, reading only what is new since the stored position
        projection = ReviewProjection(app, store)
        await projection.start()
        await projection.drain()
        web.state.review_store = store
        web.state.review_projection = projection

        async def expire_approvals_once() -> list[bool]:
            """One round of the approval-expiry timer."""
            return [
                await anyio.to_thread.run_sync(app.expire_review, review_id)
                for review_id in await store.approvals_ending_before(app.today())
            ]

        web.state.expire_approvals_once = expire_approvals_once
        service.loop(projection.run)
        service.every(kyc_settings.expiry_interval, expire_approvals_once, "expire_approvals")

    kyc = Service[KycService](
        name=SERVICE,
        title="KYC — クラウドPBX",
        description="Screening (審査): identity document uploads, the rules, the reviewers' "
        "workflow. Errors are RFC 9457 problem+json.",
        routers=[api.router, api_reference.router],
        application=application,
        mapping=KycMapping,
        consumers=ROUTES,
        setup=setup,
        # an upload is up to 10 MiB plus its multipart framing; counted while streaming
        max_body_bytes=max(infra.settings.max_body_bytes, MAX_UPLOAD_BYTES + 64 * 1024),
    )
    return kyc.build(infra)
