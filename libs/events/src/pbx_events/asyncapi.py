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


def asyncapi_document() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for cls in all_contracts():
        key = cls.type_name()
        msg_name = key.replace(".", "_")
        schemas[msg_name] = contract_schema(cls)
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
