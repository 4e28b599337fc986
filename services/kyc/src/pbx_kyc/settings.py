"""The kyc service's own settings (``PBX_KYC_*``); the shared ones are ``pbx_kit.settings``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class KycSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PBX_KYC_", extra="ignore")

    #: how identity is verified (SPEC §3): document upload now; IC-chip reading or JPKI
    #: join here when the law for online contracts moves there
    verification_method: Literal["document_upload"] = "document_upload"
    #: seconds between looks for approvals past their documents' validity
    expiry_interval: float = Field(default=60.0, gt=0)
