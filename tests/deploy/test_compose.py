"""``docker-compose.yml`` against the Compose Specification's JSON schema (the official
``compose-spec.json``, vendored here: README.md), and what the system needs of it: the six
services built from the one Dockerfile, each with a health check and started after what
it needs, on the real servers, behind the edge proxy."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
SCHEMA = Path(__file__).with_name("compose-spec.json")
SERVICES = ("identity", "kyc", "catalog", "wallet", "cart", "fulfillment")
JWKS_URL = "http://identity:8000/.well-known/jwks.json"


def compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def schema_errors(document: dict[str, Any]) -> list[str]:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema)
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def readme_variables() -> set[str]:
    """The settings README's environment table names."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("## Environment variables", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `(PBX_[A-Z_]+)` \|", table, re.MULTILINE))


def test_the_compose_file_is_valid_against_the_compose_specification() -> None:
    assert schema_errors(compose()) == []


def test_the_schema_is_the_compose_specification_and_refuses_a_broken_file() -> None:
    # a copy of its own for each service (YAML anchors share one object between several)
    broken = json.loads(json.dumps(compose()))
    broken["services"]["identity"]["healthcheck"]["timeout"] = ["5s"]
    broken["services"]["catalog"]["depends_on"]["identity"]["condition"] = "whenever"
    broken["services"]["cart"]["bulid"] = {"context": "."}
    errors = schema_errors(broken)
    assert len(errors) == 3, errors
    assert any("services/cart" in e and "bulid" in e for e in errors), errors


def test_the_six_services_are_built_from_the_one_dockerfile() -> None:
    services = compose()["services"]
    assert set(SERVICES) <= set(services)
    for name in SERVICES:
        build = services[name]["build"]
        assert build["context"] == "."
        assert build.get("dockerfile", "Dockerfile") == "Dockerfile"
        assert build["args"] == {"SERVICE": name}, name
    assert (ROOT / "Dockerfile").is_file()


def test_every_service_has_a_health_check() -> None:
    for name, service in compose()["services"].items():
        check = service.get("healthcheck")
        assert check, f"{name} has no healthcheck"
        assert not check.get("disable"), name
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name
    for name in SERVICES:
        assert any("/readyz" in part for part in compose()["services"][name]["healthcheck"]["test"])


def test_each_service_starts_once_what_it_needs_is_healthy() -> None:
    services = compose()["services"]
    for name in SERVICES:
        needs = services[name]["depends_on"]
        expected = {"postgres", "rabbitmq"} | ({"identity"} if name != "identity" else set())
        assert set(needs) == expected, name
        assert all(n["condition"] == "service_healthy" for n in needs.values()), name
    edge = services["edge"]["depends_on"]
    assert set(edge) == set(SERVICES)
    assert all(n["condition"] == "service_healthy" for n in edge.values())


def test_the_services_run_on_the_real_servers_with_one_cipher_key() -> None:
    services = compose()["services"]
    for name in SERVICES:
        env = services[name]["environment"]
        assert env["PBX_DATABASE_URL"].startswith("postgresql://"), name
        assert "@postgres:5432/" in env["PBX_DATABASE_URL"], name
        assert env["PBX_AMQP_URL"].startswith("amqp://"), name
        assert "@rabbitmq:5672/" in env["PBX_AMQP_URL"], name
        # required, never a default written here
        assert env["PBX_CIPHER_KEY"].startswith("${PBX_CIPHER_KEY:?"), name
        assert env.get("PBX_JWKS_URL") == (None if name == "identity" else JWKS_URL), name
    wallet = services["wallet"]["environment"]
    assert wallet["PBX_WALLET_PROVIDER"] == "sandbox"
    assert wallet["PBX_WALLET_ALLOW_SANDBOX"] == "true"


def test_every_setting_given_is_one_the_system_reads() -> None:
    known = readme_variables() | {"PBX_WAREHOUSE_PASSWORD"}  # ./pbx warehouse-sim's own
    assert "PBX_DATABASE_URL" in known
    for name, service in compose()["services"].items():
        given = {k for k in service.get("environment", {}) if k.startswith("PBX_")}
        assert given <= known, f"{name}: {sorted(given - known)}"


def test_the_edge_routes_the_six_prefixes_to_the_services() -> None:
    services = compose()["services"]
    edge = services["edge"]
    assert edge["image"].startswith("nginx:stable")
    assert "./deploy/nginx/nginx.conf:/etc/nginx/nginx.conf:ro" in edge["volumes"]
    config = (ROOT / "deploy/nginx/nginx.conf").read_text(encoding="utf-8")
    routed = re.search(r"location ~ \^/\(\?<service>([a-z|]+)\)\(/\|\$\)", config)
    assert routed, "no location for the services' prefixes"
    assert set(routed.group(1).split("|")) == set(SERVICES)
    assert "proxy_pass http://$service:8000;" in config
    # the address identity trusts for X-Forwarded-For is the edge's
    address = edge["networks"]["pbx"]["ipv4_address"]
    assert services["identity"]["environment"]["PBX_TRUSTED_PROXIES"] == address


def test_rabbitmq_loads_the_definitions_at_boot() -> None:
    rabbitmq = compose()["services"]["rabbitmq"]
    assert rabbitmq["image"] == "rabbitmq:3-management"
    mounts = {m.split(":")[0]: m.split(":")[1] for m in rabbitmq["volumes"] if m.startswith("./")}
    assert mounts["./deploy/rabbitmq/definitions.json"].startswith("/etc/rabbitmq/definitions.d/")
    assert mounts["./deploy/rabbitmq/rabbitmq.conf"].startswith("/etc/rabbitmq/conf.d/")
    conf = (ROOT / "deploy/rabbitmq/rabbitmq.conf").read_text(encoding="utf-8")
    assert re.search(r"^load_definitions = /etc/rabbitmq/definitions\.d$", conf, re.MULTILINE)
    for source in mounts:
        if source != "./deploy/rabbitmq/definitions.json":  # written beside this work
            assert (ROOT / source).is_file(), source
    assert compose()["services"]["postgres"]["image"] == "postgres:15"


def test_the_warehouse_stand_in_reports_through_the_edge() -> None:
    sim = compose()["services"]["warehouse-sim"]
    assert sim["profiles"] == ["warehouse-sim"]
    assert sim["build"]["args"] == {"SERVICE": "cli"}
    assert sim["entrypoint"] == ["python", "-m", "pbx_cli", "warehouse-sim"]
    assert sim["command"][:2] == ["--url", "http://edge"]
    assert "--login-id" in sim["command"]
    assert "PBX_WAREHOUSE_PASSWORD" in sim["environment"]
    assert sim["environment"]["PBX_AMQP_URL"].startswith("amqp://")


@pytest.mark.parametrize("name", SERVICES)
def test_the_service_names_match_the_composition_root(name: str) -> None:
    from pbx_cli.services import SERVICES as BUILT

    assert name in BUILT
