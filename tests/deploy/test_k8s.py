"""``deploy/k8s/`` validated by ``kubernetes-validate`` against the OpenAPI schemas of the
Kubernetes version pinned here (strict: a field Kubernetes does not know is an error),
and what the system needs of it: per service a Deployment (2 replicas, both probes,
resource limits, a non-root user, settings from the ConfigMap and the Secret), a Service
and a PodDisruptionBudget; one Ingress for the six prefixes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import kubernetes_validate.utils
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
#: the Kubernetes version the manifests are checked against (kubernetes-validate knows it)
KUBERNETES_VERSION = "1.33.0"
SERVICES = ("identity", "kyc", "catalog", "wallet", "cart", "fulfillment")


def manifests() -> list[tuple[str, dict[str, Any]]]:
    """Every resource: (file, resource), the secret template's included."""
    found = []
    for path in sorted([*K8S.glob("*.yaml"), *K8S.glob("templates/*.yaml")]):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if document is not None:
                found.append((str(path.relative_to(K8S)), document))
    return found


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in manifests() if doc["kind"] == kind}


def test_the_pinned_version_is_one_the_validator_knows() -> None:
    known = [
        v.removeprefix("v").removesuffix("-local") for v in kubernetes_validate.utils.all_versions()
    ]
    assert KUBERNETES_VERSION in known, known


@pytest.mark.parametrize(
    ("file", "resource"),
    [pytest.param(f, d, id=f"{f}:{d['kind']}/{d['metadata']['name']}") for f, d in manifests()],
)
def test_every_manifest_is_valid_for_kubernetes(file: str, resource: dict[str, Any]) -> None:
    # an unknown kind or API version raises too (SchemaNotFoundError): never passed over
    kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)


def test_the_validator_refuses_what_kubernetes_would() -> None:
    deployment = of_kind("Deployment")["identity"]
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = []
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_each_service_has_a_deployment_a_service_and_a_disruption_budget() -> None:
    deployments, services, budgets = (
        of_kind("Deployment"),
        of_kind("Service"),
        of_kind("PodDisruptionBudget"),
    )
    assert set(deployments) == set(services) == set(budgets) == set(SERVICES)
    for name in SERVICES:
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert deployments[name]["spec"]["replicas"] == 2
        selector = deployments[name]["spec"]["selector"]["matchLabels"]
        assert selector.items() <= labels.items(), name
        assert services[name]["spec"]["selector"].items() <= labels.items(), name
        assert services[name]["spec"]["ports"] == [
            {"name": "http", "port": 8000, "targetPort": "http"}
        ]
        assert budgets[name]["spec"]["minAvailable"] == 1
        assert budgets[name]["spec"]["selector"]["matchLabels"].items() <= labels.items(), name


def _container(name: str) -> dict[str, Any]:
    containers = of_kind("Deployment")[name]["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    container: dict[str, Any] = containers[0]
    return container


@pytest.mark.parametrize("name", SERVICES)
def test_every_deployment_has_both_probes_limits_and_a_non_root_user(name: str) -> None:
    container = _container(name)
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["ports"] == [{"name": "http", "containerPort": 8000}]
    resources = container["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"]), name
    assert {"cpu", "memory"} <= set(resources["limits"]), name
    pod = of_kind("Deployment")[name]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001  # the image's user (Dockerfile)
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert re.fullmatch(rf"[\w./-]+/{name}:[\w.-]+", container["image"]), container["image"]
    # the image's user, as the Dockerfile makes it
    assert "--uid 10001" in (ROOT / "Dockerfile").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", SERVICES)
def test_settings_come_from_the_configmap_and_the_secret(name: str) -> None:
    container = _container(name)
    assert container["envFrom"] == [{"configMapRef": {"name": "pbx-config"}}]
    secret = of_kind("Secret")["pbx-secrets"]["stringData"]
    env = {e["name"]: e for e in container["env"]}
    for variable in ("PBX_DATABASE_URL", "PBX_AMQP_URL", "PBX_CIPHER_KEY"):
        ref = env[variable]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "pbx-secrets", "key": variable}, name
    for entry in env.values():
        if "valueFrom" in entry:
            assert entry["valueFrom"]["secretKeyRef"]["key"] in secret, entry
    if name == "identity":
        assert "PBX_JWKS_URL" not in env
        assert env["PBX_JWT_PRIVATE_KEYS"]["valueFrom"]["secretKeyRef"]["name"] == "pbx-secrets"
    else:
        assert env["PBX_JWKS_URL"]["value"] == "http://identity:8000/.well-known/jwks.json"
        assert "PBX_JWT_PRIVATE_KEYS" not in env


def test_every_setting_is_one_the_system_reads_and_the_secret_holds_no_real_value() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("## Environment variables", 1)[1].split("\n## ", 1)[0]
    known = set(re.findall(r"^\| `(PBX_[A-Z_]+)` \|", table, re.MULTILINE))
    config = of_kind("ConfigMap")["pbx-config"]["data"]
    secret = of_kind("Secret")["pbx-secrets"]["stringData"]
    assert set(config) <= known, sorted(set(config) - known)
    assert set(secret) <= known, sorted(set(secret) - known)
    assert not set(config) & set(secret)
    for key, value in secret.items():
        assert "CHANGE-ME" in value, f"{key} in the template looks like a real value"


def test_the_ingress_routes_the_six_prefixes_to_their_services() -> None:
    (ingress,) = of_kind("Ingress").values()
    (rule,) = ingress["spec"]["rules"]
    routes = {
        path["path"]: (path["pathType"], path["backend"]["service"]["name"])
        for path in rule["http"]["paths"]
    }
    assert routes == {f"/{name}": ("Prefix", name) for name in SERVICES}
