"""The probabilistic stage of the person index: Splink 5 on what exact rules left apart.

After the deterministic stage, every record sits in a component (a person so far). This stage
asks, for pairs of records in **different** components, whether they are the same child, using a
Fellegi–Sunter model trained by Splink, and proposes record ↔ record edges for the merges it
trusts. The index then applies the same over-merge guard, components and person ids as for any
other guarded rule.

How a run goes (``SplinkStage.write_edges``):

1. **Read** each record's identity from the vault inside the refresh connection and copy it
   into a private in-memory DuckDB connection (Splink's). Nothing Splink makes (input tables,
   term frequencies, pairs) is ever written to the store or to disk; DuckDB may spill to the
   node's spill folder under memory pressure, like every node connection.
2. **Standardise** (``joinedup.link.standardise``) and collapse records to **profiles**: one
   row per component and distinct recorded identity (names, date of birth, sex, postcode),
   so the dozens of identical records of one child are compared once. Component-level
   features ride along: every postcode the component's records hold (postcode history) and
   its NHS number when it has exactly one.
3. **Train or load** the model (``joinedup.link.model_artefact``): λ from exact rules, u by
   random sampling, m by expectation maximisation on two blocking rules; term-frequency
   adjustments on names. The trained model is saved to ``NODE/link/model.json`` and reused by
   later refreshes while the settings hash matches, unless ``retrain`` is set.
4. **Predict** pairs across components with the blocking rules (``PREDICTION_BLOCKING``; none
   compares names without a date or a place, which would make tens of millions of pairs).
   On either engine (DuckDB or Spark) this is **incremental** (``joinedup.link.pair_cache``):
   each profile is known by a keyed hash of its features; pairs of two profiles the last
   refresh also saw come from the pair cache, and only the new or changed profiles are
   scored, within themselves (``linker.inference.predict_within``) and against the rest
   (``predict_between``), with the term frequencies frozen in the model artefact at the last
   full scoring. A full scoring (all
   pairs, term frequencies recomputed and frozen again) runs when the model was just trained,
   when ``full`` is set (``joinedup node refresh --full``), or when the cache cannot serve (none
   yet, or the model or its frequencies changed); the report says which and why.
5. **Choose merges**: pairs at or above ``threshold`` are grouped to component pairs (best
   match weight) and accepted best first, each only if the merged person would still hold at
   most one NHS number and at most the allowed ids of each guarded spine register (the index's
   guard, applied transitively, so a chain of links cannot bridge two children either). A
   record thus joins at most one pupil of the census: one-to-one links into de-duplicated
   spines. Each accepted merge is one edge between its best pair of records (rule ``splink``).
   The stage report records the label-free expectations of the index's errors in record pairs
   (``_expected_errors``: false pairs from the merges, missed pairs from persons left apart),
   which the linkage report turns into expected precision and recall.
6. **Queue for clerical review** (``joinedup.link.review``): the best pair of every two persons
   still apart whose match probability lies in the grey zone (``review_floor`` up to
   ``threshold``), and the best pair of every merge the guard refused, most likely first and at
   most ``review_limit`` a refresh. A reviewer's decision is applied by the review stage that
   runs after this one.

The engine (``engine``, ``joinedup.link.engine``) is DuckDB, in the private connection, or
Spark: then the profiles of step 2 (built in DuckDB as always) go to Spark through Arrow, the
model's SQL is translated to Spark's dialect, training and prediction run there, and the pairs
come back through Arrow for step 5. The model artefact is the same for both engines.

Invariants:
- edges are record keys and a rule name; no identifier leaves the stage's in-memory connection
  (``report`` holds counts and seconds); what the pair cache keeps is keyed hashes and scores;
- Splink's logger is held at WARNING, and none of its warnings carries a row value;
- the model artefact carries no term-frequency table of names: its frozen frequencies are keyed
  by the names' HMACs.
"""

# SQL here is assembled from this module's own constants (column names, rule names) and never
# from row values, which are always bound or joined; hence S608 is off for the file.
# ruff: noqa: S608

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from joinedup.errors import LinkageError
from joinedup.link.engine import (
    DUCKDB,
    EngineSpec,
    is_spark_error,
    settings_for_spark,
    spark_api,
    spark_failure,
    spark_session,
    to_arrow,
    to_spark,
    with_sql_of,
)
from joinedup.link.model_artefact import (
    ModelArtefact,
    load_artefact,
    save_artefact,
    settings_hash,
)
from joinedup.link.pair_cache import (
    PAIR_SCHEMA,
    PROFILE_HASH_KIND,
    ReusePlan,
    has_pseudonym_macro,
    key_digests,
    key_values,
    model_fingerprint,
    plan_reuse,
    profile_changes,
    profile_digest_sql,
    save_cache,
)
from joinedup.link.settings import one_edit_sql
from joinedup.link.stages import LinkContext, PersonIndexRule, Strength
from joinedup.link.standardise import FEATURES_VERSION, name_features

log = logging.getLogger(__name__)

SPLINK_RULE = PersonIndexRule(
    name="splink",
    description="Splink 5 match probability at or above the threshold between two persons "
    "(names with variants, date of birth, sex, postcode history), best link first.",
    strength=Strength.GUARDED,
)
DEFAULT_THRESHOLD = 0.995
# Pairs from here up to the threshold are neither linked nor forgotten: they go to review.
DEFAULT_REVIEW_FLOOR = 0.9
DEFAULT_REVIEW_LIMIT = 2000

_ACROSS = "l.component <> r.component"

