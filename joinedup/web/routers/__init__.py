"""One router per surface; each module has ``router`` and ``LINKS`` (its home-page entries).

The app includes exactly ``ROUTER_MODULES``, in this order (the home page lists links in it).
"""

from __future__ import annotations

from types import ModuleType

from joinedup.web.routers import (
    assets,
    audit,
    child,
    citizen,
    home,
    link_review,
    output_review,
    projects,
    signin,
    transparency,
)

ROUTER_MODULES: tuple[ModuleType, ...] = (
    home,
    signin,
    child,
    projects,
    output_review,
    link_review,
    citizen,
    audit,
    transparency,
    assets,
)

__all__ = ["ROUTER_MODULES"]
