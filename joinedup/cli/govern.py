"""``joinedup actor|project|optout|consent|audit|alert``: the governance registers of a node.

Every command is decided by ``joinedup.govern.decide`` (through ``joinedup.cli.gate``) as the
``--as`` actor before it reads or writes, and so leaves an audit event.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from joinedup.cli.gate import authorise
from joinedup.cli.options import AsActorOpt, JsonOpt, NodeArg, parse_date_option
from joinedup.config import NodeSettings, load_node
from joinedup.errors import UsageError
from joinedup.govern import (
    LOCAL_OPERATOR_ID,
    Action,
    Actor,
    Organisation,
    OrgKind,
    ResourceKind,
    Role,
)
from joinedup.govern.actors import (
    add_actor,
    get_actor,
    get_actor_or_none,
    list_actors,
    reinstate_actor,
    suspend_actor,
)
from joinedup.govern.alerts import (
    AlertOutcome,
    list_alerts,
    log_incident,
    raise_audit_finding,
    review_alert,
)
from joinedup.govern.audit import read_events, verify_audit
from joinedup.govern.cohort import CohortSpec, load_cohort_file
from joinedup.govern.consent import (
    ConsentLevel,
    GivenBy,
    consent_records_for_key,
    judge_consent,
    record_consent,
)
from joinedup.govern.database import open_govern, open_store_read_only
from joinedup.govern.identify import ChildKey, identify_child
from joinedup.govern.optout import (
    RequestedBy,
    excluded_person_count,
    list_optouts,
    record_optout,
    withdraw_optout,
)
from joinedup.govern.projects import (
    ProjectSpec,
    Review,
    Setting,
    apply_project,
    countersign_project,
    get_project,
    list_projects,
    project_status,
    review_project,
)
from joinedup.govern.report import governance_report
from joinedup.govern.transparency import register_json
from joinedup.model import Purpose
from joinedup.web import AccountCreate, AccountStore, web_settings_for
from joinedup.web.auth import MIN_PASSWORD_LENGTH, SessionStore
from joinedup.web.mfa import provisioning_uri

console = Console()
actor_app = typer.Typer(help="Register the people who act on a node.", no_args_is_help=True)
project_app = typer.Typer(
    help="Projects and the Data Access Committee (Five Safes).", no_args_is_help=True
)
optout_app = typer.Typer(
    help="The dissent register: opting a child out, and withdrawing it.", no_args_is_help=True
)
consent_app = typer.Typer(help="Consent to contact (green, amber, red).", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit trail.", no_args_is_help=True)
alert_app = typer.Typer(help="Break-glass alerts for the safeguarding lead.", no_args_is_help=True)

NhsOpt = Annotated[
    str | None, typer.Option("--nhs-number", help="The child's NHS number (or give --upn).")
]
UpnOpt = Annotated[
    str | None, typer.Option("--upn", help="The child's unique pupil number (or --nhs-number).")
]
DobOpt = Annotated[str, typer.Option("--dob", help="The child's date of birth, YYYY-MM-DD.")]


def _today() -> date:
    return datetime.now(UTC).date()


def _echo_json(data: object) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def _child(settings: NodeSettings, nhs: str | None, upn: str | None, dob: str) -> ChildKey:
    return identify_child(
        settings,
        date_of_birth=parse_date_option(dob, "--dob"),
        today=_today(),
        nhs_number=nhs,
        upn=upn,
    )


# ---------------------------------------------------------------- actor


@actor_app.command("add")
def actor_add(
    node: NodeArg,
    actor_id: Annotated[str, typer.Argument(help="A unique id for the person, e.g. jsmith.")],
    name: Annotated[str, typer.Option("--name", help="The person's display name.")],
    role: Annotated[Role, typer.Option("--role", help="The person's role.")],
    org_id: Annotated[str, typer.Option("--org-id", help="Their organisation's id.")],
    org_kind: Annotated[OrgKind, typer.Option("--org-kind", help="Kind of organisation.")],
    org_name: Annotated[str, typer.Option("--org-name", help="Organisation's name.")] = "",
    org_code: Annotated[
        str | None,
        typer.Option("--org-code", help="School URN, ODS code (GP practice, trust) or local id."),
    ] = None,
    urn: Annotated[
        list[int] | None, typer.Option("--urn", help="An academy trust's school URN (repeat).")
    ] = None,
    accredited_until: Annotated[
        str | None,
        typer.Option("--accredited-until", help="Research accreditation expiry, YYYY-MM-DD."),
    ] = None,
    ig_training_on: Annotated[
        str | None,
        typer.Option("--ig-training-on", help="Date of last IG training, YYYY-MM-DD."),
    ] = None,
    lay: Annotated[bool, typer.Option("--lay", help="A lay member of the DAC.")] = False,
    as_actor: AsActorOpt = LOCAL_OPERATOR_ID,
) -> None:
    """Register an actor: one person, one role, one organisation."""
    settings = load_node(node)
    authorise(settings, as_actor, Action.MANAGE_ACTORS, kind=ResourceKind.REGISTER, name="actors")
    actor = Actor(
        actor_id=actor_id,
        display_name=name,
        role=role,
        org=Organisation(
            org_id=org_id,
            kind=org_kind,
            name=org_name or org_id,
            code=org_code,
            urns=tuple(urn or ()),
        ),
        accredited_until=None
        if accredited_until is None
        else parse_date_option(accredited_until, "--accredited-until"),
        ig_training_on=None
        if ig_training_on is None
        else parse_date_option(ig_training_on, "--ig-training-on"),
        is_lay=lay,
    )
    with open_govern(settings) as con:
        add_actor(con, actor)
    console.print(f"Registered {actor_id} ({role.value}, {org_id})")


@actor_app.command("list")
def actor_list(
    node: NodeArg, json_output: JsonOpt = False, as_actor: AsActorOpt = LOCAL_OPERATOR_ID
) -> None:
    """List the node's actors."""
    settings = load_node(node)
    authorise(settings, as_actor, Action.MANAGE_ACTORS, kind=ResourceKind.REGISTER, name="actors")
    with open_govern(settings) as con:
        actors = list_actors(con)
    rows = [
        {
            "actor_id": a.actor_id,
            "name": a.display_name,
            "role": a.role.value,
            "org_id": a.org.org_id,
            "org_kind": a.org.kind.value,
            "accredited_until": a.accredited_until,
            "ig_training_on": a.ig_training_on,
            "lay": a.is_lay,
        }
        for a in actors
    ]
    if json_output:
        _echo_json(rows)
        return
    table = Table(title="Actors")
    for heading in ("actor", "role", "organisation", "accredited until", "IG training", "lay"):
        table.add_column(heading)
    for r in rows:
        table.add_row(
            str(r["actor_id"]),
            str(r["role"]),
            f"{r['org_id']} ({r['org_kind']})",
            str(r["accredited_until"] or "-"),
            str(r["ig_training_on"] or "-"),
            "yes" if r["lay"] else "",
        )
    console.print(table)


