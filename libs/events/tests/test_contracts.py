"""Every contract matches its checked-in schema, every old example still validates,
and the AsyncAPI document is what the contracts generate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pbx_events.asyncapi import ASYNCAPI_PATH, EXAMPLE_DIR, SCHEMA_DIR, expected_files
from pbx_events.contracts import IntegrationEvent, all_contracts, contract_for
from pbx_events.envelope import parse, to_message
from pbx_events.fulfillment import WAREHOUSE_MESSAGES, WAREHOUSE_QUEUE


def test_every_checked_in_file_matches_what_the_contracts_generate() -> None:
    stale = [
        str(path)
        for path, text in expected_files().items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    assert not stale, (
        f"contracts drifted from their snapshots: {stale}; an additive change needs a new "
        "schema_version and `python -m pbx_events.asyncapi --write`, a breaking one a new major"
    )


def test_asyncapi_document_is_version_3_and_names_every_contract() -> None:
    doc = json.loads(ASYNCAPI_PATH.read_text(encoding="utf-8"))
    assert doc["asyncapi"].startswith("3.")
    routing_keys = {
        channel["address"]
        for channel in doc["channels"].values()
        if channel["bindings"]["amqp"]["is"] == "routingKey"
    }
    assert routing_keys == {cls.type_name() for cls in all_contracts()}


def test_asyncapi_documents_the_warehouse_queue_and_what_it_receives() -> None:
    doc = json.loads(ASYNCAPI_PATH.read_text(encoding="utf-8"))
    queues = {
        channel["address"]: channel
        for channel in doc["channels"].values()
        if channel["bindings"]["amqp"]["is"] == "queue"
    }
    assert set(queues) == {WAREHOUSE_QUEUE}
    received = {
        op["messages"][0]["$ref"].rsplit("/", 1)[-1]
        for op in doc["operations"].values()
        if op["action"] == "receive"
    }
    assert received == {c.type_name().replace(".", "_") for c in WAREHOUSE_MESSAGES}


def test_no_snapshot_is_orphaned() -> None:
    names = {p.stem for p in SCHEMA_DIR.glob("*.json")}
    assert names == {cls.type_name() for cls in all_contracts()}


def _examples() -> list[tuple[str, Path]]:
    return [(d.name, f) for d in sorted(EXAMPLE_DIR.iterdir()) for f in sorted(d.glob("*.json"))]


def test_every_contract_has_at_least_one_example() -> None:
    assert {name for name, _ in _examples()} >= {c.type_name() for c in all_contracts()}


@pytest.mark.parametrize("cls", all_contracts(), ids=lambda c: c.type_name())
def test_every_contract_carries_a_valid_example_of_its_current_version(
    cls: type[IntegrationEvent],
) -> None:
    assert cls.example, f"{cls.type_name()} has no example"
    event = cls.model_validate(cls.example)
    assert cls.model_validate_json(event.model_dump_json()) == event


@pytest.mark.parametrize(
    ("type_name", "path"), _examples(), ids=lambda v: str(getattr(v, "name", v))
)
def test_old_example_still_validates_and_round_trips_through_a_message(
    type_name: str, path: Path
) -> None:
    cls = contract_for(type_name)
    event = cls.model_validate_json(path.read_bytes())
    message = to_message(
        event, message_id="m-1", producer_position=7, correlation_id="c-1", causation_id="r-1"
    )
    assert message.routing_key == type_name == message.type
    assert message.app_id == type_name.split(".")[0]
    assert message.headers == {
        "schema_version": cls.schema_version,
        "correlation_id": "c-1",
        "causation_id": "r-1",
        "producer_position": 7,
    }
    assert parse(message) == event


def test_contract_refuses_a_payload_missing_a_required_field() -> None:
    cls = contract_for("identity.AccountRegistered.v1")
    with pytest.raises(ValueError, match="account_id"):
        cls.model_validate({"login_id": "X"})
