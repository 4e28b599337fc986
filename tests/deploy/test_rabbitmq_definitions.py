"""``deploy/rabbitmq/definitions.json``: the broker's topology as data (issue 15).

The checked-in file is the generator's output (``python -m pbx_cli.topology``); every queue
the services declare when they run is in it with exactly the bindings they bind; every
consumer queue is a quorum queue with a delivery limit and a dead-letter queue. On the real
RabbitMQ, the file's part for two consumers loads (``rabbitmqctl import_definitions``, into
a vhost of the test's own, deleted after) as the broker keeps it, and a message published
for a consumer that never ran waits in its queue until the consumer comes.
"""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

import pbx_identity.application
from pbx_cli import topology
from pbx_cli.services import SERVICES as BUILDS
from pbx_events.amqp import AmqpBus
from pbx_events.bus import BusSettings, Delivery, dlq_name, topic_matches
from pbx_events.contracts import IntegrationEvent
from pbx_events.envelope import Message
from pbx_events.fulfillment import ShipmentRequested
from pbx_events.identity import AccountRegistered
from pbx_events.memory import InMemoryBus
from pbx_events.store import new_cipher_key
from pbx_kit.host import running
from pbx_kit.mail import MaildirMailer
from pbx_kit.runtime import Infrastructure
from pbx_kit.settings import Settings
from pbx_kit.testing import Broker, missing
from pbx_kit.testing_passwords import cheap_password_hashing
from pbx_wallet.main import build as build_wallet
from pbx_wallet.settings import WalletSettings

FIX = "python -m pbx_cli.topology --write"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return dict(json.loads(topology.DEFINITIONS_PATH.read_text(encoding="utf-8")))


def by_name(document: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in document[kind]}


def bound_keys(document: dict[str, Any], exchange: str) -> dict[str, set[str]]:
    """Queue → the keys it is bound with to ``exchange``."""
    keys: dict[str, set[str]] = {}
    for binding in document["bindings"]:
        if binding["source"] == exchange:
            keys.setdefault(binding["destination"], set()).add(binding["routing_key"])
    return keys


def test_the_checked_in_file_is_the_generators_output() -> None:
    path = topology.DEFINITIONS_PATH
    assert path.exists(), f"{path} is missing: run `{FIX}`"
    expected = topology.render(topology.definitions())
    assert path.read_text(encoding="utf-8") == expected, f"{path} is stale: run `{FIX}`"


