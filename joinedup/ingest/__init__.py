"""Ingest: read agency extracts against their source contracts, quarantine what fails, and load
the rest into a node's vault (identifiers) and store (de-identified rows), with provenance.

Invariant: accepted + quarantined = read, per table and per file, always.
"""

from joinedup.ingest.load import (
    IngestResult,
    ProgressCallback,
    TableCounts,
    ingest_dir,
    ingest_file,
)
from joinedup.ingest.node import BatchSummary, NodeStatus, init_node, node_status
from joinedup.ingest.quarantine import QuarantineReport, export_reasons, quarantine_report

__all__ = [
    "BatchSummary",
    "IngestResult",
    "NodeStatus",
    "ProgressCallback",
    "QuarantineReport",
    "TableCounts",
    "export_reasons",
    "ingest_dir",
    "ingest_file",
    "init_node",
    "node_status",
    "quarantine_report",
]
