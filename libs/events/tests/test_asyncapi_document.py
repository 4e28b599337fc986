"""The checked-in AsyncAPI document resolves and the official AsyncAPI parser accepts it.

The parser is the npm package ``@asyncapi/parser`` (pinned in ``asyncapi_parser/``,
installed there with ``npm ci`` on first use). Without node or npm the test skips
locally and fails when infrastructure is required (CI).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from pbx_events.asyncapi import ASYNCAPI_PATH, asyncapi_document, hoist_defs, unresolved_refs
from pbx_events.contracts import all_contracts
from pbx_kit.testing import missing

PARSER_DIR = Path(__file__).parent / "asyncapi_parser"


def test_every_ref_in_the_document_resolves() -> None:
    document = json.loads(ASYNCAPI_PATH.read_text(encoding="utf-8"))
    assert unresolved_refs(document) == []
    assert unresolved_refs(asyncapi_document()) == []


def test_no_schema_under_components_keeps_nested_defs() -> None:
    schemas = asyncapi_document()["components"]["schemas"]
    assert not [name for name, schema in schemas.items() if "$defs" in schema]
    # the contracts with nested models are still there, pointing at hoisted schemas
    nested = [c for c in all_contracts() if "$defs" in c.model_json_schema(mode="serialization")]
    assert nested


def test_unresolved_refs_finds_a_dangling_defs_reference() -> None:
    broken = {"components": {"schemas": {"A": {"$ref": "#/$defs/B"}, "C": {"$ref": "#/x"}}}}
    assert sorted(unresolved_refs(broken)) == ["#/$defs/B", "#/x"]


def test_hoisting_shares_an_identical_model_and_separates_a_different_one() -> None:
    schemas: dict[str, Any] = {}
    first = {"properties": {"a": {"$ref": "#/$defs/M"}}, "$defs": {"M": {"type": "string"}}}
    same = {"properties": {"b": {"$ref": "#/$defs/M"}}, "$defs": {"M": {"type": "string"}}}
    other = {"properties": {"c": {"$ref": "#/$defs/M"}}, "$defs": {"M": {"type": "integer"}}}
    schemas["one"] = hoist_defs("one", first, schemas)
    schemas["two"] = hoist_defs("two", same, schemas)
    schemas["three"] = hoist_defs("three", other, schemas)
    assert schemas["M"] == {"type": "string"}
    assert schemas["two"]["properties"]["b"] == {"$ref": "#/components/schemas/M"}
    assert schemas["three_M"] == {"type": "integer"}
    assert schemas["three"]["properties"]["c"] == {"$ref": "#/components/schemas/three_M"}
    assert unresolved_refs({"components": {"schemas": schemas}}) == []


def _parser_ready() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        missing("node/npm", "needed to run the official AsyncAPI parser")
        raise AssertionError("unreachable")
    if not (PARSER_DIR / "node_modules" / "@asyncapi" / "parser").is_dir():
        subprocess.run(
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
            cwd=PARSER_DIR,
            check=True,
            capture_output=True,
            timeout=600,
        )
    return node


def _parse(node: str, path: Path) -> dict[str, Any]:
    done = subprocess.run(
        [node, "parse.mjs", str(path)],
        cwd=PARSER_DIR,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_the_official_asyncapi_parser_accepts_the_document() -> None:
    node = _parser_ready()
    result = _parse(node, ASYNCAPI_PATH)
    assert result["errors"] == []
    assert result["document"] is True


def test_the_official_asyncapi_parser_refuses_a_dangling_defs_reference(tmp_path: Path) -> None:
    node = _parser_ready()
    document = json.loads(ASYNCAPI_PATH.read_text(encoding="utf-8"))
    name = next(iter(document["components"]["schemas"]))
    document["components"]["schemas"][name]["properties"]["dangling"] = {"$ref": "#/$defs/Gone"}
    broken = tmp_path / "asyncapi.json"
    broken.write_text(json.dumps(document), encoding="utf-8")
    result = _parse(node, broken)
    assert result["document"] is False
    assert any(error["code"] == "invalid-ref" for error in result["errors"])
