"""The deterministic stage of the person index: exact rules on identifiers, as keyed pseudonyms.

Each rule joins an identity record to a **key node**; records sharing a key node are one person
(connected components are taken by ``joinedup.link.index``). The rules, strongest first:

====================  =========  ============================================================
rule                  strength   key node
====================  =========  ============================================================
``nhs_dob``           strong     HMAC of ``nhs|dob``: a valid NHS number *with* the date of
                                 birth (the Master Person Service cross-check: a wrong date of
                                 birth breaks the link, so a mistyped-but-valid NHS number
                                 rarely joins two children)
``upn``               strong     the UPN key (current and former UPNs), within education and
                                 the social care returns that carry it
``la_child_id``       strong     the local authority child id (CIN, SSDA903, case system)
``gp_patient_id``     strong     the GP system's patient id
``name_dob_sex``      guarded    HMAC of normalised given name, family name, date of birth and
                                 sex, all four present; before Splink, a name held by more than
                                 ``COMMON_NAME_BIRTHDAYS`` birthdays in one year of births also
                                 needs the same postcode district (``RULES_BEFORE_SPLINK``)
====================  =========  ============================================================

Invariants:
- rules read ``link_identities`` and ``link_keys``: the vault's ``vault__identities`` and
  ``vault__keys`` narrowed to the batches in use (the latest complete extract of each source);
- keys are computed inside the query that reads the vault, so no identifier leaves it: the
  node labels are ``<rule>:<32 hex>``;
- an NHS-number edge needs both a valid NHS number (the vault keeps only valid ones) and a date
  of birth; the plain NHS-number key is never an edge on its own;
- the rules and their order are data (``DETERMINISTIC_RULES``); the order is the precedence used
  to say which rule linked a record.
"""

# SQL here is assembled from this package's own constants (table names, rule names, code
# sets) and never from row values, which are always bound; hence S608 is off for the file.
# ruff: noqa: S608

from __future__ import annotations

from dataclasses import dataclass

from joinedup.link.stages import LinkContext, PersonIndexRule, Strength
from joinedup.model import IdentityRole
from joinedup.sources import CONTRACTS, KeyNamespace

_ISO = "'%Y-%m-%d'"


def _key_rule(namespace: KeyNamespace, description: str) -> PersonIndexRule:
    return PersonIndexRule(
        name=namespace.value,
        description=description,
        strength=Strength.STRONG,
        select_sql=(
            f"SELECT record_key, '{namespace.value}:' || subject_key AS node "
            f"FROM link_keys WHERE namespace = '{namespace.value}' "
            "AND subject_key IS NOT NULL"
        ),
    )


NHS_DOB = PersonIndexRule(
    name="nhs_dob",
    description="Valid NHS number and the same date of birth (MPS-style cross-check).",
    strength=Strength.STRONG,
    select_sql=(
        "SELECT record_key, 'nhs_dob:' || jp_pseudonym('nhs_dob', "
        f"nhs_number || '|' || strftime(date_of_birth, {_ISO})) AS node "
        "FROM link_identities "
        "WHERE nhs_number IS NOT NULL AND date_of_birth IS NOT NULL "
        "AND regexp_full_match(nhs_number, '[0-9]{10}')"
    ),
)

UPN = _key_rule(KeyNamespace.UPN, "The same UPN (current or former) in education or social care.")
LA_CHILD_ID = _key_rule(
    KeyNamespace.LA_CHILD_ID, "The same local authority child id (CIN, SSDA903, case system)."
)
GP_PATIENT_ID = _key_rule(KeyNamespace.GP_PATIENT_ID, "The same GP system patient id.")

_NAMED = (
    "SELECT record_key, given_name_norm AS g, family_name_norm AS f, date_of_birth AS dob, sex "
    "FROM link_identities "
    "WHERE coalesce(given_name_norm, '') <> '' AND coalesce(family_name_norm, '') <> '' "
    "AND date_of_birth IS NOT NULL AND sex IN ('M', 'F')"
)
_NAME_KEY = (
    "'name_dob_sex:' || jp_pseudonym('name_dob_sex', "
    f"n.g || '|' || n.f || '|' || strftime(n.dob, {_ISO}) || '|' || n.sex)"
)

NAME_DOB_SEX = PersonIndexRule(
    name="name_dob_sex",
    description="Exactly the same normalised given name, family name, date of birth and sex.",
    strength=Strength.GUARDED,
    select_sql=f"SELECT n.record_key, {_NAME_KEY} AS node FROM ({_NAMED}) n",
)

