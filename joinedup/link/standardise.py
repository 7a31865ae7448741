"""Standardised name, date and postcode features for probabilistic linkage.

The children who link worst are the ones whose names and dates are recorded differently from
one service to the next: transliterated names (Mohammed / Muhammad, Choudhury / Chowdhury),
English diminutives (William / Bill), double-barrelled surnames split or merged, given and
family names swapped, placeholder dates of birth (1 January) and day/month swaps, and postcodes
that lag behind a move. This module turns a recorded identity into features a comparison can
use for each of those:

- ``normalise(name)``: the vault's normal form (diacritics folded, upper case, letters only);
- ``canonical(name)``: a normalised name's transliteration group representative
  (``MUHAMMAD`` → ``MOHAMMED``); names in no group are their own canonical form;
- ``name_alternatives(name)``: the canonical form plus every English formal name the name is a
  diminutive of (``BILL`` → ``BILL, WILLIAM, ...``, from the ``nicknames`` package), for a
  "same name, other form" comparison level (arrays intersect);
- ``phonetic(name)``: a sound-alike key of the canonical form (``phonetic_key``: consonant
  skeleton after English spelling rules, close to Metaphone);
- ``surname_parts(name)``: canonical parts of a multi-part surname split at spaces and hyphens
  (``Smith-Jones`` → ``SMITH, JONES``), so one recorded part still matches;
- ``is_default_date(d)``: 1 January or 1 July, the dates systems enter when the real one is not
  known (compared on the year alone by the model);
- ``postcode_parts(pc)``: the postcode without spaces, its sector and its outward code.

``name_features(names)`` applies the name functions to many distinct values at once and returns
an Arrow table; the Splink stage joins it to the records by the raw value inside its own
connection, so nothing here touches a database.

Invariants: every function is pure and total (None in, None or empty out; never an exception on
odd input) and none of them logs its argument. The transliteration table is data
(``TRANSLITERATION_GROUPS``), curated by hand from common equivalents; its first spelling of a
group is the canonical one. Public names here are used by other linkage tools: keep them stable.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from functools import lru_cache

import pyarrow as pa

from joinedup.identity.normalise import name_parts, normalise_name

# Groups of spellings of one name across transliteration conventions (Arabic, Urdu, Bengali,
# Punjabi, Somali, Slavic and others into English). The first spelling is the canonical one.
# A modest curated list of frequent equivalents; spelling noise outside it is left to the
# phonetic and string-similarity levels.
TRANSLITERATION_GROUPS: tuple[tuple[str, ...], ...] = (
    ("MOHAMMED", "MUHAMMAD", "MOHAMMAD", "MOHAMED", "MUHAMMED", "MOHAMAD", "MOHAMMADH", "MAHAMED"),
    ("MUSTAFA", "MOSTAFA", "MUSTAPHA", "MOSTAPHA"),
    ("AHMED", "AHMAD", "AHMET", "AHMEED"),
    ("HUSSAIN", "HUSSEIN", "HUSAIN", "HOSAIN", "HOSSAIN", "HUSEIN", "HUSSEYN"),
    ("HASSAN", "HASAN", "HASSEN"),
    ("HAMID", "HAMEED", "HAMEAD"),
    ("RASHID", "RASHEED", "RACHID"),
    ("MAJID", "MAJEED"),
    ("SAJID", "SAJJAD"),
    ("KHALID", "KHALED", "KALID"),
    ("WALID", "WALEED"),
    ("SAEED", "SAID", "SAYEED", "SAYED", "SYED", "SAYYID"),
    ("CHOUDHURY", "CHOWDHURY", "CHAUDHRY", "CHAUDHARY", "CHOUDHRY", "CHAUDHURI", "CHOWDHRY"),
    ("RAHMAN", "REHMAN", "RAHMON"),
    ("MAHMOOD", "MAHMUD", "MEHMOOD", "MAHMOUD", "MEHMUD"),
    ("YUSUF", "YOUSAF", "YOUSUF", "YOUSSEF", "YUSSUF", "YOUSEF"),
    ("YAQOOB", "YAKUB", "YAQUB", "YACOUB"),
    ("YUNUS", "YOUNIS", "YOUNES", "YOUNUS"),
    ("AISHA", "AYESHA", "AYSHA", "AISHAH", "AYSHAH", "AICHA"),
    ("FATIMA", "FATEMA", "FATHIMA", "FATIMAH", "FATMA"),
    ("MARYAM", "MARIAM", "MARIYAM", "MERYEM"),
    ("ZAINAB", "ZAYNAB", "ZEINAB"),
    ("KHADIJA", "KHADIJAH", "KHADEEJA", "KADIJA"),
    ("HAFSA", "HAFSAH", "HAFSAA"),
    ("AMINA", "AMINAH", "AMEENA", "AMEENAH"),
    ("SUMAIYA", "SUMAYYA", "SUMAYA", "SUMAIYAH"),
    ("HALIMA", "HALEEMA", "HALIMAH"),
    ("HAMZA", "HAMZAH"),
    ("ZAKARIYA", "ZAKARIA", "ZAKARIYYA", "ZAKARIYAH", "ZACHARIAH"),
    ("USMAN", "OSMAN", "UTHMAN", "OTHMAN"),
    ("UMAR", "OMAR", "OMER"),
    ("IBRAHIM", "EBRAHIM", "IBRAHEEM"),
    ("ISMAIL", "ISMAEL", "ISMAEEL"),
    ("HAQUE", "HOQUE", "HUQ", "HAQ", "HAK"),
    ("MIAH", "MIA", "MIYA", "MEAH"),
    ("UDDIN", "UDIN", "ALDIN", "UDDEEN"),
    ("ISLAM", "ISLAAM"),
    ("BEGUM", "BEGAM", "BEGOM"),
    ("KHATUN", "KHATOON", "KHATUNE"),
    ("AKTER", "AKHTAR", "AKHTER", "AKTAR"),
    ("QURESHI", "KURESHI", "QURAISHI", "QURAISHY"),
    ("CHAUHAN", "CHOHAN"),
    ("SHEIKH", "SHAIKH", "SHAIK", "SHEIK"),
    ("ABDULLAH", "ABDULLA", "ABDALLAH"),
    ("ABDUL", "ABDEL", "ABDOUL"),
    ("ALI", "ALY", "ALLY"),
    ("NOOR", "NUR", "NOUR"),
    ("YASMIN", "YASMINE", "YASMEEN", "JASMIN"),
    ("LAYLA", "LEILA", "LAILA", "LEYLA", "LAILAH"),
    ("JAMAL", "JAMEL", "GAMAL"),
    ("KARIM", "KAREEM", "KERIM"),
    ("AMIR", "AMEER", "EMIR"),
    ("REZA", "RIZA", "RAZA"),
    ("NASIR", "NASSER", "NASEER", "NASER"),
    ("TARIQ", "TAREK", "TARIK", "TAREQ"),
    ("ZAHRA", "ZAHARA", "ZEHRA"),
    ("MOHAMMADI", "MOHAMADI", "MUHAMMADI"),
    ("HOSSEINI", "HUSSEINI", "HOSEINI"),
    ("SINGH", "SING"),
    ("KAUR", "KOUR"),
    ("GURPREET", "GURPRIT"),
    ("HARPREET", "HARPRIT"),
    ("MANPREET", "MANPRIT"),
    ("MOHAMUD", "MAXAMED", "MAXAMUUD"),
    ("ABDI", "ABDY"),
    ("WISNIEWSKI", "VISHNEVSKI", "WISNIEWSKY"),
    ("NOWAK", "NOVAK", "NOWACK"),
    ("KOWALSKI", "KOVALSKI", "KOWALSKY"),
    ("LUKAS", "LUKASZ", "LUCAS"),
    ("JAKUB", "JACOB"),
    ("MIKHAIL", "MICHAL", "MIHAIL", "MIKHAYLO"),
    ("ALEKSANDER", "ALEXANDER", "ALEKSANDR", "OLEKSANDR", "ALEXANDRU"),
    ("ANDREI", "ANDREJ", "ANDRIY", "ANDREY"),
    ("SERGEI", "SERGEY", "SERHIY", "SERGIU"),
    ("YURI", "YURIY", "IURII", "JURIJ"),
    ("NATALIA", "NATALIYA", "NATALYA", "NATALIJA"),
    ("JULIA", "YULIA", "IULIA", "YULIYA"),
    ("NGUYEN", "NGUYENN", "NGYUEN"),
)

# Bumped whenever a feature's definition changes, so a model trained on the old features is
# not reused (it is part of the model artefact's settings hash).
FEATURES_VERSION = "standardise-2"

_DEFAULT_DAYS = frozenset({(1, 1), (7, 1)})  # (month, day): 1 January and 1 July


@lru_cache(maxsize=1)
def _canonical_map() -> dict[str, str]:
    out: dict[str, str] = {}
    for group in TRANSLITERATION_GROUPS:
        for spelling in group:
            out.setdefault(spelling, group[0])
    return out


@lru_cache(maxsize=1)
def _nick_namer() -> object:
    from nicknames import NickNamer

    return NickNamer()


def normalise(name: str | None) -> str | None:
    """The vault's normal form: diacritics folded, upper case, letters only (None if empty)."""
    return normalise_name(name)


