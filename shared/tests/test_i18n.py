from __future__ import annotations

import pytest

from tdc_shared.envelope import Unprocessable
from tdc_shared.i18n import negotiate_language, parse_accept_language


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("it-IT,it;q=0.9,en;q=0.8", ["it", "it", "en"]),
        ("fr;q=0.3, es;q=0.9, en;q=0.5", ["es", "en", "fr"]),
        ("de, en;q=0", ["de"]),
        ("en;q=abc, it", ["it"]),
        ("", []),
        (None, []),
    ],
)
def test_accept_language_is_ranked_by_quality(header: str | None, expected: list[str]) -> None:
    assert parse_accept_language(header) == expected


@pytest.mark.parametrize(
    ("lang", "header", "expected"),
    [
        ("it", "fr", "it"),
        ("FR", None, "fr"),
        (None, "de-DE, es;q=0.7, it;q=0.5", "es"),
        (None, "de, ja", "en"),
        (None, None, "en"),
        (None, "*", "en"),
    ],
)
def test_query_first_then_header_then_english(lang: str | None, header: str | None, expected: str) -> None:
    assert negotiate_language(lang, header) == expected


def test_an_unsupported_explicit_language_is_a_field_error() -> None:
    with pytest.raises(Unprocessable) as excinfo:
        negotiate_language("de", None)
    assert excinfo.value.errors == {"lang": ["must be one of en, it, fr, es"]}
