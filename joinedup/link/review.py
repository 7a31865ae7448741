"""Clerical review: pairs of records the index could not decide on, looked at by a person.

The **queue** (``link__review_queue`` in the store) holds items: two records (by record key)
and why they are asked about. Any stage may queue pairs with a match probability
(``queue_pairs``); for the deterministic index ``queue_index_items`` queues

- ``refused_guarded_key``: two persons that one guarded name key (exact name, date of birth and
  sex) would have joined had the over-merge guard not refused it;
- ``conflict``: a person the guard flags (``link__conflicts``): two of its records that hold
  different NHS numbers (or different ids of one spine register).

A reviewer decides ``match``, ``non-match`` or ``unsure``. Decisions are appended to
``link__review_decisions`` (the latest per item counts) and applied on the next refresh by
``ReviewDecisionsStage``, the last link stage: ``match`` adds a strong ``review_match`` edge
between the two records; ``non-match`` on records the index put in one person detaches record b:
every edge of b, and every pair edge to b, is removed, so b becomes a person of its own (with
what only it holds). ``unsure`` leaves the item open.

Invariants:
- the store tables hold record keys, person ids, rule and stage names, probabilities and
  decisions, never a value and never the reviewer's name;
- seeing a record's values is L0 access: ``show_item`` and ``decide_item`` need a reviewer name
  and append every view and every decision to ``vault__review_log`` in the vault (append-only);
- item ids are a hash of the two record keys, so a pair is queued once however often it is
  proposed; record keys are per batch, so a decision on a record reloaded since stops applying
  (it is reported as stale, never guessed onto the new record).
"""

# SQL here is assembled from this module's own constants (table and column names) and never
# from row values, which are always bound; hence S608 is off for the file.
# ruff: noqa: S608

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import duckdb

from joinedup.config import NodeSettings, load_node
from joinedup.errors import ConfigError, NodeBusy, UsageError
from joinedup.link.deterministic import common_names_sql
from joinedup.link.stages import LinkContext, PersonIndexRule, Strength

QUEUE_DDL = (
    "CREATE TABLE IF NOT EXISTS link__review_queue ("
    "item_id VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, stage VARCHAR NOT NULL, "
    "rule VARCHAR, record_key_a VARCHAR NOT NULL, record_key_b VARCHAR NOT NULL, "
    "match_probability DOUBLE, detail VARCHAR, queued_at TIMESTAMP NOT NULL)"
)
DECISIONS_DDL = (
    "CREATE TABLE IF NOT EXISTS link__review_decisions ("
    "item_id VARCHAR NOT NULL, record_key_a VARCHAR NOT NULL, record_key_b VARCHAR NOT NULL, "
    "decision VARCHAR NOT NULL, decided_at TIMESTAMP NOT NULL)"
)
LOG_DDL = (
    "CREATE TABLE IF NOT EXISTS vault__review_log ("
    "logged_at TIMESTAMP NOT NULL, reviewer VARCHAR NOT NULL, action VARCHAR NOT NULL, "
    "item_id VARCHAR NOT NULL, record_key_a VARCHAR NOT NULL, record_key_b VARCHAR NOT NULL, "
    "decision VARCHAR)"
)
# A reviewer's note is free text that may name a child, so it lives in the vault's log, never in
# the store; logs written before notes existed gain the column here.
LOG_NOTE_MIGRATION = "ALTER TABLE vault__review_log ADD COLUMN IF NOT EXISTS note VARCHAR"
MAX_NOTE_LENGTH = 1000
# What a reviewer sees of each record, side by side (vault__identities columns).
SHOWN_FIELDS: tuple[str, ...] = (
    "source",
    "table_name",
    "given_name",
    "middle_names",
    "family_name",
    "former_family_name",
    "date_of_birth",
    "sex",
    "nhs_number",
    "upn",
    "former_upn",
    "local_id",
    "postcode",
    "address",
)
REVIEW_MATCH = PersonIndexRule(
    name="review_match",
    description="A reviewer decided that the two records are the same child.",
    strength=Strength.STRONG,
)


