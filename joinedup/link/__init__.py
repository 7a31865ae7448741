"""The person index: which records and subject keys are the same child.

Public surface:

- ``refresh_node(node, progress=None) -> RefreshResult``: rebuild the index and the linked
  store of a node, atomically;
- ``build_person_index(con, settings) -> IndexResult``: the index alone, on an open store
  connection with the vault attached;
- the stage seam: ``LinkStage`` (protocol), ``LinkContext``, ``PersonIndexRule``, ``Strength``;
  ``DeterministicStage`` and ``DETERMINISTIC_RULES`` (method ``deterministic-v1``);
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
from joinedup.link.quality import LinkageScore, score_against_truth, score_node_against_truth
from joinedup.link.refresh import RefreshResult, refresh_node
from joinedup.link.stages import LinkContext, LinkStage, PersonIndexRule, Strength

__all__ = [
    "DETERMINISTIC_RULES",
    "DeterministicStage",
    "IndexResult",
    "IndexSettings",
    "LinkContext",
    "LinkStage",
    "LinkageScore",
    "PersonIndexRule",
    "RefreshResult",
    "SpineGuard",
    "Strength",
    "SubjectTable",
    "build_person_index",
    "drop_pseudonym_macro",
    "install_pseudonym_macro",
    "refresh_node",
    "score_against_truth",
    "score_node_against_truth",
    "spine_guards",
    "subject_tables",
]