# A name held by more than this many different birthdays of one year, for one sex, is common
# enough that two children may share it *and* a birthday (Muhammad Khan, Aisha Bibi). Before
# Splink, the exact key of such a name also needs the same postcode district; records that
# differ there are left to Splink, whose term-frequency weights and postcode history tell them
# apart. On a simulated 600,000-person district, names above 10 birthdays a year made 79% of the
# false links the plain exact rule left after the over-merge guard.
COMMON_NAME_BIRTHDAYS = 10


def common_names_sql(table: str) -> str:
    """(g, f, sex, y) of the common names among ``table``'s (g, f, dob, sex) rows."""
    return (
        f"SELECT g, f, sex, year(dob) AS y FROM {table} GROUP BY ALL "
        f"HAVING count(DISTINCT dob) > {COMMON_NAME_BIRTHDAYS}"
    )


NAME_DOB_SEX_UNCOMMON = PersonIndexRule(
    name="name_dob_sex",
    description="Exactly the same normalised given name, family name, date of birth and sex; "
    f"for a name held by more than {COMMON_NAME_BIRTHDAYS} birthdays a year in the node, the "
    "same postcode district too (other records of common names are left to Splink).",
    strength=Strength.GUARDED,
    select_sql=(
        f"WITH named AS ({_NAMED}), common AS ({common_names_sql('named')}), "
        "placed AS (SELECT n.*, c.g IS NOT NULL AS is_common, "
        "nullif(split_part(i.postcode, ' ', 1), '') AS district FROM named n "
        "JOIN link_identities i USING (record_key) LEFT JOIN common c "
        "ON c.g = n.g AND c.f = n.f AND c.sex = n.sex AND c.y = year(n.dob)) "
        f"SELECT n.record_key, {_NAME_KEY} || CASE WHEN n.is_common "
        "THEN ':' || jp_pseudonym('name_dob_sex', n.district) ELSE '' END AS node "
        "FROM placed n WHERE NOT n.is_common OR n.district IS NOT NULL"
    ),
)

DETERMINISTIC_RULES: tuple[PersonIndexRule, ...] = (
    NHS_DOB,
    UPN,
    LA_CHILD_ID,
    GP_PATIENT_ID,
    NAME_DOB_SEX,
)
# The exact rules that run before Splink: the same, but common names also need one district.
RULES_BEFORE_SPLINK: tuple[PersonIndexRule, ...] = (
    *DETERMINISTIC_RULES[:-1],
    NAME_DOB_SEX_UNCOMMON,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeterministicStage:
    """Runs exact rules over every identity record (``method`` deterministic-v1)."""

    rules: tuple[PersonIndexRule, ...] = DETERMINISTIC_RULES
    name: str = "deterministic-v1"

    def write_edges(self, context: LinkContext) -> None:
        for rule in self.rules:
            if rule.select_sql is None:
                continue
            context.con.execute(
                f"INSERT INTO {context.edges_table} (rule, record_key, node) "
                f"SELECT ? AS rule, record_key, node FROM ({rule.select_sql})",
                [rule.name],
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class SpineGuard:
    """A de-duplicated register: one person should hold at most ``max_ids`` of its ids."""

    source: str
    table: str
    id_column: str  # vault__identities column naming the person in this register
    max_ids: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class SubjectTable:
    """An event table whose rows name their subject by a key in a namespace."""

    raw_table: str
    namespace: str


# Spine registers whose ids do not name one person: a GP system gives a new patient id at each
# practice a child registers with, so several GP ids in one person are expected, not a warning.
UNGUARDED_SPINES = frozenset({"gp_events"})


def spine_guards(max_ids: int = 1) -> tuple[SpineGuard, ...]:
    """One guard per spine contract whose id names one person (school census by UPN, case-system
    persons by LA child id), on its first table of identity records."""
    guards: list[SpineGuard] = []
    for contract in CONTRACTS:
        if not contract.spine or contract.name in UNGUARDED_SPINES:
            continue
        table = next(t for t in contract.tables if t.identity_records)
        roles = {c.identity for c in table.columns}
        guards.append(
            SpineGuard(
                source=contract.name,
                table=table.name,
                id_column="local_id" if IdentityRole.LOCAL_ID in roles else "upn",
                max_ids=max_ids,
            )
        )
    return tuple(guards)


def subject_tables() -> tuple[SubjectTable, ...]:
    """Every event table (``raw__<source>__<table>``) with the namespace of its subject key."""
    return tuple(
        SubjectTable(
            raw_table=f"raw__{contract.name}__{table.name}",
            namespace=table.subject.namespace.value,
        )
        for contract in CONTRACTS
        for table in contract.tables
        if table.subject is not None
    )