def canonical(name: str | None) -> str | None:
    """A normalised (or raw) name's transliteration canonical form; itself if in no group."""
    norm = normalise_name(name)
    if norm is None:
        return None
    return _canonical_map().get(norm, norm)


@lru_cache(maxsize=65536)
def _formal_names(norm: str) -> tuple[str, ...]:
    namer = _nick_namer()
    try:
        formal = namer.canonicals_of(norm.lower())  # type: ignore[attr-defined]
    except Exception:  # the package raises on odd input; a name without formal names is fine
        return ()
    return tuple(sorted({normalise_name(f) or "" for f in formal} - {""}))


def name_alternatives(name: str | None) -> list[str]:
    """The canonical form and the English formal names the name is a diminutive of (sorted)."""
    canon = canonical(name)
    if canon is None:
        return []
    out = {canon}
    out.update(canonical(f) or f for f in _formal_names(canon))
    return sorted(out)


# Spelling rules applied in order before vowels are dropped (multi-letter groups first).
_PHONETIC_RULES: tuple[tuple[str, str], ...] = (
    ("SCH", "SK"),
    ("TCH", "X"),
    ("PH", "F"),
    ("KH", "K"),
    ("GH", "G"),
    ("DH", "D"),
    ("TH", "T"),
    ("CK", "K"),
    ("CH", "X"),
    ("SH", "X"),
    ("CZ", "X"),
    ("SZ", "X"),
    ("QU", "K"),
    ("Q", "K"),
    ("C", "K"),
    ("Z", "S"),
    ("V", "F"),
    ("W", "F"),
    ("J", "Y"),
)
_PHONETIC_VOWELS = frozenset("AEIOUYH")