class Decision(StrEnum):
    MATCH = "match"
    NON_MATCH = "non-match"
    UNSURE = "unsure"


class ItemState(StrEnum):
    """Where an item stands against the person index of the latest refresh."""

    OPEN = "open"  # undecided, or decided unsure
    DECIDED = "decided"  # match or non-match, not yet in the index (applies on the next refresh)
    APPLIED = "applied"  # the index agrees with the decision
    STALE = "stale"  # a record of the pair is no longer in the index (it was reloaded)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviewPair:
    """A pair a stage proposes for review, with its match probability when it has one."""

    record_key_a: str
    record_key_b: str
    match_probability: float | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviewItem:
    item_id: str
    kind: str
    stage: str
    rule: str | None
    record_key_a: str
    record_key_b: str
    match_probability: float | None
    detail: str | None
    decision: str | None  # the latest decision, if any
    state: ItemState | None = None  # set by ``read_review_queue`` and ``compare_item``


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordView:
    """One record's identity as the vault holds it (L0: for the review terminal only)."""

    record_key: str
    person_id: str | None
    values: tuple[tuple[str, str], ...]


def item_id_for(record_key_a: str, record_key_b: str) -> str:
    a, b = sorted((record_key_a, record_key_b))
    return hashlib.sha256(f"{a}|{b}".encode()).hexdigest()[:16]


def create_review_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(QUEUE_DDL)
    con.execute(DECISIONS_DDL)


def queue_pairs(
    con: duckdb.DuckDBPyConnection,
    pairs: Sequence[ReviewPair],
    *,
    stage: str,
    rule: str | None,
    kind: str = "pair",
) -> int:
    """Queue ``pairs`` on a store connection; pairs already queued are left as they are.
    Returns how many were new."""
    create_review_tables(con)
    now = datetime.now(UTC).replace(tzinfo=None)
    before = _count(con, "SELECT count(*) FROM link__review_queue")
    rows = []
    seen: set[str] = set()
    for p in pairs:
        a, b = sorted((p.record_key_a, p.record_key_b))
        item = item_id_for(a, b)
        if a == b or item in seen:
            continue
        seen.add(item)
        rows.append([item, kind, stage, rule, a, b, p.match_probability, p.detail, now])
    if rows:
        con.executemany(
            "INSERT OR IGNORE INTO link__review_queue VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
        )
    return _count(con, "SELECT count(*) FROM link__review_queue") - before


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return 0 if row is None else int(row[0])


BUSY = (
    "the node is refreshing (its {what} is locked by other work, usually "
    "`joinedup node refresh`); try again in a few minutes"
)


def _is_lock_conflict(exc: duckdb.Error) -> bool:
    """Whether DuckDB refused a connection for another's hold on the file: another process's
    lock (a refresh), or a connection of this process opened in another mode or attached."""
    text = str(exc)
    return any(
        sign in text
        for sign in ("Could not set lock", "different configuration", "file handle conflict")
    )


BUSY_WAIT_SECONDS = 2.0  # long enough for a decision of this process, far short of a refresh


def _connect(
    path: Path, what: str, *, read_only: bool, **options: object
) -> duckdb.DuckDBPyConnection:
    """A connection to ``path``; NodeBusy when it stays held for ``BUSY_WAIT_SECONDS``.

    Read-only, the file is attached (as ``store``, the connection's default) to a connection of
    its own in memory: DuckDB shares one instance, and its attachments, among a process's
    connections to one file, and refuses a second connection with other settings."""
    deadline = time.monotonic() + BUSY_WAIT_SECONDS
    literal = "'" + str(path).replace("'", "''") + "'"
    while True:
        con = None
        try:
            if not read_only:
                return duckdb.connect(str(path), **options)  # type: ignore[arg-type]
            con = duckdb.connect(**options)  # type: ignore[arg-type]
            con.execute(f"ATTACH {literal} AS store (READ_ONLY)")
            con.execute("USE store")
            return con
        except duckdb.Error as exc:
            if con is not None:
                con.close()
            if not _is_lock_conflict(exc):
                raise
            if time.monotonic() > deadline:
                raise NodeBusy(BUSY.format(what=what)) from exc
            time.sleep(0.05)


