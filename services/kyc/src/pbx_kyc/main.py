"""Wiring: the kyc service built on the given infrastructure."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

import anyio
import structlog

from pbx_events.identity import AccountRegistered
from pbx_events.inbox import Inbox
from pbx_events.relay import OutboxRelay
from pbx_kit.app import Edge, create_app
from pbx_kit.auth import install_auth
from pbx_kit.runtime import Infrastructure, ServiceRuntime
from pbx_kit.wiring import wire_edge
from pbx_kyc import api
from pbx_kyc.application import KycService, utc_now
from pbx_kyc.integration import KycMapping
from pbx_kyc.projections import ReviewProjection
from pbx_kyc.queries import MemoryReviewStore, PostgresReviewStore, ReviewStore
from pbx_kyc.scanner import EicarFakeScanner, Scanner
from pbx_kyc.settings import KycSettings
from pbx_kyc.uploads import MAX_UPLOAD_BYTES
from pbx_kyc.vault import DocumentVault

SERVICE = "kyc"
ACCOUNTS_QUEUE = "kyc.accounts"

log = structlog.get_logger("pbx.kyc")


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
    edge = Edge()
    web = create_app(
        SERVICE,
        title="KYC — クラウドPBX",
        description="Screening (審査): identity document uploads, the rules, the reviewers' "
        "workflow. Errors are RFC 9457 problem+json.",
        routers=[api.router],
        # an upload is up to 10 MiB plus its multipart framing; counted while streaming
        max_body_bytes=max(infra.settings.max_body_bytes, MAX_UPLOAD_BYTES + 64 * 1024),
        edge=edge,
    )
    runtime = ServiceRuntime(SERVICE, web)

    async def start() -> None:
        application = await anyio.to_thread.run_sync(make_application, infra, scanner, clock)
        web.state.application = application
        application.verification_method = kyc_settings.verification_method
        install_auth(web, infra.token_verifier())
        relay = OutboxRelay(application, SERVICE, KycMapping(application), infra.bus)
        pool = await wire_edge(infra, runtime, edge, application, relay)
        store: ReviewStore = MemoryReviewStore() if pool is None else PostgresReviewStore(pool)
        await store.setup()
        # ready before serving, reading only what is new since the stored position
        projection = ReviewProjection(application, store)
        await projection.start()
        await projection.drain()
        web.state.review_store = store
        web.state.review_projection = projection

        async def expire_approvals_once() -> list[bool]:
            """One round of the approval-expiry timer."""
            return [
                await anyio.to_thread.run_sync(application.expire_review, review_id)
                for review_id in await store.approvals_ending_before(application.today())
            ]

        async def expire_approvals() -> None:
            while True:
                try:
                    await expire_approvals_once()
                except Exception as exc:
                    log.warning("approval_expiry_failed", error=repr(exc))
                await asyncio.sleep(kyc_settings.expiry_interval)

        runtime.loops.extend([relay.run, projection.run, expire_approvals])
        web.state.expire_approvals_once = expire_approvals_once
        inbox = Inbox(application, ACCOUNTS_QUEUE)
        subscription = await infra.bus.subscribe(
            infra.settings.queue_prefix + ACCOUNTS_QUEUE,
            [AccountRegistered.type_name()],
            inbox.handler(application.on_account_registered),
        )
        runtime.on_stop.insert(0, subscription.cancel)

    runtime.on_start.append(start)
    return runtime
