"""Fixtures for the govern unit tests (defined in govern_fixtures)."""

from govern_fixtures import district, node, session

__all__ = ["district", "node", "session"]