@actor_app.command("suspend")
def actor_suspend(
    node: NodeArg,
    actor_id: Annotated[str, typer.Argument(help="The actor to stop at once.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept with the suspension).")],
    as_actor: AsActorOpt = LOCAL_OPERATOR_ID,
) -> None:
    """Suspend an actor at once (an incident's first step): every request they make is refused
    and their web sessions end, until reinstated."""
    settings = load_node(node)
    allowed = authorise(
        settings, as_actor, Action.MANAGE_ACTORS, kind=ResourceKind.REGISTER, name="actors"
    )
    with open_govern(settings) as con:
        suspend_actor(con, actor_id, by=allowed.actor, reason=reason)
    web = web_settings_for(settings)
    ended = SessionStore(
        web.database_path, lifetime_seconds=web.session_seconds, idle_seconds=web.idle_seconds
    ).revoke_user(actor_id, "actor suspended")
    console.print(f"Suspended {actor_id}; {ended} open web session(s) ended")


@actor_app.command("reinstate")
def actor_reinstate(
    node: NodeArg,
    actor_id: Annotated[str, typer.Argument(help="The suspended actor.")],
    as_actor: AsActorOpt = LOCAL_OPERATOR_ID,
) -> None:
    """Lift an actor's suspension."""
    settings = load_node(node)
    allowed = authorise(
        settings, as_actor, Action.MANAGE_ACTORS, kind=ResourceKind.REGISTER, name="actors"
    )
    with open_govern(settings) as con:
        reinstate_actor(con, actor_id, by=allowed.actor)
    console.print(f"Reinstated {actor_id}")