def test_the_command_fails_on_a_stale_file_and_writes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "deploy" / "rabbitmq" / "definitions.json"
    monkeypatch.setattr(topology, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(topology, "DEFINITIONS_PATH", target)
    with pytest.raises(SystemExit) as missing:
        topology.main([])
    assert missing.value.code == 1
    assert FIX in capsys.readouterr().out
    topology.main(["--write"])
    assert target.read_text(encoding="utf-8") == topology.render(topology.definitions())
    topology.main([])  # up to date: no exit
    target.write_text("{}\n", encoding="utf-8")
    with pytest.raises(SystemExit):
        topology.main([])


class RecordingBus(InMemoryBus):
    """The in-process bus, remembering every queue declared and the keys bound to it."""

    def __init__(self, settings: BusSettings) -> None:
        super().__init__(settings)
        self.bound: dict[str, set[str]] = {}

    async def declare_queue(self, queue: str, routing_keys: Any) -> None:
        self.bound.setdefault(queue, set()).update(routing_keys)
        await super().declare_queue(queue, routing_keys)

    async def subscribe(self, queue: str, routing_keys: Any, handler: Any):  # type: ignore[no-untyped-def]
        self.bound.setdefault(queue, set()).update(routing_keys)
        return await super().subscribe(queue, routing_keys, handler)


async def test_every_queue_the_services_declare_is_in_the_file_with_exactly_its_bindings(
    document: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """All services started as ``./pbx up`` starts them (consumer routes, queues of ended
    sessions, the warehouse's queue): what they declared is what the file has."""
    cheap_password_hashing(monkeypatch, pbx_identity.application)
    cipher_key = new_cipher_key()
    settings = Settings(amqp_url="memory://", data_dir=tmp_path, cipher_key=cipher_key)
    assert settings.queue_prefix == ""  # deployments name queues as the file does
    bus = RecordingBus(BusSettings(exchange=settings.exchange))
    infra = Infrastructure(
        settings=settings,
        database_url=None,
        bus=bus,
        mailer=MaildirMailer(tmp_path / "mail", settings.mail_from),
        cipher_key=cipher_key,
    )
    runtimes = [build(infra) for name, build in BUILDS.items() if name != "wallet"]
    runtimes.append(build_wallet(infra, WalletSettings(provider="sandbox", allow_sandbox=True)))
    async with running(infra, runtimes):
        pass
    declared = dict(bus.bound)
    for name in BUILDS:
        assert f"{name}.sessions-ended" in declared, f"{name} did not subscribe its sessions"
    assert "warehouse.shipments" in declared

    in_file = bound_keys(document, "pbx.events")
    in_file.pop("pbx.events.audit")
    assert in_file == declared
    # and the generator's table of them is the services' own
    assert {q: set(k) for q, k in topology.all_queues().items()} == declared


def consumer_queues(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: queue
        for name, queue in by_name(document, "queues").items()
        if queue["arguments"].get("x-queue-type") == "quorum" and not name.endswith(".dlq")
    }


def test_every_consumer_queue_is_quorum_with_a_delivery_limit_and_a_dead_letter_queue(
    document: dict[str, Any],
) -> None:
    exchanges = by_name(document, "exchanges")
    queues = by_name(document, "queues")
    dead_letter_bindings = bound_keys(document, "pbx.dlx")
    consumers = consumer_queues(document)
    assert set(consumers) == set(topology.all_queues())
    for name, queue in consumers.items():
        arguments = queue["arguments"]
        assert queue["durable"] is True and queue["auto_delete"] is False, name
        limit = arguments.get("x-delivery-limit")
        assert isinstance(limit, int) and limit > 0, name
        dlx = arguments.get("x-dead-letter-exchange")
        assert dlx in exchanges and exchanges[dlx]["type"] == "direct", name
        assert arguments.get("x-dead-letter-strategy") == "at-least-once", name
        assert arguments.get("x-overflow") == "reject-publish", name  # at-least-once needs it
        dlq = arguments.get("x-dead-letter-routing-key")
        assert dlq == dlq_name(name) and dlq in queues, f"{name}: no DLQ"
        assert dead_letter_bindings.get(dlq) == {dlq}, f"{dlq} is not bound to {dlx}"
        # the end of the line: no delivery limit, no dead-lettering back (a cycle)
        assert queues[dlq]["arguments"] == {"x-queue-type": "quorum"}, dlq
    assert set(dead_letter_bindings) == {dlq_name(name) for name in consumers}


def test_exchanges_audit_stream_and_nothing_else(document: dict[str, Any]) -> None:
    exchanges = by_name(document, "exchanges")
    assert {name: (e["type"], e["durable"]) for name, e in exchanges.items()} == {
        "pbx.events": ("topic", True),
        "pbx.dlx": ("direct", True),
    }
    audit = by_name(document, "queues")["pbx.events.audit"]
    assert audit["arguments"]["x-queue-type"] == "stream"
    assert bound_keys(document, "pbx.events")["pbx.events.audit"] == {"#"}
    queues = by_name(document, "queues")
    assert set(queues) == (
        set(consumer_queues(document))
        | {dlq_name(q) for q in consumer_queues(document)}
        | {"pbx.events.audit"}
    )
    for binding in document["bindings"]:
        assert binding["source"] in exchanges and binding["destination"] in queues
    assert document["vhosts"] == [{"name": "/"}]
    # every setting the code relies on is a queue argument: no policy
    assert document["policies"] == []
    assert "users" not in document and "permissions" not in document


# --- on the real RabbitMQ -------------------------------------------------------------
#
# Into a vhost of the test's own (``rabbitmqctl import_definitions``: the management
# plugin is not needed), deleted after with all in it; only a few consumers' part of the
# file: on RabbitMQ 3.10 each quorum queue reserves three of the node's file handles, and
# a node out of them blocks every new connection (of every test) until queues go.

#: the consumers whose part of the file the broker test loads: a service's and the warehouse's
LOADED_CONSUMERS = ("kyc.accounts", "warehouse.shipments")
#: file handles RabbitMQ 3.10 reserves per quorum queue
HANDLES_PER_QUORUM_QUEUE = 3
#: handles left free for the other tests running at the same time
HANDLES_SPARE = 15


def rabbitmqctl_json(broker: Broker, *args: str) -> list[dict[str, Any]]:
    output = broker.rabbitmqctl(*args, "--quiet", "--formatter", "json")
    start = output.find("[")
    return list(json.loads(output[start:])) if start >= 0 else []


def free_file_handles(broker: Broker) -> int | None:
    """The node's file handles still free (None when the broker does not say: no file
    handle cache, as from RabbitMQ 4)."""
    try:
        output = broker.rabbitmqctl("eval", "file_handle_cache:info([total_limit, total_used]).")
    except subprocess.CalledProcessError:
        return None
    numbers = [int(n) for n in re.findall(r"\b\d+\b", output)]
    return numbers[0] - numbers[1] if len(numbers) == 2 else None


def import_definitions(broker: Broker, text: str) -> None:
    """``rabbitmqctl import_definitions`` of ``text`` (in the broker's container, if any)."""
    if broker.container is not None:
        remote = f"/tmp/pbx-definitions-{uuid.uuid4().hex[:8]}.json"
        script = (
            f"printf '%s' {shlex.quote(text)} > {remote}"
            f" && rabbitmqctl import_definitions {remote}; status=$?; rm -f {remote}; exit $status"
        )
        code, output = broker.container.exec(["sh", "-c", script])
        assert code == 0, output
        return
    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8") as file:
        file.write(text)
        file.flush()
        # rabbitmqctl may read it as the broker's user (it switches to it when run as root)
        Path(file.name).chmod(0o644)
        broker.rabbitmqctl("import_definitions", file.name)


@pytest.fixture
def vhost(amqp_broker: Broker) -> Iterator[str]:
    """A vhost of the test's own (the URL's user may use it), deleted with all in it."""
    # each consumer's queue and its DLQ are quorum queues
    needed = 2 * len(LOADED_CONSUMERS) * HANDLES_PER_QUORUM_QUEUE + HANDLES_SPARE
    free = free_file_handles(amqp_broker)
    if free is not None and free < needed:
        missing("RabbitMQ file handles", f"{free} free, {needed} needed")
    name = f"pbx-test-{uuid.uuid4().hex[:10]}"
    user = urlsplit(amqp_broker.url).username or "guest"
    amqp_broker.rabbitmqctl("add_vhost", name)
    try:
        amqp_broker.rabbitmqctl("set_permissions", "-p", name, user, ".*", ".*", ".*")
        yield name
    finally:
        amqp_broker.rabbitmqctl("delete_vhost", name)


def part_for(document: dict[str, Any], consumers: tuple[str, ...], vhost: str) -> dict[str, Any]:
    """The file's definitions of these consumer queues (with their DLQs), the exchanges and
    the audit stream, moved to ``vhost``."""
    names = {*consumers, *(dlq_name(q) for q in consumers), "pbx.events.audit"}
    part = {
        "vhosts": [{"name": vhost}],
        "exchanges": document["exchanges"],
        "queues": [q for q in document["queues"] if q["name"] in names],
        "bindings": [b for b in document["bindings"] if b["destination"] in names],
        "policies": document["policies"],
    }
    moved = json.loads(json.dumps(part))
    for kind in ("exchanges", "queues", "bindings"):
        for item in moved[kind]:
            item["vhost"] = vhost
    return dict(moved)


def plain_arguments(arguments: list[list[Any]]) -> dict[str, Any]:
    """rabbitmqctl's ``[[name, type, value], …]`` as the file's ``{name: value}``."""
    return {name: value for name, _, value in arguments}


def a_message(contract: type[IntegrationEvent]) -> Message:
    key = contract.type_name()
    return Message(
        routing_key=key,
        body=json.dumps(contract.example).encode(),
        message_id=str(uuid.uuid4()),
        type=key,
        app_id=contract.producer,
        timestamp=datetime.now(UTC).replace(microsecond=0),
        headers={"schema_version": contract.schema_version},
    )


async def test_loaded_into_rabbitmq_a_message_waits_for_a_consumer_that_never_ran(
    document: dict[str, Any], amqp_broker: Broker, vhost: str
) -> None:
    part = part_for(document, LOADED_CONSUMERS, vhost)
    quorum = [q for q in part["queues"] if q["arguments"]["x-queue-type"] == "quorum"]
    assert len(quorum) == 2 * len(LOADED_CONSUMERS)  # as the vhost fixture counted
    import_definitions(amqp_broker, json.dumps(part))

    # the import runs in the background: wait until every queue is there
    expected = {
        q["name"]: {k: q[k] for k in ("name", "durable", "auto_delete", "arguments")}
        for q in part["queues"]
    }
    loaded: dict[str, dict[str, Any]] = {}
    for _ in range(60):
        listed = rabbitmqctl_json(
            amqp_broker, "list_queues", "-p", vhost, "name", "durable", "auto_delete", "arguments"
        )
        loaded = {q["name"]: {**q, "arguments": plain_arguments(q["arguments"])} for q in listed}
        if set(loaded) >= set(expected):
            break
        await asyncio.sleep(0.5)
    # the broker keeps what the file says
    assert loaded == expected
    listed_bindings = rabbitmqctl_json(
        amqp_broker, "list_bindings", "-p", vhost, "source_name", "destination_name", "routing_key"
    )
    assert {
        (b["source_name"], b["destination_name"], b["routing_key"])
        for b in listed_bindings
        if b["source_name"]  # not the default exchange's implicit bindings
    } == {(b["source"], b["destination"], b["routing_key"]) for b in part["bindings"]}
    exchanges = {
        e["name"]: (e["type"], e["durable"])
        for e in rabbitmqctl_json(
            amqp_broker, "list_exchanges", "-p", vhost, "name", "type", "durable"
        )
    }
    assert exchanges["pbx.events"] == ("topic", True)
    assert exchanges["pbx.dlx"] == ("direct", True)

    # no service ever ran in this vhost: a producer publishes, the consumers come later
    url = urlsplit(amqp_broker.url)._replace(path="/" + quote(vhost, safe="")).geturl()
    bus = AmqpBus(url, BusSettings(), connection_name=f"pbx-test {vhost}")
    # connecting declares the exchanges and the audit stream as the code does: a
    # difference from the file would fail (PRECONDITION_FAILED)
    await asyncio.wait_for(bus.connect(), 30)
    try:
        sent = {}
        for contract in (AccountRegistered, ShipmentRequested):
            message = a_message(contract)
            await bus.publish([message])
            sent[message.message_id] = contract.type_name()
        keys = bound_keys(part, "pbx.events")
        for queue in LOADED_CONSUMERS:
            received: asyncio.Queue[Delivery] = asyncio.Queue()

            async def handler(delivery: Delivery, into: asyncio.Queue[Delivery] = received) -> None:
                await into.put(delivery)

            # the consumer's first start: it declares its queue with the code's own
            # arguments and keys (the same as loaded) and gets what waited for it
            subscription = await bus.subscribe(queue, sorted(keys[queue]), handler)
            try:
                delivery = await asyncio.wait_for(received.get(), 10)
            finally:
                await subscription.cancel()
            expected_ids = [
                m for m, key in sent.items() if any(topic_matches(k, key) for k in keys[queue])
            ]
            assert [delivery.message.message_id] == expected_ids, queue
            assert delivery.delivery_count == 0 and not delivery.redelivered, queue
            assert await bus.dead_letter_count(queue) == 0
    finally:
        await bus.close()
