"""Single-field input rules of registration (SPEC §2.2.1), table-driven with real examples."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pbx_identity.validation.email import (
    check_business_email,
    email_domain_class,
    normalize_email,
)
from pbx_identity.validation.password import (
    PasswordPolicyViolation,
    check_password,
    password_problems,
)
from pbx_kit.jp.errors import RuleViolation
from pbx_kit.jp.kana import normalize_name_kana, normalize_street_kana
from pbx_kit.jp.phone import (
    format_national,
    is_fixed_line_e164,
    normalize_phone,
    normalize_screening_phone,
    screening_phone_warning,
)
from pbx_kit.jp.postal import is_overseas_postal_code, normalize_postal_code
from pbx_kit.jp.prefectures import PREFECTURES, prefecture_code, prefecture_name

FW_SPACE = "\u3000"


def _code(rule: Callable[..., object], *args: str) -> str:
    with pytest.raises(RuleViolation) as caught:
        rule(*args)
    assert caught.value.message  # always a Japanese message for the user
    return caught.value.code


# --- furigana of names, companies, representatives, cities -------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("ヤマダ", "ヤマダ"),
        ("ヴィンテージ", "ヴィンテージ"),  # ヴ
        ("コーヒー", "コーヒー"),  # ー
        ("ァィゥェォッャュョヮヵヶ", "ァィゥェォッャュョヮヵヶ"),  # small kana
        ("ヤマダ・タロウ", "ヤマダ・タロウ"),  # ・
        (f"ヤマダ{FW_SPACE}タロウ", f"ヤマダ{FW_SPACE}タロウ"),  # full-width space kept
        ("ヤマダ タロウ", f"ヤマダ{FW_SPACE}タロウ"),  # ASCII space stored as U+3000
        (f"ヤマダ  {FW_SPACE}タロウ", f"ヤマダ{FW_SPACE}タロウ"),  # a run collapses to one
        (f"{FW_SPACE} ヤマダ タロウ {FW_SPACE}", f"ヤマダ{FW_SPACE}タロウ"),  # trimmed
        ("ﾔﾏﾀﾞ ﾀﾛｳ", f"ヤマダ{FW_SPACE}タロウ"),  # half-width katakana widened
        ("ｶﾌﾞｼｷｶﾞｲｼｬ ﾊﾟｼﾌｨｯｸ", f"カブシキガイシャ{FW_SPACE}パシフィック"),
        ("ｳﾞｪﾙﾃﾞｨ", "ヴェルディ"),
        ("ｺｰﾋｰ･ﾊｳｽ", "コーヒー・ハウス"),
        ("ヤマタ\u3099", "ヤマダ"),  # combining dakuten composed (NFC)
        ("ハ\u309aン", "パン"),  # combining handakuten composed
        ("ウ\u3099ァ", "ヴァ"),
        ("ヤマタ゛", "ヤマダ"),  # spacing dakuten typed after the kana
        ("ハ゜ン", "パン"),  # spacing handakuten typed after the kana
        ("コウトウク", "コウトウク"),
        ("YAMADA TARO", "YAMADA TARO"),  # half-width alphanumerics
        ("Yamada  Taro", "Yamada Taro"),
        ("ＹＡＭＡＤＡ　ＴＡＲＯ", "YAMADA TARO"),  # full-width letters folded, space ASCII
        ("NTT 123", "NTT 123"),
        ("ABC", "ABC"),
    ],
)
def test_name_kana_is_normalised_to_katakana_or_half_width_alnum(typed: str, stored: str) -> None:
    assert normalize_name_kana(typed) == stored


@pytest.mark.parametrize(
    "typed",
    [
        "やまだ",  # hiragana
        "やまだ タロウ",
        "山田",  # kanji
        "山田 太郎",
        "ヤマダ太郎",
        "ヤマダ_タロウ",
        "ヤマダ-タロウ",  # a hyphen is not the long vowel mark
        "ヤマダ\tタロウ",
        "ア゛",  # a voiced mark that composes with nothing
        "ヷ",  # outside the allowed block
        "Yamada.Taro",
        "ヤマダ！",
    ],
)
def test_name_kana_refuses_hiragana_kanji_and_mixtures(typed: str) -> None:
    assert _code(normalize_name_kana, typed) == "invalid_kana"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("ABCショウジ", "ABCショウジ"),
        ("ＮＴＴドコモ", "NTTドコモ"),
        ("ｶﾌﾞｼｷｶﾞｲｼｬ ABC", "カブシキガイシャ ABC"),
        ("エービーシー　ホールディングス", "エービーシー\u3000ホールディングス"),
    ],
)
def test_a_company_reading_may_mix_katakana_and_latin_letters(typed: str, stored: str) -> None:
    assert normalize_name_kana(typed) == stored


@pytest.mark.parametrize("typed", ["", "   ", FW_SPACE * 2])
def test_empty_name_kana_is_required(typed: str) -> None:
    assert _code(normalize_name_kana, typed) == "required"


def test_name_kana_never_turns_the_full_width_space_into_ascii() -> None:
    assert " " not in normalize_name_kana(f"ヤマダ{FW_SPACE}タロウ")


# --- furigana of street and building ------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("アオミ2-7-4", "アオミ2-7-4"),
        ("キタイチジョウニシ2-1 ABCビル", "キタイチジョウニシ2-1 ABCビル"),
        ("アオミ２－７－４", "アオミ2-7-4"),  # full-width digits and hyphen folded
        ("アオミ２−７‐４", "アオミ2-7-4"),  # minus sign and hyphen folded
        ("アオミ2ー7ー4", "アオミ2-7-4"),  # long vowel mark between digits is the hyphen
        ("ｱｵﾐ2ｰ7ｰ4", "アオミ2-7-4"),
        ("ホクトー1-2", "ホクトー1-2"),  # a real long vowel stays
        (
            "ニシシンジュク2-8-1 トチョウ ダイイチホンチョウシャ",
            "ニシシンジュク2-8-1 トチョウ\u3000ダイイチホンチョウシャ",
        ),
        ("ＡＢＣビル　３Ｆ", "ABCビル 3F"),
        (
            "ロッポンギ6-10-1 ロッポンギヒルズモリタワー",
            "ロッポンギ6-10-1 ロッポンギヒルズモリタワー",
        ),
    ],
)
def test_street_kana_mixes_katakana_with_digits_letters_and_hyphens(
    typed: str, stored: str
) -> None:
    assert normalize_street_kana(typed) == stored


@pytest.mark.parametrize("typed", ["あおみ2-7-4", "青海2-7-4", "アオミ2_7_4", "アオミ2/7/4", "---"])
def test_street_kana_refuses_hiragana_kanji_and_other_symbols(typed: str) -> None:
    assert _code(normalize_street_kana, typed) == "invalid_kana"


# --- postal codes and prefectures ---------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("0600001", "0600001"),  # Sapporo: starts with 0
        ("135-0064", "1350064"),
        ("1350064", "1350064"),
        ("１３５－００６４", "1350064"),  # full-width digits and hyphen
        ("１３５００６４", "1350064"),
        ("〒100-8111", "1008111"),
        (" 9000014 ", "9000014"),
        ("00000000", "00000000"),  # overseas sentinel
    ],
)
def test_postal_code_is_stored_as_seven_half_width_digits(typed: str, stored: str) -> None:
    assert normalize_postal_code(typed) == stored


@pytest.mark.parametrize(
    "typed",
    [
        "0001234",  # no postal code starts with 000
        "123456",
        "12345678",
        "abcdefg",
        "135-00640",
        "13-50064",
        "135--0064",
        "135 0064",
        "000-00000",
        "٠٦٠٠٠٠١",  # Arabic-Indic digits are digits to \d, not to a postal code
        "0000000",
    ],
)
def test_postal_code_refuses_anything_but_seven_digits(typed: str) -> None:
    assert _code(normalize_postal_code, typed) == "invalid_postal_code"


def test_overseas_postal_code_is_recognised() -> None:
    assert is_overseas_postal_code("00000000")
    assert not is_overseas_postal_code("1350064")


@pytest.mark.parametrize(
    ("postal", "prefecture", "ok"),
    [
        ("00000000", "海外", True),
        ("00000000", "99", True),
        ("00000000", "東京都", False),
        ("1350064", "海外", False),
        ("1350064", "東京都", True),
        ("1350064", "北海道", True),  # a mismatch with the prefecture only warns
    ],
)
def test_postal_code_with_prefecture_pairs_the_overseas_sentinel_with_kaigai(
    postal: str, prefecture: str, ok: bool
) -> None:
    if ok:
        assert normalize_postal_code(postal, prefecture) == postal
    else:
        assert _code(normalize_postal_code, postal, prefecture) == "invalid_postal_code"


JIS_X_0401 = [
    ("01", "北海道"), ("02", "青森県"), ("03", "岩手県"), ("04", "宮城県"), ("05", "秋田県"),
    ("06", "山形県"), ("07", "福島県"), ("08", "茨城県"), ("09", "栃木県"), ("10", "群馬県"),
    ("11", "埼玉県"), ("12", "千葉県"), ("13", "東京都"), ("14", "神奈川県"), ("15", "新潟県"),
    ("16", "富山県"), ("17", "石川県"), ("18", "福井県"), ("19", "山梨県"), ("20", "長野県"),
    ("21", "岐阜県"), ("22", "静岡県"), ("23", "愛知県"), ("24", "三重県"), ("25", "滋賀県"),
    ("26", "京都府"), ("27", "大阪府"), ("28", "兵庫県"), ("29", "奈良県"), ("30", "和歌山県"),
    ("31", "鳥取県"), ("32", "島根県"), ("33", "岡山県"), ("34", "広島県"), ("35", "山口県"),
    ("36", "徳島県"), ("37", "香川県"), ("38", "愛媛県"), ("39", "高知県"), ("40", "福岡県"),
    ("41", "佐賀県"), ("42", "長崎県"), ("43", "熊本県"), ("44", "大分県"), ("45", "宮崎県"),
    ("46", "鹿児島県"), ("47", "沖縄県"), ("99", "海外"),
]  # fmt: skip


@pytest.mark.parametrize(("code", "name"), JIS_X_0401)
def test_every_prefecture_resolves_by_name_and_by_code(code: str, name: str) -> None:
    assert prefecture_code(name) == code
    assert prefecture_code(code) == code
    assert prefecture_name(code) == name


def test_prefectures_are_listed_in_jis_order_with_overseas_last() -> None:
    assert list(PREFECTURES) == JIS_X_0401


@pytest.mark.parametrize(
    "typed", ["東京", "Tokyo", "00", "48", "1", "", "とうきょうと", "東京都 港区"]
)
def test_unknown_prefecture_is_refused(typed: str) -> None:
    assert _code(prefecture_code, typed) == "invalid_prefecture"


def test_prefecture_is_trimmed() -> None:
    assert prefecture_code(" 東京都　") == "13"


def test_unknown_prefecture_code_has_no_name() -> None:
    assert _code(prefecture_name, "48") == "invalid_prefecture"


# --- phone numbers ------------------------------------------------------------------------

SCREENING_OK = [
    ("03-1234-5678", "+81312345678", "03-1234-5678"),
    ("+81 3 1234 5678", "+81312345678", "03-1234-5678"),
    ("０３－１２３４－５６７８", "+81312345678", "03-1234-5678"),
    ("＋８１　３　１２３４　５６７８", "+81312345678", "03-1234-5678"),
    ("（０３）１２３４－５６７８", "+81312345678", "03-1234-5678"),
    ("(03) 1234-5678", "+81312345678", "03-1234-5678"),
    ("0312345678", "+81312345678", "03-1234-5678"),
    ("06-6123-4567", "+81661234567", "06-6123-4567"),
    ("011-211-2111", "+81112112111", "011-211-2111"),  # Sapporo City Hall
    ("045-671-2121", "+81456712121", "045-671-2121"),  # Yokohama City Hall
    ("098-866-2333", "+81988662333", "098-866-2333"),  # Naha
    ("0466-12-3456", "+81466123456", "0466-12-3456"),  # four-digit area code
]


@pytest.mark.parametrize(("typed", "e164", "national"), SCREENING_OK)
def test_fixed_line_is_accepted_as_screening_number(typed: str, e164: str, national: str) -> None:
    assert normalize_screening_phone(typed) == e164
    assert normalize_phone(typed) == e164
    assert format_national(e164) == national


NOT_FIXED_LINE = [
    ("090-1234-5678", "+819012345678"),  # mobile
    ("080-1234-5678", "+818012345678"),
    ("070-1234-5678", "+817012345678"),
    ("060-1234-5678", "+816012345678"),
    ("050-1234-5678", "+815012345678"),  # IP phone
    ("020-1234-5678", "+812012345678"),  # M2M / pager
    ("0120-123-456", "+81120123456"),  # free dial (10 digits, yet not 0AB-J)
    ("0800-123-4567", "+818001234567"),
    ("0570-123-456", "+81570123456"),  # navi dial
    ("0990-123-456", "+81990123456"),  # premium
    ("+81 90 1234 5678", "+819012345678"),
    ("+1 212 555 1234", "+12125551234"),  # abroad: valid, but not a Japanese fixed line
    ("010-1-212-555-1234", "+12125551234"),  # 010 is Japan's international prefix
]


@pytest.mark.parametrize(("typed", "e164"), NOT_FIXED_LINE)
def test_any_valid_number_is_a_screening_number_and_warns_unless_fixed_line(
    typed: str, e164: str
) -> None:
    # SPEC §2.2.1: mobiles, IP, service and foreign numbers are accepted, with a warning
    assert normalize_screening_phone(typed) == e164
    assert normalize_phone(typed) == e164
    assert not is_fixed_line_e164(e164)
    warning = screening_phone_warning(e164)
    assert warning is not None
    assert (warning.field, warning.code) == ("contractor.phone", "fixed_line_recommended")
    assert "固定電話" in warning.message


@pytest.mark.parametrize(("typed", "e164", "national"), SCREENING_OK)
def test_a_fixed_line_screening_number_does_not_warn(typed: str, e164: str, national: str) -> None:
    assert is_fixed_line_e164(e164)
    assert screening_phone_warning(e164) is None


@pytest.mark.parametrize("typed", ["abc", "03-1234", "+1 212", "090-1234-56789", "12345"])
def test_an_invalid_screening_number_is_still_refused(typed: str) -> None:
    assert _code(normalize_screening_phone, typed) == "invalid_phone"


@pytest.mark.parametrize(
    "typed",
    [
        "abc",
        "03-1234-567a",
        "12",
        "",
        "+",
        "03-1234-567",  # one digit short
        "011-123-4567",  # no Japanese local number starts with 1: not a real number
        "03.1234.5678",
        "03/1234/5678",
        "03-1234-5678 内線12",
        "03-1234-5678+",
        "0081-3-1234-5678",  # 00 is not Japan's international prefix
        "0" * 40,
    ],
)
def test_garbage_is_refused_as_any_phone_number(typed: str) -> None:
    assert _code(normalize_phone, typed) == "invalid_phone"
    assert _code(normalize_screening_phone, typed) == "invalid_phone"


def test_foreign_number_is_displayed_internationally() -> None:
    assert format_national("+12125551234") == "+1 212-555-1234"


# --- e-mail -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("taro@example.co.jp", "taro@example.co.jp"),
        (" Taro.Yamada@Example.CO.JP ", "Taro.Yamada@example.co.jp"),  # local part kept
        ("info+pbx@sub.example.jp", "info+pbx@sub.example.jp"),
    ],
)
def test_email_is_trimmed_and_its_domain_lower_cased(typed: str, stored: str) -> None:
    assert normalize_email(typed) == stored


@pytest.mark.parametrize(
    "typed",
    [
        "taro..yamada@docomo.ne.jp",
        "taro.@docomo.ne.jp",
        ".taro@ezweb.ne.jp",
        "a..b.@softbank.ne.jp",
    ],
)
def test_a_mobile_carriers_legacy_address_is_accepted_as_it_is(typed: str) -> None:
    """Addresses the carriers gave before they followed RFC 5322; they still deliver."""
    assert normalize_email(typed) == typed
    assert email_domain_class(typed) == "carrier"


@pytest.mark.parametrize(
    "typed",
    [
        "taro",
        "taro@",
        "@example.co.jp",
        "taro@example",
        "taro@@example.co.jp",
        "taro..yamada@example.co.jp",  # a doubled dot is a carrier's legacy only
        "taro.@gmail.com",
        "taro yamada@docomo.ne.jp",  # not even a carrier ever gave a space
        "taro@docomo..ne.jp",
        "山田@example.co.jp",
        "taro@example.co.jp, jiro@example.co.jp",
        "taro@localhost",
    ],
)
def test_invalid_email_is_refused(typed: str) -> None:
    assert _code(normalize_email, typed) == "invalid_email"


@pytest.mark.parametrize(
    ("email", "domain_class"),
    [
        ("taro@docomo.ne.jp", "carrier"),
        ("taro@ezweb.ne.jp", "carrier"),
        ("taro@biz.ezweb.ne.jp", "carrier"),
        ("taro@au.com", "carrier"),
        ("taro@softbank.ne.jp", "carrier"),
        ("taro@i.softbank.jp", "carrier"),
        ("taro@ymobile.ne.jp", "carrier"),
        ("taro@d.vodafone.ne.jp", "carrier"),  # subdomain of a listed domain
        ("taro@gmail.com", "free"),
        ("taro@yahoo.co.jp", "free"),
        ("taro@hotmail.co.jp", "free"),
        ("taro@icloud.com", "free"),
        ("taro@outlook.jp", "free"),
        ("taro@GMAIL.COM", "free"),
        ("taro@example.co.jp", "business"),
        ("taro@notgmail.com", "business"),  # a suffix match needs a dot boundary
        ("taro@gmail.com.example.co.jp", "business"),
    ],
)
def test_email_domain_is_classified_by_suffix(email: str, domain_class: str) -> None:
    assert email_domain_class(email) == domain_class


@pytest.mark.parametrize("email", ["a@docomo.ne.jp", "a@gmail.com", "a@ｇｍａｉｌ.com"])
def test_free_and_carrier_mail_is_refused_where_business_mail_is_required(email: str) -> None:
    assert _code(check_business_email, normalize_email(email)) == "business_email_required"


def test_business_mail_passes_the_business_rule() -> None:
    check_business_email("taro@example.co.jp")


# --- passwords ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "problems"),
    [
        ("Ky7#mPz", ["too_short"]),  # 7 characters
        ("ky7#mpz!qr", ["no_upper"]),
        ("KY7#MPZ!QR", ["no_lower"]),
        ("Ky7mPz9qRw", ["no_symbol"]),
        ("Ky7# mPz!qR", ["forbidden_character"]),  # a space
        ("Ky7+mPz!qR", ["forbidden_character"]),  # + is not one of the symbols
        ("Ky7.mPz!qR", ["forbidden_character"]),
        ("Ｋy7#mPz!qR", ["forbidden_character"]),  # a full-width letter is not upper-case ASCII
        ("Ky7#mPz!qRé", ["forbidden_character"]),
        ("Ky7mPz9q+R", ["no_symbol", "forbidden_character"]),
        ("abc", ["too_short", "no_upper", "no_symbol", "common_password"]),
        ("Password1!", ["common_password"]),
        ("P@ssw0rd!", ["common_password"]),
        ("Qwerty_123", ["common_password"]),
        ("Welcome#2024", ["common_password"]),
        ("L3tm31n!", ["common_password"]),
        ("Adm!n_2024", ["common_password"]),
        ("Pa$$w0rd", ["common_password"]),
        ("!Dragon7", ["common_password"]),
        ("Sakura#0401", ["common_password"]),
        ("1Qaz2wsx!", ["common_password"]),
        ("Ky7#mPz!qR", []),
        ("Tq8_vL2@Nw", []),
        ("Correct-Horse-Battery-9", []),
    ],
)
def test_password_problems_name_each_failed_rule(password: str, problems: list[str]) -> None:
    assert password_problems(password) == problems


def test_password_policy_violation_lists_the_failed_rules_in_japanese() -> None:
    with pytest.raises(PasswordPolicyViolation) as caught:
        check_password("ky7 mpz")
    assert caught.value.code == "password_policy"
    assert caught.value.problems == ("too_short", "no_upper", "no_symbol", "forbidden_character")
    assert "8文字以上" in caught.value.message
    assert "英大文字" in caught.value.message


def test_password_mismatch_is_its_own_code() -> None:
    assert _code(check_password, "Ky7#mPz!qR", "Ky7#mPz!qr") == "password_mismatch"


def test_password_is_never_trimmed_before_comparing() -> None:
    assert _code(check_password, "Ky7#mPz!qR", "Ky7#mPz!qR ") == "password_mismatch"


def test_good_password_with_matching_confirmation_passes() -> None:
    check_password("Ky7#mPz!qR", "Ky7#mPz!qR")
    check_password("Ky7#mPz!qR")