def _read_new_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(
        typer.prompt(
            f"New web password (at least {MIN_PASSWORD_LENGTH} characters)",
            hide_input=True,
            confirmation_prompt=True,
        )
    )


@actor_app.command("password")
def actor_password(
    node: NodeArg,
    actor_id: Annotated[str, typer.Argument(help="The registered actor who signs in.")],
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help="Read the password from the first line of standard input (for scripts) "
            "instead of prompting. It is never taken as an argument.",
        ),
    ] = False,
    as_actor: AsActorOpt = LOCAL_OPERATOR_ID,
) -> None:
    """Set or reset an actor's web sign-in password; their open web sessions end."""
    settings = load_node(node)
    authorise(
        settings, as_actor, Action.ADMINISTER_NODE, kind=ResourceKind.REGISTER, name="web-accounts"
    )
    with open_govern(settings) as con:
        if get_actor_or_none(con, actor_id) is None:
            raise UsageError(
                f"no actor {actor_id} on this node: register them first (joinedup actor add)"
            )
    password = _read_new_password(password_stdin)
    try:
        account = AccountCreate(username=actor_id, password=password)
    except ValidationError:
        raise UsageError(
            f"a web password has {MIN_PASSWORD_LENGTH} to 200 characters, and the actor id "
            "must be a web username (lower-case letters, digits, '.', '_', '-')"
        ) from None
    web = web_settings_for(settings)
    created = AccountStore(web.database_path).set_password(account)
    ended = SessionStore(
        web.database_path, lifetime_seconds=web.session_seconds, idle_seconds=web.idle_seconds
    ).revoke_user(actor_id, "password set")
    if created:
        console.print(f"Created the web sign-in of {actor_id}")
    else:
        console.print(f"Reset the web password of {actor_id}; {ended} open session(s) ended")


@actor_app.command("mfa")
def actor_mfa(
    node: NodeArg,
    actor_id: Annotated[str, typer.Argument(help="The actor whose web sign-in gets a code.")],
    as_actor: AsActorOpt = LOCAL_OPERATOR_ID,
) -> None:
    """Give an actor's web sign-in a second factor (an authenticator app's one-time codes);
    shows the secret once, replaces any earlier one and ends their open sessions."""
    settings = load_node(node)
    authorise(
        settings, as_actor, Action.ADMINISTER_NODE, kind=ResourceKind.REGISTER, name="web-accounts"
    )
    web = web_settings_for(settings)
    secret = AccountStore(web.database_path).enrol_second_factor(actor_id)
    ended = SessionStore(
        web.database_path, lifetime_seconds=web.session_seconds, idle_seconds=web.idle_seconds
    ).revoke_user(actor_id, "second factor set")
    uri = provisioning_uri(secret, account=actor_id, issuer=f"joinedup {settings.name}")
    console.print(f"Second factor set for {actor_id}; {ended} open session(s) ended.")
    console.print("Add it to the person's authenticator app (shown once, give it to them only):")
    typer.echo(uri)
    typer.echo(f"secret: {secret}")


# ---------------------------------------------------------------- project