@contextmanager
def _store(node: NodeSettings, *, write: bool) -> Iterator[duckdb.DuckDBPyConnection]:
    """A store connection with the vault attached read-only: read-only unless ``write``, so
    readers share the store with each other (DuckDB lets many read-only processes in, or one
    writer); NodeBusy when a writer (a refresh) holds it."""
    from joinedup.link.refresh import attach_vault

    con = _connect(node.store_path, "store", read_only=not write, config=node.duckdb_config())
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        if "link__record_person" not in tables:
            raise ConfigError(
                f"{node.root} has no person index yet; run: joinedup node refresh NODE"
            )
        if write:
            create_review_tables(con)
        else:
            # a read-only store cannot gain the tables; empty temporary ones read the same
            for ddl, table in (
                (QUEUE_DDL, "link__review_queue"),
                (DECISIONS_DDL, "link__review_decisions"),
            ):
                if table not in tables:
                    con.execute(ddl.replace("CREATE TABLE", "CREATE TEMP TABLE", 1))
        try:
            attach_vault(con, node.vault_path)
        except duckdb.Error as exc:
            if _is_lock_conflict(exc):
                raise NodeBusy(BUSY.format(what="vault")) from exc
            raise
        yield con
    finally:
        con.close()


# rv's named records, in the columns common_names_sql reads
_NAMED_RV = (
    "(SELECT g, f, d AS dob, s AS sex FROM rv WHERE coalesce(g, '') <> '' "
    "AND coalesce(f, '') <> '' AND d IS NOT NULL AND s IN ('M', 'F'))"
)


