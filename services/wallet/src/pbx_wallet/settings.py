"""The wallet's own settings (``PBX_WALLET_*``); the shared ones are ``pbx_kit.settings``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class WalletSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PBX_WALLET_", extra="ignore")

    #: the payment provider (only the sandbox is built; a real one plugs into the same port);
    #: unset = the sandbox on the embedded default, and no start on real servers
    provider: Literal["sandbox"] | None = None
    #: let the sandbox (anyone with an admin login can mark a top-up paid) run on real
    #: servers: a staging system, never production
    allow_sandbox: bool = False
    #: the provider's notification signing secrets, comma-separated (several while rotating);
    #: unset = one derived from the cipher key (development)
    webhook_secrets: SecretStr | None = None
    #: where the sandbox provider's pages pretend to live
    sandbox_base_url: str = "https://sandbox.pay.example.jp"
    #: seconds between looks for top-ups past their payment deadline
    expiry_interval: float = Field(default=5.0, gt=0)