@project_app.command("apply")
def project_apply(
    node: NodeArg,
    title: Annotated[str, typer.Option("--title", help="The project's title.")],
    purpose: Annotated[Purpose, typer.Option("--purpose", help="The project's purpose.")],
    lay_summary: Annotated[str, typer.Option("--lay-summary", help="Plain-English summary.")],
    public_benefit: Annotated[
        str, typer.Option("--public-benefit", help="Safe project: the public benefit.")
    ],
    legal_basis: Annotated[
        str, typer.Option("--legal-basis", help="Safe project: e.g. 6(1)(e)+9(2)(j)+s251.")
    ],
    dataset: Annotated[
        list[str], typer.Option("--dataset", help="Safe data: a view__secondary__* (repeat).")
    ],
    variable: Annotated[
        list[str], typer.Option("--variable", help="Safe data: <dataset>.<column> (repeat).")
    ],
    cohort: Annotated[
        str, typer.Option("--cohort", help="Safe data: why this cohort is the minimum needed.")
    ],
    cohort_spec: Annotated[
        Path,
        typer.Option(
            "--cohort-spec",
            help="Safe data: the children the project may see, a JSON or YAML file (see "
            "the how-to 'Apply with a cohort'; whole_population: true for every child).",
        ),
    ],
    setting: Annotated[Setting, typer.Option("--setting", help="Safe setting.")],
    outputs: Annotated[str, typer.Option("--outputs", help="Safe outputs: what will leave.")],
    expires_on: Annotated[str, typer.Option("--expires-on", help="Expiry date, YYYY-MM-DD.")],
    member: Annotated[
        list[str] | None,
        typer.Option("--member", help="Another member's actor id (repeat); you are one."),
    ] = None,
    ethics_reference: Annotated[
        str | None, typer.Option("--ethics-reference", help="Ethics approval reference.")
    ] = None,
    as_actor: AsActorOpt = LOCAL_OPERATOR_ID,
) -> None:
    """Apply for a project (Five Safes); the applicant is the --as actor."""
    settings = load_node(node)
    decision = authorise(
        settings, as_actor, Action.APPLY_PROJECT, kind=ResourceKind.PROJECT, name="application"
    )
    members = tuple(dict.fromkeys([as_actor, *(member or [])]))
    spec = ProjectSpec(
        title=title,
        purpose=purpose,
        members=members,
        lay_summary=lay_summary,
        public_benefit=public_benefit,
        legal_basis=legal_basis,
        datasets=tuple(dataset),
        variables=tuple(variable),
        cohort=cohort,
        cohort_spec=load_cohort_file(cohort_spec),
        setting=setting,
        outputs=outputs,
        expires_on=parse_date_option(expires_on, "--expires-on"),
        ethics_reference=ethics_reference,
    )
    with open_govern(settings) as con:
        project = apply_project(
            con,
            spec,
            applicant=decision.actor,
            members=[get_actor(con, m) for m in members],
            today=_today(),
        )
    console.print(f"Applied: project {project.project_id} awaits the Data Access Committee")
    _print_cohort(spec.cohort_spec)


def _print_cohort(cohort: CohortSpec | None) -> None:
    if cohort is None:
        console.print(
            "Cohort: none pinned (recorded before cohorts were); its jobs are refused until "
            "it re-applies with --cohort-spec"
        )
        return
    console.print(f"Cohort: {cohort.describe()}")
    console.print(f"Cohort sha256: {cohort.sha256}")


@project_app.command("show")
def project_show(
    node: NodeArg,
    project_id: Annotated[str, typer.Argument(help="The project id.")],
    json_output: JsonOpt = False,
    as_actor: AsActorOpt = LOCAL_OPERATOR_ID,
) -> None:
    """One application in full, for the DAC's review: the Five Safes and the cohort in plain
    words, its spec and SHA-256."""
    settings = load_node(node)
    authorise(settings, as_actor, Action.LIST_PROJECTS, kind=ResourceKind.PROJECT, name=project_id)
    with open_govern(settings) as con:
        found = get_project(con, project_id)
        if found is None:
            raise UsageError(f"no project {project_id} (see: joinedup project list)")
        status = project_status(con, project_id, _today())
    spec = found.spec
    cohort = spec.cohort_spec
    facts: dict[str, object] = {
        "project_id": found.project_id,
        "title": spec.title,
        "state": status.state.value,
        "why": status.why,
        "purpose": spec.purpose.value,
        "applicant": found.applicant_id,
        "members": list(spec.members),
        "lay_summary": spec.lay_summary,
        "public_benefit": spec.public_benefit,
        "legal_basis": spec.legal_basis,
        "datasets": list(spec.datasets),
        "variables": list(spec.variables),
        "cohort_in_words": spec.cohort,
        "children_included": None if cohort is None else cohort.describe(),
        "cohort_spec": None if cohort is None else cohort.as_dict(),
        "cohort_sha256": None if cohort is None else cohort.sha256,
        "setting": spec.setting.value,
        "outputs": spec.outputs,
        "expires_on": spec.expires_on.isoformat(),
        "conditions": list(status.conditions),
    }
    if json_output:
        _echo_json(facts)
        return
    table = Table(title=f"Project {project_id}", show_header=False)
    table.add_column("field")
    table.add_column("value")
    for key, value in facts.items():
        if key in ("children_included", "cohort_spec", "cohort_sha256"):
            continue
        shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        table.add_row(key.replace("_", " "), shown)
    console.print(table)
    _print_cohort(cohort)
    if cohort is not None:
        typer.echo(f"Cohort spec: {cohort.canonical_json()}")  # unwrapped, to copy whole