def queue_index_items(node: NodeSettings | Path | str) -> int:
    """Queue the deterministic index's undecided cases (see the module docstring)."""
    settings = node if isinstance(node, NodeSettings) else load_node(node)
    with _store(settings, write=True) as con:
        con.execute(
            "CREATE TEMP TABLE rv AS SELECT lp.record_key, lp.person_id, v.source, v.table_name, "
            "v.given_name_norm AS g, v.family_name_norm AS f, v.date_of_birth AS d, v.sex AS s, "
            "v.nhs_number, coalesce(v.local_id, v.upn) AS spine_id, "
            "nullif(split_part(v.postcode, ' ', 1), '') AS district "
            "FROM link__record_person lp JOIN vault.vault__identities v USING (record_key)"
        )
        # a guarded name key whose records lie in two persons was refused by the guard (an
        # accepted one would have made them one person). Before Splink the key of a common
        # name also holds the postcode district (``NAME_DOB_SEX_UNCOMMON``); records of it
        # without one were no key at all (Splink decided them and queued its own grey zone).
        last = con.execute(
            "SELECT method FROM link__runs ORDER BY finished_at DESC LIMIT 1"
        ).fetchone()
        before_splink = last is not None and any(
            m.startswith("splink") for m in str(last[0]).split("+")
        )
        placed = (
            f" || CASE WHEN (g, f, s, year(d)) IN ({common_names_sql(_NAMED_RV)}) "
            "THEN '|' || district ELSE '' END"
            if before_splink
            else ""
        )
        refused = con.execute(
            "WITH k AS (SELECT * FROM (SELECT record_key, person_id, g || '|' || f || '|' "
            f"  || CAST(d AS VARCHAR) || '|' || s {placed} AS name_key FROM rv "
            "  WHERE coalesce(g, '') <> '' AND coalesce(f, '') <> '' AND d IS NOT NULL "
            "  AND s IN ('M', 'F')) WHERE name_key IS NOT NULL), "
            "per AS (SELECT name_key, person_id, min(record_key) AS rk FROM k GROUP BY ALL), "
            "multi AS (SELECT name_key FROM per GROUP BY ALL HAVING count(*) > 1), "
            "ranked AS (SELECT per.*, row_number() OVER (PARTITION BY name_key ORDER BY rk) AS i "
            "  FROM per JOIN multi USING (name_key)) "
            "SELECT a.rk, b.rk FROM ranked a JOIN ranked b ON a.name_key = b.name_key "
            "AND a.i = 1 AND b.i > 1"
        ).fetchall()
        n = queue_pairs(
            con,
            [ReviewPair(record_key_a=a, record_key_b=b) for a, b in refused],
            stage="deterministic-v1",
            rule="name_dob_sex",
            kind="refused_guarded_key",
        )
        conflicts = con.execute(
            "WITH c AS (SELECT person_id, kind FROM link__conflicts), "
            "vals AS (SELECT c.person_id, c.kind, r.record_key, CASE WHEN c.kind = 'nhs' "
            "  THEN r.nhs_number WHEN r.source || '.' || r.table_name = substr(c.kind, 7) "
            "  THEN r.spine_id END AS val FROM c JOIN rv r USING (person_id)), "
            "per AS (SELECT person_id, kind, val, min(record_key) AS rk FROM vals "
            "  WHERE val IS NOT NULL GROUP BY ALL), "
            "ranked AS (SELECT *, row_number() OVER (PARTITION BY person_id, kind ORDER BY rk) "
            "  AS i FROM per) "
            "SELECT a.rk, b.rk, a.kind FROM ranked a JOIN ranked b USING (person_id, kind) "
            "WHERE a.i = 1 AND b.i > 1"
        ).fetchall()
        n += queue_pairs(
            con,
            [ReviewPair(record_key_a=a, record_key_b=b, detail=k) for a, b, k in conflicts],
            stage="deterministic-v1",
            rule=None,
            kind="conflict",
        )
        return n


_ITEMS_SQL = (
    "SELECT q.item_id, q.kind, q.stage, q.rule, q.record_key_a, q.record_key_b, "
    "q.match_probability, q.detail, d.decision FROM link__review_queue q "
    "LEFT JOIN (SELECT item_id, arg_max(decision, decided_at) AS decision "
    "  FROM link__review_decisions GROUP BY item_id) d USING (item_id) "
)


def _item(row: Sequence[object]) -> ReviewItem:
    return ReviewItem(
        item_id=str(row[0]),
        kind=str(row[1]),
        stage=str(row[2]),
        rule=None if row[3] is None else str(row[3]),
        record_key_a=str(row[4]),
        record_key_b=str(row[5]),
        match_probability=None if row[6] is None else float(str(row[6])),
        detail=None if row[7] is None else str(row[7]),
        decision=None if row[8] is None else str(row[8]),
    )


def list_items(
    node: NodeSettings | Path | str, *, include_decided: bool = False
) -> list[ReviewItem]:
    """Queued items, open ones (undecided or unsure) only unless ``include_decided``."""
    settings = node if isinstance(node, NodeSettings) else load_node(node)
    where = "" if include_decided else "WHERE d.decision IS NULL OR d.decision = 'unsure' "
    with _store(settings, write=False) as con:
        rows = con.execute(
            _ITEMS_SQL + where + "ORDER BY q.match_probability DESC NULLS LAST, q.kind, q.item_id"
        ).fetchall()
    return [_item(r) for r in rows]


