"""Registers every command group on the app. Each group lives in its own module."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    if getattr(app, "_joinedup_registered", False):
        return
    app._joinedup_registered = True  # type: ignore[attr-defined]
    from joinedup.cli import link, node, refresh, source
    from joinedup.cli.demo import demo_command
    from joinedup.cli.serve import serve_command
    from joinedup.cli.simulate import simulate_command

    del refresh  # importing it adds `node refresh` to the node group
    from joinedup.cli import link_report

    del link_report  # importing it adds `link report` and `link review` to the link group

    app.command("demo")(demo_command)
    app.command("simulate")(simulate_command)
    app.command("serve")(serve_command)
    app.add_typer(node.app, name="node")
    from joinedup.cli import govern

    app.add_typer(govern.actor_app, name="actor")
    app.add_typer(govern.project_app, name="project")
    app.add_typer(govern.optout_app, name="optout")
    app.add_typer(govern.consent_app, name="consent")
    app.add_typer(govern.audit_app, name="audit")
    app.add_typer(govern.alert_app, name="alert")
    app.add_typer(source.app, name="source")
    app.add_typer(link.app, name="link")
    from joinedup.cli import job, output

    app.add_typer(output.app, name="output")
    app.add_typer(job.app, name="job")
