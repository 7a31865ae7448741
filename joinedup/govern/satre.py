"""SATRE self-assessment: which statements of the SATRE specification joinedup meets, and the
test that shows each one.

Job: hold a declarative, checked-in mapping (`SATRE_EVIDENCE`) from SATRE statement references
(the specification's `requirement_index`, e.g. "1.5.04") to a status ("met" or "partly"), the
pytest node ids that demonstrate it and one sentence of explanation; and render the whole
specification with that mapping as a Markdown page (`docs/satre.md`):

    python -m joinedup.govern.satre /path/to/specification.yaml > docs/satre.md

Invariants:
- A statement is claimed only where an existing test demonstrates it; `tests/docs/test_satre.py`
  checks every reference exists in the specification and every cited test is defined.
- Statements not in the mapping are "not assessed": absence is never read as "met".
- The product never needs the specification at run time: the mapping holds references only, and
  the renderer takes the YAML path as an argument (PyYAML is a dev/docs dependency, imported
  inside the function).
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from joinedup.errors import ConfigError, UsageError

__all__ = [
    "SATRE_EVIDENCE",
    "SatreEvidence",
    "SatreStatement",
    "Status",
    "load_specification",
    "main",
    "render_satre_markdown",
]

ABRIDGE_AT = 120
NOT_ASSESSED = "not assessed"


class Status(StrEnum):
    """How far joinedup meets one SATRE statement, on the evidence of its tests."""

    MET = "met"
    PARTLY = "partly"


@dataclass(frozen=True, slots=True, kw_only=True)
class SatreEvidence:
    """One claimed statement: its reference, status, the tests that show it, and why."""

    reference: str
    status: Status
    tests: tuple[str, ...]
    explanation: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SatreStatement:
    """One statement of the SATRE specification, as far as the page needs it."""

    reference: str
    pillar: str
    capability: str
    importance: str
    statement: str


def _e(reference: str, status: Status, explanation: str, *tests: str) -> SatreEvidence:
    return SatreEvidence(reference=reference, status=status, tests=tests, explanation=explanation)


_MET = Status.MET
_PARTLY = Status.PARTLY
_GOV = "tests/unit/govern/"
_PROJ = _GOV + "test_projects.py::"
_REL = _GOV + "test_relationships.py::"
_AUTH = "tests/functional/test_web_auth.py::"
_PAGES = "tests/functional/test_web_pages.py::"
_ROUTES = "tests/functional/test_web_routes.py::"
_LOAD = "tests/unit/ingest/test_load.py::"
_DOCS = "tests/docs/test_docs.py::"

SATRE_EVIDENCE: tuple[SatreEvidence, ...] = (
    # Pillar 1: Information Governance
    _e(
        "1.1.02",
        _PARTLY,
        "Stakeholder controls are implemented as code (national data opt-out, consent to"
        " contact) and tested; there is no register tying each control to a stakeholder need.",
        "tests/property/test_optout.py::test_optouts_apply_to_secondary_views_from_the_next_refresh",
        _GOV + "test_consent.py::test_identity_is_never_released_for_contact_without_consent",
    ),
    _e(
        "1.2.04",
        _PARTLY,
        "This self-assessment against SATRE is checked in CI, and extracts are validated against"
        " the DfE rulesets; there is no audit of the operating organisation.",
        "tests/docs/test_satre.py::test_satre_page_is_generated_from_the_mapping",
        "tests/functional/test_dfe_validators.py::test_the_current_rulesets_ran",
    ),
    _e(
        "1.2.09",
        _MET,
        "Issues are logged, tracked and closed once as alerts: every break-glass access (a"
        " deviation from relationship-based access) is reviewed by someone else; a broken audit"
        " chain found by audit verify is raised for the node administrator and tracked until"
        " resolved; any other incident is logged with joinedup alert add and resolved.",
        _REL + "test_an_alert_is_reviewed_once_and_never_by_the_one_who_broke_the_glass",
        _GOV + "test_audit_findings.py::"
        "test_a_broken_chain_becomes_one_tracked_alert_until_resolved",
        _GOV + "test_audit_findings.py::test_an_incident_is_logged_tracked_and_resolved",
    ),
    _e(
        "1.3.02",
        _PARTLY,
        "Every project application must state purpose, legal basis, public benefit, datasets,"
        " variables, setting and outputs (the Five Safes) before review; no formal DPIA form.",
        _PROJ + "test_an_incomplete_application_lists_every_unmet_safe",
    ),
    _e(
        "1.4.01",
        _MET,
        "Every access is re-checked against the project's approval, expiry, members' training"
        " and accreditation, so requirements must hold for the project's whole life.",
        _PROJ + "test_an_expired_project_is_refused",
        _PROJ + "test_stale_training_or_lapsed_accreditation_is_refused_at_access",
        _PROJ + "test_a_project_short_of_active_is_refused_in_every_project_cell",
    ),
    _e(
        "1.4.02",
        _MET,
        "Time-limited requirements (project expiry, training within a year, accreditation"
        " dates) are checked at each access, not only at approval.",
        _PROJ + "test_an_expired_project_is_refused",
        _PROJ + "test_stale_training_or_lapsed_accreditation_is_refused_at_access",
    ),
    _e(
        "1.4.04",
        _PARTLY,
        "At a project's end date all its access stops; there is no tested close-down procedure"
        " (archiving, deletion of project outputs).",
        _PROJ + "test_an_expired_project_is_refused",
    ),
    _e(
        "1.4.06",
        _MET,
        "The project register keeps every application and decision, and the public register"
        " generated from it lists every approved (countersigned) project.",
        _GOV + "test_transparency.py::test_the_register_lists_approved_projects_only",
        _PROJ + "test_apply_review_countersign_then_allowed",
    ),
    _e(
        "1.4.07",
        _PARTLY,
        "An application with no public benefit is refused and secondary use is limited to fixed"
        " public purposes; judging the benefit is left to the DAC.",
        _PROJ + "test_an_incomplete_application_lists_every_unmet_safe",
        _PROJ + "test_the_wrong_purpose_is_refused",
    ),
    _e(
        "1.5.01",
        _MET,
        "Researchers need a current accreditation and training record before any access to"
        " project data; a lapsed one is refused.",
        _PROJ + "test_stale_training_or_lapsed_accreditation_is_refused_at_access",
    ),
    _e(
        "1.5.03",
        _MET,
        "One `decide` function grants or refuses every action by actor identity, role,"
        " organisation and purpose, and every route and command goes through it.",
        _GOV + "test_matrix.py::test_the_table_covers_every_cell_and_matches_the_policy",
        _ROUTES + "test_every_route_has_exactly_one_governed_door",
        "tests/functional/test_every_command_is_governed.py::test_command_is_decided_and_audited",
    ),
    _e(
        "1.5.04",
        _MET,
        "Project data opens only after DAC approval and the node's (data controller's)"
        " countersignature; short of that every project cell is refused.",
        _PROJ + "test_apply_review_countersign_then_allowed",
        _PROJ + "test_only_the_node_countersigns_and_only_the_dac_reviews",
        _PROJ + "test_a_project_short_of_active_is_refused_in_every_project_cell",
    ),
    _e(
        "1.5.05",
        _MET,
        "Web users sign in with argon2-hashed passwords; sessions are server-side (a random id"
        " in an HttpOnly cookie) with expiry, an idle timeout and revocation at sign-out;"
        " CSRF tokens and throttling; forged or replayed cookies are anonymous.",
        _AUTH + "test_passwords_are_stored_as_argon2_hashes_only",
        _AUTH + "test_sign_in_with_the_right_password_and_only_then",
        _AUTH + "test_a_forged_cookie_is_anonymous",
        _AUTH + "test_sign_out_revokes_the_session_on_the_server",
        _AUTH + "test_a_session_ends_after_an_idle_spell_and_after_its_lifetime",
        _AUTH + "test_posts_without_this_sessions_csrf_token_are_refused",
        _AUTH + "test_sign_in_is_throttled_per_username",
    ),
    _e(
        "1.5.06",
        _MET,
        "Each account has a unique username tied to one registered actor, and every change is"
        " decided and written to the audit chain.",
        _AUTH + "test_reserved_and_duplicate_usernames_are_refused",
        _AUTH + "test_a_web_account_without_a_registered_actor_is_refused",
        _ROUTES + "test_every_route_writes_an_audit_event_for_every_request",
    ),
    _e(
        "1.6.04",
        _PARTLY,
        "Each actor's information-governance training date is held and enforced at access;"
        " there is no fuller training record per role.",
        _PROJ + "test_stale_training_or_lapsed_accreditation_is_refused_at_access",
    ),
    _e(
        "1.7.02",
        _MET,
        "A public transparency register of approved projects (purpose, datasets, outputs) is"
        " generated and shown to anyone without signing in.",
        _GOV + "test_transparency.py::test_the_register_lists_approved_projects_only",
        _GOV + "test_transparency.py::test_the_cli_writes_the_register_for_anyone",
        "tests/browser/test_browser_roles.py::"
        "test_anonymous_visitor_sees_the_register_and_is_sent_to_sign_in",
    ),
    _e(
        "1.7.03",
        _MET,
        "Projects are approved only by a DAC quorum that includes a lay (public) member.",
        _PROJ + "test_quorum_without_a_lay_member_is_not_approval",
    ),
    # Pillar 2: Computing Technology
    _e(
        "2.1.04",
        _MET,
        "Every role works through a web app in an ordinary browser, tested end to end in"
        " Chromium, keyboard-accessible.",
        "tests/browser/test_browser_roles.py::test_teacher_sees_a_pupil_and_is_refused_the_audit_log",
        "tests/browser/test_browser_roles.py::test_keyboard_reaches_the_skip_link_first",
    ),
    _e(
        "2.1.05",
        _PARTLY,
        "Every command and option has help text and a generated reference page; guidance for"
        " analysis inside the environment is not written.",
        _DOCS + "test_every_command_and_option_has_help_text",
        _DOCS + "test_cli_reference_is_generated_from_the_commands",
    ),
    _e(
        "1.7.04",
        _MET,
        "Resolved incidents and audit findings closed with a public note (what happened, what"
        " was done) are published in the transparency register as soon as they are resolved;"
        " break-glass reviews never are.",
        _GOV + "test_transparency.py::test_resolved_incidents_with_a_public_note_are_published",
    ),
    _e(
        "2.1.08",
        _MET,
        "The node's only shared services (the store behind decide, reached through the CLI and"
        " the web app) give a project's members its datasets and variables only and refuse"
        " everyone else, members of other projects included; there are no shared drives or"
        " workspaces.",
        _PROJ + "test_a_non_member_is_refused",
        _PROJ + "test_only_the_projects_datasets_and_variables",
    ),
    _e(
        "2.1.11",
        _PARTLY,
        "The simulator is seeded and byte-reproducible and a refresh keeps person ids stable;"
        " no analysis tooling for users is provided.",
        "tests/unit/simulate/test_sim_determinism.py::test_same_seed_same_files_different_seed_different",
        "tests/functional/test_refresh.py::test_refresh_again_gives_the_same_person_ids",
    ),
    _e(
        "2.1.14",
        _PARTLY,
        "Data access is segregated per project by the decision function; compute is not"
        " separated per project.",
        _PROJ + "test_a_non_member_is_refused",
        _PROJ + "test_only_the_projects_datasets_and_variables",
    ),
    _e(
        "2.2.01",
        _PARTLY,
        "Setting up is two documented make targets checked by a test; there is no production"
        " deployment procedure.",
        _DOCS + "test_readme_leads_with_the_two_commands_and_they_are_make_targets",
    ),
    _e(
        "2.2.02",
        _PARTLY,
        "Creating a node (folder, key, databases, settings) is one command; host deployment is"
        " not automated.",
        "tests/unit/ingest/test_node.py::test_init_makes_a_complete_private_node",
    ),
    _e(
        "2.2.04",
        _PARTLY,
        "CI runs the whole test suite on every change; there is no separate production to"
        " promote to.",
        _DOCS + "test_ci_runs_the_readme_test_command",
    ),
    _e(
        "2.2.13",
        _MET,
        "Every web request and every CLI command writes an audit event (actor, action, purpose,"
        " outcome).",
        _ROUTES + "test_every_route_writes_an_audit_event_for_every_request",
        "tests/functional/test_every_command_is_governed.py::test_command_is_decided_and_audited",
    ),
    _e(
        "2.2.14",
        _MET,
        "Each record view is audited with who, when, purpose and the person seen; refusals and"
        " empty searches are recorded too.",
        _PAGES + "test_a_teacher_sees_a_pupil_of_their_school_and_the_view_is_audited",
        _PAGES + "test_a_search_that_finds_no_child_is_recorded",
    ),
    _e(
        "2.4.03",
        _MET,
        "Node settings are validated on load; bad settings and missing databases are refused"
        " with a configuration error.",
        "tests/unit/ingest/test_node.py::test_load_node_rejects_bad_settings",
        "tests/unit/ingest/test_node.py::test_missing_database_is_a_config_error",
    ),
    _e(
        "2.5.01",
        _PARTLY,
        "Controls specific to children's data (opt-out, consent lapsing at 16, identifiers kept"
        " in a vault) are tested; legal compliance itself is not testable here.",
        "tests/property/test_optout.py::test_optouts_apply_to_secondary_views_from_the_next_refresh",
        _GOV
        + "test_consent.py::test_a_parents_consent_lapses_at_16_and_the_young_person_re_consents",
        "tests/functional/test_no_identifiers_in_store.py::test_store_and_index_tables_hold_no_identifier",
    ),
    _e(
        "2.5.03",
        _MET,
        "Audit events form a hash chain whose tampering is detected; failed and throttled"
        " sign-ins and refused forms are security events in it; auditors review refusals in the"
        " web audit log and in the governance report.",
        _GOV + "test_audit_chain.py::test_tampering_is_detected",
        _AUTH + "test_failed_and_throttled_sign_ins_are_audited_without_what_was_typed",
        _AUTH + "test_a_refused_csrf_post_is_audited_as_a_denial",
        _GOV + "test_audit_chain.py::test_a_rehashed_edit_is_still_caught_by_the_next_link",
        _PAGES + "test_the_audit_log_shows_refusals_and_an_intact_chain",
        "tests/browser/test_browser_roles.py::test_dac_member_reads_the_audit_log_and_may_not_apply",
    ),
    _e(
        "2.8.04",
        _MET,
        "Pseudonyms are HMAC-SHA256 under a per-node key and passwords are argon2 hashes.",
        "tests/unit/identity/test_pseudonym.py::test_pseudonym_is_truncated_hmac_sha256_of_kind_and_value",
        _AUTH + "test_passwords_are_stored_as_argon2_hashes_only",
    ),
    _e(
        "2.8.05",
        _PARTLY,
        "The node key is random, owner-only, never overwritten and refused if others can read"
        " it; there is no key rotation or key service.",
        "tests/unit/identity/test_secret_key.py::test_created_key_is_private_random_and_readable",
        "tests/unit/identity/test_secret_key.py::test_existing_key_is_never_overwritten",
        "tests/unit/identity/test_secret_key.py::test_key_open_to_others_is_refused",
    ),
    # Pillar 3: Data Management
    _e(
        "3.1.03",
        _PARTLY,
        "Every table is classified by one data-level scheme that the decision matrix uses; the"
        " levels are set in code, not by information asset owners.",
        _GOV + "test_matrix.py::test_the_table_covers_every_cell_and_matches_the_policy",
        _GOV + "test_matrix.py::test_secondary_purposes_read_secondary_views_only",
    ),
    _e(
        "3.1.04",
        _MET,
        "Ingest enforces a source contract: rows failing it go to quarantine with reasons,"
        " identifiers go only to the vault, and counts reconcile.",
        _LOAD + "test_planted_errors_go_to_quarantine_with_reasons",
        _LOAD + "test_raw_tables_hold_no_identity_columns",
        "tests/property/test_ingest_reconciliation.py::"
        "test_counts_reconcile_and_only_planted_rows_are_quarantined",
    ),
    _e(
        "3.1.08",
        _MET,
        "Node status lists every ingested batch with its source, counts and state.",
        "tests/unit/ingest/test_node.py::test_status_lists_batches_and_counts",
    ),
    _e(
        "3.1.11",
        _PARTLY,
        "Quarantined rows and nulled flag values are recorded by rule and row number;"
        " standardisation of kept values is not logged.",
        "tests/unit/ingest/test_validate.py::test_flag_columns_accept_the_row_and_null_the_value",
        "tests/functional/test_cli_quarantine.py::test_report_counts_rules_and_names_rows_but_never_values",
    ),
    _e(
        "3.1.12",
        _PARTLY,
        "Only known sources pass ingest and files failing their contract write nothing; there"
        " is no egress process yet.",
        _LOAD + "test_unknown_source_is_a_usage_error",
        _LOAD + "test_file_level_errors_write_nothing",
    ),
    _e(
        "3.1.13",
        _MET,
        "The store holds no direct identifier and no date of birth, only coarsened identity,"
        " and projects read only their named variables.",
        _LOAD + "test_store_holds_no_direct_identifier",
        "tests/unit/store/test_linked_store.py::test_no_store_table_has_a_date_of_birth_column",
        _LOAD + "test_coarsened_identity_in_the_store",
        _PROJ + "test_only_the_projects_datasets_and_variables",
    ),
    _e(
        "3.1.17",
        _MET,
        "The sources a node accepts are specified as contracts and the reference page is"
        " generated from them.",
        _DOCS + "test_sources_reference_is_generated_from_the_contracts",
    ),
    _e(
        "3.2.02",
        _PARTLY,
        "A web account works only for a registered actor with a role and organisation; how the"
        " person was identified before registration is outside the code.",
        _AUTH + "test_a_web_account_without_a_registered_actor_is_refused",
    ),
    _e(
        "3.2.03",
        _MET,
        "Access is limited by relationship (a teacher sees only their pupils) and by project to"
        " named datasets and variables; secondary purposes see secondary views only.",
        _REL + "test_a_teacher_does_not_see_a_pupil_of_another_school",
        _PAGES + "test_a_teacher_is_refused_a_child_of_another_school_with_the_reason",
        _PROJ + "test_only_the_projects_datasets_and_variables",
        _GOV + "test_matrix.py::test_secondary_purposes_read_secondary_views_only",
    ),
    _e(
        "3.3.02",
        _PARTLY,
        "The linkage report holds counts, rates and seconds only, never identifiers; research"
        " outputs have no release process yet.",
        "tests/functional/test_link_report.py::test_html_holds_no_identifier",
        "tests/unit/link/test_probabilistic.py::test_report_holds_counts_and_seconds_only",
    ),
    _e(
        "3.4.01",
        _PARTLY,
        "Every store and index column is documented in a reference page checked by a test; it"
        " is not a searchable catalogue.",
        "tests/unit/store/test_store_docs.py::test_every_store_and_index_column_is_documented",
    ),
    _e(
        "3.4.02",
        _MET,
        "Source contracts and the linked-store column list form one data model, with generated"
        " or test-checked reference pages.",
        _DOCS + "test_sources_reference_is_generated_from_the_contracts",
        "tests/unit/store/test_store_docs.py::test_every_store_and_index_column_is_documented",
    ),
    _e(
        "3.4.04",
        _MET,
        "A seeded district simulator gives realistic synthetic extracts with planted effects to"
        " work on without any real data.",
        "tests/unit/simulate/test_sim_determinism.py::test_same_seed_same_files_different_seed_different",
        "tests/unit/simulate/test_sim_effects.py::test_planted_effect_is_recovered",
    ),
    # Pillar 4: Supporting Services
    _e(
        "4.3.01",
        _PARTLY,
        "Commands, sources, store columns and governance rules have generated or test-checked"
        " reference pages; not every feature is documented that way.",
        _DOCS + "test_cli_reference_is_generated_from_the_commands",
        "tests/docs/test_governance_reference.py::test_governance_reference_is_generated_from_the_rules",
        "tests/unit/store/test_store_docs.py::test_every_store_and_index_column_is_documented",
    ),
    # Added with the governance report, the web workflow, settings as tiers and the glossary
    _e(
        "1.2.03",
        _MET,
        "`joinedup audit report` gives the node's management, for any period, counts of"
        " decisions by action and outcome, refusals by rule, break-glass uses and alert reviews,"
        " opt-outs and projects by state, from the audit chain and the registers.",
        _GOV + "test_report.py::test_the_report_counts_the_periods_decisions_and_the_registers",
        _GOV + "test_report.py::test_the_cli_report_is_for_the_audit_readers",
    ),
    _e(
        "1.2.11",
        _MET,
        "The data that measure how well the node works are kept and reported: every decision"
        " and refusal in the audit chain with the alerts and registers, counted by the"
        " governance report; linkage quality scored against truth by the linkage report.",
        _GOV + "test_report.py::test_the_report_counts_the_periods_decisions_and_the_registers",
        "tests/functional/test_link_report.py::test_json_report_scores_against_truth",
    ),
    _e(
        "1.4.05",
        _MET,
        "The web app is the study-management portal: application, DAC review, node"
        " countersignature and the public register run as one workflow on the project database.",
        _PAGES + "test_project_application_dac_review_countersignature_and_public_register",
        _PROJ + "test_only_the_node_countersigns_and_only_the_dac_reviews",
    ),
    _e(
        "1.5.02",
        _PARTLY,
        "Onboarding on the node is two governed steps for every role (register the actor with"
        " role and organisation, then set the web password at the console); the organisational"
        " onboarding before that is outside the code.",
        "tests/functional/test_cli_actor_password.py::"
        "test_a_password_is_set_then_reset_and_the_reset_ends_open_sessions",
        "tests/functional/test_cli_actor_password.py::test_refusals_and_bad_input_change_nothing",
    ),
    _e(
        "1.6.05",
        _MET,
        "Accreditation by a trusted third party (e.g. ONS Accredited Researcher) is recorded per"
        " actor with its end date and checked at application and at every access.",
        _PROJ + "test_stale_training_or_lapsed_accreditation_is_refused_at_access",
    ),
    _e(
        "2.4.04",
        _MET,
        "The configuration is verified at every use, not once: every command validates the"
        " node's settings when it opens the node, and every read of the key checks that only its"
        " owner can read it; a broken or loosened configuration stops the next command.",
        "tests/functional/test_configuration_is_checked_at_every_use.py::"
        "test_broken_settings_stop_the_next_command",
        "tests/functional/test_configuration_is_checked_at_every_use.py::"
        "test_a_key_opened_to_others_stops_the_next_use",
    ),
    _e(
        "2.6.04",
        _MET,
        "The incident procedure (docs/how-to/respond-to-an-incident.md) is commands: suspend"
        " an actor at once (every request refused, web sessions ended), log the incident, find"
        " what happened in the audit chain, resolve, reinstate.",
        "tests/functional/test_actor_suspension.py::"
        "test_a_suspended_actor_is_refused_everything_until_reinstated",
        _GOV + "test_audit_findings.py::test_an_incident_is_logged_tracked_and_resolved",
    ),
    _e(
        "3.1.02",
        _MET,
        "Every data-handling decision is kept: DAC reviews (quorum, a lay member, conditions),"
        " the controller's countersignature, and every access decision in the tamper-evident"
        " audit chain.",
        _PROJ + "test_quorum_without_a_lay_member_is_not_approval",
        _PROJ + "test_apply_review_countersign_then_allowed",
        _GOV + "test_audit_chain.py::test_tampering_is_detected",
    ),
    _e(
        "3.1.18",
        _MET,
        "Each project's setting (node, jobs, synthetic) is a configurable control the decision"
        " function enforces: only jobs run record-level code, synthetic never reaches L1.",
        _PROJ + "test_a_projects_setting_is_its_security_tier",
    ),
    _e(
        "3.1.19",
        _MET,
        "Security tiers are predefined: five data levels (L0 identifiable to L4 public) and three"
        " project settings, combined in the role x purpose x level matrix.",
        _PROJ + "test_a_projects_setting_is_its_security_tier",
        _GOV + "test_matrix.py::test_the_table_covers_every_cell_and_matches_the_policy",
    ),
    _e(
        "3.2.01",
        _MET,
        "A web account is created only for a registered actor (one named person, one role, one"
        " organisation) by a node administrator; built-in and shared names cannot sign in, a"
        " username is unique, and an account without its actor is refused everything.",
        _AUTH + "test_reserved_and_duplicate_usernames_are_refused",
        _AUTH + "test_a_web_account_without_a_registered_actor_is_refused",
        "tests/functional/test_cli_actor_password.py::test_refusals_and_bad_input_change_nothing",
    ),
    _e(
        "3.2.04",
        _MET,
        "`joinedup serve` requires a one-time code (TOTP, RFC 6238) from an authenticator app at"
        " every sign-in, enrolled per actor at the console; an account without one is refused,"
        " a code works once. Only `--no-mfa` (demonstrations, tests) drops it.",
        "tests/unit/web/test_mfa.py::test_the_rfc_6238_vectors",
        "tests/unit/web/test_mfa.py::test_a_code_is_good_for_its_step_and_one_either_side_and_only_once",
        _AUTH + "test_with_mfa_required_a_sign_in_needs_the_current_one_time_code",
        "tests/functional/test_cli_actor_password.py::"
        "test_a_second_factor_is_enrolled_at_the_console_and_needed_to_sign_in",
        "tests/functional/test_cli_actor_password.py::"
        "test_joinedup_serve_asks_for_a_second_factor_unless_told_not_to",
    ),
    _e(
        "3.2.06",
        _MET,
        "`joinedup serve` listens on loopback unless told otherwise, and `--allow-network`"
        " limits the client networks; any other request is refused and audited.",
        _AUTH + "test_only_the_allowed_networks_reach_the_app_and_refusals_are_audited",
    ),
    _e(
        "3.3.03",
        _MET,
        "An application must state its intended outputs, minimum variables and cohort before"
        " review; an application without them is refused and not recorded. The cohort is a"
        " validated spec pinned by SHA-256, and a job's project view holds only those children.",
        _PROJ + "test_intended_outputs_and_minimum_data_are_stated_from_the_outset",
    ),
    _e(
        "5.1.08",
        _MET,
        "Every node runs the same software with one glossary; a test fails if a role, purpose,"
        " data level or governance term lacks its glossary entry.",
        _DOCS + "test_the_glossary_defines_the_governance_vocabulary",
    ),
)


def load_specification(path: Path) -> tuple[SatreStatement, ...]:
    """Read the SATRE `specification.yaml` (needs PyYAML, a docs/dev dependency)."""
    import yaml

    if not path.is_file():
        raise ConfigError(f"SATRE specification not found: {path}")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, Mapping) or not isinstance(data.get("specification"), list):
        raise ConfigError(f"{path} has no 'specification' list")
    return tuple(
        SatreStatement(
            reference=str(item["requirement_index"]),
            pillar=str(item["pillar"]),
            capability=str(item["capability"]),
            importance=str(item["importance"]),
            statement=" ".join(str(item["statement"]).split()),
        )
        for item in data["specification"]
    )


def _abridge(text: str) -> str:
    text = text.replace("|", "\\|")
    if len(text) <= ABRIDGE_AT:
        return text
    return text[: ABRIDGE_AT - 1].rstrip() + "…"


def _counts_table(
    label: str, groups: Sequence[str], statements: Sequence[SatreStatement], key: str
) -> list[str]:
    evidence = {e.reference: e for e in SATRE_EVIDENCE}
    counts: Counter[tuple[str, str]] = Counter()
    for s in statements:
        e = evidence.get(s.reference)
        counts[(getattr(s, key), e.status.value if e else NOT_ASSESSED)] += 1
    lines = [
        f"| {label} | met | partly | not assessed | total |",
        "|---|---:|---:|---:|---:|",
    ]
    for group in [*groups, "all"]:
        row = [
            sum(n for (g, st), n in counts.items() if st == status and group in (g, "all"))
            for status in (Status.MET.value, Status.PARTLY.value, NOT_ASSESSED)
        ]
        name = f"**{group}**" if group == "all" else group
        lines.append(f"| {name} | {row[0]} | {row[1]} | {row[2]} | {sum(row)} |")
    return lines


def render_satre_markdown(statements: Sequence[SatreStatement]) -> str:
    """The self-assessment page: a summary, then one table per pillar of every statement."""
    known = {s.reference for s in statements}
    unknown = [e.reference for e in SATRE_EVIDENCE if e.reference not in known]
    if unknown:
        raise UsageError(f"SATRE references not in the specification: {', '.join(unknown)}")
    evidence = {e.reference: e for e in SATRE_EVIDENCE}
    pillars = list(dict.fromkeys(s.pillar for s in statements))
    importances = list(dict.fromkeys(s.importance for s in statements))
    out = [
        "# SATRE self-assessment",
        "",
        "Generated by `python -m joinedup.govern.satre ../shared/satre/specification.yaml"
        " > docs/satre.md`",
        "from the mapping in `joinedup/govern/satre.py`; `tests/docs/test_satre.py` checks this"
        " page is current,",
        "that every statement named exists and that every test cited is defined. Do not edit by"
        " hand.",
        "",
        "Statements are from the SATRE specification (Standard Architecture for Trusted Research"
        " Environments,",
        "github.com/sa-tre/satre-specification, licence CC BY 4.0, the SATRE project / DARE UK"
        " and contributors),",
        "abridged to about 120 characters. **met**: a test shows joinedup does what the"
        " statement asks;",
        "**partly**: a test shows part of it and the explanation says what is missing;"
        " **not assessed**: no claim is",
        "made, because the statement is about the operating organisation, infrastructure"
        " joinedup does not",
        "provide, or something no test shows yet.",
        "",
        "## Summary",
        "",
        *_counts_table("pillar", pillars, statements, "pillar"),
        "",
        *_counts_table("importance", importances, statements, "importance"),
        "",
    ]
    for pillar in pillars:
        out += [
            f"## {pillar}",
            "",
            "| ref | importance | statement | status | evidence |",
            "|---|---|---|---|---|",
        ]
        for s in statements:
            if s.pillar != pillar:
                continue
            e = evidence.get(s.reference)
            if e is None:
                status, cell = NOT_ASSESSED, ""
            else:
                tests = "<br>".join(f"`{t}`" for t in e.tests)
                status, cell = f"**{e.status.value}**", f"{e.explanation}<br>{tests}"
            out.append(
                f"| {s.reference} | {s.importance} | {_abridge(s.statement)} | {status} | {cell} |"
            )
        out.append("")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m joinedup.govern.satre SPEC.yaml`: print the page to standard output."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m joinedup.govern.satre PATH/TO/specification.yaml", file=sys.stderr)
        return 2
    sys.stdout.write(render_satre_markdown(load_specification(Path(args[0]))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