# Candidate pairs: each rule ANDed with "different components".
PREDICTION_BLOCKING: tuple[str, ...] = (
    f"l.dob = r.dob AND l.family_canon = r.family_canon AND {_ACROSS}",
    f"l.dob = r.dob AND l.given_canon = r.given_canon AND {_ACROSS}",
    f"l.given_mp = r.given_mp AND l.family_mp = r.family_mp AND l.dob_year = r.dob_year "
    f"AND {_ACROSS}",
    f"l.given_mp = r.given_mp AND l.family_mp = r.family_mp AND l.dob_month = r.dob_month "
    f"AND l.dob_day = r.dob_day AND {_ACROSS}",
    f"l.dob = r.dob AND l.pc_district = r.pc_district AND {_ACROSS}",
    f"l.given_canon = r.family_canon AND l.family_canon = r.given_canon AND {_ACROSS}",
    f"l.dob = r.dob AND l.sex = r.sex AND l.nhs = r.nhs AND {_ACROSS}",
    f"l.given_mp = r.given_mp AND l.family_mp = r.family_mp AND l.pc_district = r.pc_district "
    f"AND (l.dob IS NULL OR r.dob IS NULL) AND {_ACROSS}",
)
# λ: pairs these rules join are taken to be matches, with this recall.
DETERMINISTIC_FOR_LAMBDA: tuple[str, ...] = (
    "l.given_norm = r.given_norm AND l.family_norm = r.family_norm AND l.dob = r.dob",
)
LAMBDA_RECALL = 0.7
# EM sessions: each estimates m for the comparisons its rule does not use.
EM_BLOCKING: tuple[str, ...] = (
    "l.given_canon = r.given_canon AND l.family_canon = r.family_canon",
    "l.dob = r.dob AND l.pc_sector = r.pc_sector",
)


_SIDE = re.compile(r"\b([lr])\.([a-z_]+)")


def _sides(cond: str) -> str:
    """``l.x``/``r.x`` (easier to read) as Splink's comparison columns ``x_l``/``x_r``."""
    return _SIDE.sub(lambda m: f"{m.group(2)}_{m.group(1)}", cond)


def _null(cond: str) -> dict[str, Any]:
    return {"sql_condition": _sides(cond), "label_for_charts": "null", "is_null_level": True}


def _level(cond: str, label: str, tf: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"sql_condition": _sides(cond), "label_for_charts": label}
    if tf is not None:
        out["tf_adjustment_column"] = tf
        out["tf_adjustment_weight"] = 1.0
    return out


def _else() -> dict[str, Any]:
    return {"sql_condition": "ELSE", "label_for_charts": "else"}


def comparisons() -> list[dict[str, Any]]:
    """The model's comparisons, as Splink comparison dictionaries (documented in
    docs/reference/linkage-model.md)."""
    return [
        {
            "output_column_name": "given",
            "comparison_levels": [
                _null("l.given_canon IS NULL OR r.given_canon IS NULL"),
                _level("l.given_norm = r.given_norm", "exact", "given_norm"),
                _level("l.given_canon = r.given_canon", "same canonical form", "given_canon"),
                _level(
                    "len(list_intersect(l.given_alts, r.given_alts)) > 0", "diminutive or variant"
                ),
                _level("jaro_winkler_similarity(l.given_canon, r.given_canon) >= 0.92", "jw>=0.92"),
                _level("l.given_mp = r.given_mp", "same phonetic code"),
                _level("jaro_winkler_similarity(l.given_canon, r.given_canon) >= 0.8", "jw>=0.8"),
                _else(),
            ],
        },
        {
            "output_column_name": "family",
            "comparison_levels": [
                _null("l.family_canon IS NULL OR r.family_canon IS NULL"),
                _level("l.family_norm = r.family_norm", "exact", "family_norm"),
                _level("l.family_canon = r.family_canon", "same canonical form", "family_canon"),
                _level(
                    "len(list_intersect(l.family_parts, r.family_parts)) > 0",
                    "a part or a former surname in common",
                ),
                _level(
                    "jaro_winkler_similarity(l.family_canon, r.family_canon) >= 0.92", "jw>=0.92"
                ),
                _level("l.family_mp = r.family_mp", "same phonetic code"),
                _else(),
            ],
        },
        {
            "output_column_name": "name_swap",
            "comparison_levels": [
                _null(
                    "l.given_canon IS NULL OR r.given_canon IS NULL OR l.family_canon IS NULL "
                    "OR r.family_canon IS NULL"
                ),
                _level(
                    "l.given_canon = r.family_canon AND l.family_canon = r.given_canon "
                    "AND l.given_canon <> l.family_canon",
                    "given and family names swapped",
                ),
                _else(),
            ],
        },
        {
            "output_column_name": "dob",
            "comparison_levels": [
                _null("l.dob IS NULL OR r.dob IS NULL"),
                _level("l.dob = r.dob AND NOT l.dob_default", "exact"),
                _level("l.dob = r.dob", "exact, a default date (1 Jan or 1 Jul)"),
                _level(
                    "(l.dob_default OR r.dob_default) AND l.dob_year = r.dob_year",
                    "same year, one a default date",
                ),
                _level("l.dob = r.dob_swap", "day and month swapped"),
                _level(one_edit_sql("l.dob_str", "r.dob_str"), "one character off"),
                _level("abs(date_diff('day', l.dob, r.dob)) <= 366", "within a year"),
                _else(),
            ],
        },
        {
            "output_column_name": "sex",
            "comparison_levels": [
                _null("l.sex IS NULL OR r.sex IS NULL"),
                _level("l.sex = r.sex", "exact"),
                _else(),
            ],
        },
        {
            "output_column_name": "postcode",
            "comparison_levels": [
                _null("l.pc_history IS NULL OR r.pc_history IS NULL"),
                _level("l.pc = r.pc", "exact"),
                _level(
                    "len(list_intersect(l.pc_history, r.pc_history)) > 0",
                    "a postcode in common in the history",
                ),
                _level("l.pc_sector = r.pc_sector", "same sector"),
                _level("l.pc_district = r.pc_district", "same outward code"),
                _else(),
            ],
        },
        {
            "output_column_name": "nhs",
            "comparison_levels": [
                _null("l.nhs IS NULL OR r.nhs IS NULL"),
                _level("l.nhs = r.nhs", "same NHS number (dates of birth differ)"),
                _else(),
            ],
        },
    ]