def _log(
    node: NodeSettings,
    reviewer: str,
    action: str,
    item: ReviewItem,
    decision: str | None,
    note: str | None = None,
) -> None:
    con = _connect(node.vault_path, "vault", read_only=False)
    try:
        con.execute(LOG_DDL)
        con.execute(LOG_NOTE_MIGRATION)
        con.execute(
            "INSERT INTO vault__review_log (logged_at, reviewer, action, item_id, record_key_a, "
            "record_key_b, decision, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                datetime.now(UTC).replace(tzinfo=None),
                reviewer,
                action,
                item.item_id,
                item.record_key_a,
                item.record_key_b,
                decision,
                note,
            ],
        )
    finally:
        con.close()


def _check_reviewer(reviewer: str) -> str:
    name = reviewer.strip()
    if not name:
        raise UsageError("--reviewer must name the person reviewing (it is written to the log)")
    return name


def _find(con: duckdb.DuckDBPyConnection, item_id: str) -> ReviewItem:
    row = con.execute(_ITEMS_SQL + "WHERE q.item_id = ?", [item_id]).fetchone()
    if row is None:
        raise UsageError(f"no review item {item_id}; list them with: joinedup link review NODE")
    return _item(row)


def _read_item(settings: NodeSettings, item_id: str) -> tuple[ReviewItem, RecordView, RecordView]:
    columns = ", ".join(f"CAST(v.{c} AS VARCHAR)" for c in SHOWN_FIELDS)
    with _store(settings, write=False) as con:
        found = con.execute(_STATE_SQL + "SELECT * FROM items WHERE item_id = ?", [item_id])
        row = found.fetchone()
        if row is None:
            raise UsageError(f"no review item {item_id}; list them with: joinedup link review NODE")
        item = _state_item(row)
        views = []
        for key in (item.record_key_a, item.record_key_b):
            row = con.execute(
                f"SELECT lp.person_id, {columns} FROM vault.vault__identities v "
                "LEFT JOIN link__record_person lp USING (record_key) WHERE v.record_key = ?",
                [key],
            ).fetchone()
            values: tuple[tuple[str, str], ...] = ()
            person = None
            if row is not None:
                person = None if row[0] is None else str(row[0])
                values = tuple(
                    (name, "" if v is None else str(v))
                    for name, v in zip(SHOWN_FIELDS, row[1:], strict=True)
                )
            views.append(RecordView(record_key=key, person_id=person, values=values))
    return item, views[0], views[1]


def show_item(
    node: NodeSettings | Path | str, item_id: str, *, reviewer: str
) -> tuple[ReviewItem, RecordView, RecordView]:
    """The two records of an item as the vault holds them; the view is logged in the vault."""
    settings = node if isinstance(node, NodeSettings) else load_node(node)
    reviewer = _check_reviewer(reviewer)
    item, a, b = _read_item(settings, item_id)
    _log(settings, reviewer, "view", item, None)
    return item, a, b


def differing_fields(a: RecordView, b: RecordView) -> frozenset[str]:
    """The shown fields whose values differ between the two records (the CLI marks them ≠,
    the web page highlights them)."""
    b_values = dict(b.values)
    return frozenset(name for name, value in a.values if value != b_values.get(name, ""))


# Fields shown as they are on the de-identified comparison (the store holds them too); month
# of birth and the postcode's outward code are coarsened as the store coarsens them; every other
# field (names, NHS number, UPN, local id, address) is never shown, only compared.
PLAIN_FIELDS = frozenset({"source", "table_name", "sex"})


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldComparison:
    """One field of a pair, de-identified: what may be shown of each record, and how they
    compare (``same``, ``differs by N characters``, ``missing in b`` ...)."""

    name: str
    shown_a: str
    shown_b: str
    agreement: str
    differs: bool


def _edit_distance(x: str, y: str) -> int:
    previous = list(range(len(y) + 1))
    for i, cx in enumerate(x, start=1):
        current = [i]
        for j, cy in enumerate(y, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (cx != cy)))
        previous = current
    return previous[-1]


def _deidentified(name: str, value: str) -> str:
    if not value:
        return "missing"
    if name in PLAIN_FIELDS:
        return value
    if name == "date_of_birth":
        return value[:7]  # month of birth, as the store holds it
    if name == "postcode":
        return value.split()[0] if " " in value else value[:-3] or value
    return "present"


