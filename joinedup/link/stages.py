"""The seam between the person index and the stages that propose links to it.

A **stage** proposes edges; the index (``joinedup.link.index``) owns the graph, the
over-merge guard, the person ids and the ``link__*`` tables. The deterministic stage
(``joinedup.link.deterministic``) proposes record ↔ key edges from exact rules; a probabilistic
stage (Splink, next) proposes record ↔ record edges for the **residue**, the records the earlier
stages left alone. Neither stage needs to know how the other works.

Invariants:
- a stage writes rows ``(rule, record_key, node)`` into ``context.edges_table`` and nothing else;
  ``node`` is either a key label ``"<namespace>:<pseudonym>"`` or another record's ``record_key``;
- every rule a stage may emit is declared up front in ``stage.rules`` (name, strength,
  description), so the run's metadata lists it even when it produced no edges;
- nodes and edges hold pseudonyms only: a stage may read the vault (attached as ``vault``) inside
  its queries, but what it writes is keyed HMACs or record keys, never an identifier.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import duckdb


class Strength(StrEnum):
    """How far an edge is trusted when it would join two identities that disagree."""

    # Always kept. A strong edge joins on an identifier issued to one person.
    STRONG = "strong"
    # Kept only when the merge it causes does not bring together two different NHS numbers or
    # two different people from one spine register (the over-merge guard).
    GUARDED = "guarded"


@dataclass(frozen=True, slots=True, kw_only=True)
class PersonIndexRule:
    """One way of saying "these records are the same person".

    ``select_sql`` (deterministic rules only) is a query returning ``record_key, node`` pairs;
    it may call the temporary macro ``jp_pseudonym(kind, value)`` and read the views
    ``link_identities`` and ``link_keys`` (the vault's tables, current batches only).
    """

    name: str
    description: str
    strength: Strength
    select_sql: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkContext:
    """What a stage may use: one DuckDB connection with the vault attached as ``vault``.

    - ``records_table``: ``rid, record_key, source, table_name`` of every identity record;
    - ``residue_table``: ``record_key`` of records not yet linked to any other record;
    - ``assignment_table``: ``record_key, component`` after the stages run so far;
    - ``edges_table``: where the stage inserts ``rule, record_key, node``;
    - ``guard_attributes_table``: ``rid, kind, value``: the identities the over-merge guard
      counts per record (``rid`` as in ``records_table``), values as dense integer codes;
    - ``guard_limits_table``: ``kind, max_ids``: how many values of a kind one person may hold.
    """

    con: duckdb.DuckDBPyConnection
    records_table: str
    residue_table: str
    assignment_table: str
    edges_table: str
    guard_attributes_table: str = "link_guard_attrs"
    guard_limits_table: str = "link_guard_limits"


class LinkStage(Protocol):
    """A step of the person index that proposes edges (see the module docstring)."""

    @property
    def name(self) -> str: ...

    @property
    def rules(self) -> tuple[PersonIndexRule, ...]: ...

    def write_edges(self, context: LinkContext) -> None: ...