def phonetic_key(norm: str) -> str:
    """A sound-alike key of a normalised ASCII name: spelling rules (``PH``→F, ``KH``→K,
    ``CH``/``SH``→X, ``C``→K, ``Z``→S, ``V``/``W``→F, ...), then the first letter and the
    consonants after it, repeats collapsed (``HIRST`` and ``HURST`` → ``HRST``; ``STEPHEN`` and
    ``STEVEN`` → ``STFN``). Total: a name the rules empty is its own key."""
    text = norm
    for old, new in _PHONETIC_RULES:
        text = text.replace(old, new)
    if not text:
        return norm
    out = [text[0]]
    for ch in text[1:]:
        if ch in _PHONETIC_VOWELS:
            continue
        if out[-1] != ch:
            out.append(ch)
    return "".join(out)


def phonetic(name: str | None) -> str | None:
    """The sound-alike key (``phonetic_key``) of the canonical form; None if there is no name.

    Names outside ASCII (other scripts) are their own key."""
    canon = canonical(name)
    if canon is None or not canon.isascii():
        return canon
    return phonetic_key(canon)


def surname_parts(name: str | None) -> list[str]:
    """The canonical parts of a surname split at spaces and hyphens (in order, no repeats)."""
    out: list[str] = []
    for part in name_parts(name):
        canon = _canonical_map().get(part, part)
        if canon not in out:
            out.append(canon)
    return out


def is_default_date(value: date | None) -> bool:
    """True for 1 January and 1 July: the dates entered when the real birthday is unknown."""
    return value is not None and (value.month, value.day) in _DEFAULT_DAYS


def postcode_parts(value: str | None) -> tuple[str | None, str | None, str | None]:
    """``(postcode without spaces, sector, outward code)`` of a UK postcode, upper cased.

    ``"ls6 2ab"`` → ``("LS62AB", "LS6 2", "LS6")``; a value too short to hold an inward code
    (3 characters) gives ``(value, None, None)``; None gives three Nones.
    """
    if value is None:
        return None, None, None
    compact = "".join(c for c in value.upper() if c.isalnum())
    if not compact:
        return None, None, None
    if len(compact) < 5:
        return compact, None, None
    outward, inward = compact[:-3], compact[-3:]
    return compact, f"{outward} {inward[0]}", outward


NAME_FEATURE_SCHEMA = pa.schema(
    [
        ("raw", pa.string()),
        ("norm", pa.string()),
        ("canon", pa.string()),
        ("first_canon", pa.string()),
        ("phonetic", pa.string()),
        ("alternatives", pa.list_(pa.string())),
        ("parts", pa.list_(pa.string())),
    ]
)


def name_features(names: Iterable[str | None]) -> pa.Table:
    """One row per distinct raw name: ``raw, norm, canon, first_canon, phonetic, alternatives,
    parts`` (``NAME_FEATURE_SCHEMA``).

    ``canon`` is the canonical form of the whole name, ``first_canon`` of its first part (the
    first of several given names), ``phonetic`` the sound-alike key of ``first_canon``,
    ``alternatives`` the ``name_alternatives`` of the first part and ``parts`` the
    ``surname_parts`` of the whole. Null raw values are skipped.
    """
    rows: dict[str, tuple[object, ...]] = {}
    for raw in names:
        if raw is None or raw in rows:
            continue
        norm = normalise_name(raw)
        parts = name_parts(raw)
        first = parts[0] if parts else norm
        rows[raw] = (
            raw,
            norm,
            canonical(norm),
            canonical(first),
            phonetic(first),
            name_alternatives(first),
            surname_parts(raw),
        )
    columns = list(zip(*rows.values(), strict=True)) if rows else [()] * 7
    return pa.table(
        {
            f.name: pa.array(list(col), f.type)
            for f, col in zip(NAME_FEATURE_SCHEMA, columns, strict=True)
        },
        schema=NAME_FEATURE_SCHEMA,
    )