def _agreement(a: str, b: str) -> str:
    if not a and not b:
        return "both missing"
    if not a or not b:
        return "missing in a" if not a else "missing in b"
    if a == b:
        return "same"
    if a.casefold() == b.casefold():
        return "same apart from case"
    distance = _edit_distance(a.casefold(), b.casefold())
    if distance <= 2:
        return f"differs by {distance} character{'s' if distance > 1 else ''}"
    return "differs"


def compare_records(a: RecordView, b: RecordView) -> tuple[FieldComparison, ...]:
    """The pair field by field, de-identified: no name, number or address is in the result."""
    b_values = dict(b.values)
    out = []
    for name, value in a.values:
        other = b_values.get(name, "")
        out.append(
            FieldComparison(
                name=name,
                shown_a=_deidentified(name, value),
                shown_b=_deidentified(name, other),
                agreement=_agreement(value, other),
                differs=value != other,
            )
        )
    return tuple(out)


def compare_item(
    node: NodeSettings | Path | str, item_id: str, *, reviewer: str
) -> tuple[ReviewItem, tuple[FieldComparison, ...]]:
    """An item's two records compared field by field, de-identified (for the web page); the
    vault is read on the reviewer's behalf, so the comparison is logged (action ``compare``)."""
    settings = node if isinstance(node, NodeSettings) else load_node(node)
    reviewer = _check_reviewer(reviewer)
    item, a, b = _read_item(settings, item_id)
    _log(settings, reviewer, "compare", item, None)
    if a.person_id is None or b.person_id is None:
        shown, agreement = "a record is not in the index (reloaded since)", "stale"
    elif a.person_id == b.person_id:
        shown, agreement = "one person", "same"
    else:
        shown, agreement = "two persons", "differs"
    person = FieldComparison(
        name="person in the index",
        shown_a=shown,
        shown_b=shown,
        agreement=agreement,
        differs=agreement != "same",
    )
    return item, (*compare_records(a, b), person)


@dataclass(frozen=True, slots=True, kw_only=True)
class DecisionRecord:
    """One earlier decision on an item, from the vault's review log: who, when, what and the
    note (free text that may name a child, so only for those who may read the vault's log)."""

    decided_at: datetime
    reviewer: str
    decision: str
    note: str | None


def read_decision_history(
    node: NodeSettings | Path | str, item_id: str
) -> tuple[DecisionRecord, ...]:
    """The decisions on an item as the vault's review log holds them, newest first (empty when
    the log does not exist yet). The log is the vault's, so this is L0: node administrators
    only, as ``show_item``."""
    settings = node if isinstance(node, NodeSettings) else load_node(node)
    # the same connection settings as ``_log``: DuckDB refuses a second connection to one file
    # with another configuration in the same process
    con = _connect(settings.vault_path, "vault", read_only=False)
    try:
        columns = {
            str(r[0])
            for r in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE table_name = 'vault__review_log' "
                "AND database_name = current_database()"
            ).fetchall()
        }
        if not columns:
            return ()
        note = "note" if "note" in columns else "CAST(NULL AS VARCHAR)"
        rows = con.execute(
            f"SELECT logged_at, reviewer, decision, {note} FROM vault__review_log "
            "WHERE item_id = ? AND action = 'decide' ORDER BY logged_at DESC",
            [item_id],
        ).fetchall()
    finally:
        con.close()
    return tuple(
        DecisionRecord(
            decided_at=row[0],
            reviewer=str(row[1]),
            decision=str(row[2]),
            note=None if row[3] is None else str(row[3]),
        )
        for row in rows
    )


