"""The approved cohort: which children a project's view holds (safe data, the minimum cohort).

An applicant writes the cohort as a small declarative spec (JSON, or YAML in a file); the DAC
approves it with the project; at job time ``joinedup.jobs.view`` keeps only the children it
selects. The grammar (every key is checked; an unknown one is an error naming its place)::

    spec  := {"whole_population": true}        every child (WHOLE_POPULATION)
           | rule
    rule  := {"all": [rule, ...]}              each rule holds
           | {"any": [rule, ...]}              at least one holds
           | {"age": {"at": "YYYY-MM-DD", "min": years, "max": years}}
           | {"born": {"from": "YYYY-MM", "to": "YYYY-MM"}}
           | {"sex": ["F", "M", "U"]}
           | {"has_event": {"table": "admission", "column": "admidate",
                            "from": "YYYY-MM-DD", "to": "YYYY-MM-DD"}}

``age`` is in completed years on the ``at`` date (not ``on``, which YAML reads as true), with
each child taken as born on the first day of their month of birth (the store keeps the month
only); ``min`` and ``max`` are inclusive and either may be left out. ``born`` months are
inclusive. ``has_event`` holds for a child with at least one row in the store's event table
``table`` (its short name: ``admission`` for ``store__admission``), dated within
``from``..``to`` (inclusive; either may be left out) on ``column``, by default the table's own
event date. A child whose month of birth is unknown is in no ``age`` or ``born`` rule.

Invariants:
- a spec is checked against the linked store's declared tables and dated columns
  (``joinedup.store.linked``) before it is accepted; an error names the field at fault
  (``cohort.all[1].has_event.table``) and never a row value;
- ``canonical_json`` is one text per meaning (keys sorted, ``all``/``any`` members sorted and
  deduplicated, sexes sorted), so ``sha256`` pins what the DAC approved;
- ``cohort_sql`` builds SQL from the store's own table and column names (quoted) and binds every
  value the applicant wrote as a parameter: no value is ever spliced into the text.
"""

# SQL here is assembled from the store's declared table and column names (quoted), never from
# the applicant's values, which are always bound; hence S608 is off for the file.
# ruff: noqa: S608

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from joinedup.errors import UsageError
from joinedup.store.linked import PERSON_TABLE, STORE_TABLES, event_date_columns
from joinedup.store.schema import quote_identifier

SEXES = ("F", "M", "U")  # the store's ``sex`` values (U: not known)
MAX_RULES = 50
MAX_DEPTH = 6
MAX_AGE = 25
_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SEX_WORDS = {"F": "girls", "M": "boys", "U": "children whose sex is not known"}


