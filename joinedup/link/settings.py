"""The Splink model for person records with standard column names, defined once.

Every probabilistic linkage in joinedup (``joinedup link files`` today, the person index's
probabilistic stage later) builds its Splink settings here, from the standard columns it has:

``record_id, given_name, family_name, date_of_birth, sex, postcode, nhs_number, upn``

plus any *other* columns the caller asks to compare (compared generically: exact with term
frequencies, then Jaro-Winkler). The module decides, for a given set of columns:

- the **comparisons** (levels per column);
- the **candidate blocking rules** (the caller drops those too large for its data, see
  ``BlockingRuleSpec.keys``, which are plain SQL expressions so their pair counts can be
  computed before Splink runs);
- the **training plan**: deterministic rules for lambda with their assumed recall, the EM
  blocking rules, and the u sample size.

Invariants: inputs are already standardised (see ``joinedup.link.files``): names lower-case
ASCII letters and single spaces; ``date_of_birth`` an ISO ``YYYY-MM-DD`` string;
``postcode`` upper-case with one space before the inward code, ``postcode_sector`` and
``postcode_district`` derived (NULL when not a UK postcode); ``date_of_birth_days`` (days since
1970-01-01) and ``date_of_birth_swapped`` (``YYYY-DD-MM``) derived from the date of birth, so
that a pair's date levels compare integers and strings instead of parsing dates;
``nhs_number`` 10 digits;
``upn`` 13 upper-case characters; ``sex`` ``M``/``F``; every other compared column trimmed,
lower-case. Empty means NULL. Nothing here reads data: it only writes settings.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

STANDARD_COLUMNS: tuple[str, ...] = (
    "record_id",
    "given_name",
    "family_name",
    "date_of_birth",
    "sex",
    "postcode",
    "nhs_number",
    "upn",
)
COMPARED_STANDARD_COLUMNS: tuple[str, ...] = STANDARD_COLUMNS[1:]
# Columns the standardisation derives; they are never read from a file.
DERIVED_COLUMNS: tuple[str, ...] = (
    "postcode_sector",
    "postcode_district",
    "date_of_birth_days",
    "date_of_birth_swapped",
)
# The date-difference levels, in days: the thresholds Splink's AbsoluteDateDifferenceLevel
# sets (1 month = 30.4375 days, 1 year = 365.25 days), so the same pairs fall in each level.
DATE_DIFFERENCE_LEVELS: tuple[tuple[int, str], ...] = (
    (30, "within 1 month"),
    (365, "within 1 year"),
    (3652, "within 10 years"),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockingRuleSpec:
    """One candidate blocking rule: equality on every key, or a custom SQL condition.

    ``keys`` are SQL expressions over one record's columns (e.g. ``substr(postcode, 1, 3)``);
    a pair is blocked when every key is equal and not NULL on both sides. ``sql``, when set,
    replaces the equality rule (used for the given/family name swap).
    """

    name: str
    keys: tuple[str, ...]
    sql: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainingPlan:
    deterministic_rules: tuple[BlockingRuleSpec, ...]
    assumed_recall: float
    em_rules: tuple[BlockingRuleSpec, ...]
    u_max_pairs: float


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkageModelSpec:
    """What the model compares and how it is blocked and trained, for one set of columns."""

    standard_columns: tuple[str, ...]
    other_columns: tuple[str, ...]
    blocking_rules: tuple[BlockingRuleSpec, ...]
    training: TrainingPlan

    def splink_settings(
        self,
        *,
        link_type: str,
        blocking_rules: Sequence[BlockingRuleSpec] | None = None,
        dialect: str = "duckdb",
    ) -> dict[str, Any]:
        """A Splink 5 settings dictionary (pass to ``splink.Linker``), its SQL in ``dialect``
        (``duckdb``, or ``spark`` for ``--engine spark``)."""
        from splink import SettingsCreator

        rules = self.blocking_rules if blocking_rules is None else tuple(blocking_rules)
        creator = SettingsCreator(
            link_type=link_type,  # type: ignore[arg-type]
            unique_id_column_name="record_id",
            blocking_rules_to_generate_predictions=[splink_rule(r) for r in rules],
            comparisons=comparisons(self.standard_columns, self.other_columns, dialect),
            retain_matching_columns=False,
            retain_intermediate_calculation_columns=False,
        )
        settings: dict[str, Any] = creator.get_settings(dialect).as_dict()  # type: ignore[no-untyped-call]
        return settings


def splink_rule(rule: BlockingRuleSpec) -> Any:
    """The Splink blocking rule for a spec."""
    from splink import block_on

    if rule.sql is not None:
        return rule.sql
    return block_on(*rule.keys)


def one_edit_sql(left: str, right: str) -> str:
    """DuckDB SQL true where ``damerau_levenshtein(left, right) <= 1``, without computing that
    distance for most pairs. Strings of equal length are compared by ``hamming``, and only a
    Hamming distance of 2 (two neighbours swapped, or two characters changed) needs the
    Damerau-Levenshtein distance. Strings one character apart in length can only be one
    insertion or deletion apart, which the plain Levenshtein distance tells as well (about 3x
    faster in DuckDB: a transposition never changes the length). CASE branches are tried in
    order and each is computed only for the rows that reach it, so ``hamming`` never sees
    strings of unequal length (or two empty ones, which it refuses). At 24M postcode pairs:
    1.65 s against 10.2 s for the distance."""
    return (
        f"CASE WHEN abs(length({left}) - length({right})) > 1 THEN false"
        f" WHEN length({left}) <> length({right}) THEN levenshtein({left}, {right}) <= 1"
        f" WHEN length({left}) = 0 THEN true"
        f" WHEN hamming({left}, {right}) <= 1 THEN true"
        f" WHEN hamming({left}, {right}) >= 3 THEN false"
        f" ELSE damerau_levenshtein({left}, {right}) <= 1 END"
    )


def _one_edit_pattern() -> re.Pattern[str]:
    """``one_edit_sql`` as a pattern: the first use of each column captures it, the later ones
    must repeat it."""
    pattern = re.escape(one_edit_sql("\x00", "\x01"))
    column = r"[\w.\"]+"
    for mark, name in (("\x00", "a"), ("\x01", "b")):
        first, *rest = pattern.split(re.escape(mark))
        pattern = first + f"(?P<{name}>{column})" + f"(?P={name})".join(rest)
    return re.compile(pattern)


_ONE_EDIT_PATTERN = _one_edit_pattern()


def one_edit_as_distance(sql: str) -> str:
    """``sql`` with each ``one_edit_sql(a, b)`` written back as the plain distance condition,
    for an engine without ``hamming`` (Spark): the same pairs either way."""

    def plain(match: re.Match[str]) -> str:
        a, b = match.group("a"), match.group("b")
        return f"damerau_levenshtein({a}, {b}) <= 1"

    return _ONE_EDIT_PATTERN.sub(plain, sql)


def _one_edit_level(column: str, dialect: str) -> Any:
    """A Damerau-Levenshtein <= 1 level: DuckDB's fast form, or Splink's own level on Spark
    (Spark has no ``hamming``). The two give the same pairs; a trained model keeps one level
    here on either engine."""
    import splink.comparison_level_library as cll

    if dialect != "duckdb":
        return cll.DamerauLevenshteinLevel(column, 1)
    return cll.CustomLevel(
        one_edit_sql(f'"{column}_l"', f'"{column}_r"'),
        label_for_charts="Damerau-Levenshtein distance <= 1",
        base_dialect_str="duckdb",
    )


def comparisons(
    standard: Sequence[str], other: Sequence[str], dialect: str = "duckdb"
) -> list[Any]:
    """Splink comparisons for the standard columns present and the other compared columns.

    Custom levels are written in DuckDB's SQL and marked so (``base_dialect_str``): Splink
    translates them with sqlglot when the settings are made for Spark. Left unmarked, their
    double-quoted column names would be string literals in Spark SQL and never match.
    """
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    result: list[Any] = []
    has = set(standard)
    for name in ("given_name", "family_name"):
        if name not in has:
            continue
        swapped = "family_name" if name == "given_name" else "given_name"
        levels: list[Any] = [
            cll.NullLevel(name),
            cll.ExactMatchLevel(name, term_frequency_adjustments=True),
        ]
        levels += [cll.JaroWinklerLevel(name, t) for t in (0.95, 0.88)]
        if swapped in has:
            # the name was written in the other field (given and family names swapped)
            levels.append(
                cll.CustomLevel(
                    f'"{name}_l" = "{swapped}_r" OR "{swapped}_l" = "{name}_r"',
                    label_for_charts="matches the other name field",
                    base_dialect_str="duckdb",
                )
            )
        levels.append(
            cll.CustomLevel(
                f'(contains("{name}_l", "{name}_r") OR contains("{name}_r", "{name}_l"))'
                f' AND least(length("{name}_l"), length("{name}_r")) >= 3',
                label_for_charts="one name contains the other",
                base_dialect_str="duckdb",
            )
        )
        levels += [cll.JaroWinklerLevel(name, 0.7), cll.ElseLevel()]
        result.append(cl.CustomComparison(comparison_levels=levels, output_column_name=name))
    if "date_of_birth" in has:
        dob = "date_of_birth"
        result.append(
            cl.CustomComparison(
                output_column_name=dob,
                comparison_levels=[
                    cll.NullLevel(dob),
                    cll.ExactMatchLevel(dob, term_frequency_adjustments=True),
                    cll.CustomLevel(
                        f'"{dob}_l" = "{dob}_swapped_r"',
                        label_for_charts="day and month swapped",
                        base_dialect_str="duckdb",
                    ),
                    _one_edit_level(dob, dialect),
                    *(
                        cll.CustomLevel(
                            f'abs("{dob}_days_l" - "{dob}_days_r") <= {days}',
                            label_for_charts=f"date of birth {label}",
                            base_dialect_str="duckdb",
                        )
                        for days, label in DATE_DIFFERENCE_LEVELS
                    ),
                    cll.ElseLevel(),
                ],
            )
        )
    if "sex" in has:
        result.append(cl.ExactMatch("sex"))
    if "postcode" in has:
        result.append(
            cl.CustomComparison(
                output_column_name="postcode",
                comparison_levels=[
                    cll.NullLevel("postcode"),
                    cll.ExactMatchLevel("postcode", term_frequency_adjustments=True),
                    cll.ExactMatchLevel("postcode_sector"),
                    _one_edit_level("postcode", dialect),
                    cll.ExactMatchLevel("postcode_district"),
                    cll.ElseLevel(),
                ],
            )
        )
    for ident in ("nhs_number", "upn"):
        if ident in has:
            result.append(
                cl.CustomComparison(
                    output_column_name=ident,
                    comparison_levels=[
                        cll.NullLevel(ident),
                        cll.ExactMatchLevel(ident),
                        _one_edit_level(ident, dialect),
                        cll.ElseLevel(),
                    ],
                )
            )
    for col in other:
        result.append(
            cl.CustomComparison(
                output_column_name=col,
                comparison_levels=[
                    cll.NullLevel(col),
                    cll.ExactMatchLevel(col, term_frequency_adjustments=True),
                    cll.JaroWinklerLevel(col, 0.9),
                    cll.ElseLevel(),
                ],
            )
        )
    return result


def _rule(*keys: str) -> BlockingRuleSpec:
    return BlockingRuleSpec(name=" & ".join(keys), keys=keys)


def model_spec(standard: Sequence[str], other: Sequence[str] = ()) -> LinkageModelSpec:
    """The model for these standard columns (any subset) and other compared columns."""
    has = set(standard)
    unknown = has - set(COMPARED_STANDARD_COLUMNS)
    if unknown:
        raise ValueError(f"not compared standard columns: {sorted(unknown)}")
    g, f, d, p = "given_name", "family_name", "date_of_birth", "postcode"
    candidates: list[BlockingRuleSpec] = []

    available = has | set(other)
    names = (*COMPARED_STANDARD_COLUMNS, *other)

    def add(*keys: str) -> None:
        used = {n for n in names for k in keys if re.search(rf"\b{re.escape(n)}\b", k)}
        if used and used <= available:
            candidates.append(_rule(*keys))

    for ident in ("nhs_number", "upn"):
        add(ident)
    add(g, f)
    add(f, d)
    add(g, d)
    add(p, g)
    add(p, f)
    add(d, p)
    add("substr(postcode, 1, 3)", d)
    # single columns: cheap on small files, dropped by the pair cap on large ones
    add(f)
    add(g)
    add(d)
    add("substr(given_name, 1, 2)", "substr(family_name, 1, 2)", "substr(date_of_birth, 1, 4)")
    add("substr(given_name, 1, 3)", "substr(family_name, 1, 4)")
    add("substr(date_of_birth, 6, 5)", "substr(family_name, 1, 3)")
    if g in has and f in has:
        candidates.append(
            BlockingRuleSpec(
                name="given_name & family_name swapped",
                keys=(g, f),
                sql="l.given_name = r.family_name AND l.family_name = r.given_name",
            )
        )
    for col in other:
        add(col)
        add(col, d)
        add(col, "substr(family_name, 1, 2)")
    deterministic: list[BlockingRuleSpec] = []
    strong: tuple[tuple[str, ...], ...] = (
        (g, f, d),
        ("nhs_number", d),
        ("upn", d),
        (f, d, p),
        (g, d, p),
    )
    for keys in strong:
        if set(keys) <= has:
            deterministic.append(_rule(*keys))
    if not deterministic:
        # weaker: the identifiers alone, or names with a postcode
        weak: tuple[tuple[str, ...], ...] = (
            ("nhs_number",),
            ("upn",),
            (g, f, p),
            (g, f),
            tuple(other[:2]),
        )
        for keys in weak:
            if keys and set(keys) <= (has | set(other)):
                deterministic.append(_rule(*keys))
                break
    em: list[BlockingRuleSpec] = []
    em_candidates: tuple[tuple[str, ...], ...] = (
        (g, f),
        (d,),
        (p,),
        ("nhs_number",),
        *((c,) for c in other),
    )
    for keys in em_candidates:
        if set(keys) <= (has | set(other)) and len(em) < 2:
            em.append(_rule(*keys))
    return LinkageModelSpec(
        standard_columns=tuple(c for c in COMPARED_STANDARD_COLUMNS if c in has),
        other_columns=tuple(other),
        blocking_rules=tuple(candidates),
        training=TrainingPlan(
            deterministic_rules=tuple(deterministic),
            assumed_recall=0.7,
            em_rules=tuple(em),
            u_max_pairs=1e7,
        ),
    )
