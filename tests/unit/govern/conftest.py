"""Fixtures for the govern unit tests (defined in govern_fixtures)."""

from govern_fixtures import node

__all__ = ["node"]
