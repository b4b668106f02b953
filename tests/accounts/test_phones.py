import pytest
from hypothesis import given
from hypothesis import strategies as st

from accounts.phones import InvalidPhone, mask_name, mask_phone, normalize_phone


@pytest.mark.parametrize(
    "raw",
    [
        "13800138000",
        "+8613800138000",
        "+86 138 0013 8000",
        "008613800138000",
        "86-138-0013-8000",
        " 138 0013 8000 ",
        "１３８００１３８０００",  # full-width, as Chinese input methods type them
        "＋８６ １３８ ００１３ ８０００",
        "138－0013－8000",  # full-width hyphens
        "138\u30000013\u30008000",  # ideographic spaces
        "(+86) 138.0013.8000",
    ],
)
def test_common_ways_of_typing_a_mainland_number_give_one_e164(raw):
    assert normalize_phone(raw) == "+8613800138000"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "1380013800",
        "23800138000",
        "+8612800138000",
        "phone",
        "138001380001",
        "１３８ａｂｃ００１３８０００",  # letters among full-width digits
        "138abc00138000",
        "١٣٨٠٠١٣٨٠٠٠",  # Arabic-Indic digits: Python's \\d takes them, no gateway does
        "1380013８000x",
    ],
)
def test_numbers_that_are_not_mobile_numbers_are_refused(raw):
    with pytest.raises(InvalidPhone):
        normalize_phone(raw)


def test_foreign_e164_numbers_are_kept():
    assert normalize_phone("+852 9123 4567") == "+85291234567"


def test_masking_keeps_first_three_and_last_four_digits():
    assert mask_phone("+8613800138000") == "138****8000"


@pytest.mark.parametrize(
    ("name", "masked"), [("王芳", "王*"), ("欧阳明", "欧*明"), ("王", "王*"), ("", "")]
)
def test_name_masking(name, masked):
    assert mask_name(name) == masked


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_any_mainland_mobile_normalises_and_round_trips(national):
    e164 = normalize_phone(national)
    assert e164 == "+86" + national
    assert normalize_phone(e164) == e164
    assert mask_phone(e164) == national[:3] + "****" + national[-4:]