def untrained_settings(link_type: str = "dedupe_only") -> dict[str, Any]:
    """The untrained Splink settings (what the settings hash covers)."""
    return {
        "link_type": link_type,
        "unique_id_column_name": "unique_id",
        "comparisons": comparisons(),
        "blocking_rules_to_generate_predictions": [
            {"blocking_rule": rule} for rule in PREDICTION_BLOCKING
        ],
        "retain_matching_columns": False,
        "retain_intermediate_calculation_columns": False,
        "additional_columns_to_retain": ["component"],
        "em_convergence": 0.001,
        "max_iterations": 20,
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class SplinkStage:
    """Splink on pairs across components (see the module docstring).

    ``model_path``: where the model artefact lives (None: train in memory, save nothing);
    ``retrain``: train even when a model with the same settings hash is saved;
    ``full``: score every pair and freeze the term frequencies afresh, even when the pair
    cache (``joinedup.link.pair_cache``) could be reused;
    ``threshold``: the match probability a pair needs to be a candidate merge;
    ``review_floor``: pairs from here to ``threshold`` are queued for clerical review (set it
    to ``threshold`` or above to queue none), at most ``review_limit`` a refresh.
    ``report`` is filled by ``write_edges`` with counts and seconds (never values).
    """

    model_path: Path | None = None
    retrain: bool = False
    full: bool = False
    threshold: float = DEFAULT_THRESHOLD
    review_floor: float = DEFAULT_REVIEW_FLOOR
    review_limit: int = DEFAULT_REVIEW_LIMIT
    u_max_pairs: float = 2e6
    em_max_pairs: float = 2e6
    seed: int = 7
    engine: EngineSpec = DUCKDB
    name: str = "splink-v1"
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def rules(self) -> tuple[PersonIndexRule, ...]:
        return (SPLINK_RULE,)

    def write_edges(self, context: LinkContext) -> None:
        _quiet_splink()
        t0 = time.perf_counter()
        self.report.clear()
        splink_con = duckdb.connect(":memory:", config=_private_config(context.con))
        try:
            n_profiles = _load_profiles(context, splink_con)
            self.report["profiles"] = n_profiles
            self.report["seconds_features"] = round(time.perf_counter() - t0, 3)
            if n_profiles < 2:
                return
            try:
                pairs = self._predict(splink_con, context)
            except (ValueError, ArithmeticError, duckdb.Error) as exc:
                # Too little or too uniform data to estimate the model (EM can drive an m
                # probability below what float64 holds, as on a district of a few hundred
                # children). The exact rules' index stands; the refresh says why. The
                # exception text is not kept: it could quote SQL over identity columns. (On
                # Spark, a failure of Spark itself is a LinkageError and stops the refresh.)
                log.warning("splink stage skipped: the model could not be trained or applied")
                self.report["skipped"] = (
                    f"the model could not be trained or applied on these records "
                    f"({type(exc).__name__}); the exact rules' index stands"
                )
                return
            t1 = time.perf_counter()
            accept = pc.greater_equal(pairs.column("match_probability"), self.threshold)
            edges, refused, merges = _choose_merges(context, pairs.filter(accept))
            self.report["component_merges"] = len(edges)
            self.report.update(
                _expected_errors(
                    context, pairs.filter(accept), pairs.filter(pc.invert(accept)), merges
                )
            )
            self.report["merges_refused_by_guard"] = len(refused)
            grey = pairs.filter(pc.invert(accept))
            self.report.update(
                _queue_for_review(
                    context,
                    accepted=pairs.filter(accept),
                    refused=refused,
                    grey=grey,
                    merges=merges,
                    limit=self.review_limit,
                )
            )
            context.con.register("splink_edges", edges)
            try:
                context.con.execute(
                    f"INSERT INTO {context.edges_table} (rule, record_key, node) "
                    "SELECT ?, record_key, node FROM splink_edges",
                    [SPLINK_RULE.name],
                )
            finally:
                context.con.unregister("splink_edges")
            self.report["seconds_merges"] = round(time.perf_counter() - t1, 3)
        finally:
            splink_con.close()
            self.report["seconds"] = round(time.perf_counter() - t0, 3)

    def _predict(self, con: duckdb.DuckDBPyConnection, context: LinkContext) -> pa.Table:
        if not self.engine.is_spark:
            return self._predict_on(con, None, context)
        session = spark_session(self.engine)
        try:
            return self._predict_on(con, session, context)
        except LinkageError:
            raise
        except Exception as exc:
            if is_spark_error(exc):
                raise spark_failure(exc, "linking the person index") from None
            raise

    def _predict_on(
        self, con: duckdb.DuckDBPyConnection, session: Any, context: LinkContext
    ) -> pa.Table:
        """Train or load, then predict, with Splink on DuckDB (``session`` None) or Spark."""
        from splink import DuckDBAPI, Linker

        settings = untrained_settings()
        wanted_hash = settings_hash({"splink": settings, "features": FEATURES_VERSION})
        artefact = None
        if self.model_path is not None and not self.retrain:
            artefact = load_artefact(self.model_path)
            if artefact is not None and artefact.settings_hash != wanted_hash:
                artefact = None
        if session is None:
            db_api = DuckDBAPI(con)
            sdf = db_api.register("splink_profiles", dataset_display_name="profiles")
        else:
            # the profiles go to Spark through Arrow; the model's SQL goes in Spark's dialect
            db_api = spark_api(session)
            profiles = to_spark(session, con.table("splink_profiles").to_arrow_table())
            sdf = db_api.register(
                profiles,
                dataset_display_name="profiles",
                table_name=f"jd_profiles_{uuid.uuid4().hex[:8]}",
            )
        self.report["engine"] = self.engine.name
        t0 = time.perf_counter()
        if artefact is None:
            linker = Linker(sdf, _on_engine(settings, session), log_level=logging.WARNING)
            training = self._train(linker)
            model = linker.misc.save_model_to_json(None)
            if session is not None:
                # saved in DuckDB's SQL, as trained on DuckDB: one artefact for both engines
                model = with_sql_of(model, settings)
            artefact = ModelArtefact(
                settings_hash=wanted_hash,
                splink_version=_splink_version(),
                trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
                training=training,
                model=model,
            )
            if self.model_path is not None:
                save_artefact(self.model_path, artefact)
            self.report["model"] = "trained"
        else:
            linker = Linker(
                sdf, _on_engine(dict(artefact.model), session), log_level=logging.WARNING
            )
            self.report["model"] = "loaded"
        self.report["settings_hash"] = wanted_hash[:12]
        self.report["seconds_training"] = round(time.perf_counter() - t0, 3)
        t1 = time.perf_counter()
        table = self._score(
            context,
            linker=linker,
            engine=_ScoringEngine(con=con, db_api=db_api, session=session),
            artefact=artefact,
            trained=self.report["model"] == "trained",
        )
        self.report["pairs_at_threshold"] = int(
            pc.sum(pc.greater_equal(table.column("match_probability"), self.threshold)).as_py() or 0
        )
        self.report["seconds_predict"] = round(time.perf_counter() - t1, 3)
        return table

    def _score(
        self,
        context: LinkContext,
        *,
        linker: Any,
        engine: _ScoringEngine,
        artefact: ModelArtefact,
        trained: bool,
    ) -> pa.Table:
        """Score pairs on the engine (DuckDB or Spark): reuse the pair cache's pairs of
        unchanged profiles and score only pairs with a new or changed profile
        (``predict_within`` the changed profiles, ``predict_between`` them and the rest), or,
        when the cache cannot serve, score all.

        A full scoring computes the term frequencies afresh and freezes them in the model
        artefact; an incremental one scores with the frozen ones, so a pair of unchanged
        profiles would score what the cache holds (see ``joinedup.link.pair_cache``)."""
        con = engine.con
        floor = min(self.threshold, self.review_floor)
        t0 = time.perf_counter()
        can_cache = self.model_path is not None and has_pseudonym_macro(context.con)
        reason: str | None = None
        if not can_cache:
            reason = "no model file or node key to keep a pair cache with"
        elif trained:
            reason = "the model was trained in this refresh"
        elif self.full:
            reason = "a full refresh was asked for"
        elif not artefact.term_frequencies:
            reason = "the model artefact held no frozen term frequencies yet"
        if reason is not None:
            # fresh term frequencies from this refresh's profiles, frozen for the next ones
            tf_tables = {col: linker.table_management.compute_tf_table(col) for col in TF_COLUMNS}
            if can_cache and self.model_path is not None:
                frozen = _freeze_term_frequencies(engine, context, tf_tables)
                artefact = replace(artefact, term_frequencies=frozen)
                save_artefact(self.model_path, artefact)
        else:
            _register_frozen_term_frequencies(engine, context, linker, artefact)
        fingerprint = model_fingerprint(artefact.model, artefact.term_frequencies)
        self.report["seconds_term_frequencies"] = round(time.perf_counter() - t0, 3)
        t0 = time.perf_counter()
        hashes: pa.Table | None = None
        plan: ReusePlan | None = None
        if can_cache:
            digests = con.execute(
                profile_digest_sql("splink_profiles", PROFILE_FEATURES)
            ).to_arrow_table()
            hashes = key_digests(context.con, digests, PROFILE_HASH_KIND)
            if reason is None:
                plan = plan_reuse(context.con, hashes, fingerprint=fingerprint, floor=floor)
                reason = plan.reason
        self.report["seconds_pair_cache_read"] = round(time.perf_counter() - t0, 3)
        t0 = time.perf_counter()
        if reason is None and plan is not None:
            scored = _score_changed(engine, linker, plan.changed_ids, floor)
            kept = plan.kept
            self.report.update(
                profiles_unchanged=plan.profiles_unchanged,
                profiles_new_or_changed=plan.profiles_new_or_changed,
                profiles_removed=plan.profiles_removed,
            )
        else:
            predictions = linker.inference.predict(
                threshold_match_probability=floor, warning_mode="never"
            )
            scored = engine.query(predictions, _PAIRS_SELECT)
            predictions.drop_table_from_database_and_remove_from_cache()
            kept = PAIR_SCHEMA.empty_table()
            n = int(self.report.get("profiles", 0))
            changes = None if hashes is None else profile_changes(context.con, hashes)
            # with a cache, what changed since it was written (every pair is scored anyway)
            self.report.update(changes or {"profiles_unchanged": 0, "profiles_new_or_changed": n})
        self.report["scoring"] = "incremental" if reason is None else "full"
        if reason is not None:
            self.report["full_because"] = reason
        self.report["pairs_reused"] = kept.num_rows
        self.report["pairs_newly_scored"] = scored.num_rows
        self.report["seconds_scoring"] = round(time.perf_counter() - t0, 3)
        t0 = time.perf_counter()
        pairs = _with_components(con, pa.concat_tables([kept, scored.cast(PAIR_SCHEMA)]))
        if can_cache and hashes is not None:
            save_cache(
                context.con,
                fingerprint=fingerprint,
                floor=floor,
                profiles=hashes,
                pairs=pairs.select(PAIR_SCHEMA.names),
            )
        self.report["seconds_pair_cache_write"] = round(time.perf_counter() - t0, 3)
        return pairs

    def _train(self, linker: Any) -> dict[str, Any]:
        t0 = time.perf_counter()
        linker.training.estimate_probability_two_random_records_match(
            list(DETERMINISTIC_FOR_LAMBDA), recall=LAMBDA_RECALL
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=self.u_max_pairs, seed=self.seed)
        # the probe that sizes EM's sample needs a few thousand records on each side
        probe = min(1.0, max(0.01, 20_000 / max(1, int(self.report.get("profiles", 1)))))
        for rule in EM_BLOCKING:
            linker.training.estimate_parameters_using_expectation_maximisation(
                rule, max_pairs=self.em_max_pairs, record_sample_proportion=probe
            )
        return {
            "seconds": round(time.perf_counter() - t0, 3),
            "u_max_pairs": self.u_max_pairs,
            "em_max_pairs": self.em_max_pairs,
            "em_blocking": list(EM_BLOCKING),
            "lambda_rules": list(DETERMINISTIC_FOR_LAMBDA),
            "lambda_recall": LAMBDA_RECALL,
            "seed": self.seed,
            "profiles": self.report.get("profiles", 0),
        }


# Columns whose names Splink adjusts by term frequency (frozen in the artefact).
TF_COLUMNS: tuple[str, ...] = tuple(
    dict.fromkeys(
        str(level["tf_adjustment_column"])
        for comparison in comparisons()
        for level in comparison["comparison_levels"]
        if "tf_adjustment_column" in level
    )
)
# Every profile column a comparison or a blocking rule reads (what the profile hash covers).
PROFILE_FEATURES: tuple[str, ...] = (
    "given_norm",
    "given_canon",
    "given_mp",
    "list_sort(given_alts)",
    "family_norm",
    "family_canon",
    "family_mp",
    "list_sort(family_parts)",
    "dob",
    "dob_year",
    "dob_month",
    "dob_day",
    "dob_str",
    "dob_default",
    "dob_swap",
    "sex",
    "pc",
    "pc_sector",
    "pc_district",
    "list_sort(pc_history)",
    "nhs",
)


_PAIRS_SELECT = (
    "SELECT unique_id_l::VARCHAR AS unique_id_l, unique_id_r::VARCHAR AS unique_id_r, "
    "match_weight, match_probability FROM {t}"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class _ScoringEngine:
    """Where Splink scores: DuckDB (``session`` None) or Spark. The profiles, the lookups and
    the pair cache live in the DuckDB connection ``con`` either way; on Spark the tables Splink
    needs are copied over, and its results back, through Arrow."""

    con: duckdb.DuckDBPyConnection
    db_api: Any
    session: Any = None

    def register(self, table: str) -> Any:
        """The DuckDB table ``table`` of ``con`` as a Splink input on the engine."""
        if self.session is None:
            return self.db_api.register(table)
        frame = to_spark(self.session, self.con.table(table).to_arrow_table())
        return self.db_api.register(frame, table_name=f"{table}_{uuid.uuid4().hex[:8]}")

    def query(self, result: Any, sql: str) -> pa.Table:
        """``sql`` (DuckDB's dialect, ``{t}`` for the table) over a Splink result, as Arrow."""
        if self.session is None:
            return self.con.execute(sql.format(t=result.physical_name)).to_arrow_table()
        name = f"jd_spark_result_{uuid.uuid4().hex[:8]}"
        self.con.register(name, to_arrow(result.as_spark_dataframe()))
        try:
            return self.con.execute(sql.format(t=name)).to_arrow_table()
        finally:
            self.con.unregister(name)


def _freeze_term_frequencies(
    engine: _ScoringEngine, context: LinkContext, tf_tables: Mapping[str, Any]
) -> dict[str, dict[str, float]]:
    """Each fresh term-frequency table as {HMAC of the value: frequency} (no value kept)."""
    frozen: dict[str, dict[str, float]] = {}
    for column, tf in tf_tables.items():
        table = engine.query(
            tf,
            f"SELECT {column}::VARCHAR AS value, tf_{column} AS tf FROM {{t}} "
            f"WHERE {column} IS NOT NULL",
        )
        keyed = key_values(context.con, table.select(["value"]), f"tf:{column}")
        hash_of = dict(
            zip(
                keyed.column("value").to_pylist(),
                keyed.column("value_hash").to_pylist(),
                strict=True,
            )
        )
        frozen[column] = {
            str(hash_of[v]): float(f)
            for v, f in zip(
                table.column("value").to_pylist(), table.column("tf").to_pylist(), strict=True
            )
            if f is not None
        }
    return frozen


def _register_frozen_term_frequencies(
    engine: _ScoringEngine,
    context: LinkContext,
    linker: Any,
    artefact: ModelArtefact,
) -> None:
    """Register, for Splink, each TF column's lookup from the artefact's frozen frequencies.

    A value the frozen table does not know (a name first seen since the last full scoring)
    takes the smallest frozen frequency: it was at most that rare when they were frozen."""
    con = engine.con
    for column in TF_COLUMNS:
        frozen = artefact.term_frequencies.get(column, {})
        values = con.execute(
            f"SELECT DISTINCT {column}::VARCHAR AS value FROM splink_profiles "
            f"WHERE {column} IS NOT NULL ORDER BY 1"
        ).to_arrow_table()
        keyed = key_values(context.con, values, f"tf:{column}")
        smallest = min(frozen.values(), default=1.0)
        tf = [frozen.get(str(h), smallest) for h in keyed.column("value_hash").to_pylist()]
        lookup = pa.table(
            {column: keyed.column("value"), f"tf_{column}": pa.array(tf, pa.float64())}
        )
        name = f"jd_frozen_tf_{column}"
        con.register(f"{name}_arrow", lookup)
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM {name}_arrow")
        con.unregister(f"{name}_arrow")
        linker.table_management.register_term_frequency_lookup(engine.register(name), column)


def _score_changed(
    engine: _ScoringEngine, linker: Any, changed: pa.Array, floor: float
) -> pa.Table:
    """Pairs with at least one changed profile: within the changed, and changed × the rest."""
    con = engine.con
    con.register("jd_changed_arrow", pa.table({"unique_id": changed}))
    con.execute(
        "CREATE OR REPLACE TABLE jd_profiles_changed AS SELECT p.* FROM splink_profiles p "
        "SEMI JOIN jd_changed_arrow c ON c.unique_id = p.unique_id"
    )
    con.execute(
        "CREATE OR REPLACE TABLE jd_profiles_unchanged AS SELECT p.* FROM splink_profiles p "
        "ANTI JOIN jd_changed_arrow c ON c.unique_id = p.unique_id"
    )
    con.unregister("jd_changed_arrow")
    out = [PAIR_SCHEMA.empty_table()]
    n_changed = _count(con, "jd_profiles_changed")
    n_unchanged = _count(con, "jd_profiles_unchanged")
    if n_changed:
        changed_sdf = engine.register("jd_profiles_changed")
        runs = []
        if n_changed > 1:
            runs.append(
                linker.inference.predict_within(
                    changed_sdf, threshold_match_probability=floor, warning_mode="never"
                )
            )
        if n_unchanged:
            runs.append(
                linker.inference.predict_between(
                    changed_sdf,
                    engine.register("jd_profiles_unchanged"),
                    threshold_match_probability=floor,
                    warning_mode="never",
                )
            )
        for predictions in runs:
            out.append(engine.query(predictions, _PAIRS_SELECT).cast(PAIR_SCHEMA))
            predictions.drop_table_from_database_and_remove_from_cache()
    con.execute("DROP TABLE IF EXISTS jd_profiles_changed")
    con.execute("DROP TABLE IF EXISTS jd_profiles_unchanged")
    return pa.concat_tables(out)


def _with_components(con: duckdb.DuckDBPyConnection, pairs: pa.Table) -> pa.Table:
    """Pairs as ``unique_id_l`` < ``unique_id_r`` with each side's current component, those
    now inside one component dropped, in a fixed order (so that best-first choices break ties
    the same way whether a pair came from the cache or was just scored)."""
    con.register("jd_pairs_arrow", pairs)
    try:
        return con.execute(
            "WITH o AS (SELECT least(unique_id_l, unique_id_r) AS unique_id_l, "
            "greatest(unique_id_l, unique_id_r) AS unique_id_r, match_weight, match_probability "
            "FROM jd_pairs_arrow) "
            "SELECT o.unique_id_l, o.unique_id_r, o.match_weight, o.match_probability, "
            "l.component AS component_l, r.component AS component_r FROM o "
            "JOIN splink_profiles l ON l.unique_id = o.unique_id_l "
            "JOIN splink_profiles r ON r.unique_id = o.unique_id_r "
            "WHERE l.component <> r.component ORDER BY o.unique_id_l, o.unique_id_r"
        ).to_arrow_table()
    finally:
        con.unregister("jd_pairs_arrow")


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    return 0 if row is None else int(row[0])


def _on_engine(settings: dict[str, Any], session: Any) -> dict[str, Any]:
    """The settings as the engine reads them: unchanged on DuckDB, translated for Spark."""
    return settings if session is None else settings_for_spark(settings)


def _splink_version() -> str:
    from importlib.metadata import version

    return version("splink")


def _quiet_splink() -> None:
    """Splink logs at INFO what it estimates; hold it at WARNING (its warnings hold no value)."""
    logging.getLogger("splink").setLevel(logging.WARNING)


def _private_config(
    con: duckdb.DuckDBPyConnection,
) -> dict[str, str | bool | int | float | list[str]]:
    """The refresh connection's engine limits, for Splink's private in-memory connection."""
    out: dict[str, str | bool | int | float | list[str]] = {}
    for name in ("memory_limit", "threads", "temp_directory"):
        row = con.execute("SELECT current_setting(?)", [name]).fetchone()
        if row is not None and row[0] not in (None, ""):
            out[name] = row[0] if name != "threads" else int(row[0])
    return out


_RECORDS_SQL = (
    "SELECT r.record_key, a.component, i.given_name, i.family_name, i.former_family_name, "
    "i.preferred_family_name, i.date_of_birth AS dob, "
    "CASE WHEN i.sex IN ('M', 'F') THEN i.sex END AS sex, "
    "nullif(upper(regexp_replace(i.postcode, '[^A-Za-z0-9]', '', 'g')), '') AS pc, "
    "i.nhs_number AS nhs "
    "FROM {records} r JOIN link_identities i USING (record_key) "
    "JOIN {assignment} a USING (record_key)"
)


def _load_profiles(context: LinkContext, con: duckdb.DuckDBPyConnection) -> int:
    """Build ``splink_profiles`` in Splink's private connection; returns its row count."""
    records = context.con.execute(
        _RECORDS_SQL.format(records=context.records_table, assignment=context.assignment_table)
    ).to_arrow_table()
    con.register("splink_records_arrow", records)
    con.execute("CREATE TABLE splink_records AS SELECT * FROM splink_records_arrow")
    con.unregister("splink_records_arrow")
    del records
    raw_names = con.execute(
        "SELECT DISTINCT v FROM (SELECT given_name AS v FROM splink_records UNION ALL "
        "SELECT family_name FROM splink_records UNION ALL SELECT former_family_name "
        "FROM splink_records UNION ALL SELECT preferred_family_name FROM splink_records) "
        "WHERE v IS NOT NULL"
    ).fetchall()
    con.register("splink_names_arrow", name_features(v for (v,) in raw_names))
    con.execute("CREATE TABLE splink_names AS SELECT * FROM splink_names_arrow")
    con.unregister("splink_names_arrow")
    con.execute(
        "CREATE TABLE splink_components AS SELECT component, "
        "nullif(list_sort(list(DISTINCT pc) FILTER (WHERE pc IS NOT NULL)), []) AS pc_history, "
        "CASE WHEN count(DISTINCT nhs) = 1 THEN min(nhs) END AS comp_nhs "
        "FROM splink_records GROUP BY component"
    )
    con.execute(
        "CREATE TABLE splink_profiles AS "
        "WITH p AS ("
        "  SELECT min(record_key) AS unique_id, component, given_name, family_name, "
        "  former_family_name, preferred_family_name, dob, sex, pc "
        "  FROM splink_records GROUP BY ALL) "
        "SELECT p.unique_id, p.component, "
        "g.norm AS given_norm, g.first_canon AS given_canon, g.phonetic AS given_mp, "
        "g.alternatives AS given_alts, "
        "f.norm AS family_norm, f.canon AS family_canon, f.phonetic AS family_mp, "
        "list_distinct(list_concat(coalesce(f.parts, []), coalesce(fo.parts, []), "
        "coalesce(fp.parts, []))) AS family_parts, "
        "p.dob, year(p.dob) AS dob_year, month(p.dob) AS dob_month, day(p.dob) AS dob_day, "
        "strftime(p.dob, '%Y-%m-%d') AS dob_str, "
        "coalesce((month(p.dob), day(p.dob)) IN ((1, 1), (7, 1)), false) AS dob_default, "
        "CASE WHEN day(p.dob) <= 12 THEN make_date(year(p.dob), day(p.dob), month(p.dob)) END "
        "AS dob_swap, "
        "p.sex, p.pc, "
        "CASE WHEN length(p.pc) >= 5 THEN left(p.pc, length(p.pc) - 3) || ' ' || "
        "substr(p.pc, length(p.pc) - 2, 1) END AS pc_sector, "
        "CASE WHEN length(p.pc) >= 5 THEN left(p.pc, length(p.pc) - 3) END AS pc_district, "
        "c.pc_history, c.comp_nhs AS nhs "
        "FROM p JOIN splink_components c USING (component) "
        "LEFT JOIN splink_names g ON g.raw = p.given_name "
        "LEFT JOIN splink_names f ON f.raw = p.family_name "
        "LEFT JOIN splink_names fo ON fo.raw = p.former_family_name "
        "LEFT JOIN splink_names fp ON fp.raw = p.preferred_family_name"
    )
    con.execute("DROP TABLE splink_records")
    row = con.execute("SELECT count(*) FROM splink_profiles").fetchone()
    return 0 if row is None else int(row[0])


class _Merges:
    """Union-find over components that keeps the guard's identity sets per merged person."""

    def __init__(self, attrs: Mapping[int, dict[str, set[int]]], limits: Mapping[str, int]):
        self.parent: dict[int, int] = {}
        self.attrs = {c: {k: set(v) for k, v in a.items()} for c, a in attrs.items()}
        self.limits = limits
        self.accepted_rows: list[int] = []  # rows of the pairs merged, in the order accepted

    def find(self, c: int) -> int:
        root = c
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while c != root:
            nxt = self.parent.get(c, c)
            self.parent[c] = root
            c = nxt
        return root

    def try_union(self, a: int, b: int) -> bool | None:
        """True if merged, None if already one person, False if the guard refuses."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return None
        xa, xb = self.attrs.get(ra, {}), self.attrs.get(rb, {})
        for kind in xa.keys() & xb.keys():
            if len(xa[kind] | xb[kind]) > self.limits.get(kind, 1):
                return False
        merged = {k: set(v) for k, v in xa.items()}
        for kind, values in xb.items():
            merged.setdefault(kind, set()).update(values)
        self.parent[rb] = ra
        self.attrs[ra] = merged
        self.attrs.pop(rb, None)
        return True


def _choose_merges(
    context: LinkContext, pairs: pa.Table
) -> tuple[pa.Table, list[int], _Merges | None]:
    """Accept component merges best first under the guard; one edge per accepted merge.

    Returns the edges, the rows of ``pairs`` the guard refused and the merged persons."""
    empty = pa.table({"record_key": pa.array([], pa.string()), "node": pa.array([], pa.string())})
    if pairs.num_rows == 0:
        return empty, [], None
    comp_l = np.asarray(pairs.column("component_l").to_numpy(), dtype=np.int64)
    comp_r = np.asarray(pairs.column("component_r").to_numpy(), dtype=np.int64)
    weight = np.asarray(pairs.column("match_weight").to_numpy(), dtype=np.float64)
    order = np.argsort(-weight, kind="stable")
    involved = np.unique(np.concatenate([comp_l, comp_r]))
    attrs, limits = _guard_attributes(context, involved)
    merges = _Merges(attrs, limits)
    keep = merges.accepted_rows
    refused: list[int] = []
    for i in order.tolist():
        outcome = merges.try_union(int(comp_l[i]), int(comp_r[i]))
        if outcome is True:
            keep.append(i)
        elif outcome is False:
            refused.append(i)
    idx = pa.array(keep, pa.int64())
    return (
        pa.table(
            {
                "record_key": pairs.column("unique_id_l").take(idx).cast(pa.string()),
                "node": pairs.column("unique_id_r").take(idx).cast(pa.string()),
            }
        ),
        refused,
        merges,
    )


_PAIR_KEYS = ["component_l", "component_r", "match_probability"]


def _expected_errors(
    context: LinkContext, accepted: pa.Table, grey: pa.Table, merges: _Merges | None
) -> dict[str, Any]:
    """Label-free expectations of the index's errors, in record pairs, from the model's own
    match probabilities (the linkage report turns them into expected precision and recall).

    Links made by the exact rules (valid identifiers) are taken as right. Each merge of two
    components, in the order ``_choose_merges`` accepted them, is wrong with probability 1 − p
    of its best pair, and then every record pair across its two sides is a false link: expected
    false pairs = Σ (1 − p) · |A| · |B| (records). Two persons left apart with a scored pair
    (under the threshold, or refused by the guard) are the same child with probability p of
    their best pair: expected missed pairs = Σ p · |A| · |B|. Pairs no blocking rule brought
    together are not counted, so the recall is within blocking; the review stage's decisions
    come later and are not reflected.
    """
    size = {
        int(c): int(n)
        for c, n in context.con.execute(
            f"SELECT component, count(*) FROM {context.assignment_table} GROUP BY ALL"
        ).fetchall()
    }
    linked_pairs = sum(n * (n - 1) // 2 for n in size.values())
    false_pairs = 0.0
    if merges is not None:
        comp_l = accepted.column("component_l").to_pylist()
        comp_r = accepted.column("component_r").to_pylist()
        prob = accepted.column("match_probability").to_pylist()
        parent: dict[int, int] = {}

        def root(c: int) -> int:
            while parent.get(c, c) != c:
                c = parent[c]
            return c

        for i in merges.accepted_rows:
            ra, rb = root(int(comp_l[i])), root(int(comp_r[i]))
            na, nb = size.get(ra, 1), size.get(rb, 1)
            parent[rb] = ra
            size[ra] = na + nb
            linked_pairs += na * nb
            false_pairs += (1.0 - float(prob[i])) * na * nb

    both = pa.concat_tables([accepted.select(_PAIR_KEYS), grey.select(_PAIR_KEYS)])
    comp_a = np.asarray(both.column("component_l").to_numpy(), dtype=np.int64)
    comp_b = np.asarray(both.column("component_r").to_numpy(), dtype=np.int64)
    prob_ab = np.asarray(both.column("match_probability").to_numpy(), dtype=np.float64)
    comps = np.unique(np.concatenate([comp_a, comp_b]))
    if merges is not None:  # each component's person, and each person's records
        roots = np.fromiter((merges.find(int(c)) for c in comps), np.int64, len(comps))
    else:
        roots = comps
    root_a = roots[np.searchsorted(comps, comp_a)]
    root_b = roots[np.searchsorted(comps, comp_b)]
    apart = root_a != root_b
    frame = pd.DataFrame(
        {
            "a": np.minimum(root_a, root_b)[apart],
            "b": np.maximum(root_a, root_b)[apart],
            "p": prob_ab[apart],
        }
    )
    best = frame.groupby(["a", "b"], sort=False)["p"].max().reset_index()
    # a merged person's records sit under the root its merges left (the replay above)
    records = pd.Series(size, dtype="int64")
    n_a = records.reindex(best["a"].to_numpy()).fillna(1).to_numpy()
    n_b = records.reindex(best["b"].to_numpy()).fillna(1).to_numpy()
    missed_pairs = float(np.sum(best["p"].to_numpy() * n_a * n_b))
    return {
        "expected_false_pairs": round(false_pairs, 3),
        "expected_missed_pairs": round(missed_pairs, 3),
        "linked_record_pairs": int(linked_pairs),
    }


def _queue_for_review(
    context: LinkContext,
    *,
    accepted: pa.Table,
    refused: Sequence[int],
    grey: pa.Table,
    merges: _Merges | None,
    limit: int,
) -> dict[str, int]:
    """Queue the guard's and the grey zone's undecided pairs (module docstring, step 6).

    One item per two persons (as they stand after this stage's merges), its most likely pair of
    records: merges the guard refused first (two identifiers disagree, so a person must look),
    then grey pairs, each by probability. Returns counts for the stage report."""
    from joinedup.link.review import ReviewPair, queue_pairs

    chosen: set[tuple[int, int]] = set()
    proposed: dict[str, list[ReviewPair]] = {"refused_by_guard": [], "grey_zone": []}

    def take(table: pa.Table, rows: Sequence[int], kind: str) -> None:
        probability = table.column("match_probability").to_pylist()
        left = table.column("unique_id_l").to_pylist()
        right = table.column("unique_id_r").to_pylist()
        comp_l = table.column("component_l").to_pylist()
        comp_r = table.column("component_r").to_pylist()
        for i in sorted(rows, key=lambda j: -float(probability[j])):
            a, b = int(comp_l[i]), int(comp_r[i])
            if merges is not None:
                a, b = merges.find(a), merges.find(b)
            key = (min(a, b), max(a, b))
            if a == b or key in chosen:
                continue
            chosen.add(key)
            proposed[kind].append(
                ReviewPair(
                    record_key_a=str(left[i]),
                    record_key_b=str(right[i]),
                    match_probability=round(float(probability[i]), 6),
                )
            )

    take(accepted, refused, "refused_by_guard")
    take(grey, range(grey.num_rows), "grey_zone")
    report = {f"review_{kind}": len(pairs) for kind, pairs in proposed.items()}
    room = max(limit, 0)
    queued = 0
    for kind, pairs in proposed.items():
        batch = pairs[:room]
        room -= len(batch)
        queued += queue_pairs(context.con, batch, stage="splink-v1", rule="splink", kind=kind)
    report["review_newly_queued"] = queued
    return report


def _guard_attributes(
    context: LinkContext, components: np.ndarray[Any, np.dtype[np.int64]]
) -> tuple[dict[int, dict[str, set[int]]], dict[str, int]]:
    """Per component, the guard's identity codes (NHS numbers, spine ids) by kind; and limits."""
    limits = {
        str(k): int(v)
        for k, v in context.con.execute(
            f"SELECT kind, max_ids FROM {context.guard_limits_table}"
        ).fetchall()
    }
    context.con.register("splink_involved", pa.table({"component": components}))
    try:
        rows = context.con.execute(
            "SELECT a.component, g.kind, g.value "
            f"FROM {context.guard_attributes_table} g "
            f"JOIN {context.records_table} r ON r.rid = g.rid "
            f"JOIN {context.assignment_table} a ON a.record_key = r.record_key "
            "WHERE a.component IN (SELECT component FROM splink_involved)"
        ).fetchall()
    finally:
        context.con.unregister("splink_involved")
    attrs: dict[int, dict[str, set[int]]] = {}
    for comp, kind, value in rows:
        attrs.setdefault(int(comp), {}).setdefault(str(kind), set()).add(int(value))
    return attrs, limits