_STATE_SQL = (
    "WITH latest AS (SELECT item_id, arg_max(decision, decided_at) AS decision "
    "  FROM link__review_decisions GROUP BY item_id), "
    "items AS (SELECT q.item_id, q.kind, q.stage, q.rule, q.record_key_a, q.record_key_b, "
    "  q.match_probability, q.detail, l.decision, "
    "  CASE WHEN pa.person_id IS NULL OR pb.person_id IS NULL THEN 'stale' "
    "  WHEN l.decision IS NULL OR l.decision = 'unsure' THEN 'open' "
    "  WHEN (l.decision = 'match') = (pa.person_id = pb.person_id) THEN 'applied' "
    "  ELSE 'decided' END AS state "
    "  FROM link__review_queue q LEFT JOIN latest l USING (item_id) "
    "  LEFT JOIN link__record_person pa ON pa.record_key = q.record_key_a "
    "  LEFT JOIN link__record_person pb ON pb.record_key = q.record_key_b) "
)


def _state_item(r: Sequence[object]) -> ReviewItem:
    return ReviewItem(
        item_id=str(r[0]),
        kind=str(r[1]),
        stage=str(r[2]),
        rule=None if r[3] is None else str(r[3]),
        record_key_a=str(r[4]),
        record_key_b=str(r[5]),
        match_probability=None if r[6] is None else float(str(r[6])),
        detail=None if r[7] is None else str(r[7]),
        decision=None if r[8] is None else str(r[8]),
        state=ItemState(str(r[9])),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviewQueue:
    """One page of the queue: the counts by state (every state, zero or not), the items of
    the page with their states, and how many items the chosen state holds in all."""

    counts: dict[ItemState, int]
    items: tuple[ReviewItem, ...]
    total: int


def read_review_queue(
    node: NodeSettings | Path | str,
    state: ItemState | None = None,
    *,
    offset: int = 0,
    limit: int = 50,
) -> ReviewQueue:
    """Counts by state and one page of items (all states, or one), ordered as ``list_items``
    orders them, from one read of the store."""
    settings = node if isinstance(node, NodeSettings) else load_node(node)
    where, params = ("", []) if state is None else ("WHERE state = ? ", [state.value])
    with _store(settings, write=False) as con:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE review_items AS " + _STATE_SQL + "SELECT * FROM items"
        )
        by_state = con.execute("SELECT state, count(*) FROM review_items GROUP BY ALL")
        found = dict(by_state.fetchall())
        rows = con.execute(
            "SELECT * FROM review_items "
            + where
            + "ORDER BY match_probability DESC NULLS LAST, kind, item_id LIMIT ? OFFSET ?",
            [*params, max(1, limit), max(0, offset)],
        ).fetchall()
    counts = {s: int(found.get(s.value, 0)) for s in ItemState}
    total = sum(counts.values()) if state is None else counts[state]
    return ReviewQueue(counts=counts, items=tuple(_state_item(r) for r in rows), total=total)


def review_counts(node: NodeSettings | Path | str) -> dict[ItemState, int]:
    """How many queued items are in each state (every state present, zero or not)."""
    return read_review_queue(node, limit=1).counts


def check_note(note: str | None) -> str | None:
    """A reviewer's note, trimmed (None when blank); UsageError when too long."""
    text = (note or "").strip()
    if len(text) > MAX_NOTE_LENGTH:
        raise UsageError(f"a note is at most {MAX_NOTE_LENGTH} characters; it has {len(text)}")
    return text or None


