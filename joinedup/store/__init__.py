"""The linked store (``store.duckdb``): de-identified, child-centric tables and their views."""
