"""The AsyncAPI 3 document, JSON-schema snapshots and each contract's current example,
generated from the contracts.

``python -m pbx_events.asyncapi --write`` regenerates the checked-in files;
tests regenerate them in memory and fail on any difference.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pbx_events.bus import DEFAULT_DLX, DEFAULT_EXCHANGE
from pbx_events.contracts import IntegrationEvent, all_contracts

LIB_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = LIB_ROOT / "schemas"
EXAMPLE_DIR = LIB_ROOT / "examples"
ASYNCAPI_PATH = LIB_ROOT / "asyncapi.json"

_HEADERS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["schema_version", "producer_position"],
    "properties": {
        "schema_version": {"type": "string"},
        "correlation_id": {"type": "string"},
        "causation_id": {"type": "string"},
        "producer_position": {"type": "integer", "minimum": 1},
    },
}


def contract_schema(cls: type[IntegrationEvent]) -> dict[str, Any]:
    schema = cls.model_json_schema(mode="serialization")
    schema["x-pbx-type"] = cls.type_name()
    schema["x-pbx-schema-version"] = cls.schema_version
    return schema


def render(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def _rewrite_refs(node: Any, renames: dict[str, str]) -> Any:
    """A copy of ``node`` with each ``#/$defs/X`` reference pointing at its hoisted name."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/$defs/"):
                out[key] = f"#/components/schemas/{renames[value.removeprefix('#/$defs/')]}"
            else:
                out[key] = _rewrite_refs(value, renames)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(item, renames) for item in node]
    return node


def hoist_defs(msg_name: str, schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """Move a contract schema's ``$defs`` into ``components/schemas`` and rewrite its refs.

    In a contract's own snapshot ``#/$defs/X`` resolves against the snapshot; under
    ``components/schemas`` it would dangle (it resolves against the document root). A
    nested model is shared under its own name when every contract that uses it has the
    same schema for it, and named after the message otherwise.
    """
    defs: dict[str, Any] = schema.get("$defs", {})
    as_shared = _rewrite_refs(defs, {name: name for name in defs})
    renames: dict[str, str] = {}
    for name in defs:
        shared = schemas.get(name)
        same = shared is None or shared == as_shared[name]
        renames[name] = name if same else f"{msg_name}_{name}"
    for name, definition in defs.items():
        schemas[renames[name]] = _rewrite_refs(definition, renames)
    hoisted: dict[str, Any] = _rewrite_refs(
        {k: v for k, v in schema.items() if k != "$defs"}, renames
    )
    return hoisted


def unresolved_refs(document: dict[str, Any]) -> list[str]:
    """Every local ``$ref`` in the document that points at nothing (JSON pointers)."""

    def resolves(pointer: str) -> bool:
        node: Any = document
        for part in pointer.removeprefix("#/").split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return False
        return True

    dangling: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref" and isinstance(value, str):
                    if not value.startswith("#/") or not resolves(value):
                        dangling.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(document)
    return dangling


def asyncapi_document() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for cls in all_contracts():
        key = cls.type_name()
        msg_name = key.replace(".", "_")
        schemas[msg_name] = hoist_defs(msg_name, contract_schema(cls), schemas)
        messages[msg_name] = {
            "name": cls.event_name,
            "title": key,
            "summary": (cls.__doc__ or "").strip().splitlines()[0],
            "contentType": "application/json",
            "headers": _HEADERS_SCHEMA,
            "payload": {"$ref": f"#/components/schemas/{msg_name}"},
            "examples": [{"name": f"v{cls.schema_version}", "payload": cls.example}],
            "bindings": {"amqp": {"messageType": key, "bindingVersion": "0.3.0"}},
        }
        channels[msg_name] = {
            "address": key,
            "messages": {msg_name: {"$ref": f"#/components/messages/{msg_name}"}},
            "bindings": {
                "amqp": {
                    "is": "routingKey",
                    "exchange": {
                        "name": DEFAULT_EXCHANGE,
                        "type": "topic",
                        "durable": True,
                        "autoDelete": False,
                    },
                    "bindingVersion": "0.3.0",
                }
            },
        }
        operations[f"publish_{msg_name}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{msg_name}"},
            "summary": f"{cls.producer} publishes {cls.event_name} (persistent, confirmed)",
            "bindings": {"amqp": {"deliveryMode": 2, "mandatory": True, "bindingVersion": "0.3.0"}},
        }
    _warehouse(channels, operations)
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Cloud PBX portal integration events",
            "version": "1.0.0",
            "description": (
                f"Every service publishes to the durable topic exchange `{DEFAULT_EXCHANGE}` "
                "with routing key `<producer>.<EventName>.v<major>`. Consumers own quorum "
                f"queues with a delivery limit and dead-letter to `{DEFAULT_DLX}`."
            ),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def _warehouse(channels: dict[str, Any], operations: dict[str, Any]) -> None:
    """The warehouse, a system outside this repository, as a consumer: the quorum queue it
    binds (fulfillment declares it, so nothing is lost before the warehouse first connects)
    and the messages it receives there. It reports back over HTTP (fulfillment's
    ``POST /shipments/{id}/dispatch`` and ``/deliver``, role ``warehouse``)."""
    from pbx_events.fulfillment import WAREHOUSE_MESSAGES, WAREHOUSE_QUEUE

    names = {cls.type_name().replace(".", "_"): cls for cls in WAREHOUSE_MESSAGES}
    channel = "warehouse_shipments"
    channels[channel] = {
        "address": WAREHOUSE_QUEUE,
        "title": "the warehouse's queue",
        "description": "Bound to "
        + ", ".join(f"`{cls.type_name()}`" for cls in WAREHOUSE_MESSAGES)
        + f" on `{DEFAULT_EXCHANGE}`; a quorum queue with a delivery limit, dead-lettered to "
        f"`{DEFAULT_DLX}`.",
        "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in names},
        "bindings": {
            "amqp": {
                "is": "queue",
                "queue": {
                    "name": WAREHOUSE_QUEUE,
                    "durable": True,
                    "exclusive": False,
                    "autoDelete": False,
                },
                "bindingVersion": "0.3.0",
            }
        },
    }
    for name, cls in names.items():
        operations[f"warehouse_receives_{name}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{channel}"},
            "summary": f"the warehouse consumes {cls.event_name} (acknowledged after it acts)",
            "messages": [{"$ref": f"#/channels/{channel}/messages/{name}"}],
            "bindings": {"amqp": {"ack": True, "bindingVersion": "0.3.0"}},
        }


def example_path(cls: type[IntegrationEvent]) -> Path:
    """Where the contract's example of its current schema version is kept (the examples
    of earlier versions stay beside it: consumers must keep accepting them)."""
    return EXAMPLE_DIR / cls.type_name() / f"v{cls.schema_version}.json"


def expected_files() -> dict[Path, str]:
    files = {ASYNCAPI_PATH: render(asyncapi_document())}
    for cls in all_contracts():
        files[SCHEMA_DIR / f"{cls.type_name()}.json"] = render(contract_schema(cls))
        files[example_path(cls)] = render(cls.example)
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="rewrite the checked-in files")
    args = parser.parse_args()
    stale = []
    for path, text in expected_files().items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(path)
            if args.write:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
    for path in stale:
        print(("wrote " if args.write else "stale ") + str(path.relative_to(LIB_ROOT)))
    if stale and not args.write:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