def decide_item(
    node: NodeSettings | Path | str,
    item_id: str,
    decision: Decision | str,
    *,
    reviewer: str,
    note: str | None = None,
) -> ReviewItem:
    """Record a decision on an item (store: the decision; vault log: who, when and the note)."""
    settings = node if isinstance(node, NodeSettings) else load_node(node)
    reviewer = _check_reviewer(reviewer)
    note = check_note(note)
    try:
        decided = Decision(decision)
    except ValueError:
        raise UsageError("a decision is one of: match, non-match, unsure") from None
    with _store(settings, write=True) as con:
        item = _find(con, item_id)
        con.execute(
            "INSERT INTO link__review_decisions VALUES (?, ?, ?, ?, ?)",
            [
                item.item_id,
                item.record_key_a,
                item.record_key_b,
                decided.value,
                datetime.now(UTC).replace(tzinfo=None),
            ],
        )
    _log(settings, reviewer, "decide", item, decided.value, note)
    return ReviewItem(
        item_id=item.item_id,
        kind=item.kind,
        stage=item.stage,
        rule=item.rule,
        record_key_a=item.record_key_a,
        record_key_b=item.record_key_b,
        match_probability=item.match_probability,
        detail=item.detail,
        decision=decided.value,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviewDecisionsStage:
    """Applies reviewers' decisions as forced edges or forced splits (run it last).

    It reads ``decisions_table`` on the refresh's store connection; when the table does not
    exist (no review yet) it does nothing. Beyond inserting edges, it deletes the edges of the
    second record of a ``non-match`` pair: a forced split is the one thing an edge cannot say.
    """

    name: str = "review"
    rules: tuple[PersonIndexRule, ...] = (REVIEW_MATCH,)
    decisions_table: str = "link__review_decisions"

    def write_edges(self, context: LinkContext) -> None:
        con = context.con
        exists = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? "
            "AND database_name = current_database()",
            [self.decisions_table],
        ).fetchone()
        if exists is None or int(exists[0]) == 0:
            return
        con.execute(
            "CREATE OR REPLACE TEMP TABLE link_review_latest AS "
            "SELECT item_id, arg_max(record_key_a, decided_at) AS a, "
            "arg_max(record_key_b, decided_at) AS b, arg_max(decision, decided_at) AS decision "
            f"FROM {self.decisions_table} GROUP BY item_id"
        )
        # decisions whose records are both current
        con.execute(
            "CREATE OR REPLACE TEMP TABLE link_review_live AS SELECT l.* FROM link_review_latest l "
            f"WHERE l.a IN (SELECT record_key FROM {context.records_table}) "
            f"AND l.b IN (SELECT record_key FROM {context.records_table})"
        )
        con.execute(
            f"INSERT INTO {context.edges_table} (rule, record_key, node) "
            "SELECT ?, a, b FROM link_review_live WHERE decision = 'match'",
            [REVIEW_MATCH.name],
        )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE link_review_split AS SELECT DISTINCT l.b AS record_key "
            f"FROM link_review_live l JOIN {context.assignment_table} x ON x.record_key = l.a "
            f"JOIN {context.assignment_table} y ON y.record_key = l.b "
            "WHERE l.decision = 'non-match' AND x.component = y.component"
        )
        con.execute(
            f"DELETE FROM {context.edges_table} WHERE record_key IN "
            "(SELECT record_key FROM link_review_split) "
            "OR node IN (SELECT record_key FROM link_review_split)"
        )


def review_summary(node: NodeSettings | Path | str) -> dict[str, int]:
    """Counts of queued items by kind and of latest decisions (and stale ones), for the CLI."""
    settings = node if isinstance(node, NodeSettings) else load_node(node)
    with _store(settings, write=False) as con:
        out: dict[str, int] = {}
        for kind, count in con.execute(
            "SELECT kind, count(*) FROM link__review_queue GROUP BY ALL ORDER BY 1"
        ).fetchall():
            out[f"queued {kind}"] = int(count)
        for decision, count in con.execute(
            "SELECT coalesce(d.decision, 'open'), count(*) FROM (" + _ITEMS_SQL + ") d "
            "GROUP BY ALL ORDER BY 1"
        ).fetchall():
            out[f"decision {decision}"] = int(count)
        out["stale (a record was reloaded)"] = _count(
            con,
            "SELECT count(*) FROM link__review_decisions WHERE record_key_a NOT IN "
            "(SELECT record_key FROM link__record_person) OR record_key_b NOT IN "
            "(SELECT record_key FROM link__record_person)",
        )
    return out