@project_app.command("review")
def project_review(
    node: NodeArg,
    project_id: Annotated[str, typer.Argument(help="The project id.")],
    decision: Annotated[Review, typer.Option("--decision", help="The DAC member's decision.")],
    conditions: Annotated[
        str | None, typer.Option("--conditions", help="Conditions of an approval.")
    ] = None,
    as_actor: AsActorOpt = LOCAL_OPERATOR_ID,
) -> None:
    """Record a DAC member's review of a project."""
    settings = load_node(node)
    allowed = authorise(
        settings, as_actor, Action.REVIEW_PROJECT, kind=ResourceKind.PROJECT, name=project_id
    )
    with open_govern(settings) as con:
        found = get_project(con, project_id)
        status = review_project(
            con,
            project_id,
            reviewer=allowed.actor,
            decision=decision,
            conditions=conditions,
            today=_today(),
        )
    console.print(f"Project {project_id}: {status.state.value} ({status.why})")
    if found is not None:
        _print_cohort(found.spec.cohort_spec)


@project_app.command("countersign")
def project_countersign(
    node: NodeArg,
    project_id: Annotated[str, typer.Argument(help="The project id.")],
    as_actor: AsActorOpt = LOCAL_OPERATOR_ID,
) -> None:
    """Countersign a DAC-approved project as the node's controller."""
    settings = load_node(node)
    allowed = authorise(
        settings, as_actor, Action.COUNTERSIGN_PROJECT, kind=ResourceKind.PROJECT, name=project_id
    )
    with open_govern(settings) as con:
        status = countersign_project(con, project_id, signer=allowed.actor, today=_today())
    console.print(f"Project {project_id}: {status.state.value} ({status.why})")


@project_app.command("list")
def project_list(
    node: NodeArg, json_output: JsonOpt = False, as_actor: AsActorOpt = LOCAL_OPERATOR_ID
) -> None:
    """The Safe Projects register: every project and its state."""
    settings = load_node(node)
    authorise(settings, as_actor, Action.LIST_PROJECTS, kind=ResourceKind.REGISTER, name="projects")
    today = _today()
    with open_govern(settings) as con:
        rows = []
        for p in list_projects(con):
            status = project_status(con, p.project_id, today)
            rows.append(
                {
                    "project_id": p.project_id,
                    "title": p.spec.title,
                    "purpose": p.spec.purpose.value,
                    "state": status.state.value,
                    "why": status.why,
                    "expires_on": p.spec.expires_on.isoformat(),
                }
            )
    if json_output:
        _echo_json(rows)
        return
    table = Table(title="Safe Projects register")
    for heading in ("project", "title", "purpose", "state", "why", "expires"):
        table.add_column(heading)
    for r in rows:
        table.add_row(*(str(v) for v in r.values()))
    console.print(table)


@project_app.command("register")
def project_register(
    node: NodeArg,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the JSON here instead of printing it.")
    ] = None,
    as_actor: AsActorOpt = LOCAL_OPERATOR_ID,
) -> None:
    """The public transparency register (JSON), generated from the projects."""
    settings = load_node(node)
    authorise(
        settings, as_actor, Action.READ_PUBLIC, kind=ResourceKind.REGISTER, name="transparency"
    )
    with open_govern(settings) as con:
        text = register_json(con, _today())
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text + "\n")
        console.print(f"Wrote {out}")


# ---------------------------------------------------------------- optout


@optout_app.command("add")
def optout_add(
    node: NodeArg,
    dob: DobOpt,
    requested_by: Annotated[
        RequestedBy,
        typer.Option("--requested-by", help="parent (child under 13) or young_person (13+)."),
    ],
    nhs_number: NhsOpt = None,
    upn: UpnOpt = None,
    as_actor: AsActorOpt = LOCAL_OPERATOR_ID,
) -> None:
    """Opt a child out of every secondary use, from the next refresh."""
    settings = load_node(node)
    allowed = authorise(
        settings, as_actor, Action.RECORD_OPTOUT, kind=ResourceKind.REGISTER, name="dissent"
    )
    child = _child(settings, nhs_number, upn, dob)
    with open_govern(settings) as con:
        optout = record_optout(con, child, requested_by=requested_by, actor=allowed.actor)
    console.print(
        f"Recorded opt-out {optout.optout_id}; it applies from the next: joinedup node refresh"
    )


