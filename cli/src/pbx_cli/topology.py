"""The broker's topology as data: ``deploy/rabbitmq/definitions.json``.

A RabbitMQ definitions file (what ``rabbitmqctl import_definitions`` and the
``load_definitions`` setting read) made from the code's own subscriptions: the exchanges
``AmqpBus`` declares, each queue a service consumes or declares (its consumer routes,
its queue of ended sessions, fulfillment's warehouse queue) with the same arguments and
bindings, each queue's DLQ, and the audit stream. Loaded before the services start, a
queue exists from the first publish on: a consumer that has never run yet still gets
every message sent to it.

No policy: every setting the code relies on is a queue argument. No users or
permissions: those are the deployment's (its secrets).

``python -m pbx_cli.topology --write`` regenerates the file; without ``--write`` the
command exits 1 when the checked-in file is stale.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pbx_cart.consumers import ROUTES as CART_ROUTES
from pbx_cli.services import SERVICES
from pbx_events.amqp import (
    AUDIT_ARGUMENTS,
    DEAD_LETTER_EXCHANGE_TYPE,
    DLQ_ARGUMENTS,
    EXCHANGE_TYPE,
    queue_arguments,
)
from pbx_events.bus import BusSettings, dlq_name
from pbx_events.fulfillment import WAREHOUSE_MESSAGES, WAREHOUSE_QUEUE
from pbx_fulfillment.consumers import ROUTES as FULFILLMENT_ROUTES
from pbx_identity.consumers import ROUTES as IDENTITY_ROUTES
from pbx_kit.service import ConsumerRoutes
from pbx_kit.sessions import ROUTING_KEYS as SESSIONS_ENDED_KEYS
from pbx_kit.sessions import sessions_queue
from pbx_kyc.consumers import ROUTES as KYC_ROUTES
from pbx_wallet.consumers import ROUTES as WALLET_ROUTES

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFINITIONS_PATH = REPO_ROOT / "deploy" / "rabbitmq" / "definitions.json"
VHOST = "/"

#: each service's consumer routes, as its ``Service(consumers=...)`` has them (catalog
#: consumes nothing but ended sessions)
CONSUMER_ROUTES: Mapping[str, ConsumerRoutes[Any]] = {
    "identity": IDENTITY_ROUTES,
    "kyc": KYC_ROUTES,
    "catalog": {},
    "cart": CART_ROUTES,
    "wallet": WALLET_ROUTES,
    "fulfillment": FULFILLMENT_ROUTES,
}
#: queues a service declares in its own setup for another party to consume: their keys
DECLARED_QUEUES: Mapping[str, Mapping[str, Sequence[str]]] = {
    "fulfillment": {WAREHOUSE_QUEUE: [cls.type_name() for cls in WAREHOUSE_MESSAGES]},
}


def service_queues(service: str) -> dict[str, list[str]]:
    """The queues a service declares (without a prefix) and the keys each is bound to."""
    queues = {
        queue: [contract.type_name() for contract in handlers]
        for queue, handlers in CONSUMER_ROUTES[service].items()
    }
    queues[sessions_queue(service)] = list(SESSIONS_ENDED_KEYS)
    for queue, keys in DECLARED_QUEUES.get(service, {}).items():
        queues[queue] = list(keys)
    return queues


def all_queues() -> dict[str, list[str]]:
    """Every service's queues: queue → routing keys (a queue belongs to one service)."""
    if set(CONSUMER_ROUTES) != set(SERVICES):
        raise ValueError(
            f"consumer routes for {sorted(CONSUMER_ROUTES)}, services {sorted(SERVICES)}"
        )
    queues: dict[str, list[str]] = {}
    for service in SERVICES:
        for queue, keys in service_queues(service).items():
            if queue in queues:
                raise ValueError(f"queue {queue} is declared by two services")
            queues[queue] = keys
    return queues


def definitions(settings: BusSettings | None = None) -> dict[str, Any]:
    """The definitions, as ``AmqpBus`` with these settings declares them."""
    s = settings or BusSettings()
    exchanges = [
        {
            "name": name,
            "vhost": VHOST,
            "type": str(kind.value),
            "durable": True,
            "auto_delete": False,
            "internal": False,
            "arguments": {},
        }
        for name, kind in (
            (s.exchange, EXCHANGE_TYPE),
            (s.dead_letter_exchange, DEAD_LETTER_EXCHANGE_TYPE),
        )
    ]
    queues: list[dict[str, Any]] = []
    bindings: list[dict[str, Any]] = []

    def queue(name: str, arguments: Mapping[str, Any]) -> None:
        queues.append(
            {
                "name": name,
                "vhost": VHOST,
                "durable": True,
                "auto_delete": False,
                "arguments": dict(arguments),
            }
        )

    def bind(exchange: str, name: str, key: str) -> None:
        bindings.append(
            {
                "source": exchange,
                "vhost": VHOST,
                "destination": name,
                "destination_type": "queue",
                "routing_key": key,
                "arguments": {},
            }
        )

    for name, keys in all_queues().items():
        queue(dlq_name(name), DLQ_ARGUMENTS)
        bind(s.dead_letter_exchange, dlq_name(name), dlq_name(name))
        queue(name, queue_arguments(s, name))
        for key in keys:
            bind(s.exchange, name, key)
    if s.audit:
        queue(s.audit_stream, AUDIT_ARGUMENTS)
        bind(s.exchange, s.audit_stream, "#")
    return {
        "vhosts": [{"name": VHOST}],
        "exchanges": sorted(exchanges, key=lambda e: e["name"]),
        "queues": sorted(queues, key=lambda q: q["name"]),
        "bindings": sorted(
            bindings, key=lambda b: (b["source"], b["destination"], b["routing_key"])
        ),
        "policies": [],
    }


def render(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--write", action="store_true", help="rewrite the checked-in file")
    args = parser.parse_args(argv)
    text = render(definitions())
    current = DEFINITIONS_PATH.read_text(encoding="utf-8") if DEFINITIONS_PATH.exists() else None
    if current == text:
        return
    where = DEFINITIONS_PATH.relative_to(REPO_ROOT)
    if not args.write:
        print(f"stale {where}: run python -m pbx_cli.topology --write")
        raise SystemExit(1)
    DEFINITIONS_PATH.parent.mkdir(parents=True, exist_ok=True)
    DEFINITIONS_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {where}")


if __name__ == "__main__":
    main()
