"""One exception tree for joinedup; exit codes are mapped here and nowhere else.

::

    JoinedupError
    ├── UserError                 shown without a traceback; says what, where, and what to do
    │   ├── UsageError            bad arguments or options                        exit 2
    │   ├── ConfigError           a node or setting is missing or wrong            exit 5
    │   ├── ContractError         an extract does not match its source contract   exit 5
    │   ├── AccessDenied          govern refused the action (reason given)        exit 3
    │   ├── DisclosureBlocked     an output failed disclosure control              exit 4
    │   ├── LinkageError          linkage could not run on the inputs given        exit 5
    │   └── NodeBusy              a database is locked by other work (a refresh)  exit 6
    └── InternalError             a bug: reported with a traceback                 exit 1

Messages name files, row numbers, columns, tables and counts. They never carry a row's values.
"""

from __future__ import annotations


class JoinedupError(Exception):
    """Base of every error joinedup raises on purpose."""

    exit_code: int = 1


class UserError(JoinedupError):
    """An error the user can fix; shown as a message without a traceback."""

    exit_code = 5


class UsageError(UserError):
    exit_code = 2


class ConfigError(UserError):
    exit_code = 5


class ContractError(UserError):
    """An extract cannot be read against its contract at all (the whole file is rejected)."""

    exit_code = 5


class AccessDenied(UserError):
    exit_code = 3


class DisclosureBlocked(UserError):
    exit_code = 4


class LinkageError(UserError):
    exit_code = 5


class NodeBusy(UserError):
    """A node's database is locked by other work, usually a refresh holding the store; trying
    again later works. The web app answers 503 with ``Retry-After: retry_after`` seconds."""

    exit_code = 6
    retry_after = 120


class InternalError(JoinedupError):
    exit_code = 1


EXIT_OK = 0


def exit_code_for(error: BaseException) -> int:
    """The process exit code for an error (1 for anything joinedup did not raise on purpose)."""
    if isinstance(error, JoinedupError):
        return error.exit_code
    return 1