@optout_app.command("withdraw")
def optout_withdraw(
    node: NodeArg,
    dob: DobOpt,
    requested_by: Annotated[
        RequestedBy,
        typer.Option("--requested-by", help="parent (child under 13) or young_person (13+)."),
    ],
    nhs_number: NhsOpt = None,
    upn: UpnOpt = None,
    as_actor: AsActorOpt = LOCAL_OPERATOR_ID,
) -> None:
    """Withdraw a child's opt-out (name the child as when opting out); from the next refresh."""
    settings = load_node(node)
    allowed = authorise(
        settings, as_actor, Action.WITHDRAW_OPTOUT, kind=ResourceKind.REGISTER, name="dissent"
    )
    child = _child(settings, nhs_number, upn, dob)
    with open_govern(settings) as con:
        withdrawal = withdraw_optout(con, child, requested_by=requested_by, actor=allowed.actor)
    console.print(
        f"Recorded withdrawal {withdrawal.withdrawal_id}; the child is back in secondary uses "
        "from the next: joinedup node refresh"
    )


@optout_app.command("list")
def optout_list(
    node: NodeArg, json_output: JsonOpt = False, as_actor: AsActorOpt = LOCAL_OPERATOR_ID
) -> None:
    """The dissent register (pseudonymous: how each child was named, never who)."""
    settings = load_node(node)
    authorise(settings, as_actor, Action.LIST_OPTOUTS, kind=ResourceKind.REGISTER, name="dissent")
    with open_govern(settings) as con:
        optouts = list_optouts(con)
    with open_store_read_only(settings) as store:
        excluded = excluded_person_count(store)
    rows = [
        {
            "optout_id": o.optout_id,
            "identified_by": o.identified_by,
            "requested_by": o.requested_by.value,
            "recorded_by": o.recorded_by,
            "recorded_at": o.recorded_at.isoformat(),
            "withdrawn_at": None if o.withdrawn_at is None else o.withdrawn_at.isoformat(),
        }
        for o in optouts
    ]
    if json_output:
        _echo_json({"optouts": rows, "persons_excluded_at_last_refresh": excluded})
        return
    table = Table(title="Dissent register")
    headings = ("opt-out", "identified by", "requested by", "recorded by", "recorded at")
    for heading in (*headings, "withdrawn at"):
        table.add_column(heading)
    for r in rows:
        table.add_row(*(str(v or "-") for v in r.values()))
    console.print(table)
    console.print(f"Persons excluded from secondary views at the last refresh: {excluded}")


# ---------------------------------------------------------------- consent


@consent_app.command("record")
def consent_record(
    node: NodeArg,
    dob: DobOpt,
    level: Annotated[ConsentLevel, typer.Option("--level", help="green, amber or red.")],
    given_by: Annotated[
        GivenBy, typer.Option("--given-by", help="parent (under 16) or young_person (13+).")
    ],
    sheet_version: Annotated[
        str, typer.Option("--sheet-version", help="The information sheet version read.")
    ],
    nhs_number: NhsOpt = None,
    upn: UpnOpt = None,
    as_actor: AsActorOpt = LOCAL_OPERATOR_ID,
) -> None:
    """Record a family's consent to contact (the latest record wins)."""
    settings = load_node(node)
    allowed = authorise(
        settings, as_actor, Action.RECORD_CONSENT, kind=ResourceKind.REGISTER, name="consent"
    )
    child = _child(settings, nhs_number, upn, dob)
    with open_govern(settings) as con:
        record = record_consent(
            con,
            child,
            level=level,
            given_by=given_by,
            information_sheet_version=sheet_version,
            actor=allowed.actor,
            today=_today(),
        )
    console.print(f"Recorded consent {record.consent_id} ({level.value})")


