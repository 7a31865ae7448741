"""Disclosure control: the only egress of a node.

Public surface: ``OutputSession`` (the typed output calls: ``table``, ``summary``, ``model``,
``histogram``, ``survival``, ``text``), ``OutputResult``, the rule profiles (``PROFILES``,
``get_profile``, ``RuleProfile``), the checker (``check_table``, ``Statistic``), evidence
(``collect_evidence``, ``TableEvidence``) and the review queue (``review``). Evidence and the
ledger's members table stay inside the node; only ``OutputSession`` writes released files.
"""

from joinedup.outputs import review
from joinedup.outputs.check import CellStatus, Statistic, TableResult, check_table
from joinedup.outputs.evidence import TableEvidence, collect_evidence
from joinedup.outputs.profiles import PROFILES, RuleProfile, get_profile
from joinedup.outputs.session import OutputResult, OutputSession, OutputStatus, attach_ledger

__all__ = [
    "PROFILES",
    "CellStatus",
    "OutputResult",
    "OutputSession",
    "OutputStatus",
    "RuleProfile",
    "Statistic",
    "TableEvidence",
    "TableResult",
    "attach_ledger",
    "check_table",
    "collect_evidence",
    "get_profile",
    "review",
]
