"""The linked store (``store.duckdb``): de-identified, child-centric tables and their views.

Public surface: ``STORE_TABLES`` (the ``store__*`` tables and how each is built),
``build_store_tables`` (build them under a suffix), ``publish_tables`` (swap them in, with the
index tables, in one transaction), ``timeline_sql`` (the ``store__timeline`` view), and the batch
helpers ``current_batches`` / ``read_current_batches``. Ingest's tables live in ``schema.py``.
"""

from joinedup.store.linked import (
    STORE_TABLES,
    TIMELINE_VIEW,
    LinkTables,
    StoreBuildResult,
    StoreTableSpec,
    build_store_tables,
    current_batches,
    publish_tables,
    read_current_batches,
    timeline_sql,
)

__all__ = [
    "STORE_TABLES",
    "TIMELINE_VIEW",
    "LinkTables",
    "StoreBuildResult",
    "StoreTableSpec",
    "build_store_tables",
    "current_batches",
    "publish_tables",
    "read_current_batches",
    "timeline_sql",
]