class CohortError(UsageError):
    """A cohort spec that does not parse or names what the store does not hold."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AgeRule:
    at: date
    min_years: int | None
    max_years: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class BornRule:
    from_month: str | None  # YYYY-MM
    to_month: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SexRule:
    sexes: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class EventRule:
    table: str  # the store table, e.g. store__admission
    column: str  # one of its dated columns
    from_date: date | None
    to_date: date | None


@dataclass(frozen=True, slots=True, kw_only=True)
class AllRule:
    rules: tuple[Rule, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class AnyRule:
    rules: tuple[Rule, ...]


Rule = AgeRule | BornRule | SexRule | EventRule | AllRule | AnyRule


@dataclass(frozen=True, slots=True, kw_only=True)
class CohortSpec:
    """A validated cohort; ``rule`` None is the whole population."""

    rule: Rule | None

    @property
    def is_whole_population(self) -> bool:
        return self.rule is None

    def as_dict(self) -> dict[str, Any]:
        return {"whole_population": True} if self.rule is None else _rule_dict(self.rule)

    def canonical_json(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"))

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()

    def describe(self) -> str:
        """The cohort in plain words (for the DAC and the transparency register)."""
        if self.rule is None:
            return "every child in the linked data (less those whose families opted out)"
        return _describe(self.rule, top=True) + " (less those whose families opted out)"


WHOLE_POPULATION = CohortSpec(rule=None)


# ---------------------------------------------------------------- parsing and validation


def _fail(where: str, what: str) -> CohortError:
    return CohortError(f"cohort spec: {where}: {what}")


def _keys(value: object, where: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(where, "must be an object ({...})")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise _fail(
            f"{where}.{unknown[0]}",
            f"unknown field (allowed here: {', '.join(sorted(allowed))})",
        )
    return value


def _date(value: object, where: str) -> date:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise _fail(where, "must be a date written YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _fail(where, "is not a real date") from None


def _optional_date(body: dict[str, Any], key: str, where: str) -> date | None:
    return None if body.get(key) is None else _date(body[key], f"{where}.{key}")


def _month(value: object, where: str) -> str:
    if not isinstance(value, str) or not _MONTH.fullmatch(value):
        raise _fail(where, "must be a month written YYYY-MM")
    return value


def _years(value: object, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_AGE:
        raise _fail(where, f"must be a whole number of years from 0 to {MAX_AGE}")
    return value


def _short(table: str) -> str:
    return table.removeprefix("store__")


class _Parser:
    def __init__(self) -> None:
        self.count = 0
        self.events = event_date_columns()

    def rule(self, value: object, where: str, depth: int) -> Rule:
        self.count += 1
        if self.count > MAX_RULES:
            raise _fail(where, f"a cohort has at most {MAX_RULES} rules")
        if depth > MAX_DEPTH:
            raise _fail(where, f"rules nest at most {MAX_DEPTH} deep")
        kinds = {"all", "any", "age", "born", "sex", "has_event"}
        body = _keys(value, where, kinds)
        if len(body) != 1:
            raise _fail(where, "give exactly one of: " + ", ".join(sorted(kinds)))
        ((kind, inner),) = body.items()
        here = f"{where}.{kind}"
        if kind in ("all", "any"):
            if not isinstance(inner, list) or not inner:
                raise _fail(here, "must be a non-empty list of rules")
            rules = [self.rule(r, f"{here}[{i}]", depth + 1) for i, r in enumerate(inner)]
            unique = {json.dumps(_rule_dict(r), sort_keys=True): r for r in rules}
            ordered = tuple(unique[k] for k in sorted(unique))
            return AllRule(rules=ordered) if kind == "all" else AnyRule(rules=ordered)
        if kind == "age":
            return self.age(inner, here)
        if kind == "born":
            fields = _keys(inner, here, {"from", "to"})
            start = None if fields.get("from") is None else _month(fields["from"], here + ".from")
            end = None if fields.get("to") is None else _month(fields["to"], here + ".to")
            if start is None and end is None:
                raise _fail(here, "give from, to, or both")
            if start and end and start > end:
                raise _fail(here, "from is after to")
            return BornRule(from_month=start, to_month=end)
        if kind == "sex":
            if not isinstance(inner, list) or not inner:
                raise _fail(here, "must be a non-empty list of " + ", ".join(SEXES))
            for i, s in enumerate(inner):
                if s not in SEXES:
                    raise _fail(f"{here}[{i}]", "must be one of " + ", ".join(SEXES))
            return SexRule(sexes=tuple(sorted(set(inner))))
        return self.event(inner, here)

    def age(self, inner: object, here: str) -> AgeRule:
        fields = _keys(inner, here, {"at", "min", "max"})
        if "at" not in fields:
            raise _fail(here + ".at", "is missing: the date the age is taken at (YYYY-MM-DD)")
        on = _date(fields["at"], here + ".at")
        low = _years(fields.get("min"), here + ".min")
        high = _years(fields.get("max"), here + ".max")
        if low is None and high is None:
            raise _fail(here, "give min, max, or both")
        if low is not None and high is not None and low > high:
            raise _fail(here, "min is above max")
        return AgeRule(at=on, min_years=low, max_years=high)

    def event(self, inner: object, here: str) -> EventRule:
        fields = _keys(inner, here, {"table", "column", "from", "to"})
        name = fields.get("table")
        tables = sorted(_short(t) for t in self.events)
        if not isinstance(name, str) or f"store__{_short(name)}" not in self.events:
            raise _fail(
                here + ".table", "must be one of the store's event tables: " + ", ".join(tables)
            )
        table = f"store__{_short(name)}"
        dated = self.events[table]
        column = fields.get("column", dated[0])
        if column not in dated:
            raise _fail(
                here + ".column",
                f"must be a dated column of {_short(table)}: {', '.join(dated)}",
            )
        start = _optional_date(fields, "from", here)
        end = _optional_date(fields, "to", here)
        if start and end and start > end:
            raise _fail(here, "from is after to")
        return EventRule(table=table, column=str(column), from_date=start, to_date=end)


def parse_cohort(data: object) -> CohortSpec:
    """Check a decoded spec (see the module's grammar); ``CohortError`` names the bad field."""
    if isinstance(data, dict) and "whole_population" in data:
        _keys(data, "cohort", {"whole_population"})
        if data["whole_population"] is not True:
            raise _fail("cohort.whole_population", "must be true (or leave it out)")
        return WHOLE_POPULATION
    if data is None or data == {}:
        raise _fail("cohort", 'is empty: give rules, or {"whole_population": true} for everyone')
    return CohortSpec(rule=_Parser().rule(data, "cohort", 1))


def parse_cohort_text(text: str, *, source: str = "the cohort spec") -> CohortSpec:
    """Parse JSON text (the web form, a stored spec)."""
    if not text.strip():
        raise CohortError(f'{source} is empty: give rules, or {{"whole_population": true}}')
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CohortError(
            f"{source} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    return parse_cohort(data)


def load_cohort_file(path: Path) -> CohortSpec:
    """Read a cohort spec file: JSON, or YAML when it ends .yaml or .yml."""
    if not path.is_file():
        raise CohortError(f"no cohort spec file at {path}")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise CohortError(f"{path} is not valid YAML: {exc}") from None
        # YAML reads unquoted dates as dates: the grammar takes them as text
        return parse_cohort(json.loads(json.dumps(data, default=str)))
    return parse_cohort_text(text, source=str(path))


# ---------------------------------------------------------------- canonical form and words


def _rule_dict(rule: Rule) -> dict[str, Any]:
    match rule:
        case AllRule(rules=rules):
            return {"all": [_rule_dict(r) for r in rules]}
        case AnyRule(rules=rules):
            return {"any": [_rule_dict(r) for r in rules]}
        case AgeRule(at=on, min_years=low, max_years=high):
            age: dict[str, Any] = {"at": on.isoformat()}
            if low is not None:
                age["min"] = low
            if high is not None:
                age["max"] = high
            return {"age": age}
        case BornRule(from_month=start, to_month=end):
            return {"born": {k: v for k, v in (("from", start), ("to", end)) if v is not None}}
        case SexRule(sexes=sexes):
            return {"sex": list(sexes)}
        case EventRule(table=table, column=column, from_date=start, to_date=end):
            event: dict[str, Any] = {"table": _short(table), "column": column}
            if start is not None:
                event["from"] = start.isoformat()
            if end is not None:
                event["to"] = end.isoformat()
            return {"has_event": event}


def _words_date(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def _words_month(month: str) -> str:
    return f"{date.fromisoformat(month + '-01'):%B %Y}"


_DESCRIPTIONS: Mapping[str, str] = {t.name: t.description.rstrip(".").lower() for t in STORE_TABLES}


def _describe(rule: Rule, *, top: bool = False) -> str:
    lead = "children " if top else ""
    match rule:
        case AllRule(rules=rules):
            parts = "; ".join(_describe(r) for r in rules)
            return f"{lead}meeting all of: {parts}" if top else f"all of ({parts})"
        case AnyRule(rules=rules):
            parts = "; ".join(_describe(r) for r in rules)
            return f"{lead}meeting any of: {parts}" if top else f"any of ({parts})"
        case AgeRule(at=on, min_years=low, max_years=high):
            if low is not None and high is not None:
                span = f"{low} to {high}" if low != high else f"{low}"
            elif low is not None:
                span = f"{low} or over"
            else:
                span = f"{high} or under"
            return f"{lead}aged {span} on {_words_date(on)}"
        case BornRule(from_month=start, to_month=end):
            if start and end:
                return f"{lead}born from {_words_month(start)} to {_words_month(end)}"
            if start:
                return f"{lead}born in or after {_words_month(start)}"
            return f"{lead}born in or before {_words_month(end or '')}"
        case SexRule(sexes=sexes):
            return " or ".join(_SEX_WORDS[s] for s in sexes)
        case EventRule(table=table, column=column, from_date=start, to_date=end):
            what = f"{lead}with at least one record of {_short(table)} ({_DESCRIPTIONS[table]})"
            if start and end:
                return f"{what} dated ({column}) {_words_date(start)} to {_words_date(end)}"
            if start:
                return f"{what} dated ({column}) on or after {_words_date(start)}"
            if end:
                return f"{what} dated ({column}) on or before {_words_date(end)}"
            return what


# ---------------------------------------------------------------- SQL


def _store_relation(table: str) -> str:
    return quote_identifier(table)


def _age_bounds(rule: AgeRule) -> tuple[str | None, str | None]:
    """The months of birth that give the ages: (latest allowed, earliest excluded).

    Born on the first of month (y, m), a child has completed A years at ``at`` exactly when
    (y + A, m) <= (at.year, at.month): so age >= min means birth month <= (at.year - min,
    at.month), and age <= max means birth month > (at.year - max - 1, at.month).
    """
    month = f"{rule.at.month:02d}"
    latest = None if rule.min_years is None else f"{rule.at.year - rule.min_years:04d}-{month}"
    before = None if rule.max_years is None else f"{rule.at.year - rule.max_years - 1:04d}-{month}"
    return latest, before


def _condition(rule: Rule, relation: Callable[[str], str], params: list[object]) -> str:
    match rule:
        case AllRule(rules=rules) | AnyRule(rules=rules):
            joiner = " AND " if isinstance(rule, AllRule) else " OR "
            return "(" + joiner.join(_condition(r, relation, params) for r in rules) + ")"
        case AgeRule():
            latest, before = _age_bounds(rule)
            parts = ["p.birth_month IS NOT NULL"]
            if latest is not None:
                parts.append("p.birth_month <= ?")
                params.append(latest)
            if before is not None:
                parts.append("p.birth_month > ?")
                params.append(before)
            return "(" + " AND ".join(parts) + ")"
        case BornRule(from_month=start, to_month=end):
            parts = ["p.birth_month IS NOT NULL"]
            if start is not None:
                parts.append("p.birth_month >= ?")
                params.append(start)
            if end is not None:
                parts.append("p.birth_month <= ?")
                params.append(end)
            return "(" + " AND ".join(parts) + ")"
        case SexRule(sexes=sexes):
            params.extend(sexes)
            return "(p.sex IN (" + ", ".join("?" for _ in sexes) + "))"
        case EventRule(table=table, column=column, from_date=start, to_date=end):
            col = "e." + quote_identifier(column)
            parts = ["e.person_id = p.person_id"]
            if start is not None:
                parts.append(f"{col} >= ?")
                params.append(start)
            if end is not None:
                parts.append(f"{col} <= ?")
                params.append(end)
            return f"EXISTS (SELECT 1 FROM {relation(table)} e WHERE " + " AND ".join(parts) + ")"


def cohort_sql(
    spec: CohortSpec, relation: Callable[[str], str] = _store_relation
) -> tuple[str, list[object]]:
    """``SELECT person_id`` of the children in the cohort, and its bound parameters.

    ``relation`` turns a store table name (``store__person``, ``store__admission``) into the
    relation to read (by default the table itself; a project view passes the source's
    ``view__secondary__*`` so opted-out children never enter)."""
    params: list[object] = []
    where = "TRUE" if spec.rule is None else _condition(spec.rule, relation, params)
    return (
        f"SELECT DISTINCT p.person_id FROM {relation(PERSON_TABLE)} p WHERE {where}",
        params,
    )


# ---------------------------------------------------------------- the reported size

ROUNDING_MULTIPLE = 5
SMALLEST_SHOWN = 10


def rounded_size(count: int) -> str:
    """A cohort size fit to record outside the node's staff: "<10" below ten, else rounded to
    the nearest five."""
    if count < SMALLEST_SHOWN:
        return f"<{SMALLEST_SHOWN}"
    return str(ROUNDING_MULTIPLE * round(count / ROUNDING_MULTIPLE))