@consent_app.command("show")
def consent_show(
    node: NodeArg,
    dob: DobOpt,
    nhs_number: NhsOpt = None,
    upn: UpnOpt = None,
    json_output: JsonOpt = False,
    as_actor: AsActorOpt = LOCAL_OPERATOR_ID,
) -> None:
    """Show a child's consent records and what they allow today."""
    settings = load_node(node)
    authorise(settings, as_actor, Action.SHOW_CONSENT, kind=ResourceKind.REGISTER, name="consent")
    child = _child(settings, nhs_number, upn, dob)
    with open_govern(settings) as con:
        records = consent_records_for_key(con, child)
    answer = judge_consent(records, _today())
    data = {
        "permission": answer.permission.value,
        "why": answer.why,
        "records": [
            {
                "consent_id": r.consent_id,
                "level": r.level.value,
                "given_by": r.given_by.value,
                "information_sheet_version": r.information_sheet_version,
                "recorded_on": r.recorded_on.isoformat(),
            }
            for r in records
        ],
    }
    if json_output:
        _echo_json(data)
        return
    console.print(f"Contact: [bold]{answer.permission.value}[/] ({answer.why})")
    for r in records:
        console.print(
            f"  {r.consent_id} {r.level.value} by {r.given_by.value}, sheet "
            f"{r.information_sheet_version}, {r.recorded_on.isoformat()}"
        )


# ---------------------------------------------------------------- audit


@audit_app.command("report")
def audit_report(
    node: NodeArg,
    since: Annotated[
        str | None,
        typer.Option("--since", help="First day of the period, YYYY-MM-DD (default: 30 days ago)."),
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Last day of the period (default: today).")
    ] = None,
    json_output: JsonOpt = False,
    as_actor: AsActorOpt = LOCAL_OPERATOR_ID,
) -> None:
    """How information governance performed over a period: counts of decisions, refusals,
    break-glass, opt-outs and projects (no person, no actor named)."""
    settings = load_node(node)
    authorise(settings, as_actor, Action.READ_AUDIT, kind=ResourceKind.AUDIT, name="report")
    last = _today() if until is None else parse_date_option(until, "--until")
    first = last - timedelta(days=30) if since is None else parse_date_option(since, "--since")
    if first > last:
        raise UsageError("--since must be on or before --until")
    chain = verify_audit(settings)
    with open_govern(settings) as con:
        report = governance_report(con, since=first, until=last)
    report["audit_chain_intact"] = chain.is_intact
    if json_output:
        _echo_json(report)
        return
    decisions = report["decisions"]
    assert isinstance(decisions, dict)
    console.print(f"Governance report {first.isoformat()} to {last.isoformat()}")
    console.print(
        f"Decisions: {decisions['total']} ({decisions['allowed']} allowed, "
        f"{decisions['denied']} denied); audit chain intact: {chain.is_intact}"
    )
    table = Table(title="Decisions by action")
    for heading in ("action", "allowed", "denied"):
        table.add_column(heading)
    for action, counts in decisions["by_action"].items():
        table.add_row(action, str(counts["allow"]), str(counts["deny"]))
    console.print(table)
    for section in ("break_glass", "opt_outs", "projects_by_state"):
        values = report[section]
        assert isinstance(values, dict)
        words = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in values.items())
        console.print(f"{section.replace('_', ' ').capitalize()}: {words}")


@audit_app.command("verify")
def audit_verify(
    node: NodeArg, json_output: JsonOpt = False, as_actor: AsActorOpt = LOCAL_OPERATOR_ID
) -> None:
    """Recompute the hash chain; exit 1 if any event was edited, deleted, reordered or cut."""
    settings = load_node(node)
    # verify first: the decision below appends an event, which must not hide a break
    result = verify_audit(settings)
    decision = authorise(
        settings, as_actor, Action.READ_AUDIT, kind=ResourceKind.AUDIT, name="verify"
    )
    alert_id = None
    if not result.is_intact:
        finding = f"audit chain broken: {'; '.join(result.problems)}"
        with open_govern(settings) as con:
            alert_id = raise_audit_finding(
                con,
                event_id=decision.event.event_id,
                actor_id=decision.actor.actor_id,
                finding=finding,
            )
    if json_output:
        _echo_json(
            {
                "events": result.events,
                "intact": result.is_intact,
                "problems": result.problems,
                "alert_id": alert_id,
            }
        )
    elif result.is_intact:
        console.print(f"Audit chain intact: {result.events} events")
    else:
        console.print(f"[bold red]Audit chain broken[/] ({result.events} events):")
        for problem in result.problems:
            console.print(f"  {problem}")
        if alert_id is not None:
            console.print(
                f"Alert {alert_id} raised for the node administrator (joinedup alert list)"
            )
        else:
            console.print("This finding is already an open alert (joinedup alert list)")
    if not result.is_intact:
        raise typer.Exit(1)


