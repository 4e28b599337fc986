"""The documented shapes of identity's request bodies (OpenAPI).

Registration bodies are validated by ``validation.validate_registration`` so
that every broken rule is reported at once with its own stable code; these
models only document the shape for the gateway (and the property tests).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Kana = Field(
    description=(
        "フリガナ: 全角カタカナ（半角カナは全角に、空白は全角空白に正規化）または半角英数字"
    ),
    max_length=100,
)


class TermsIn(BaseModel):
    model_config = ConfigDict(title="TermsIn")

    privacy_policy_accepted: bool = Field(description="個人情報の取扱いに関する事項に同意")
    terms_of_service_accepted: bool = Field(description="利用規約に同意")
    privacy_policy_version: str | None = Field(None, description="同意した版（省略時は現行版）")
    terms_of_service_version: str | None = Field(None, description="同意した版（省略時は現行版）")


class ContractorIn(BaseModel):
    """契約者情報: 登記簿または住民票どおりに。"""

    name: str = Field(max_length=100, description="氏名または会社名", examples=["山田 太郎"])
    name_kana: str = Kana
    postal_code: str = Field(
        description="半角数字7桁（ハイフンなし）。海外は 00000000", examples=["1350064"]
    )
    prefecture: str = Field(description="都道府県名（47都道府県）または海外", examples=["東京都"])
    city: str = Field(max_length=100, description="市区町村")
    city_kana: str = Kana
    street: str = Field(max_length=200, description="番地・建物名")
    street_kana: str = Field(
        max_length=200, description="番地・建物名フリガナ（カタカナと半角英数字・ハイフン）"
    )
    email: str = Field(max_length=254, examples=["taro@example.co.jp"])
    email_confirmation: str = Field(max_length=254)
    phone: str = Field(
        description="審査用固定番号: 固定電話（0AB-J）のみ。携帯・IP電話・フリーダイヤル等は不可",
        examples=["03-1234-5678"],
    )
    contact_phone: str | None = Field(None, description="希望連絡先")
    fax: str | None = None


class PersonIn(BaseModel):
    name: str = Field(max_length=100)
    name_kana: str = Kana


class ContactIn(BaseModel):
    """使用担当者・請求担当者: 契約者と同じ、または個別に入力。"""

    same_as_contractor: bool
    name: str | None = None
    name_kana: str | None = None
    email: str | None = None
    phone: str | None = None


class ShippingAddressIn(BaseModel):
    """送付先: 契約者と同じ、または個別に入力。"""

    same_as_contractor: bool
    name: str | None = None
    name_kana: str | None = None
    postal_code: str | None = None
    prefecture: str | None = None
    city: str | None = None
    city_kana: str | None = None
    street: str | None = None
    street_kana: str | None = None
    phone: str | None = None


class RegistrationIn(BaseModel):
    """アカウント登録（SPEC §2.2）。"""

    terms: TermsIn
    password: str = Field(
        min_length=8,
        max_length=128,
        description="8文字以上。英大文字・英小文字・記号（! @ # $ % ^ & * ? _ -）を含む",
    )
    password_confirmation: str
    payment_method: Literal["prepaid"]
    contractor_type: Literal["individual", "corporation", "telemarketing"]
    contractor: ContractorIn
    representative: PersonIn | None = Field(None, description="代表者: 法人・テレマのみ必須")
    usage_contact: ContactIn | None = None
    billing_contact: ContactIn | None = None
    shipping_address: ShippingAddressIn | None = None
    agency_code: str | None = Field(None, max_length=20, description="取次店コード（任意）")


class RegistrationDraftIn(BaseModel):
    """入力途中の申込内容: 全体、または step で指定した手順だけを検証する。"""

    step: Literal["terms", "customer_info"] | None = None
    terms: TermsIn | None = None
    password: str | None = None
    password_confirmation: str | None = None
    payment_method: Literal["prepaid"] | None = None
    contractor_type: Literal["individual", "corporation", "telemarketing"] | None = None
    contractor: ContractorIn | None = None
    representative: PersonIn | None = None
    usage_contact: ContactIn | None = None
    billing_contact: ContactIn | None = None
    shipping_address: ShippingAddressIn | None = None
    agency_code: str | None = None


DOCUMENTED = (RegistrationIn, RegistrationDraftIn)
