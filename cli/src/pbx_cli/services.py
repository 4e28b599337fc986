"""The composition root: every service the system has (a service not built yet is absent).

Each service's module is imported when that service is built, not before: a container
image that holds one service alone (the Dockerfile, ``python -m pbx_cli.serve <service>``)
has only that service's package installed."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from pbx_kit.runtime import Infrastructure, ServiceRuntime

#: each service's name → the module whose ``build(infra)`` makes its runtime
MODULES: dict[str, str] = {
    "identity": "pbx_identity.main",
    "kyc": "pbx_kyc.main",
    "catalog": "pbx_catalog.main",
    "cart": "pbx_cart.main",
    "wallet": "pbx_wallet.main",
    "fulfillment": "pbx_fulfillment.main",
}


def _builder(module: str) -> Callable[[Infrastructure], ServiceRuntime]:
    def build(infra: Infrastructure) -> ServiceRuntime:
        runtime: ServiceRuntime = importlib.import_module(module).build(infra)
        return runtime

    build.__qualname__ = build.__name__ = f"build_{module.split('.')[0].removeprefix('pbx_')}"
    return build


SERVICES: dict[str, Callable[[Infrastructure], ServiceRuntime]] = {
    name: _builder(module) for name, module in MODULES.items()
}
