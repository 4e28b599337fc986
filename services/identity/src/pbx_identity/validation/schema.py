"""The registration body's shape (OpenAPI) and the field table the reader enforces.

One declaration per field: its type from ``_fields`` (rule, length, description) and its
Japanese label as ``title`` (used in the error messages). ``registration.py`` reads a body
by these models, so the documented limits are the enforced ones.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.fields import FieldInfo

from pbx_kit.jp.fields import (
    City,
    Kana,
    Name,
    Phone,
    PostalCode,
    Prefecture,
    Street,
    StreetKana,
)

from ._fields import (
    AgencyCode,
    Email,
    EmailConfirmation,
    Password,
    PasswordConfirmation,
    ScreeningPhone,
    TermsVersion,
)
from .model import ContractorType, PaymentMethod

Step = Literal["terms", "customer_info"]
STEPS: tuple[Step, ...] = get_args(Step)
INVALID_STEP_MESSAGE = f"stepには {' または '.join(STEPS)} を指定してください。"

_SAME = "契約者と同じかどうか"


class TermsIn(BaseModel):
    """規約への同意: 両方に同意（true）していること。"""

    model_config = ConfigDict(title="TermsIn")

    privacy_policy_accepted: Literal[True] = Field(
        title="個人情報の取扱いに関する事項への同意",
        description="個人情報の取扱いに関する事項に同意",
    )
    terms_of_service_accepted: Literal[True] = Field(
        title="利用規約への同意", description="利用規約に同意"
    )
    privacy_policy_version: TermsVersion | None = Field(
        None, title="個人情報の取扱いに関する事項の版"
    )
    terms_of_service_version: TermsVersion | None = Field(None, title="利用規約の版")


class ContractorIn(BaseModel):
    """契約者情報: 登記簿または住民票どおりに。"""

    name: Name = Field(
        title="契約者名（会社名）", description="氏名または会社名", examples=["山田 太郎"]
    )
    name_kana: Kana = Field(title="フリガナ")
    postal_code: PostalCode = Field(title="郵便番号")
    prefecture: Prefecture = Field(title="都道府県")
    city: City = Field(title="市区町村")
    city_kana: Kana = Field(title="市区町村フリガナ")
    street: Street = Field(title="番地・建物名")
    street_kana: StreetKana = Field(title="番地・建物名フリガナ")
    email: Email = Field(title="メールアドレス", examples=["taro@example.co.jp"])
    email_confirmation: EmailConfirmation = Field(title="メールアドレス（確認用）")
    phone: ScreeningPhone = Field(title="審査用固定番号")
    contact_phone: Phone | None = Field(None, title="希望連絡先")
    fax: Phone | None = Field(None, title="FAX番号")


class PersonIn(BaseModel):
    """代表者: 法人・テレマ事業者のみ。"""

    name: Name = Field(title="代表者名")
    name_kana: Kana = Field(title="代表者名フリガナ")


def _own_fields_required(*names: str) -> dict[str, Any]:
    """JSON Schema: when ``same_as_contractor`` is false, the section's own fields are required."""
    return {
        "if": {"properties": {"same_as_contractor": {"const": False}}},
        "then": {"required": list(names)},
    }


class ContactIn(BaseModel):
    """使用担当者・請求担当者: 契約者と同じ（true）、または個別に入力（false: 各項目が必須）。"""

    model_config = ConfigDict(
        json_schema_extra=_own_fields_required("name", "name_kana", "email", "phone")
    )

    same_as_contractor: bool = Field(title=_SAME)
    name: Name | None = Field(None, title="氏名")
    name_kana: Kana | None = Field(None, title="フリガナ")
    email: Email | None = Field(None, title="メールアドレス")
    phone: Phone | None = Field(None, title="電話番号")


class ShippingAddressIn(BaseModel):
    """送付先: 契約者と同じ（true）、または個別に入力（false: 各項目が必須）。"""

    # Documents the body; its own fields are read by pbx_kit.jp.address.AddressIn (the same
    # types and titles, kept equal by a test), the reader the cart uses too.

    model_config = ConfigDict(
        json_schema_extra=_own_fields_required(
            "name",
            "name_kana",
            "postal_code",
            "prefecture",
            "city",
            "city_kana",
            "street",
            "street_kana",
            "phone",
        )
    )

    same_as_contractor: bool = Field(title=_SAME)
    name: Name | None = Field(None, title="宛名")
    name_kana: Kana | None = Field(None, title="フリガナ")
    postal_code: PostalCode | None = Field(None, title="郵便番号")
    prefecture: Prefecture | None = Field(None, title="都道府県")
    city: City | None = Field(None, title="市区町村")
    city_kana: Kana | None = Field(None, title="市区町村フリガナ")
    street: Street | None = Field(None, title="番地・建物名")
    street_kana: StreetKana | None = Field(None, title="番地・建物名フリガナ")
    phone: Phone | None = Field(None, title="電話番号")


class RegistrationIn(BaseModel):
    """アカウント登録（SPEC §2.2）。"""

    terms: TermsIn = Field(title="規約への同意")
    password: Password = Field(title="パスワード")
    password_confirmation: PasswordConfirmation = Field(title="パスワード（確認用）")
    payment_method: PaymentMethod = Field(title="お支払い方法")
    contractor_type: ContractorType = Field(title="契約者区分")
    contractor: ContractorIn = Field(title="契約者情報")
    representative: PersonIn | None = Field(
        None, title="代表者", description="代表者: 法人・テレマのみ必須"
    )
    usage_contact: ContactIn | None = Field(None, title="使用担当者")
    billing_contact: ContactIn | None = Field(None, title="請求担当者")
    shipping_address: ShippingAddressIn | None = Field(None, title="送付先")
    agency_code: AgencyCode | None = Field(None, title="取次店コード")


def _optional(info: FieldInfo) -> tuple[Any, Any]:
    """The same field, not required: a draft may leave anything out."""
    if not info.is_required():
        return info.annotation, info
    optional = FieldInfo.merge_field_infos(info, default=None)
    return info.annotation | None, optional  # type: ignore[operator]


_DRAFT_FIELDS: dict[str, Any] = {
    "step": (Step | None, Field(None, title="入力ステップ")),
    **{key: _optional(info) for key, info in RegistrationIn.model_fields.items()},
}

#: 入力途中の申込内容: the registration's fields, all optional, plus ``step``
RegistrationDraftIn: type[BaseModel] = create_model(
    "RegistrationDraftIn",
    __doc__="入力途中の申込内容: 全体、または step で指定した手順だけを検証する。",
    **_DRAFT_FIELDS,
)
