"""The web app: server-rendered pages for one node, every route behind one governed door.

Public surface: ``create_app`` (the FastAPI factory), ``WebSettings`` and ``web_settings_for``
(settings from a node), ``AccountStore`` / ``AccountCreate`` / ``AccountPublic`` (local accounts)
and ``require`` (the governance dependency every route uses).
"""

from joinedup.web.app import create_app
from joinedup.web.auth import AccountCreate, AccountPublic, AccountStore
from joinedup.web.governance import require
from joinedup.web.settings import WebSettings, web_settings_for

__all__ = [
    "AccountCreate",
    "AccountPublic",
    "AccountStore",
    "WebSettings",
    "create_app",
    "require",
    "web_settings_for",
]