@audit_app.command("tail")
def audit_tail(
    node: NodeArg,
    last: Annotated[int, typer.Option("-n", "--last", help="How many events to show.")] = 20,
    json_output: JsonOpt = False,
    as_actor: AsActorOpt = LOCAL_OPERATOR_ID,
) -> None:
    """Show the latest audit events."""
    settings = load_node(node)
    authorise(settings, as_actor, Action.READ_AUDIT, kind=ResourceKind.AUDIT, name="tail")
    with open_govern(settings) as con:
        events = read_events(con, last=last)
    if json_output:
        _echo_json([e.as_dict() for e in events])
        return
    table = Table(title="Audit events")
    for heading in ("seq", "when", "actor", "action", "resource", "purpose", "outcome", "reason"):
        table.add_column(heading)
    for e in events:
        table.add_row(
            str(e.seq),
            e.recorded_at.isoformat(timespec="seconds"),
            f"{e.actor_id} ({e.actor_role})",
            e.action,
            f"{e.resource_kind}:{e.resource_name}"
            + (f" {e.resource_level}" if e.resource_level else ""),
            e.purpose or "-",
            e.outcome,
            e.reason,
        )
    console.print(table)


# ---------------------------------------------------------------- alert


@alert_app.command("list")
def alert_list(
    node: NodeArg,
    open_only: Annotated[
        bool, typer.Option("--open", help="Only alerts not yet reviewed.")
    ] = False,
    json_output: JsonOpt = False,
    as_actor: AsActorOpt = LOCAL_OPERATOR_ID,
) -> None:
    """List alerts: break-glass accesses and audit findings."""
    settings = load_node(node)
    authorise(settings, as_actor, Action.REVIEW_ALERT, kind=ResourceKind.REGISTER, name="alerts")
    with open_govern(settings) as con:
        alerts = list_alerts(con, open_only=open_only)
    rows = [
        {
            "alert_id": a.alert_id,
            "kind": a.kind.value,
            "actor_id": a.actor_id,
            "raised_at": a.raised_at.isoformat(timespec="seconds"),
            "status": a.status,
            "reason": a.reason,
            "outcome": a.review_outcome,
        }
        for a in alerts
    ]
    if json_output:
        _echo_json(rows)
        return
    table = Table(title="Alerts")
    for heading in ("alert", "kind", "actor", "raised", "status", "reason", "outcome"):
        table.add_column(heading)
    for r in rows:
        table.add_row(*(str(v or "-") for v in r.values()))
    console.print(table)


@alert_app.command("add")
def alert_add(
    node: NodeArg,
    summary: Annotated[
        str,
        typer.Option(
            "--summary", help="What happened and when (no child's details); at least 20 characters."
        ),
    ],
    as_actor: AsActorOpt = LOCAL_OPERATOR_ID,
) -> None:
    """Log an incident (a deviation from a process, a suspected breach) to track and resolve."""
    settings = load_node(node)
    allowed = authorise(
        settings, as_actor, Action.REVIEW_ALERT, kind=ResourceKind.REGISTER, name="alerts"
    )
    with open_govern(settings) as con:
        alert_id = log_incident(
            con, event_id=allowed.event.event_id, reporter=allowed.actor, summary=summary
        )
    console.print(
        f"Logged incident {alert_id}; close it with: joinedup alert review --outcome resolved"
    )


@alert_app.command("review")
def alert_review(
    node: NodeArg,
    alert_id: Annotated[str, typer.Argument(help="The alert id.")],
    outcome: Annotated[AlertOutcome, typer.Option("--outcome", help="The review's finding.")],
    public_note: Annotated[
        str | None,
        typer.Option(
            "--public-note",
            help="For a resolved incident or audit finding: what happened and what was done, "
            "published in the transparency register (no person named).",
        ),
    ] = None,
    as_actor: AsActorOpt = LOCAL_OPERATOR_ID,
) -> None:
    """Close an alert: review a break-glass access (appropriate or inappropriate), or mark an
    audit finding resolved once investigated."""
    settings = load_node(node)
    allowed = authorise(
        settings, as_actor, Action.REVIEW_ALERT, kind=ResourceKind.REGISTER, name=alert_id
    )
    with open_govern(settings) as con:
        review_alert(
            con, alert_id, reviewer=allowed.actor, outcome=outcome, public_note=public_note
        )
    console.print(f"Alert {alert_id} reviewed: {outcome.value}")
