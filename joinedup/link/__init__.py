"""The person index: which records and subject keys are the same child.

Public surface:

- ``refresh_node(node, progress=None) -> RefreshResult``: rebuild the index and the linked
  store of a node, atomically;
- ``build_person_index(con, settings) -> IndexResult``: the index alone, on an open store
  connection with the vault attached;
- the stage seam: ``LinkStage`` (protocol), ``LinkContext``, ``PersonIndexRule``, ``Strength``;
  ``DeterministicStage`` and ``DETERMINISTIC_RULES`` (method ``deterministic-v1``);
- ``SplinkStage`` (``joinedup.link.probabilistic``): Splink 5 on pairs the exact rules left
  apart, its model an artefact (``joinedup.link.model_artefact``); the default method is
  ``splink`` (both stages), ``deterministic`` keeps the exact rules alone;
- ``joinedup.link.standardise``: name, date and postcode features (public, stable);
- ``score_against_truth``: pairwise precision and recall of an index against a truth map.
"""

from joinedup.link.deterministic import (
    DETERMINISTIC_RULES,
    DeterministicStage,
    SpineGuard,
    SubjectTable,
    spine_guards,
    subject_tables,
)
from joinedup.link.index import (
    IndexResult,
    IndexSettings,
    build_person_index,
    drop_pseudonym_macro,
    install_pseudonym_macro,
)
from joinedup.link.model_artefact import ModelArtefact, load_artefact, model_path, save_artefact
from joinedup.link.probabilistic import DEFAULT_THRESHOLD, SPLINK_RULE, SplinkStage
from joinedup.link.quality import LinkageScore, score_against_truth, score_node_against_truth
from joinedup.link.refresh import DEFAULT_METHOD, METHODS, RefreshResult, refresh_node
from joinedup.link.stages import LinkContext, LinkStage, PersonIndexRule, Strength

__all__ = [
    "DEFAULT_METHOD",
    "DEFAULT_THRESHOLD",
    "DETERMINISTIC_RULES",
    "METHODS",
    "SPLINK_RULE",
    "DeterministicStage",
    "IndexResult",
    "IndexSettings",
    "LinkContext",
    "LinkStage",
    "LinkageScore",
    "ModelArtefact",
    "PersonIndexRule",
    "RefreshResult",
    "SpineGuard",
    "SplinkStage",
    "Strength",
    "SubjectTable",
    "build_person_index",
    "drop_pseudonym_macro",
    "install_pseudonym_macro",
    "load_artefact",
    "model_path",
    "refresh_node",
    "save_artefact",
    "score_against_truth",
    "score_node_against_truth",
    "spine_guards",
    "subject_tables",
]
