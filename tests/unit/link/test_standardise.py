"""Standardised features for probabilistic linkage (``joinedup.link.standardise``)."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest

from joinedup.link.standardise import (
    NAME_FEATURE_SCHEMA,
    TRANSLITERATION_GROUPS,
    canonical,
    is_default_date,
    name_alternatives,
    name_features,
    normalise,
    phonetic,
    postcode_parts,
    surname_parts,
)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Mohammed", "Muhammad"),
        ("Mohamed", "MOHAMMAD"),
        ("Choudhury", "Chowdhury"),
        ("Chaudhry", "choudhury"),
        ("Hussein", "Hussain"),
        ("Aysha", "Aisha"),
        ("Fatema", "Fatima"),
    ],
)
def test_transliterations_share_a_canonical_form(a: str, b: str) -> None:
    assert canonical(a) == canonical(b)


def test_different_names_keep_different_canonical_forms() -> None:
    assert canonical("Smith") == "SMITH"
    assert canonical("Mohammed") != canonical("Mahmood")
    assert canonical("Ali") != canonical("Alia")


def test_every_spelling_belongs_to_one_group_only() -> None:
    seen: dict[str, int] = {}
    for i, group in enumerate(TRANSLITERATION_GROUPS):
        for spelling in group:
            assert spelling == normalise(spelling), spelling
            assert seen.setdefault(spelling, i) == i, f"{spelling} is in two groups"


def test_diacritics_are_folded() -> None:
    assert normalise("Zoë") == "ZOE"
    assert canonical("Wiśniewski") == canonical("Wisniewski")
    assert normalise("O'Brien") == "OBRIEN"


def test_diminutives_share_an_alternative_with_the_formal_name() -> None:
    assert "WILLIAM" in name_alternatives("Bill")
    assert "WILLIAM" in name_alternatives("William")
    assert set(name_alternatives("Bill")) & set(name_alternatives("William"))
    assert not set(name_alternatives("Bill")) & set(name_alternatives("Oliver"))
    assert name_alternatives(None) == []


def test_phonetic_codes_agree_on_sound_alike_spellings() -> None:
    assert phonetic("Hirst") == phonetic("Hurst")
    assert phonetic("Muhammad") == phonetic("Mohamad")
    assert phonetic("Smith") != phonetic("Jones")
    assert phonetic(None) is None


def test_surname_parts_split_hyphens_and_spaces() -> None:
    assert surname_parts("Smith-Jones") == ["SMITH", "JONES"]
    assert surname_parts("smith jones") == ["SMITH", "JONES"]
    assert surname_parts("Chowdhury-Khan") == ["CHOUDHURY", "KHAN"]
    assert surname_parts(None) == []


def test_default_dates_are_1_january_and_1_july() -> None:
    assert is_default_date(date(2015, 1, 1))
    assert is_default_date(date(2015, 7, 1))
    assert not is_default_date(date(2015, 1, 2))
    assert not is_default_date(None)


def test_postcode_parts() -> None:
    assert postcode_parts("ls6 2ab") == ("LS62AB", "LS6 2", "LS6")
    assert postcode_parts("BD10 0NL") == ("BD100NL", "BD10 0", "BD10")
    assert postcode_parts("LS6") == ("LS6", None, None)
    assert postcode_parts(" ") == (None, None, None)
    assert postcode_parts(None) == (None, None, None)


def test_name_features_one_row_per_distinct_name() -> None:
    table = name_features(["Muhammad", "Smith-Jones", None, "Muhammad", "Mary Jane"])
    assert table.schema == NAME_FEATURE_SCHEMA
    rows = {r["raw"]: r for r in table.to_pylist()}
    assert set(rows) == {"Muhammad", "Smith-Jones", "Mary Jane"}
    assert rows["Muhammad"]["canon"] == "MOHAMMED"
    assert rows["Smith-Jones"]["canon"] == "SMITHJONES"
    assert rows["Smith-Jones"]["parts"] == ["SMITH", "JONES"]
    assert rows["Mary Jane"]["first_canon"] == "MARY"
    assert rows["Mary Jane"]["norm"] == "MARYJANE"


def test_name_features_of_nothing_is_an_empty_table() -> None:
    table = name_features([None])
    assert isinstance(table, pa.Table)
    assert table.num_rows == 0
    assert table.schema == NAME_FEATURE_SCHEMA


def test_functions_are_total_on_odd_input() -> None:
    for value in ["", "  ", "---", "123", "Ζωή", "李"]:
        canonical(value)
        phonetic(value)
        name_alternatives(value)
        surname_parts(value)
        postcode_parts(value)
