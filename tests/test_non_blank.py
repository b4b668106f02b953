"""The API's non-blank rule matches what DRF trims: the schema's pattern refuses every text that
Python's str.strip() turns blank (U+0085 and U+001C–U+001F too, which ECMA's \\s does not cover),
so a client that follows the schema is never refused as blank."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError

from members.api.serializers import NON_BLANK

BLANK_TO_PYTHON = [" ", "\u0085", "\u001c", "\u001f", "\u3000", "\t\n", "\u00a0\u2028"]


@pytest.mark.parametrize("text", BLANK_TO_PYTHON)
def test_what_python_trims_to_blank_fails_the_pattern(text):
    assert text.strip() == ""
    with pytest.raises(ValidationError):
        NON_BLANK(text)
    assert not re.search(NON_BLANK.regex.pattern, text)


@pytest.mark.parametrize("text", ["a", " SKU-1 ", "中", "\u0085x"])
def test_text_with_a_character_left_after_trimming_passes(text):
    assert text.strip()
    NON_BLANK(text)
