"""The CLI's one door to ``joinedup.govern.decide``: every node-bound command calls
``authorise`` before it reads or changes anything.

The local CLI acts as ``local-operator`` (the node administrator at the node's own console:
whoever can run it already holds the node folder and its key) unless ``--as ACTOR`` names a
registered actor, for attribution and to act within that actor's role. Commands that act on
no existing node (``simulate``, ``source list``, ``link files``) are ungoverned; ``node init``
and ``demo`` create a node and decide its creation as ``local-operator``. A functional test
(tests/functional/test_every_command_is_governed.py) runs every other command as an
unregistered actor and expects exit 3 and one "deny" audit event; see
docs/explanation/governance.md.
"""

from __future__ import annotations

from pathlib import Path

from joinedup.config import NodeSettings
from joinedup.govern import Action, Decision, Resource, ResourceKind, decide
from joinedup.model import DataLevel, Purpose


def authorise(
    node: NodeSettings | Path,
    actor: str,
    action: Action,
    *,
    kind: ResourceKind,
    name: str,
    purpose: Purpose | None = None,
    level: DataLevel | None = None,
    project_id: str | None = None,
) -> Decision:
    """``decide``, raising ``AccessDenied`` (exit 3) on a denial; audited either way."""
    return decide(
        node=node,
        actor=actor,
        action=action,
        resource=Resource(kind=kind, name=name, level=level),
        purpose=purpose,
        project_id=project_id,
    ).raise_if_denied()
