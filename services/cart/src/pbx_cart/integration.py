"""Maps cart domain events to the integration events others consume: a checkout started is
``cart.CheckoutRequested.v1``, with the priced cart the event recorded (so a re-publish
after a crash sends exactly the same message). The copies and the customer's edits are
the cart's own business: nothing else is published."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pbx_cart.domain.cart import Cart
from pbx_events.cart import CheckoutRequested
from pbx_events.contracts import IntegrationEvent
from pbx_events.store import ServiceApplication


class CartMapping:
    def __init__(self, app: ServiceApplication) -> None:
        self.app = app

    def __call__(self, domain_event: Any) -> Sequence[IntegrationEvent]:
        if isinstance(domain_event, Cart.CheckoutStarted):
            return [CheckoutRequested.model_validate(domain_event.request)]
        return []
