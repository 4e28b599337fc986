"""The account page's circles (SPEC §2.5): list, add (free), cancel; each circle with the
services fulfillment activated in it. A customer sees only their own."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from pbx_identity.api_account import _NOT_FOUND, CustomerDep, IdentityServiceDep
from pbx_identity.commands import AddCircle, CancelCircle
from pbx_identity.views import phone_in_national_form

router = APIRouter(tags=["account page"])


class CircleServiceOut(BaseModel):
    """A service of the circle (ユニーク, 電話番号, レンタル機器), as fulfillment activated it."""

    service_id: UUID
    kind: Literal["unique", "phone_number", "rental"]
    sku: str
    name: str
    phone_number: str | None = Field(None, description="phone numbers: E.164 (+81…)")
    phone_number_national: str | None = Field(
        None, description="phone numbers: the national form (03-1234-5678)"
    )
    status: Literal["active", "cancelled"] = Field(description="利用中 / 解約済")
    activated_on: str = Field(description="the day in Japan it was activated (ISO date)")
    cancelled_on: str | None = Field(None, description="the day in Japan it ended")


class CircleOut(BaseModel):
    circle_id: UUID
    department_name: str
    staff_name: str
    applied_on: str
    status: Literal["active", "cancelled"]
    cancelled_on: str | None = None
    services: list[CircleServiceOut] = Field(
        [],
        description=(
            "the circle's services (uniques, phone numbers, rentals), in use or cancelled, "
            "in the order they were activated"
        ),
    )
    uniques: list[CircleServiceOut] = Field(
        [], description="the uniques in use (the services of kind unique still active)"
    )


def circle_out(circle: dict[str, Any]) -> CircleOut:
    """A stored circle as the account page shows it: its services, phone numbers also in
    national form, and the uniques in use."""
    services = [
        CircleServiceOut(
            **service, phone_number_national=phone_in_national_form(service["phone_number"])
        )
        for service in circle.get("services", [])
    ]
    return CircleOut(
        circle_id=circle["circle_id"],
        department_name=circle["department_name"],
        staff_name=circle["staff_name"],
        applied_on=circle["applied_on"],
        status=circle["status"],
        cancelled_on=circle["cancelled_on"],
        services=services,
        uniques=[s for s in services if s.kind == "unique" and s.status == "active"],
    )


class CircleIn(BaseModel):
    model_config = ConfigDict(strict=True)

    department_name: str = Field(min_length=1, max_length=100, description="部署名")
    staff_name: str = Field(min_length=1, max_length=100, description="担当者名")

    @field_validator("department_name", "staff_name")
    @classmethod
    def _clean(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("空白のみは入力できません。")
        if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
            raise ValueError("制御文字は入力できません。")
        return value


@router.get("/accounts/me/circles", response_model=list[CircleOut], responses=_NOT_FOUND)
def list_my_circles(caller: CustomerDep, app: IdentityServiceDep) -> list[CircleOut]:
    """The caller's circles, in the order they were added."""
    account = app.my_account(caller.subject_uuid)
    return [circle_out(c) for c in account.circles]


@router.post(
    "/accounts/me/circles", status_code=201, response_model=CircleOut, responses=_NOT_FOUND
)
def add_my_circle(body: CircleIn, caller: CustomerDep, app: IdentityServiceDep) -> CircleOut:
    """Add a circle (free): department name, staff name; applied today."""
    circle = app.add_circle(
        AddCircle(caller.subject_uuid, uuid4(), body.department_name, body.staff_name)
    )
    return circle_out(circle)


@router.delete("/accounts/me/circles/{circle_id}", response_model=CircleOut, responses=_NOT_FOUND)
def cancel_my_circle(
    circle_id: UUID, caller: CustomerDep, app: IdentityServiceDep, response: Response
) -> CircleOut:
    """Cancel one of the caller's circles (利用中 → 解約済); another account's is 404."""
    return circle_out(app.cancel_circle(CancelCircle(caller.subject_uuid, circle_id)))
